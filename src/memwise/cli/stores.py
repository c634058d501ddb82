"""`--db`: turn what the user typed into a storage, or fail with one clear line.

Accepted forms:

- a file path (default `memwise.db`): a SQLite file;
- `sqlite:///path/to/file.db` (an absolute path has four slashes: `sqlite:////tmp/m.db`);
- `json:///path/to/dir`: a directory of JSON files (same slash rule as sqlite);
- `postgresql://user:password@host:5432/dbname` (or `postgres://`), needs `memwise[postgres]`;
- `redis://host:6379/0` (or `rediss://`), needs `memwise[redis]`;
- `mongodb://host:27017/dbname` (or `mongodb+srv://`; the database is the URL's path, default
  `memwise`), needs `memwise[mongo]`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from memwise.errors import ConfigurationError

if TYPE_CHECKING:
    from memwise.storage.base import Storage

DEFAULT_DB = "memwise.db"
ENV_DB = "MEMWISE_DB"

# scheme -> (extra, driver modules the backend imports)
_NETWORK = {
    "postgresql": ("postgres", ("psycopg", "psycopg_pool")),
    "postgres": ("postgres", ("psycopg", "psycopg_pool")),
    "redis": ("redis", ("redis",)),
    "rediss": ("redis", ("redis",)),
    "mongodb": ("mongo", ("pymongo",)),
    "mongodb+srv": ("mongo", ("pymongo",)),
}
SCHEMES = ("sqlite:///", "json:///", "postgresql://", "redis://", "mongodb://")


class DbError(ConfigurationError):
    """`--db` names something memwise cannot open."""


def redact(db: str) -> str:
    """`db` as safe to print: a URL's password is replaced by `***`."""
    if "://" not in db:
        return db
    parts = urlsplit(db)
    if parts.password is None:
        return db
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def open_store(db: str | None, *, create: bool) -> Storage:
    """The storage `db` names. With `create=False` (read-only commands) a SQLite file or JSON
    directory must exist already, so a typo does not silently create an empty store. The store is
    opened (and checked) before this returns."""
    db = (db or "").strip() or DEFAULT_DB
    store = _build(db, create)
    try:
        store.list_sessions(limit=1)  # connect, check the format version, create the schema
    except BaseException:
        store.close()
        raise
    return store


def _build(db: str, create: bool) -> Storage:
    scheme, sep, rest = db.partition("://")
    if not sep:
        return _sqlite(db, create)
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/"):
            raise DbError(f"--db {db!r}: a SQLite URL looks like sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return _sqlite(rest[1:], create)
    if scheme == "json":
        if not rest.startswith("/") or not rest[1:]:
            raise DbError(f"--db {db!r}: a JSON directory URL looks like json:///relative/dir or json:////absolute/dir")
        return _json(rest[1:], create)
    if scheme not in _NETWORK:
        raise DbError(f"--db {redact(db)!r}: unknown kind of database {scheme!r}; use a SQLite file path or a URL starting with {', '.join(SCHEMES)}")
    extra, drivers = _NETWORK[scheme]
    for driver in drivers:
        try:
            importlib.import_module(driver)
        except ImportError:
            raise DbError(f'--db {scheme}://... needs the {extra} extra ({driver} is not installed): pip install "memwise[{extra}]"') from None
    if extra == "postgres":
        from memwise.storage.postgres import PostgresStorage

        return PostgresStorage(db_url=db)
    if extra == "redis":
        from memwise.storage.redis import RedisStorage

        return RedisStorage(db_url=db)
    from memwise.storage.mongo import MongoStorage

    return MongoStorage(db_url=db)


def _sqlite(path: str, create: bool) -> Storage:
    from memwise.storage.sqlite import SqliteStorage

    if path == ":memory:":
        return SqliteStorage(db_file=path)
    file = Path(path).expanduser()
    if file.is_dir():
        raise DbError(f"--db {path!r} is a directory; give a SQLite file (or json:///{path} for a JSON store)")
    if not create and not file.exists():
        raise DbError(f"no memwise database at {path!r} (pass --db PATH or URL, or set {ENV_DB})")
    if create and file.exists() and not os.access(file, os.W_OK):
        raise DbError(f"--db {path!r} is not writable")
    return SqliteStorage(db_file=str(file))


def _json(path: str, create: bool) -> Storage:
    from memwise.storage.json import JSONStorage

    directory = Path(path).expanduser()
    if directory.exists() and not directory.is_dir():
        raise DbError(f"--db json:///{path}: {path!r} is a file, not a directory")
    if not create and not directory.exists():
        raise DbError(f"no memwise JSON store at {path!r}")
    return JSONStorage(db_path=directory)
