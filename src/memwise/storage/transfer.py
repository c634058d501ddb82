"""A whole store as JSON Lines, and back exactly: a backup that can be trusted.

One JSON object per line, in this order:

    {"type":"memwise-export","format":2}
    {"type":"session", every Session field}                  # sorted by session_id, each one
    {"type":"message", session_id, seq, run_id, turn_start,  # followed by its messages, by seq
     created_at, data}
    {"type":"run", every Run field}                          # sorted by run_id
    {"type":"profile", every UserProfile field}              # sorted by user_id
    {"type":"end", "sessions":N, "messages":N, "runs":N, "profiles":N}

`data` of a message is the pydantic-ai message's JSON. A session's `pending_turns` (turns whose
memory updates are still to be made) is written only when there are some, so stores without them
export as before, and files without it import as sessions with none. Records keep their versions and
timestamps, and the same store always exports to the same bytes, so importing into an empty store
and exporting again gives the same file. Format 1 files (no versions, no `updated_at`, no
`created_at` of sessions and messages) still import: version 1, stamped with the import's time.

Importing checks the whole file first, each record with the checks storage makes on a write
(`check_restorable`), then that the store holds none of its sessions, runs or profiles, and then
writes through `Storage.restore` and `Storage.restore_messages`; nothing is written when a check
fails. Export a store nothing writes to: listings page by update time, so a record updated
meanwhile can be missed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import IO, Any, Protocol

from memwise.errors import InvalidInputError
from memwise.storage.base import Storage
from memwise.storage.checks import check_restorable, check_restorable_messages
from memwise.storage.codec import dumps
from memwise.storage.documents import KNOWLEDGE_AGENT
from memwise.storage.records import Run, Session, StoredMessage, UserProfile

FORMAT = "memwise-export"
FORMAT_VERSION = 2
KINDS = ("sessions", "messages", "runs", "profiles")
PAGE = 200
MESSAGE_BATCH = 500

RECORDS: dict[str, type] = {"session": Session, "run": Run, "profile": UserProfile}
FIELDS = {kind: tuple(f.name for f in fields(cls)) for kind, cls in RECORDS.items()}
# a message is exported with its JSON as an object (`data`), not as the stored text
FIELDS["message"] = (*(f.name for f in fields(StoredMessage) if f.name not in ("body", "_data")), "data")
# what format 1 did not carry: filled in on import (version 1, the import's time)
_ADDED_IN_2 = {
    "session": ("created_at", "updated_at", "version"),
    "message": ("created_at",),
    "run": ("updated_at", "version"),
    "profile": ("updated_at", "version"),
}
# fields written only when not empty (added after format 2, which older memwise reads)
_OMITTED_WHEN_EMPTY = {"session": ("pending_turns",)}


class ImportFileError(InvalidInputError):
    """The file to import is not a memwise export, or one of its lines is wrong."""


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


# ==================================================================== export
def export_store(store: Storage, out: str | os.PathLike[str] | Writer) -> dict[str, int]:
    """Write every session, message, run and profile of `store` as JSON Lines to `out` (a path,
    written to a temporary file renamed at the end, or anything with `write(str)`). Returns how
    many of each kind were written."""
    if isinstance(out, (str, os.PathLike)):
        return _write_atomically(Path(out), lambda handle: _export(store, handle.write))
    return _export(store, out.write)


def _export(store: Storage, write: Callable[[str], Any]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    write(_line({"type": FORMAT, "format": FORMAT_VERSION}))
    for session in _every(store.list_sessions, "session_id"):
        if session.agent_id == KNOWLEDGE_AGENT:  # a knowledge base is ingested again from its sources
            continue
        write(_line(_record_line("session", session)))
        counts["sessions"] += 1
        for message in _messages(store, session.session_id):
            write(_line(_record_line("message", message)))
            counts["messages"] += 1
    for kind, lister, key in (("run", store.list_runs, "run_id"), ("profile", store.list_profiles, "user_id")):
        for record in _every(lister, key):
            write(_line(_record_line(kind, record)))
            counts[kind + "s"] += 1
    write(_line({"type": "end", **counts}))
    return counts


def _record_line(kind: str, record: Any) -> dict[str, Any]:
    line = {"type": kind, **{name: getattr(record, name) for name in FIELDS[kind]}}
    for name in _OMITTED_WHEN_EMPTY.get(kind, ()):
        if not line[name]:
            del line[name]
    return line


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _every(lister: Callable[..., Any], key: str) -> list[Any]:
    """Every record a listing returns, page by page, sorted by id."""
    found: dict[str, Any] = {}
    cursor = None
    while True:
        page = lister(limit=PAGE, cursor=cursor)
        found.update((getattr(item, key), item) for item in page.items)
        if page.next_cursor is None:
            return [found[name] for name in sorted(found)]
        cursor = page.next_cursor


def _messages(store: Storage, session_id: str) -> Iterator[StoredMessage]:
    after = 0
    while True:
        batch = store.read_messages(session_id, after_seq=after, limit=MESSAGE_BATCH)
        yield from batch
        if len(batch) < MESSAGE_BATCH:
            return
        after = batch[-1].seq


def _write_atomically(path: Path, produce: Callable[[IO[str]], dict[str, int]]) -> dict[str, int]:
    """Write to a temporary file next to `path`, then rename it: a failed export leaves no half file."""
    path = path.expanduser()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            counts = produce(handle)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return counts


# ==================================================================== import
def import_store(store: Storage, source: str | os.PathLike[str] | IO[str]) -> dict[str, int]:
    """Import an export (a path or a text file) into `store`: check the whole file, check that
    the store holds none of its records, then restore them exactly. Returns how many of each."""
    with ExportFile(source) as export:
        return export.import_into(store)


class ExportFile:
    """An export opened for reading twice (checking, then writing); a stream is spooled."""

    def __init__(self, source: str | os.PathLike[str] | IO[str], name: str | None = None) -> None:
        self._path: Path | None = None
        self._spool: IO[str] | None = None
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            self.name = name or str(source)
            if not path.exists():
                raise ImportFileError(f"{self.name}: no such file")
            if path.is_dir():
                raise ImportFileError(f"{self.name}: is a directory, not an export file")
            if path.is_file():
                self._path = path
            else:  # a pipe, /dev/stdin, <(...): read once, keep a copy
                with open(path, encoding="utf-8") as handle:
                    self._spool = _spooled(handle)
        else:
            self.name = name or getattr(source, "name", None) or "export"
            self._spool = _spooled(source)
        self._ids: dict[str, set[str]] | None = None
        self._now = time.time()

    def __enter__(self) -> ExportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None:
            self._spool.close()

    def check(self) -> dict[str, int]:
        """Check every line (shape, each record as storage checks a write, message seqs 1, 2, 3...
        after their session, the closing counts); return how many of each kind the file holds."""
        ids: dict[str, set[str]] = {kind: set() for kind in RECORDS}
        counts = dict.fromkeys(KINDS, 0)
        last_seq: dict[str, int] = {}
        ended = False
        for where, kind, record in self._records():
            if ended:
                raise ImportFileError(f"{where}: a line after the closing \"end\" line")
            if kind == "end":
                stated = {name: record.get(name) for name in KINDS}
                if stated != counts:
                    raise ImportFileError(f"{where}: the file says it holds {stated} but holds {counts}; is it complete?")
                ended = True
            elif kind == "message":
                session_id = record.session_id
                if session_id not in last_seq:
                    raise ImportFileError(f"{where}: a message of session {session_id!r}, which no earlier line defines")
                if record.seq != last_seq[session_id] + 1:
                    raise ImportFileError(
                        f"{where}: message seq {record.seq!r} of session {session_id!r} should be "
                        f"{last_seq[session_id] + 1} (messages come in order, numbered from 1)"
                    )
                last_seq[session_id] = record.seq
                counts["messages"] += 1
            else:
                key = getattr(record, FIELDS[kind][0])
                if key in ids[kind]:
                    raise ImportFileError(f"{where}: {kind} {key!r} appears twice")
                ids[kind].add(key)
                counts[kind + "s"] += 1
                if kind == "session":
                    last_seq[key] = 0
        if not ended:
            raise ImportFileError(f"{self.name}: no closing \"end\" line; the export is incomplete")
        self._ids = ids
        return counts

    def import_into(self, store: Storage) -> dict[str, int]:
        """Restore the file's records into `store` (checked first, if not done yet)."""
        if self._ids is None:
            self.check()
        assert self._ids is not None
        getters: dict[str, Callable[[str], Any]] = {"session": store.get_session, "run": store.get_run, "profile": store.get_profile}
        for kind, getter in getters.items():
            taken = sorted(key for key in self._ids[kind] if getter(key) is not None)
            if taken:
                shown = ", ".join(map(repr, taken[:3])) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
                raise ImportFileError(f"the target store already has {kind} {shown}; import into a store without them (nothing was imported)")
        counts = dict.fromkeys(KINDS, 0)
        pending: list[StoredMessage] = []

        def flush() -> None:
            if pending:
                counts["messages"] += len(store.restore_messages(pending[0].session_id, pending))
                pending.clear()

        for _, kind, record in self._records(check=False):  # restore checks each as it writes
            if kind == "message":
                if pending and (len(pending) >= MESSAGE_BATCH or record.session_id != pending[0].session_id):
                    flush()
                pending.append(record)
            elif kind in RECORDS:
                flush()
                store.restore(record)
                counts[kind + "s"] += 1
        flush()
        return counts

    # ---------------------------------------------------------------- reading lines
    def _records(self, check: bool = True) -> Iterator[tuple[str, str, Any]]:
        """(where, kind, record) per line after the header: records as the storage types (checked
        as storage checks them, with `check`); the `end` line as its dict."""
        format_version = None
        for number, text in self._lines():
            if not text.strip():
                continue
            where = f"{self.name} line {number}"
            try:
                line = json.loads(text)
            except ValueError as exc:
                raise ImportFileError(f"{where}: not JSON ({exc})") from None
            if not isinstance(line, dict) or not isinstance(line.get("type"), str):
                raise ImportFileError(f"{where}: expected a JSON object with a \"type\"")
            kind = line.pop("type")
            if format_version is None:
                format_version = _header(where, kind, line)
            elif kind == "end":
                yield where, kind, line
            else:
                yield where, kind, self._record(where, kind, line, format_version, check)
        if format_version is None:
            raise ImportFileError(f"{self.name}: empty file; not a memwise export")

    def _record(self, where: str, kind: str, line: dict[str, Any], format_version: int, check: bool) -> Any:
        if kind not in FIELDS:
            raise ImportFileError(f"{where}: unknown record type {kind!r}")
        if format_version == 1:
            for name in _ADDED_IN_2[kind]:
                line.setdefault(name, 1 if name == "version" else self._now)
        for name in _OMITTED_WHEN_EMPTY.get(kind, ()):
            line.setdefault(name, [])
        missing, extra = set(FIELDS[kind]) - set(line), set(line) - set(FIELDS[kind])
        if missing or extra:
            raise ImportFileError(
                f"{where}: a {kind} record"
                + (f" lacks {', '.join(sorted(missing))}" if missing else "")
                + (" and" if missing and extra else "")
                + (f" has unknown fields {', '.join(sorted(extra))}" if extra else "")
            )
        try:
            if kind == "message":
                data = line.pop("data")
                record = StoredMessage(**line, body=dumps(data, "data"), _data=data)
            else:
                record = RECORDS[kind](**line)
            if check and kind == "message":
                check_restorable_messages(record.session_id, [record])
            elif check:
                check_restorable(record)
        except InvalidInputError as exc:
            raise ImportFileError(f"{where}: {kind} {str(exc).replace('messages[0].', '').replace('messages[0]', 'data')}") from None
        return record

    def _lines(self) -> Iterator[tuple[int, str]]:
        if self._spool is not None:
            self._spool.seek(0)
            yield from enumerate(self._spool, 1)
            return
        assert self._path is not None
        with open(self._path, encoding="utf-8") as handle:
            yield from enumerate(handle, 1)


def _header(where: str, kind: str, line: dict[str, Any]) -> int:
    if kind != FORMAT:
        raise ImportFileError(f"{where}: not a memwise export (it must start with a {FORMAT!r} line)")
    version = line.get("format")
    if type(version) is not int or version not in (1, FORMAT_VERSION):
        raise ImportFileError(f"{where}: export format {version!r}; this memwise reads formats 1 and {FORMAT_VERSION} (upgrade memwise?)")
    return version


def _spooled(stream: IO[str]) -> IO[str]:
    spool = tempfile.TemporaryFile("w+", encoding="utf-8")
    spool.writelines(stream)
    return spool


__all__ = ["ExportFile", "ImportFileError", "export_store", "import_store"]
