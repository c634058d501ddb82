"""SqliteStorage: the default backend, on the standard library's sqlite3.

WAL mode and a busy timeout make one file safe for many threads and several processes: each
thread has its own connection, each plan is one transaction (writes take the lock up front with
BEGIN IMMEDIATE, so they never deadlock on upgrade). An async call runs its plan on the event loop
when the lock is free at once (SQLite answers in microseconds, faster than a hop to a worker
thread), and in a worker thread when it would have to wait for another writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from memwise.errors import ConfigurationError, StorageError
from memwise.storage.options import storage_id
from memwise.storage.plan import Plan, T, drive
from memwise.storage.sql import Sql, SqlBackend


class SqliteStorage(SqlBackend):
    """`SqliteStorage(db_file="memory.db")` or `SqliteStorage(db_url="sqlite:///memory.db")`.

    `session_table` names the table of sessions and runs (its messages, heads and migrations
    tables take it as prefix; default `memwise_records`); `user_memory_table` gives profiles a
    table of their own; `id` names this storage instance.
    """

    dialect = "sqlite"

    def __init__(
        self,
        db_file: str | Path | None = None,
        db_url: str | None = None,
        *,
        timeout: float = 30.0,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name
    ) -> None:
        self.id = storage_id(id)
        self.tables = self.bare_tables(session_table, user_memory_table)
        if db_file is not None and db_url is not None:
            raise ConfigurationError("give SqliteStorage either db_file or db_url, not both")
        if db_url is not None:
            if not db_url.startswith("sqlite:///"):
                raise ConfigurationError(f"db_url must look like sqlite:///path/to/file.db, not {db_url!r}")
            db_file = db_url[len("sqlite:///"):]
        self.db_file = str(db_file if db_file is not None else "memwise.db")
        self._uri = False
        if self.db_file == ":memory:":  # one shared in-memory database for all threads
            self.db_file, self._uri = f"file:memwise-{uuid.uuid4().hex}?mode=memory&cache=shared", True
        elif not self.db_file.startswith("file:"):
            Path(self.db_file).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._wal = False
        if self._uri:
            self._keeper = self._connection()  # keeps the in-memory database alive

    def _connection(self, waits: bool = True) -> sqlite3.Connection:
        """This thread's connection; `waits=False`: the one whose lock requests fail at once."""
        name = "conn" if waits else "conn_now"
        conn = getattr(self._local, name, None)
        if conn is None:
            if self._closed:
                raise StorageError("this SqliteStorage is closed")
            conn = self._open_connection(self._timeout if waits else 0.0)
            setattr(self._local, name, conn)
            with self._lock:
                self._connections.append(conn)
        return conn

    def _open_connection(self, busy_timeout: float) -> sqlite3.Connection:
        """Connect and configure; switching to WAL can report "locked" without waiting while
        another connection holds the file, so that step is retried within the busy timeout."""
        deadline = time.monotonic() + self._timeout
        while True:
            conn = None
            try:
                conn = sqlite3.connect(
                    self.db_file, timeout=self._timeout, isolation_level=None, check_same_thread=False, uri=self._uri
                )
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                if not self._uri and not self._wal:
                    conn.execute("PRAGMA journal_mode = WAL")  # persistent: once per file is enough
                    self._wal = True
                conn.execute("PRAGMA synchronous = NORMAL")  # in WAL: durable across process crashes
                return conn
            except sqlite3.OperationalError as exc:
                if conn is not None:
                    conn.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StorageError(f"cannot open SQLite database {self.db_file!r}: {exc}") from exc
                time.sleep(0.01)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open SQLite database {self.db_file!r}: {exc}") from exc

    def _run(self, plan: Plan[T], *, write: bool) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        return _transaction(conn, plan)

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        await asyncio.sleep(0)  # still a point where other tasks run, as any awaited I/O is
        conn = self._connection(waits=False)
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StorageError(f"SQLite error on BEGIN ({exc})") from exc
            return await asyncio.to_thread(self._run, plan, write=write)  # another writer holds the lock
        return _transaction(conn, plan)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


def _transaction(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run `plan` in the transaction just begun on `conn`: commit, or roll back on any error."""
    try:
        result = drive(plan, lambda command: _execute(conn, command))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _execute(conn: sqlite3.Connection, command: Sql) -> Any:
    try:
        if command.fetch == "many":
            return conn.executemany(command.text, command.params).rowcount
        cursor = conn.execute(command.text, command.params)
        if command.fetch == "all":
            return cursor.fetchall()
        if command.fetch == "one":
            return cursor.fetchone()
        return cursor.rowcount
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite error on {command.text.split()[0]} ({exc})") from exc


#: Every storage serves sync and async callers; the name is kept for seed code that imports it.
AsyncSqliteStorage = SqliteStorage

__all__ = ["AsyncSqliteStorage", "SqliteStorage"]
