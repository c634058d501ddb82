"""`--db`: what the user typed, as an opened storage (the forms are `memwise.storage.from_url`'s)."""

from __future__ import annotations

from memwise.errors import NotFoundError
from memwise.storage.base import Storage
from memwise.storage.url import from_url, redact

DEFAULT_DB = "memwise.db"
ENV_DB = "MEMWISE_DB"


def open_store(db: str | None, *, create: bool) -> Storage:
    """The storage `db` names. With `create=False` (read-only commands) a SQLite file or JSON
    directory must exist already, so a typo does not silently create an empty store. The store is
    opened (and checked) before this returns."""
    db = (db or "").strip() or DEFAULT_DB
    try:
        store = from_url(db, create=create)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} (pass --db PATH or URL, or set {ENV_DB})") from None
    try:
        store.list_sessions(limit=1)  # connect, check the format version, create the schema
    except BaseException:
        store.close()
        raise
    return store


__all__ = ["DEFAULT_DB", "ENV_DB", "open_store", "redact"]
