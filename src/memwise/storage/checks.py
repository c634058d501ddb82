"""The arguments `Storage` accepts, and their checks: bad input raises InvalidInputError, naming
the argument, before any plan sends a command."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from memwise.errors import CorruptRecordError, InvalidInputError
from memwise.storage.codec import dumps, encode_message, to_message
from memwise.storage.contract import RawMessage, RecordQuery
from memwise.storage.records import RUN_STATUSES, Run, Session, StoredMessage, UserProfile
from memwise.storage.search_text import search_text

R = TypeVar("R")


class SessionChanges(TypedDict, total=False):
    summary: str | None
    summarized_through: int
    metadata: dict[str, Any]
    usage: dict[str, int]
    pending_turns: list[dict[str, Any]]


class RunChanges(TypedDict, total=False):
    status: str
    checkpoint: dict[str, Any] | None
    error: str | None
    usage: dict[str, int]


class SessionFilters(TypedDict, total=False):
    user_id: str | None
    agent_id: str | None


class RunFilters(TypedDict, total=False):
    session_id: str | None
    user_id: str | None
    status: str | Iterable[str] | None


def check_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string, not {value!r}")
    return value


def check_optional_id(value: Any, name: str) -> str | None:
    return None if value is None else check_id(value, name)


def check_count(value: Any, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise InvalidInputError(f"{name} must be an integer >= {0 if allow_zero else 1}, not {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def check_json_dict(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be a dict, not {type(value).__name__}")
    dumps(value, name)
    return value


def check_usage(value: Any) -> dict[str, int]:
    usage = check_json_dict(value, "usage")
    for key, count in usage.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInputError(f"usage[{key!r}] must be an integer, not {count!r}")
    return usage


def check_known(values: Mapping[str, Any], allowed: type, what: str) -> dict[str, Any]:
    unknown = set(values) - set(allowed.__annotations__)
    if unknown:
        raise InvalidInputError(f"{what} has no field {', '.join(sorted(unknown))}; known: {', '.join(allowed.__annotations__)}")
    return dict(values)


def check_session_changes(given: Mapping[str, Any]) -> dict[str, Any]:
    changes = check_known(given, SessionChanges, "a session")
    if changes.get("summary") is not None and not isinstance(changes["summary"], str):
        raise InvalidInputError(f"summary must be a string or None, not {type(changes['summary']).__name__}")
    if "summarized_through" in changes:
        check_count(changes["summarized_through"], "summarized_through", allow_zero=True)
    if "metadata" in changes:
        check_json_dict(changes["metadata"], "metadata")
    if "usage" in changes:
        check_usage(changes["usage"])
    if "pending_turns" in changes:
        check_pending_turns(changes["pending_turns"])
    return changes


def check_pending_turns(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInputError(f"pending_turns must be a list of dicts, not {value!r:.80}")
    dumps(value, "pending_turns")
    return value


def check_run_changes(given: Mapping[str, Any]) -> dict[str, Any]:
    changes = check_known(given, RunChanges, "a run")
    if "status" in changes and changes["status"] not in RUN_STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(RUN_STATUSES)}, not {changes['status']!r}")
    if changes.get("checkpoint") is not None:
        check_json_dict(changes["checkpoint"], "checkpoint")
    if changes.get("error") is not None and not isinstance(changes["error"], str):
        raise InvalidInputError(f"error must be a string or None, not {type(changes['error']).__name__}")
    if "usage" in changes:
        check_usage(changes["usage"])
    return changes


def check_stamp(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise InvalidInputError(f"{name} must be epoch seconds (a number >= 0), not {value!r}")
    return float(value)


def _check_instance(value: Any, cls: type[R], name: str) -> R:
    if not isinstance(value, cls):
        raise InvalidInputError(f"{name} must be a {cls.__name__}, not {type(value).__name__}")
    return value


def _check_ids(record: Any, kind: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    for field_name in required:
        check_id(getattr(record, field_name), f"{kind}.{field_name}")
    for field_name in optional:
        check_optional_id(getattr(record, field_name), f"{kind}.{field_name}")


def check_session(value: Any) -> Session:
    session = _check_instance(value, Session, "session")
    _check_ids(session, "session", ("session_id",), ("user_id", "agent_id"))
    check_session_changes({name: getattr(session, name) for name in SessionChanges.__annotations__})
    return session


def check_run(value: Any) -> Run:
    run = _check_instance(value, Run, "run")
    _check_ids(run, "run", ("run_id", "session_id"), ("user_id", "agent_id", "lease_owner"))
    if run.lease_expires_at is not None:
        check_stamp(run.lease_expires_at, "run.lease_expires_at")
    check_run_changes({name: getattr(run, name) for name in RunChanges.__annotations__})
    return run


def check_profile(value: Any) -> UserProfile:
    profile = _check_instance(value, UserProfile, "profile")
    _check_ids(profile, "profile", ("user_id",))
    check_json_dict(profile.data, "profile.data")
    check_json_dict(profile.provenance, "profile.provenance")
    return profile


def check_restorable(record: Any) -> Session | Run | UserProfile:
    """The checks `Storage.restore` makes before writing: those of creating the record, plus its
    version and timestamps. Lets an import check a whole file before writing anything."""
    checks: dict[type, Callable[[Any], Session | Run | UserProfile]] = {
        Session: check_session, Run: check_run, UserProfile: check_profile
    }
    check = checks.get(type(record))
    if check is None:
        raise InvalidInputError(f"restore takes a Session, Run or UserProfile, not {type(record).__name__}")
    checked = check(record)
    check_count(checked.version, "version")
    check_stamp(checked.created_at, "created_at")
    check_stamp(checked.updated_at, "updated_at")
    return checked


def check_restorable_messages(session_id: str, messages: Sequence[Any]) -> list[RawMessage]:
    """The checks `Storage.restore_messages` makes before writing: messages of `session_id` with
    consecutive seqs, each a pydantic-ai message whose `turn_start` is right. Returns them as the
    log stores them."""
    check_id(session_id, "session_id")
    if isinstance(messages, (str, bytes, dict)) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of StoredMessage, not {type(messages).__name__}")
    rows: list[RawMessage] = []
    for index, message in enumerate(messages):
        what = f"messages[{index}]"
        _check_instance(message, StoredMessage, what)
        if message.session_id != session_id:
            raise InvalidInputError(f"{what} belongs to session {message.session_id!r}, not {session_id!r}")
        wanted = check_count(message.seq, f"{what}.seq") if index == 0 else rows[0].seq + index
        if message.seq != wanted:
            raise InvalidInputError(f"{what}.seq is {message.seq!r}; seqs must be consecutive ({wanted} here)")
        try:
            data = message.data
        except CorruptRecordError as exc:
            raise InvalidInputError(f"{what}.body: {exc}") from None
        model = to_message(data, what)
        _, turn_start = encode_message(model, what)
        if message.turn_start is not turn_start:
            raise InvalidInputError(f"{what}.turn_start must be {turn_start} for this message, not {message.turn_start!r}")
        created_at = check_stamp(message.created_at, f"{what}.created_at")
        run_id = check_optional_id(message.run_id, f"{what}.run_id")
        rows.append(RawMessage(message.seq, run_id, turn_start, created_at, dumps(data, what), search_text(model)))
    return rows


def record_query(kind: str, limit: int, cursor: str | None, given: Mapping[str, Any]) -> RecordQuery:
    filters = check_known(given, SessionFilters if kind == "session" else RunFilters, f"listing {kind}s")
    for name in ("user_id", "agent_id", "session_id"):
        check_optional_id(filters.get(name), name)
    status = filters.pop("status", None)
    if status is not None:
        filters["statuses"] = (status,) if isinstance(status, str) else tuple(status)
        for item in filters["statuses"]:
            check_run_changes({"status": item})
    after = None
    if cursor is not None:
        stamp, sep, key = str(cursor).partition("|")
        try:
            after = (float(stamp), key)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise InvalidInputError(f"cursor {cursor!r} is not a cursor this storage returned")
    return RecordQuery(kind, after=after, limit=check_count(limit, "limit") + 1, **filters)


#: A message ready to append: its JSON text, whether it starts a user turn, its search text.
Encoded = tuple[str, bool, str]


def check_messages(session_id: str, messages: Sequence[Any]) -> list[Encoded]:
    check_id(session_id, "session_id")
    if isinstance(messages, (str, bytes, dict)) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of pydantic-ai messages, not {type(messages).__name__}")
    encoded = []
    for index, message in enumerate(messages):
        model = to_message(message, f"messages[{index}]")
        encoded.append((*encode_message(model, f"messages[{index}]"), search_text(model)))
    return encoded


def prune_cutoff(older_than: datetime | timedelta | float) -> float:
    if isinstance(older_than, timedelta):
        return time.time() - older_than.total_seconds()
    if isinstance(older_than, datetime):
        return older_than.timestamp()
    if isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        return float(older_than)
    raise InvalidInputError(f"older_than must be a datetime, a timedelta or epoch seconds, not {older_than!r}")
