"""JSONStorage: the contract on a directory of plain JSON files. No server, nothing pickled.

Layout of `db_path`::

    .lock                          taken by every plan: shared to read, exclusive to write
    layout.json                    {"layout": 1}: the version of this file layout
    records/<kind>/<name>.json     one small JSON document per record, replaced atomically
    messages/<name>.jsonl          one append-only JSON Lines log per session

`<name>` is the key with every character outside ``[a-z0-9_-]`` escaped as ``~xx`` (its UTF-8
bytes), or ``~h`` + sha256 when that gets long; the key itself is stored inside the file, so any
string works as a key, also on case-insensitive file systems.

Crash safety:
- A record is written to a temporary file in its directory, fsynced, then `os.replace`d over
  the old one: readers and a crash see the old or the new document, never a mix.
- An append writes whole lines at the end of the session's log in one `write`; the last line of
  each append is marked ``"batch_end": true``. Lines after the last marked one (an append that
  was cut short) and a torn last line are invisible to readers, and the next writer truncates
  them, so a killed writer leaves whole appends only. Appending never rewrites the log.
- Every plan runs under a lock on ``.lock`` (POSIX `flock`: shared for reads, exclusive for
  writes; the kernel drops it when a process dies), so threads and processes on one directory
  are serialized where they must be. Where `flock` is missing, `filelock` is used (exclusive).
- With `fsync=True` (the default) appends are fdatasync'ed and record writes, creations and
  deletions are flushed with their directory, so they also survive a power loss.

Every file line is one JSON object: a small header (seq, run_id, turn_start, created_at,
batch_end; or kind, key, version, updated_at and the indexed fields) followed by the core's body
spliced in verbatim as `"body"`, so readers parse only the header and hand the body back byte for
byte (a body containing a raw newline is stored escaped, as "body_text").

Reads of the last N turns scan the log backwards from its end, so their cost follows the size
of the answer, not of the session. Listing records scans the kind's directory (there is no
secondary index): fine for thousands of sessions, not for millions.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from hashlib import sha256
from heapq import nlargest
from pathlib import Path
from typing import Any

from memwise.errors import CorruptRecordError, SchemaVersionError, StorageError
from memwise.storage.base import Storage
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery, newest_first
from memwise.storage.options import common_options
from memwise.storage.plan import CallPlan, Plan, T, call, drive, execute_call

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Version of this module's files and lines (the data inside is versioned by the core).
LAYOUT = 1
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_NAME = 120
_BODY = b',"body":'
_LINE = re.compile(
    rb'\{"seq":(\d+),"run_id":(null|"(?:[^"\\]|\\.)*"),"turn_start":(true|false),'
    rb'"created_at":([-+.eE0-9]+),"batch_end":(true|false),"body":'
)
_BLOCK = 16384
_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_INDEXED = ("user_id", "agent_id", "session_id", "status")
_sync_data = getattr(os, "fdatasync", os.fsync)


def _file_name(key: str) -> str:
    """A file-system-safe, injective, case-insensitive name for any string key."""
    if not key:
        return "~e"
    if len(key) <= _MAX_NAME and all(c in _SAFE for c in key):
        return key
    name = "".join(c if c in _SAFE else "".join(f"~{b:02x}" for b in c.encode("utf-8", "surrogatepass")) for c in key)
    if len(name) > _MAX_NAME:
        name = "~h" + sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return name


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _load(data: bytes) -> Any:
    return json.loads(data.decode("utf-8", "surrogatepass"))


def _frame(header: dict[str, Any], body: str) -> bytes:
    """One line: the header's JSON with the body spliced in verbatim as its last member, so
    readers parse only the small header and take the body's bytes as they are. A body that could
    break the line (a raw newline) is stored escaped, as "body_text"."""
    raw = body.encode("utf-8", "surrogatepass")
    if b"\n" in raw or b"\r" in raw:
        return _dump({**header, "body_text": body})
    return _dump(header)[:-1] + _BODY + raw + b"}"


def _unframe(line: bytes) -> tuple[dict[str, Any], str]:
    """(header, body) of a framed line. `,"body":` cannot occur inside the header's JSON strings
    (their quotes are escaped), so its first occurrence is where the body starts."""
    cut = line.find(_BODY)
    if cut < 0:
        header = _load(line)
        return header, header.pop("body_text")
    if not line.endswith(b"}"):
        raise ValueError("the line does not end with '}'")
    return _load(line[:cut] + b"}"), line[cut + len(_BODY) : -1].decode("utf-8", "surrogatepass")


class JSONStorage(Storage):
    """`JSONStorage(db_path="memory-json")`: a directory of JSON files, safe for many threads and
    processes on one machine. `fsync=False` trades power-loss durability for speed (a killed
    process still never leaves a torn file)."""

    def __init__(
        self,
        db_path: str | os.PathLike[str] = "memwise_json",
        *,
        fsync: bool = True,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name (table names: no tables here)
    ) -> None:
        self.id = common_options(id, session_table, user_memory_table)
        self.db_path = Path(db_path).expanduser().absolute()
        self.fsync = bool(fsync)
        root = str(self.db_path)
        self._lock_path = os.path.join(root, ".lock")
        self._records_dir = os.path.join(root, "records")
        self._messages_dir = os.path.join(root, "messages")
        self._use_flock = fcntl is not None
        self._filelock: Any = None
        self._state = threading.local()  # which lock the current thread's plan holds
        self._closed = False

    def __repr__(self) -> str:
        return f"JSONStorage(db_path={str(self.db_path)!r})"

    # ================================================================ running plans
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        if self._closed:
            raise StorageError(f"this JSONStorage ({self.db_path}) is closed")
        try:
            with self._locked(write):
                return drive(plan, execute_call)
        except OSError as exc:
            raise StorageError(f"JSON store {str(self.db_path)!r}: {exc}") from exc

    def _execute(self, command: Any) -> Any:
        return execute_call(command)

    def close(self) -> None:
        self._closed = True  # nothing stays open between plans

    def _locked(self, write: bool) -> _Held:
        return _Held(self, write)

    def _open_lock_file(self) -> int:
        try:
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o644)
        except FileNotFoundError:
            os.makedirs(self.db_path, exist_ok=True)
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o644)
        except NotADirectoryError:
            raise StorageError(f"JSONStorage db_path {str(self.db_path)!r} must be a directory, not a file") from None

    def _must_write(self) -> None:
        if not getattr(self._state, "write", False):
            raise StorageError("JSONStorage: a write ran inside a read-only plan (it must be run with write=True)")

    # ================================================================ schema
    def _setup(self) -> CallPlan[None]:
        return (yield from call(self._make_dirs))

    def _make_dirs(self) -> None:
        self._must_write()
        for path in (self._records_dir, self._messages_dir):
            os.makedirs(path, exist_ok=True)
        marker = os.path.join(str(self.db_path), "layout.json")
        try:
            layout = _load(_read_file(marker)).get("layout")
        except FileNotFoundError:
            self._write_atomic(marker, _dump({"layout": LAYOUT}) + b"\n")
            return
        except (ValueError, AttributeError):
            raise CorruptRecordError(f"{marker} is corrupted: expected {{\"layout\": <number>}}") from None
        if not isinstance(layout, int) or layout > LAYOUT:
            raise SchemaVersionError(
                f"the JSON store at {str(self.db_path)!r} has file layout {layout!r}, written by a newer memwise; "
                f"this memwise reads layout {LAYOUT} at most. Upgrade memwise to open it."
            )

    # ================================================================ records
    def _record_path(self, kind: str, key: str) -> str:
        return os.path.join(self._records_dir, _file_name(kind), _file_name(key) + ".json")

    def _get_record(self, kind: str, key: str) -> CallPlan[RawRecord | None]:
        return (yield from call(self._get, kind, key))

    def _get(self, kind: str, key: str) -> RawRecord | None:
        path = self._record_path(kind, key)
        try:
            data = _read_file(path)
        except FileNotFoundError:
            return None
        record = _decode_record(path, data)
        return record if (record.kind, record.key) == (kind, key) else None

    def _put_record(self, record: RawRecord, expected_version: int) -> CallPlan[bool]:
        return (yield from call(self._cas, record, expected_version))

    def _cas(self, record: RawRecord, expected_version: int) -> bool:
        self._must_write()
        current = self._get(record.kind, record.key)
        if (current.version if current else 0) != expected_version:
            return False
        path = self._record_path(record.kind, record.key)
        header = {"kind": record.kind, "key": record.key, "version": record.version, "updated_at": record.updated_at}
        for name in _INDEXED:
            if getattr(record, name) is not None:
                header[name] = getattr(record, name)
        self._write_atomic(path, _frame(header, record.body) + b"\n")
        return True

    def _write_atomic(self, path: str, data: bytes) -> None:
        folder = os.path.dirname(path)
        temp = os.path.join(folder, ".tmp")  # one writer at a time (exclusive lock): a fixed name is safe
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC, 0o644)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC, 0o644)
        try:
            _write_all(fd, data)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        self._sync_dir(folder)

    def _delete_record(self, kind: str, key: str) -> CallPlan[bool]:
        return (yield from call(self._unlink, self._record_path(kind, key)))

    def _unlink(self, path: str) -> bool:
        self._must_write()
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        self._sync_dir(os.path.dirname(path))
        return True

    def _query_records(self, query: RecordQuery) -> CallPlan[list[RawRecord]]:
        return (yield from call(self._query, query))

    def _query(self, query: RecordQuery) -> list[RawRecord]:
        folder = os.path.join(self._records_dir, _file_name(query.kind))
        try:
            entries = [e.path for e in os.scandir(folder) if e.name.endswith(".json") and not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        found = []
        for path in entries:
            try:
                data = _read_file(path)
            except FileNotFoundError:  # pragma: no cover - deleted outside the lock
                continue
            record = _decode_record(path, data)
            if query.matches(record):
                found.append(record)
        return nlargest(query.limit, found, key=newest_first)

    def _sync_dir(self, path: str) -> None:
        if not self.fsync or os.name != "posix":
            return
        fd = os.open(path, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ================================================================ messages
    def _log_path(self, session_id: str) -> str:
        return os.path.join(self._messages_dir, _file_name(session_id) + ".jsonl")

    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> CallPlan[list[int] | None]:
        return (yield from call(self._append, session_id, messages))

    def _append(self, session_id: str, messages: list[RawMessage]) -> list[int] | None:
        self._must_write()
        if self._get("session", session_id) is None:  # under the store's exclusive lock, like the delete
            return None
        if not messages:
            return []
        path = self._log_path(session_id)
        created = False
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | _CLOEXEC)
        except FileNotFoundError:
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _CLOEXEC, 0o644)
            except FileNotFoundError:
                os.makedirs(self._messages_dir, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _CLOEXEC, 0o644)
            created = True
        try:
            log = _LogReader(fd, path, session_id)
            last = log.last_committed()
            if log.committed_end != log.size:  # a cut-short append or a torn line: drop it
                os.ftruncate(fd, log.committed_end)
            first = (last.seq if last else 0) + 1
            lines = []
            for offset, message in enumerate(messages):
                header = {
                    "seq": first + offset,
                    "run_id": message.run_id,
                    "turn_start": bool(message.turn_start),
                    "created_at": message.created_at,
                    "batch_end": offset == len(messages) - 1,
                }
                lines.append(_frame(header, message.body))
            lines.append(b"")
            try:
                _write_all(fd, b"\n".join(lines))
                if self.fsync:
                    _sync_data(fd)
            except BaseException:
                try:  # leave no partial append behind (readers would skip it anyway)
                    os.ftruncate(fd, log.committed_end)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)
        if created:
            self._sync_dir(self._messages_dir)
        return list(range(first, first + len(messages)))

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> CallPlan[list[RawMessage]]:
        return (yield from call(self._read, session_id, after_seq, last_turns, limit))

    def _read(self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None) -> list[RawMessage]:
        path = self._log_path(session_id)
        try:
            fd = os.open(path, os.O_RDONLY | _CLOEXEC)
        except FileNotFoundError:
            return []
        try:
            log = _LogReader(fd, path, session_id)
            last = log.last_committed()
            if last is None or last.seq <= after_seq:
                return []
            if last_turns is None and limit is not None and after_seq < last.seq // 2:
                return log.forward(after_seq, limit)  # an early page: reading from the start is cheaper
            found, turns = [last], int(last.turn_start)
            for seq in range(last.seq - 1, after_seq, -1):  # seqs are contiguous: stop without parsing more
                if turns == last_turns:
                    break
                message = log.previous(seq)
                found.append(message)
                turns += message.turn_start
            found.reverse()
            return found if limit is None else found[:limit]
        finally:
            os.close(fd)

    def _delete_messages(self, session_id: str) -> CallPlan[int]:
        return (yield from call(self._drop_log, session_id))

    def _drop_log(self, session_id: str) -> int:
        self._must_write()
        path = self._log_path(session_id)
        try:
            fd = os.open(path, os.O_RDONLY | _CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            last = _LogReader(fd, path, session_id).last_committed()
            count = last.seq if last else 0
        except CorruptRecordError:  # a damaged log can still be deleted; count its lines
            count = _read_file(path).count(b"\n")
        finally:
            os.close(fd)
        self._unlink(path)
        return count


_HELD: set[int] = set()  # lock descriptors held by this process's plans right now


def _forget_inherited_locks() -> None:
    """In a forked child: close (never unlock) the lock descriptors inherited from plans running
    in the parent's other threads, so the parent's lock is released when the parent is done."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_locks)


class _Held:
    """The store lock for one plan: flock (shared or exclusive) on POSIX, else filelock."""

    __slots__ = ("storage", "write", "fd")

    def __init__(self, storage: JSONStorage, write: bool) -> None:
        self.storage, self.write, self.fd = storage, write, -1

    def __enter__(self) -> None:
        storage = self.storage
        if getattr(storage._state, "write", None) is not None:
            raise StorageError("JSONStorage plans do not nest")
        if storage._use_flock:
            self.fd = storage._open_lock_file()
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX if self.write else fcntl.LOCK_SH)
            except BaseException:
                os.close(self.fd)
                raise
            _HELD.add(self.fd)
        else:
            if storage._filelock is None:
                from filelock import FileLock

                os.close(storage._open_lock_file())  # creates the directory if needed
                storage._filelock = FileLock(storage._lock_path, poll_interval=0.001)
            storage._filelock.acquire()
            self.write = True  # filelock is exclusive only
        storage._state.write = self.write

    def __exit__(self, *exc: object) -> None:
        self.storage._state.write = None
        if self.fd >= 0:
            _HELD.discard(self.fd)
            os.close(self.fd)  # releases the flock
        else:
            self.storage._filelock.release()


class _LogReader:
    """Reads one session log backwards from its end, line by line, under the caller's lock."""

    def __init__(self, fd: int, path: str, session_id: str) -> None:
        self.fd, self.path, self.session_id = fd, path, session_id
        self.size = os.fstat(fd).st_size
        self.committed_end = 0  # where the committed messages end (the next append goes there)
        self._lines = self._backwards()

    def _pread(self, size: int, offset: int) -> bytes:
        data = _pread(self.fd, size, offset)
        if len(data) != size:  # pragma: no cover - the lock keeps writers out
            raise CorruptRecordError(f"message log {self.path} changed while being read")
        return data

    def _backwards(self) -> Iterator[tuple[int, bytes]]:
        """(offset, line) of every newline-terminated line, last first; a torn tail is skipped."""
        pos, block, buf, newline = self.size, _BLOCK, b"", -1  # buf holds bytes [pos, pos + len(buf))
        while pos > 0:
            step = min(block, pos)
            pos -= step
            buf = self._pread(step, pos) + buf
            block = min(block * 2, 1 << 22)
            hi = len(buf) if newline < 0 else newline - pos
            if newline < 0:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    continue
                newline, hi = pos + cut, cut
            while True:
                cut = buf.rfind(b"\n", 0, hi)
                if cut < 0:
                    break
                yield pos + cut + 1, buf[cut + 1 : hi]
                newline, hi = pos + cut, cut
            buf = buf[:hi]
        if newline >= 0:
            yield 0, buf

    def _parse(self, offset: int, line: bytes) -> tuple[RawMessage, bool]:
        fast = _LINE.match(line)  # the shape this module writes: no JSON parser needed for the header
        if fast is not None and line.endswith(b"}"):
            seq, run_id, turn, at, end = fast.groups()
            if run_id == b"null":
                run = None
            elif b"\\" in run_id:
                run = _load(run_id)
            else:
                run = run_id[1:-1].decode("utf-8", "surrogatepass")
            body = line[fast.end() : -1].decode("utf-8", "surrogatepass")
            return RawMessage(int(seq), run, turn == b"true", float(at), body), end == b"true"
        try:
            row, body = _unframe(line)
            message = RawMessage(row["seq"], row["run_id"], row["turn_start"], row["created_at"], body)
            if not isinstance(message.seq, int) or not isinstance(message.body, str):
                raise TypeError("seq must be an integer and body a string")
            return message, bool(row.get("batch_end", True))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptRecordError(
                f"message log of session {self.session_id!r} ({self.path}) is corrupted at byte {offset}: {exc}"
            ) from None

    def last_committed(self) -> RawMessage | None:
        """The last message of the last complete append; sets `committed_end`."""
        for offset, line in self._lines:
            message, batch_end = self._parse(offset, line)
            if batch_end:
                self.committed_end = offset + len(line) + 1
                return message
        return None

    def previous(self, seq: int) -> RawMessage:
        """The message before the last one returned, which must have seq `seq`."""
        for offset, line in self._lines:
            message = self._parse(offset, line)[0]
            if message.seq != seq:
                break
            return message
        else:
            offset = 0
        raise CorruptRecordError(
            f"message log of session {self.session_id!r} ({self.path}) is corrupted at byte {offset}: "
            f"expected message {seq} there"
        )

    def forward(self, after_seq: int, limit: int) -> list[RawMessage]:
        """Up to `limit` messages with seq > after_seq, reading from the start of the log."""
        found: list[RawMessage] = []
        offset = 0
        os.lseek(self.fd, 0, os.SEEK_SET)
        with open(self.fd, "rb", closefd=False) as buffered:  # same descriptor, buffered lines
            for seq, line in enumerate(buffered, 1):  # line n holds message n: skip without parsing
                if offset + len(line) > self.committed_end:
                    break
                if seq > after_seq:
                    message = self._parse(offset, line[:-1])[0]
                    if message.seq != seq:
                        raise CorruptRecordError(
                            f"message log of session {self.session_id!r} ({self.path}) is corrupted at byte "
                            f"{offset}: expected message {seq} there"
                        )
                    found.append(message)
                    if len(found) == limit:
                        break
                offset += len(line)
        return found


def _decode_record(path: str, data: bytes) -> RawRecord:
    try:
        row, body = _unframe(data.rstrip(b"\n"))
        record = RawRecord(
            row["kind"], row["key"], row["version"], row["updated_at"], body,
            **{name: row.get(name) for name in _INDEXED},
        )
        if not isinstance(record.version, int) or not isinstance(record.body, str) or not isinstance(record.key, str):
            raise TypeError("version must be an integer, key and body strings")
        return record
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptRecordError(f"record file {path} is corrupted: {exc}") from None


def _read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


if hasattr(os, "pread"):
    _pread = os.pread
else:  # pragma: no cover - Windows

    def _pread(fd: int, size: int, offset: int) -> bytes:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


AsyncJSONStorage = JSONStorage

__all__ = ["AsyncJSONStorage", "JSONStorage"]
