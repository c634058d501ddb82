"""PostgresStorage: the shared SQL plans (`memwise.storage.sql`) on PostgreSQL, through psycopg 3.

Only the dialect lives here: schema-qualified table names, `?` -> `%s`, how a plan runs, and
errors. Sync calls use a `psycopg_pool.ConnectionPool`; async calls use an `AsyncConnectionPool`
created lazily inside the running event loop (one per loop, see `memwise.storage.loops`), so async
code never blocks.

A write plan runs in one transaction on one pooled connection (READ COMMITTED): compare-and-set
is `UPDATE ... WHERE version = ?` / `INSERT ... ON CONFLICT DO NOTHING`, and an append takes the
session's row lock in the heads table with an upsert, so concurrent appenders in any number of
processes get contiguous seqs. That upsert selects the session's record FOR NO KEY UPDATE, and a
delete locks it FOR UPDATE before touching the log, so an append and a delete_session take turns:
no message outlives its session. A read-only plan runs in autocommit on its pooled connection: under
READ COMMITTED a transaction gives plain SELECTs nothing more, and this saves two round trips.
A plan's batch (independent statements, see `plan.gather`) goes out in pipeline mode, in one round
trip. Schema setup is serialized across processes with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import threading
import weakref
from functools import lru_cache
from typing import Any, NamedTuple

from memwise.errors import ConfigurationError, StorageError, StorageUnavailableError
from memwise.storage.loops import LoopClients
from memwise.storage.options import storage_id
from memwise.storage.plan import Plan, T, adrive, drive
from memwise.storage.sql import Sql, SqlBackend, SqlPlan

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
#: SQLSTATE classes/codes meaning "the server or the connection is gone".
_GONE = ("08", "57P01", "57P02", "57P03")


class _LoopPool(NamedTuple):
    """An event loop's pool, and its connections (closed directly if the loop dies unshut)."""

    pool: AsyncConnectionPool
    conns: weakref.WeakSet[Any]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@lru_cache(maxsize=1024)
def _pg_text(text: str) -> str:
    """`?` placeholders -> psycopg's `%s` (a literal `%` is escaped). Table names never hold `?`."""
    return text.replace("%", "%%").replace("?", "%s")


class PostgresStorage(SqlBackend):
    """`PostgresStorage(db_url="postgresql://user@host:5432/db", db_schema="public", create_schema=True)`.

    - `db_schema`: the schema holding memwise's tables (`memwise_records`, `memwise_messages`,
      `memwise_heads`, `memwise_migrations`); created when missing if `create_schema`.
    - `connect_timeout`: seconds to wait for the server (libpq's minimum is 2); an unreachable
      server raises StorageUnavailableError naming host and port.
    - `session_table` / `user_memory_table`: table names, as for SqliteStorage; `id` names the instance.
    - `pool_min_size` / `pool_max_size`: connections per pool (one sync pool, one async pool per
      event loop); `pool_timeout`: seconds to wait for a free connection.
    """

    dialect = "postgresql"
    append_lock = " FOR NO KEY UPDATE"
    delete_lock = " FOR UPDATE"

    def __init__(
        self,
        db_url: str | None = None,
        db_schema: str = "public",
        create_schema: bool = True,
        *,
        connect_timeout: float = 10.0,
        pool_min_size: int = 1,
        pool_max_size: int = 10,
        pool_timeout: float = 30.0,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name
    ) -> None:
        if psycopg is None:
            raise ConfigurationError("PostgresStorage needs psycopg 3: pip install 'memwise[postgres]'")
        if not isinstance(db_url, str) or not db_url:
            raise ConfigurationError("PostgresStorage needs db_url, e.g. postgresql://user:password@localhost:5432/dbname")
        try:
            params = conninfo_to_dict(db_url)
        except psycopg.Error as exc:
            raise ConfigurationError(f"db_url is not a valid PostgreSQL URL or conninfo string ({exc})") from None
        if not isinstance(db_schema, str) or not _SCHEMA_NAME.match(db_schema) or len(db_schema.encode()) > 63:
            raise ConfigurationError(
                f"db_schema must be 1-63 letters, digits, '_' or '$', starting with a letter or '_', not {db_schema!r}"
            )
        for name, value, low in (("pool_min_size", pool_min_size, 0), ("pool_max_size", pool_max_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{name} must be an integer >= {low}, not {value!r}")
        if pool_max_size < pool_min_size:
            raise ConfigurationError(f"pool_max_size ({pool_max_size}) must be >= pool_min_size ({pool_min_size})")
        for name, seconds in (("connect_timeout", connect_timeout), ("pool_timeout", pool_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds, not {seconds!r}")

        self.db_url = db_url
        self.db_schema = db_schema
        self.create_schema = bool(create_schema)
        self.id = storage_id(id)
        bare = self.bare_tables(session_table, user_memory_table)
        self.tables = {name: f"{_quote(db_schema)}.{_quote(table)}" for name, table in bare.items()}
        self.connect_timeout = max(2, math.ceil(connect_timeout))
        self.pool_min_size, self.pool_max_size, self.pool_timeout = pool_min_size, pool_max_size, float(pool_timeout)
        host = params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        self.where = f"{host}:{port}"  # for error messages
        self._database = params.get("dbname") or os.environ.get("PGDATABASE") or "(default)"
        self._kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": self.connect_timeout}
        if "application_name" not in params:
            self._kwargs["application_name"] = "memwise"

        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self._pool: ConnectionPool | None = None
        self._apools = LoopClients(repr(self), self._open_async_pool, _close_loop_pool, _hard_close)
        self._orphans: list[Any] = []  # pools inherited through fork: kept, never used or closed

    def __repr__(self) -> str:
        return f"PostgresStorage(host={self.where!r}, database={self._database!r}, db_schema={self.db_schema!r})"

    # ---- dialect -----------------------------------------------------------------------------
    def _setup_lock(self) -> SqlPlan[None]:
        """Serialize setup of this schema across processes, then make sure the schema exists."""
        yield Sql("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"memwise-setup:{self.db_schema}",), "one")
        if (yield Sql("SELECT 1 FROM pg_namespace WHERE nspname = ?", (self.db_schema,), "one")) is not None:
            return
        if not self.create_schema:
            raise ConfigurationError(
                f"schema {self.db_schema!r} does not exist in database {self._database!r} at {self.where}; "
                "create it or pass create_schema=True"
            )
        yield Sql(f"CREATE SCHEMA IF NOT EXISTS {_quote(self.db_schema)}", (), "rowcount")

    # ---- running plans (sync) -----------------------------------------------------------------
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        pool = self._sync_pool()
        try:
            with pool.connection(timeout=self.pool_timeout) as conn:
                with conn.cursor() as cursor:
                    execute, batch = (lambda command: _execute(cursor, command)), (lambda commands: _execute_batch(conn, commands))
                    if not write:
                        return drive(plan, execute, batch)
                    with conn.transaction():
                        return drive(plan, execute, batch)
        except PoolTimeout as exc:
            raise self._no_connection() from exc
        except (psycopg.Error, UnicodeError) as exc:  # BEGIN / COMMIT / returning the connection
            raise _storage_error(exc, "COMMIT", self.where) from exc
        finally:
            plan.close()

    def _sync_pool(self) -> ConnectionPool:
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._lock:
            self._check_usable()
            if self._pool is None:
                self._probe()
                pool = ConnectionPool(
                    self.db_url, kwargs=self._kwargs, min_size=self.pool_min_size, max_size=self.pool_max_size,
                    timeout=self.pool_timeout, open=False, name=f"memwise-{self.db_schema}",
                )
                pool.open()
                self._pool = pool
            return self._pool

    def _probe(self) -> None:
        """Connect once before opening a pool: an unreachable server fails now, with its reason."""
        try:
            psycopg.connect(self.db_url, **self._kwargs).close()
        except psycopg.Error as exc:
            raise self._unreachable(exc) from exc

    # ---- running plans (async) ----------------------------------------------------------------
    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        pool = await self._async_pool()
        try:
            async with pool.connection(timeout=self.pool_timeout) as conn:
                async with conn.cursor() as cursor:
                    execute, batch = (lambda command: _aexecute(cursor, command)), (lambda commands: _aexecute_batch(conn, commands))
                    if not write:
                        return await adrive(plan, execute, batch)
                    async with conn.transaction():
                        return await adrive(plan, execute, batch)
        except PoolTimeout as exc:
            raise self._no_connection() from exc
        except (psycopg.Error, UnicodeError) as exc:
            raise _storage_error(exc, "COMMIT", self.where) from exc
        finally:
            plan.close()

    async def _async_pool(self) -> AsyncConnectionPool:
        return (await self._apools.get()).pool

    async def _open_async_pool(self) -> _LoopPool:
        await self._aprobe()
        conns: weakref.WeakSet[Any] = weakref.WeakSet()
        pool = AsyncConnectionPool(
            self.db_url, kwargs=self._kwargs, min_size=self.pool_min_size, max_size=self.pool_max_size,
            timeout=self.pool_timeout, open=False, name=f"memwise-{self.db_schema}-async", configure=_tracker(conns),
        )
        # the first connections ready before use: a client waiting on an opening pool makes it
        # grow, and a connection still being made when the loop shuts down leaks
        try:
            await pool.open(wait=True, timeout=self.pool_timeout)
        except PoolTimeout as exc:
            await pool.close()
            raise self._no_connection() from exc
        return _LoopPool(pool, conns)

    async def _aprobe(self) -> None:
        try:
            await (await psycopg.AsyncConnection.connect(self.db_url, **self._kwargs)).close()
        except psycopg.Error as exc:
            raise self._unreachable(exc) from exc

    # ---- state, errors, closing ----------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError(f"{self!r} is closed")
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use or close
            self._orphans.append(self._pool)
            self._pool, self._pid = None, os.getpid()

    def _unreachable(self, exc: BaseException) -> StorageUnavailableError:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return StorageUnavailableError(
            f"cannot connect to PostgreSQL at {self.where} (database {self._database!r}) within "
            f"{self.connect_timeout}s: {reason}. Check that the server is running and db_url is right."
        )

    def _no_connection(self) -> StorageUnavailableError:
        return StorageUnavailableError(
            f"no PostgreSQL connection to {self.where} became available within {self.pool_timeout}s "
            f"(server down, or all {self.pool_max_size} pooled connections busy: raise pool_max_size)"
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._apools.close()

    async def aclose(self) -> None:
        await self._apools.aclose()
        await asyncio.to_thread(self.close)


async def _close_loop_pool(loop_pool: _LoopPool) -> None:
    """Close a loop's pool and its connections. At the loop's shutdown the pool's workers are
    cancelled with every other task, and `pool.close()` stops with their CancelledError before
    it closes its idle connections: those are closed here then."""
    try:
        await loop_pool.pool.close(timeout=5)
    except asyncio.CancelledError:
        pass
    for conn in list(loop_pool.conns):
        if not conn.closed:
            await conn.close()


def _execute(cursor: Any, command: Sql) -> Any:
    try:
        _send(cursor, command)
        return _result(cursor, command)
    except (psycopg.Error, UnicodeError) as exc:
        raise _storage_error(exc, command.text, _where(cursor)) from exc


async def _aexecute(cursor: Any, command: Sql) -> Any:
    """The asyncio twin of `_execute`."""
    try:
        await _send(cursor, command)
        return await _aresult(cursor, command)
    except (psycopg.Error, UnicodeError) as exc:
        raise _storage_error(exc, command.text, _where(cursor)) from exc


def _execute_batch(conn: Any, commands: Any) -> list[Any]:
    """Independent statements in one round trip (psycopg's pipeline mode), one cursor each. In a
    transaction a failed statement aborts it anyway, so the first error fails the whole batch."""
    cursors = [conn.cursor() for _ in commands]
    try:
        with conn.pipeline():
            for cursor, command in zip(cursors, commands, strict=True):
                _send(cursor, command)
        return [_result(cursor, command) for cursor, command in zip(cursors, commands, strict=True)]
    except (psycopg.Error, UnicodeError) as exc:
        raise _storage_error(exc, _batch_text(commands), _where(cursors[0])) from exc
    finally:
        for cursor in cursors:
            cursor.close()


async def _aexecute_batch(conn: Any, commands: Any) -> list[Any]:
    """The asyncio twin of `_execute_batch`."""
    cursors = [conn.cursor() for _ in commands]
    try:
        async with conn.pipeline():
            for cursor, command in zip(cursors, commands, strict=True):
                await _send(cursor, command)
        return [await _aresult(cursor, command) for cursor, command in zip(cursors, commands, strict=True)]
    except (psycopg.Error, UnicodeError) as exc:
        raise _storage_error(exc, _batch_text(commands), _where(cursors[0])) from exc
    finally:
        for cursor in cursors:
            await cursor.close()


def _send(cursor: Any, command: Sql) -> Any:
    """Issue a statement on a sync or an async cursor (await the result on an async one)."""
    if command.fetch != "many":
        return cursor.execute(_pg_text(command.text), command.params)
    if len(command.params) == 1:  # one row: a plain execute saves executemany's pipeline
        return cursor.execute(_pg_text(command.text), command.params[0])
    return cursor.executemany(_pg_text(command.text), command.params)


def _result(cursor: Any, command: Sql) -> Any:
    if command.fetch == "all":
        return cursor.fetchall()
    if command.fetch == "one":
        return cursor.fetchone()
    return cursor.rowcount


async def _aresult(cursor: Any, command: Sql) -> Any:
    if command.fetch == "all":
        return await cursor.fetchall()
    if command.fetch == "one":
        return await cursor.fetchone()
    return cursor.rowcount


def _batch_text(commands: Any) -> str:
    return " / ".join(command.text for command in commands)


def _where(cursor: Any) -> str:
    try:
        info = cursor.connection.info
        return f"{info.host}:{info.port}"
    except Exception:  # noqa: BLE001 - only for a message
        return "the server"


def _storage_error(exc: BaseException, statement: str, where: str) -> StorageError:
    verb = statement.split(None, 1)[0].upper() if statement.strip() else "?"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.OperationalError) and (sqlstate is None or sqlstate.startswith(_GONE)):
        return StorageUnavailableError(f"lost the connection to PostgreSQL at {where} during {verb}: {reason}")
    return StorageError(f"PostgreSQL error on {verb}{f' [{sqlstate}]' if sqlstate else ''}: {reason}")


def _hard_close(loop_pool: _LoopPool) -> None:
    """The pool's loop is gone: close its sockets directly (no coroutine can run any more)."""
    for conn in list(loop_pool.conns):
        try:
            conn.pgconn.finish()
        except Exception:  # noqa: BLE001 - best effort on a dead loop
            pass


def _tracker(conns: Any) -> Any:
    async def configure(conn: Any) -> None:  # remember the pool's connections
        conns.add(conn)

    return configure


#: Every storage serves sync and async callers; the name is kept for seed code that imports it.
AsyncPostgresStorage = PostgresStorage

__all__ = ["AsyncPostgresStorage", "PostgresStorage"]
