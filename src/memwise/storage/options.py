"""Constructor options every backend accepts, as the original's storages do.

`id=` names the storage instance (a random id when not given). `session_table=` and
`user_memory_table=` name the table of sessions (with their runs) and the table of user profiles
where a backend has tables (SQLite, PostgreSQL); the other backends accept them, check them and
have no tables to name.
"""

from __future__ import annotations

import re
import uuid

from memwise.errors import ConfigurationError

#: A table name is a plain SQL identifier, short enough to prefix its index names.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}\Z")


def storage_id(value: str | None) -> str:
    if value is None:
        return uuid.uuid4().hex
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"id must be a non-empty string, not {value!r}")
    return value


def table_name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TABLE_NAME.match(value):
        raise ConfigurationError(
            f"{what} must be 1-40 letters, digits or '_', starting with a letter or '_', not {value!r}"
        )
    return value


def common_options(id: str | None, session_table: str | None, user_memory_table: str | None) -> str:  # noqa: A002
    """Check the options a backend without tables accepts; returns the storage's id."""
    table_name(session_table, "session_table")
    table_name(user_memory_table, "user_memory_table")
    return storage_id(id)
