"""The arguments `Storage` accepts, and their checks: bad input raises InvalidInputError, naming
the argument, before any plan sends a command."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict

from memwise.errors import InvalidInputError
from memwise.storage.codec import dumps, encode_message
from memwise.storage.contract import RecordQuery
from memwise.storage.records import RUN_STATUSES


class SessionChanges(TypedDict, total=False):
    summary: str | None
    summarized_through: int
    metadata: dict[str, Any]
    usage: dict[str, int]


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
    check_json_dict(value, "usage")
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInputError(f"usage[{key!r}] must be an integer, not {count!r}")
    return value


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
    return changes


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


def check_messages(session_id: str, messages: Sequence[Any]) -> list[tuple[str, bool]]:
    check_id(session_id, "session_id")
    if isinstance(messages, (str, bytes, dict)) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of pydantic-ai messages, not {type(messages).__name__}")
    return [encode_message(message, f"messages[{index}]") for index, message in enumerate(messages)]


def prune_cutoff(older_than: datetime | timedelta | float) -> float:
    if isinstance(older_than, timedelta):
        return time.time() - older_than.total_seconds()
    if isinstance(older_than, datetime):
        return older_than.timestamp()
    if isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        return float(older_than)
    raise InvalidInputError(f"older_than must be a datetime, a timedelta or epoch seconds, not {older_than!r}")
