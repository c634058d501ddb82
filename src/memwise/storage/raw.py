"""Typed records <-> `RawRecord`: which fields a backend keeps as indexed columns, the rest as a
JSON body."""

from __future__ import annotations

from typing import Any

from memwise.storage.codec import dumps, loads, record_body, record_from_body
from memwise.storage.contract import RawRecord
from memwise.storage.records import Run, Session, UserProfile

# kind -> (record class, key field, fields kept as indexed columns)
KINDS: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "session": (Session, "session_id", ("user_id", "agent_id")),
    "run": (Run, "run_id", ("session_id", "user_id", "agent_id", "status")),
    "profile": (UserProfile, "user_id", ("user_id",)),
}


def to_raw(record: Any) -> RawRecord:
    kind = {Session: "session", Run: "run", UserProfile: "profile"}[type(record)]
    _, key_field, columns = KINDS[kind]
    skip = (key_field, "version", "updated_at", *columns)
    body = dumps(record_body(record, skip), f"{kind} {getattr(record, key_field)!r}")
    return RawRecord(
        kind, getattr(record, key_field), record.version, record.updated_at, body,
        **{name: getattr(record, name) for name in columns},
    )


def from_raw(raw: RawRecord) -> Any:
    cls, key_field, columns = KINDS[raw.kind]
    what = f"{raw.kind} {raw.key!r}"
    extra = {name: getattr(raw, name) for name in columns if name != key_field}
    return record_from_body(
        cls, loads(raw.body, what), what, **{key_field: raw.key}, **extra, version=raw.version, updated_at=raw.updated_at
    )
