"""`memwise export` / `memwise import`: a whole store as JSON Lines, through the storage API.

One JSON object per line, in this order:

    {"type":"memwise-export","format":1}
    {"type":"session", session_id, user_id, agent_id, summary, summarized_through, metadata, usage}
    {"type":"message", session_id, seq, run_id, turn_start, data}      # after their session, by seq
    ...                                                                # sessions sorted by id
    {"type":"run", run_id, session_id, user_id, agent_id, status, checkpoint, error, usage,
     lease_owner, lease_expires_at, created_at}                        # sorted by run_id
    {"type":"profile", user_id, data, provenance, created_at}          # sorted by user_id
    {"type":"end", "sessions":N, "messages":N, "runs":N, "profiles":N}

`data` of a message is the pydantic-ai message as memwise stores it. Records are sorted by id,
so the same store always exports to the same bytes, and importing an export into an empty store
and exporting again gives the same file. What the storage API assigns on write and cannot be
given is not exported: record versions, `updated_at` stamps, and the `created_at` of sessions and
messages (runs and profiles keep theirs).

Import checks the whole file first (shape, types, message seqs, the closing counts) and that
none of its sessions, runs or profiles exist in the target store, then writes; nothing is
written when a check fails.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from memwise.cli import ui
from memwise.cli.options import DEFAULT_DB, DbOption
from memwise.cli.stores import open_store
from memwise.errors import InvalidInputError
from memwise.storage.base import Storage
from memwise.storage.records import RUN_STATUSES, Run, Session, StoredMessage, UserProfile

FORMAT = "memwise-export"
FORMAT_VERSION = 1
PAGE = 200
MESSAGE_BATCH = 500
KINDS = ("sessions", "messages", "runs", "profiles")



def _exported(record: type, *assigned: str) -> tuple[str, ...]:
    """A record's fields minus those the storage API assigns on write (a field added to a record
    later is exported too, and the round-trip test shows whether import restores it)."""
    return tuple(f.name for f in fields(record) if f.name not in assigned)


SESSION_FIELDS = _exported(Session, "created_at", "updated_at", "version")
# a message is exported with its JSON as an object (`data`), not as the stored text
MESSAGE_FIELDS = (*_exported(StoredMessage, "created_at", "body", "_data"), "data")
RUN_FIELDS = _exported(Run, "updated_at", "version")
PROFILE_FIELDS = _exported(UserProfile, "updated_at", "version")


class ImportFileError(InvalidInputError):
    """The file to import is not a memwise export, or one of its lines is wrong."""


# ==================================================================== commands
def export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: stdout).", dir_okay=False)] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Export the whole store as JSON Lines (sessions, messages, runs, profiles)."""
    with ui.guard():
        with open_store(db, create=False) as store:
            if out is None:
                counts = write_export(store, _stdout_writer())
                sys.stdout.flush()
            else:
                counts = _write_atomically(out, lambda write: write_export(store, write))
        ui.note(f"Exported {_counts(counts)}" + (f" to {out}" if out else "") + ".")


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A file written by `memwise export` ('-': stdin).")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Import an export into a store (which must not hold any of its sessions, runs or profiles)."""
    with ui.guard():
        with _Input(file) as source:
            ids = _check(source, file)  # before opening the store: a bad file creates nothing
            with open_store(db, create=True) as store:
                _check_target(store, ids)
                counts = _write(store, source)
        ui.note(f"Imported {_counts(counts)} into {db}.")


# ==================================================================== export
def write_export(store: Storage, write: Callable[[str], Any]) -> dict[str, int]:
    """Write the store's records as JSON Lines through `write`; return how many of each."""
    counts = dict.fromkeys(KINDS, 0)
    write(_line({"type": FORMAT, "format": FORMAT_VERSION}))
    for session in sorted(_every(store.list_sessions, "session_id").values(), key=lambda s: s.session_id):
        write(_line({"type": "session", **{name: getattr(session, name) for name in SESSION_FIELDS}}))
        counts["sessions"] += 1
        for message in _messages(store, session.session_id):
            write(_line({"type": "message", **{name: getattr(message, name) for name in MESSAGE_FIELDS}}))
            counts["messages"] += 1
    for run in sorted(_every(store.list_runs, "run_id").values(), key=lambda r: r.run_id):
        write(_line({"type": "run", **{name: getattr(run, name) for name in RUN_FIELDS}}))
        counts["runs"] += 1
    for user_id in sorted(_profile_ids(store)):
        profile = store.get_profile(user_id)
        if profile is not None:  # forgotten meanwhile
            write(_line({"type": "profile", **{name: getattr(profile, name) for name in PROFILE_FIELDS}}))
            counts["profiles"] += 1
    write(_line({"type": "end", **counts}))
    return counts


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _every(lister: Callable[..., Any], key: str) -> dict[str, Any]:
    """Every record a listing returns, page by page, by id. Listings page by update time, so a
    record updated while we page moves behind the cursor and can be missed: export a store no
    one is writing to (documented)."""
    found: dict[str, Any] = {}
    cursor = None
    while True:
        page = lister(limit=PAGE, cursor=cursor)
        found.update((getattr(item, key), item) for item in page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _messages(store: Storage, session_id: str) -> Iterator[StoredMessage]:
    after = 0
    while True:
        batch = store.read_messages(session_id, after_seq=after, limit=MESSAGE_BATCH)
        yield from batch
        if len(batch) < MESSAGE_BATCH:
            return
        after = batch[-1].seq


def _profile_ids(store: Storage) -> set[str]:
    """The user ids of every stored profile.

    The public API has no profile listing (profiles are read by user id), and a profile can
    outlive its user's sessions (`delete_session` keeps it), so the ids come from the contract's
    read primitive `_query_records`. Read-only; the records themselves are read with `get_profile`.
    """
    from memwise.storage.contract import RecordQuery

    ids: set[str] = set()
    after = None
    while True:
        raws = store._sync(store._query_records(RecordQuery("profile", after=after, limit=PAGE)), write=False)
        ids.update(raw.key for raw in raws)
        if len(raws) < PAGE:
            return ids
        after = (raws[-1].updated_at, raws[-1].key)


def _stdout_writer() -> Callable[[str], Any]:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        return sys.stdout.write
    return lambda text: buffer.write(text.encode("utf-8"))


def _write_atomically(path: Path, produce: Callable[[Callable[[str], Any]], dict[str, int]]) -> dict[str, int]:
    """Write to a temporary file next to `path`, then rename it: a failed export leaves no half file."""
    path = path.expanduser()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            counts = produce(handle.write)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return counts


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(ui.plural(counts[kind], kind[:-1]) for kind in KINDS)


# ==================================================================== import
class _Input:
    """An export file opened for reading twice (checking, then writing); stdin is spooled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._spool: IO[str] | None = None

    def __enter__(self) -> _Input:
        path = Path(self.name)
        if self.name != "-" and not path.exists():
            raise ImportFileError(f"{self.name}: no such file")
        if path.is_dir():
            raise ImportFileError(f"{self.name}: is a directory, not an export file")
        if self.name == "-" or not path.is_file():  # stdin, a pipe, <(...): read once, keep a copy
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")
            if self.name == "-":
                self._spool.writelines(sys.stdin)
            else:
                with open(self.name, encoding="utf-8") as handle:
                    self._spool.writelines(handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None:
            self._spool.close()

    def lines(self) -> Iterator[tuple[int, str]]:
        if self._spool is not None:
            self._spool.seek(0)
            yield from enumerate(self._spool, 1)
            return
        with open(self.name, encoding="utf-8") as handle:
            yield from enumerate(handle, 1)


def import_file(store: Storage, name: str) -> dict[str, int]:
    """Import the export file `name` into `store`: check the file completely, check the store
    holds none of its records, then write. Returns how many of each kind were imported."""
    with _Input(name) as source:
        ids = _check(source, name)
        _check_target(store, ids)
        return _write(store, source)


def _records(source: _Input, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in source.lines():
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise ImportFileError(f"{name} line {number}: not JSON ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise ImportFileError(f"{name} line {number}: expected a JSON object with a \"type\"")
        yield number, record


def _check(source: _Input, name: str) -> dict[str, set[str]]:
    """Validate every line; return the ids of the sessions, runs and profiles in the file."""
    from memwise.storage.codec import decode_message

    ids: dict[str, set[str]] = {"session": set(), "run": set(), "profile": set()}
    counts = dict.fromkeys(KINDS, 0)
    last_seq: dict[str, int] = {}
    seen_header = seen_end = False
    for number, record in _records(source, name):
        where = f"{name} line {number}"
        kind = record["type"]
        if not seen_header:
            if kind != FORMAT:
                raise ImportFileError(f"{where}: not a memwise export (it must start with a {FORMAT!r} line)")
            if record.get("format") != FORMAT_VERSION:
                raise ImportFileError(
                    f"{where}: export format {record.get('format')!r}; this memwise reads format {FORMAT_VERSION} (upgrade memwise?)"
                )
            seen_header = True
            continue
        if seen_end:
            raise ImportFileError(f"{where}: a line after the closing \"end\" line")
        if kind == "end":
            expected = {kind_: record.get(kind_) for kind_ in KINDS}
            if expected != counts:
                raise ImportFileError(f"{where}: the file says it holds {expected} but holds {counts}; is it complete?")
            seen_end = True
            continue
        fields = {"session": SESSION_FIELDS, "message": MESSAGE_FIELDS, "run": RUN_FIELDS, "profile": PROFILE_FIELDS}.get(kind)
        if fields is None:
            raise ImportFileError(f"{where}: unknown record type {kind!r}")
        keys = set(record) - {"type"}
        if keys != set(fields):
            missing, extra = set(fields) - keys, keys - set(fields)
            raise ImportFileError(
                f"{where}: a {kind} record"
                + (f" lacks {', '.join(sorted(missing))}" if missing else "")
                + (" and" if missing and extra else "")
                + (f" has unknown fields {', '.join(sorted(extra))}" if extra else "")
            )
        _check_types(kind, record, where)
        if kind == "message":
            session_id = record["session_id"]
            if session_id not in last_seq:
                raise ImportFileError(f"{where}: a message of session {session_id!r}, which no earlier line defines")
            if record["seq"] != last_seq[session_id] + 1:
                raise ImportFileError(
                    f"{where}: message seq {record['seq']} of session {session_id!r} should be {last_seq[session_id] + 1} "
                    "(messages come in order, numbered from 1)"
                )
            last_seq[session_id] = record["seq"]
            try:
                decode_message(record["data"])
            except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError and friends
                raise ImportFileError(f"{where}: data is not a pydantic-ai message: {exc}") from None
            counts["messages"] += 1
            continue
        key = record[fields[0]]
        if key in ids[kind]:
            raise ImportFileError(f"{where}: {kind} {key!r} appears twice")
        ids[kind].add(key)
        counts[kind + "s"] += 1
        if kind == "session":
            last_seq[key] = 0
    if not seen_header:
        raise ImportFileError(f"{name}: empty file; not a memwise export")
    if not seen_end:
        raise ImportFileError(f"{name}: no closing \"end\" line; the export is incomplete")
    return ids


def _ident(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _count(low: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _usage(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values())


def _or_null(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


# kind -> field -> (check, what it wants); fields without a check are left to storage
_CHECKS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "session": {
        "session_id": (_ident, "a non-empty string"),
        "user_id": (_or_null(_ident), "a non-empty string or null"),
        "agent_id": (_or_null(_ident), "a non-empty string or null"),
        "summary": (_or_null(_is_str), "a string or null"),
        "summarized_through": (_count(0), "an integer >= 0"),
        "metadata": (_is_dict, "an object"),
        "usage": (_usage, "an object of integers"),
    },
    "message": {
        "session_id": (_ident, "a non-empty string"),
        "seq": (_count(1), "an integer >= 1"),
        "run_id": (_or_null(_ident), "a non-empty string or null"),
        "turn_start": (lambda value: isinstance(value, bool), "true or false"),
        "data": (_is_dict, "an object"),
    },
    "run": {
        "run_id": (_ident, "a non-empty string"),
        "session_id": (_ident, "a non-empty string"),
        "user_id": (_or_null(_ident), "a non-empty string or null"),
        "agent_id": (_or_null(_ident), "a non-empty string or null"),
        "status": (lambda value: value in RUN_STATUSES, f"one of {', '.join(RUN_STATUSES)}"),
        "checkpoint": (_or_null(_is_dict), "an object or null"),
        "error": (_or_null(_is_str), "a string or null"),
        "usage": (_usage, "an object of integers"),
        "lease_owner": (_or_null(_ident), "a non-empty string or null"),
        "lease_expires_at": (_or_null(_number), "a number or null"),
        "created_at": (_number, "a number"),
    },
    "profile": {
        "user_id": (_ident, "a non-empty string"),
        "data": (_is_dict, "an object"),
        "provenance": (_is_dict, "an object"),
        "created_at": (_number, "a number"),
    },
}


def _check_types(kind: str, record: dict[str, Any], where: str) -> None:
    for name, (check, wanted) in _CHECKS[kind].items():
        if name in record and not check(record[name]):
            raise ImportFileError(f"{where}: {kind} field {name!r} must be {wanted}, not {record[name]!r}")


def _check_target(store: Storage, ids: dict[str, set[str]]) -> None:
    getters: dict[str, Callable[[str], Any]] = {"session": store.get_session, "run": store.get_run, "profile": store.get_profile}
    for kind, getter in getters.items():
        taken = sorted(key for key in ids[kind] if getter(key) is not None)
        if taken:
            shown = ", ".join(repr(key) for key in taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
            raise ImportFileError(
                f"the target store already has {kind} {shown}; import into a store without them "
                f"(nothing was imported)"
            )


def _write(store: Storage, source: _Input) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        first = pending[0]
        seqs = store.append_messages(first["session_id"], [m["data"] for m in pending], run_id=first["run_id"])
        wanted = [m["seq"] for m in pending]
        if seqs != wanted:
            raise ImportFileError(
                f"session {first['session_id']!r} got message seqs {seqs[0]}..{seqs[-1]} instead of "
                f"{wanted[0]}..{wanted[-1]}: was it written to during the import?"
            )
        counts["messages"] += len(pending)
        pending.clear()

    for _, record in _records(source, source.name):
        kind = record["type"]
        if kind == "message":
            if pending and (
                len(pending) >= MESSAGE_BATCH
                or (record["session_id"], record["run_id"]) != (pending[0]["session_id"], pending[0]["run_id"])
            ):
                flush()
            pending.append(record)
            continue
        flush()
        if kind == "session":
            _import_session(store, record)
        elif kind == "run":
            store.create_run(Run(**{name: record[name] for name in RUN_FIELDS}))
        elif kind == "profile":
            store.put_profile(UserProfile(**{name: record[name] for name in PROFILE_FIELDS}), expected_version=0)
        else:
            continue
        counts[kind + "s"] += 1
    flush()
    return counts


def _import_session(store: Storage, record: dict[str, Any]) -> Session:
    session = store.create_session(
        record["session_id"], user_id=record["user_id"], agent_id=record["agent_id"], metadata=record["metadata"]
    )
    defaults = Session(record["session_id"])
    changes = {
        name: record[name]
        for name in SESSION_FIELDS
        if name not in ("session_id", "user_id", "agent_id", "metadata") and record[name] != getattr(defaults, name)
    }
    if changes:
        session = store.update_session(session.session_id, expected_version=session.version, **changes)
    return session
