"""`from_url`: one string names a store, as the CLI's `--db` and configuration files need.

Accepted forms (`FORMS`):

- a file path, e.g. `memory.db`: a SQLite file (`:memory:`: a private in-memory SQLite database);
- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`;
- `json:///relative/dir`, `json:////absolute/dir`: a directory of JSON files;
- `memory://`: an `InMemoryStorage` (nothing persists);
- `postgresql://user:password@host:5432/dbname?schema=s` (or `postgres://`), `memwise[postgres]`;
  other query parameters go to libpq (`sslmode=require`, ...);
- `redis://host:6379/0?prefix=p&expire=3600` (or `rediss://`), `memwise[redis]`; `expire` is the
  sliding TTL in seconds; other query parameters go to redis-py (`socket_timeout=5`, ...);
- `mongodb://host:27017/dbname?prefix=p` (or `mongodb+srv://`), `memwise[mongo]`; the database is
  the URL's path (default `memwise`), `prefix` the collections' prefix; other query parameters
  go to pymongo.

Nothing here imports a backend or a driver before the URL asks for it, so this works without any
extra. The storage is built, not opened: the first call connects.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

from memwise.errors import ConfigurationError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from memwise.storage.base import Storage

FORMS = (
    "a SQLite file path, sqlite:///path.db (sqlite:////absolute/path.db), json:///dir, memory://, "
    "postgresql://user:pw@host:5432/db?schema=s, redis://host:6379/0?prefix=p&expire=seconds, "
    "mongodb://host:27017/db?prefix=p"
)

# scheme -> (extra, the driver modules its backend imports)
_SERVERS = {
    "postgresql": ("postgres", ("psycopg", "psycopg_pool")),
    "postgres": ("postgres", ("psycopg", "psycopg_pool")),
    "redis": ("redis", ("redis",)),
    "rediss": ("redis", ("redis",)),
    "mongodb": ("mongo", ("pymongo",)),
    "mongodb+srv": ("mongo", ("pymongo",)),
}


def from_url(url: str | os.PathLike[str], *, create: bool = True) -> Storage:
    """The storage `url` names (see the module's docstring for the forms).

    With `create=False` a SQLite file or JSON directory must exist already (NotFoundError), so a
    typo in a read-only tool does not leave an empty store behind. An unknown scheme or a bad
    parameter raises InvalidInputError naming the accepted forms; a missing extra raises
    ConfigurationError with the `pip install` line. Passwords never appear in messages."""
    if isinstance(url, os.PathLike):
        return _sqlite(os.fspath(url), create)
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(f"a storage URL must be a non-empty string, not {url!r}; accepted: {FORMS}")
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _sqlite(url, create)
    scheme = scheme.lower()
    if scheme in ("sqlite", "json"):
        if not rest.startswith("/") or not rest[1:] or "?" in rest:
            kind = "a SQLite URL" if scheme == "sqlite" else "a JSON directory URL"
            raise _bad(url, f"{kind} looks like {scheme}:///relative/path or {scheme}:////absolute/path, without parameters")
        return _sqlite(rest[1:], create) if scheme == "sqlite" else _json(rest[1:], create)
    if scheme == "memory":
        if rest:
            raise _bad(url, "an in-memory store is just memory://")
        from memwise.storage.in_memory import InMemoryStorage

        return InMemoryStorage()
    if scheme not in _SERVERS:
        raise _bad(url, f"unknown kind of database {scheme!r}")
    extra, drivers = _SERVERS[scheme]
    for driver in drivers:
        try:
            importlib.import_module(driver)
        except ImportError:
            raise ConfigurationError(
                f'{scheme}:// URLs need the {extra} extra ({driver} is not installed): pip install "memwise[{extra}]"'
            ) from None
    builder, ours = _BUILDERS[extra]
    driver_url, options = _split_options(url, ours)
    try:
        return builder(driver_url, options)
    except ConfigurationError as exc:  # the backend refused a value the URL carried
        raise _bad(url, str(exc)) from None


def redact(url: str) -> str:
    """`url` as safe to print: its password, if any, becomes `***`."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _bad(url: str, why: str) -> InvalidInputError:
    password = urlsplit(url).password
    if password:  # a driver's message may quote the URL
        why = why.replace(password, "***").replace(unquote(password), "***")
    return InvalidInputError(f"storage URL {redact(url)!r}: {why}; accepted: {FORMS}")


def _split_options(url: str, ours: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """memwise's own query parameters, and the URL without them (the rest, byte for byte, is the
    driver's)."""
    parts = urlsplit(url)
    options: dict[str, str] = {}
    kept = []
    for item in parts.query.split("&") if parts.query else ():
        name, _, value = item.partition("=")
        name = unquote_plus(name)
        if name not in ours:
            kept.append(item)
            continue
        if name in options:
            raise _bad(url, f"parameter {name!r} is given twice")
        if not value:
            raise _bad(url, f"parameter {name!r} needs a value")
        options[name] = unquote_plus(value)
    return urlunsplit(parts._replace(query="&".join(kept))), options


def _postgres(url: str, options: dict[str, str]) -> Storage:
    from memwise.storage.postgres import PostgresStorage

    return PostgresStorage(db_url=url, db_schema=options.get("schema", "public"))


def _redis(url: str, options: dict[str, str]) -> Storage:
    import redis

    try:  # builds a connection object without connecting: redis-py checks the URL's parameters
        pool = redis.ConnectionPool.from_url(url)
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"redis-py refuses the URL's parameters ({exc})") from None
    from memwise.storage.redis import RedisStorage

    expire: Any = options.get("expire")
    if expire is not None:
        try:
            expire = float(expire)
        except ValueError:
            raise ConfigurationError(f"expire must be a number of seconds, not {expire!r}") from None
    return RedisStorage(db_url=url, db_prefix=options.get("prefix", "memwise"), expire=expire)


def _mongo(url: str, options: dict[str, str]) -> Storage:
    from memwise.storage.mongo import MongoStorage

    return MongoStorage(db_url=url, collection_prefix=options.get("prefix", "memwise"))


# extra -> (builder, memwise's own query parameters)
_BUILDERS: dict[str, tuple[Callable[[str, dict[str, str]], Storage], tuple[str, ...]]] = {
    "postgres": (_postgres, ("schema",)),
    "redis": (_redis, ("prefix", "expire")),
    "mongo": (_mongo, ("prefix",)),
}


def _sqlite(path: str, create: bool) -> Storage:
    from memwise.storage.sqlite import SqliteStorage

    if path == ":memory:":
        return SqliteStorage(db_file=path)
    file = Path(path).expanduser()
    if file.is_dir():
        raise InvalidInputError(f"{path!r} is a directory; give a SQLite file (or json:///{path} for a JSON store)")
    if not create and not file.exists():
        raise NotFoundError(f"no memwise database at {path!r}")
    if create and file.exists() and not os.access(file, os.W_OK):
        raise InvalidInputError(f"{path!r} is not writable")
    return SqliteStorage(db_file=str(file))


def _json(path: str, create: bool) -> Storage:
    from memwise.storage.json import JSONStorage

    directory = Path(path).expanduser()
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"json:///{path}: {path!r} is a file, not a directory")
    if not create and not directory.exists():
        raise NotFoundError(f"no memwise JSON store at {path!r}")
    return JSONStorage(db_path=directory)


__all__ = ["FORMS", "from_url", "redact"]
