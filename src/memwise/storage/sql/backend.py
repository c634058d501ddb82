"""SqlBackend: the contract's primitives as SQL plans, shared by SQLite and PostgreSQL.

Plans yield `Sql` commands; a dialect subclass runs them (one transaction per plan) and says how
tables are named and how placeholders look. SQL is written with `?` placeholders.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from memwise.storage.base import Storage
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery
from memwise.storage.options import table_name
from memwise.storage.plan import nothing
from memwise.storage.sql.schema import MIGRATIONS, MIGRATIONS_TABLE, PROFILES_TABLE
from memwise.storage.sql.search import SqlSearch

_RECORD_COLUMNS = "kind, key, version, updated_at, body, user_id, agent_id, session_id, status"
T = TypeVar("T")
#: What a statement returns: every row ("all"), one row or None ("one"), the row count
#: ("rowcount"), or executemany over `params`, a list of tuples ("many").
Fetch = Literal["all", "one", "rowcount", "many"]


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement (`fetch`: what it returns, see `Fetch`)."""

    text: str
    params: Any = ()
    fetch: Fetch = "all"


#: A plan of SQL statements, each run in the plan's one transaction.
SqlPlan = Generator[Sql, Any, T]


class SqlBackend(SqlSearch, Storage):
    """Dialects set `dialect`, `tables` (logical name -> SQL name, see `bare_tables`) and run plans."""

    dialect: str  # "sqlite" or "postgresql": picks the dialect's statements of a migration
    tables: dict[str, str]
    messages_table: str = "memwise_messages"
    index_prefix: str = "memwise_"
    profile_index_prefix: str = "memwise_"
    #: Row-lock clauses on the session's record, for dialects whose write plans run side by side
    #: (SQLite runs them one at a time and has none). Both are exclusive, so an append and a delete
    #: queue for the row in turn (a shared lock would let a stream of appends starve a delete).
    append_lock: str = ""
    delete_lock: str = ""

    def bare_tables(self, session_table: str | None, user_memory_table: str | None) -> dict[str, str]:
        """Unqualified table names: `memwise_records` (sessions, runs and profiles),
        `memwise_messages`, ... by default. `session_table` names the table of sessions and runs
        (the messages, heads and migrations tables take it as prefix); `user_memory_table` gives
        profiles a table of their own. Sets the index name prefixes to match."""
        sessions = table_name(session_table, "session_table")
        profiles = table_name(user_memory_table, "user_memory_table")
        prefix = f"{sessions}_" if sessions else "memwise_"
        self.index_prefix = prefix
        self.profile_index_prefix = f"{profiles}_" if profiles else prefix
        names = {name: f"{prefix}{name}" for name in ("records", "messages", "heads", "migrations", "search", "search_rows")}
        if sessions:
            names["records"] = sessions
        names["profiles"] = profiles or names["records"]
        self.messages_table = names["messages"]  # unqualified: PostgreSQL's statistics name it so
        return names

    def _sql(self, text: str, params: Any = (), fetch: Fetch = "all") -> SqlPlan[Any]:
        formatted = text.format(p=self.index_prefix, q=self.profile_index_prefix, **self.tables)
        return (yield Sql(formatted, params, fetch))

    @staticmethod
    def _records(kind: str) -> str:
        """The table holding records of `kind` (profiles may have a table of their own)."""
        return "{profiles}" if kind == "profile" else "{records}"

    def _setup_lock(self) -> SqlPlan[None]:
        """Serialize concurrent schema setup across processes (dialects that need it)."""
        return nothing()

    # ---- schema ------------------------------------------------------------------------------
    def _setup(self) -> SqlPlan[None]:
        yield from self._setup_lock()
        yield from self._sql(MIGRATIONS_TABLE, fetch="rowcount")
        row = yield from self._sql("SELECT MAX(version) FROM {migrations}", fetch="one")
        applied = (row[0] if row else None) or 0
        for version, statements in enumerate(MIGRATIONS[applied:], start=applied + 1):
            for statement in statements:
                text = statement.get(self.dialect) if isinstance(statement, dict) else statement
                if text is not None:  # None: a statement for another dialect
                    yield from self._sql(text, fetch="rowcount")
            yield from self._sql("INSERT INTO {migrations} (version, applied_at) VALUES (?, ?)", (version, time.time()), "rowcount")
        if self.tables["profiles"] != self.tables["records"]:
            for statement in PROFILES_TABLE:
                yield from self._sql(statement, fetch="rowcount")

    # ---- records -----------------------------------------------------------------------------
    def _get_record(self, kind: str, key: str) -> SqlPlan[RawRecord | None]:
        row = yield from self._sql(f"SELECT {_RECORD_COLUMNS} FROM {self._records(kind)} WHERE kind = ? AND key = ?", (kind, key), "one")
        return None if row is None else RawRecord(*row)

    def _put_record(self, record: RawRecord, expected_version: int) -> SqlPlan[bool]:
        r = record
        if expected_version == 0:
            written: int = yield from self._sql(
                f"INSERT INTO {self._records(r.kind)} ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING",
                (r.kind, r.key, r.version, r.updated_at, r.body, r.user_id, r.agent_id, r.session_id, r.status),
                "rowcount",
            )
        else:
            written = yield from self._sql(
                f"UPDATE {self._records(r.kind)} SET version = ?, updated_at = ?, body = ?, user_id = ?, agent_id = ?, session_id = ?,"
                " status = ? WHERE kind = ? AND key = ? AND version = ?",
                (r.version, r.updated_at, r.body, r.user_id, r.agent_id, r.session_id, r.status, r.kind, r.key, expected_version),
                "rowcount",
            )
        return written == 1

    def _delete_record(self, kind: str, key: str) -> SqlPlan[bool]:
        deleted: int = yield from self._sql(f"DELETE FROM {self._records(kind)} WHERE kind = ? AND key = ?", (kind, key), "rowcount")
        return deleted == 1

    def _query_records(self, query: RecordQuery) -> SqlPlan[list[RawRecord]]:
        where: list[str] = ["kind = ?"]
        params: list[Any] = [query.kind]
        for name in ("user_id", "agent_id", "session_id"):
            if getattr(query, name) is not None:
                where.append(f"{name} = ?")
                params.append(getattr(query, name))
        if query.statuses is not None:
            where.append(f"status IN ({', '.join('?' * len(query.statuses)) or 'NULL'})")
            params.extend(query.statuses)
        if query.updated_before is not None:
            where.append("updated_at < ?")
            params.append(query.updated_before)
        if query.after is not None:
            where.append("(updated_at < ? OR (updated_at = ? AND key < ?))")
            params.extend((query.after[0], query.after[0], query.after[1]))
        rows = yield from self._sql(
            f"SELECT {_RECORD_COLUMNS} FROM {self._records(query.kind)} WHERE {' AND '.join(where)}"
            " ORDER BY updated_at DESC, key DESC LIMIT ?",
            (*params, query.limit),
        )
        return [RawRecord(*row) for row in rows]

    # ---- messages ----------------------------------------------------------------------------
    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> SqlPlan[list[int] | None]:
        # One statement checks that the session exists (locking its record row where the dialect
        # can, so a delete waits for this transaction) and takes the session's head row lock
        # until commit: appends serialize, and none can slip in after a delete.
        row = yield from self._sql(
            "INSERT INTO {heads} (session_id, last_seq) SELECT ?, ? FROM {records} WHERE kind = 'session' AND key = ?"
            f"{self.append_lock} ON CONFLICT (session_id)"
            " DO UPDATE SET last_seq = {heads}.last_seq + excluded.last_seq RETURNING last_seq",
            (session_id, len(messages), session_id),
            "one",
        )
        if row is None:
            return None
        seqs = list(range(row[0] - len(messages) + 1, row[0] + 1))
        if seqs:
            yield from self._sql(
                "INSERT INTO {messages} (session_id, seq, run_id, turn_start, created_at, body, search_text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (session_id, seq, m.run_id, int(m.turn_start), m.created_at, m.body, m.search_text)
                    for seq, m in zip(seqs, messages, strict=True)
                ],
                "many",
            )
        return seqs

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> SqlPlan[list[RawMessage]]:
        text = "SELECT seq, run_id, turn_start, created_at, body FROM {messages} WHERE session_id = ? AND seq > ?"
        params: list[Any] = [session_id, after_seq]
        if last_turns is not None:
            # one lower bound (the greater of after_seq and the turn start's seq - 1), so the
            # primary key is searched from there on: a second `seq >= (...)` condition made
            # SQLite scan the whole session and filter it
            text = text.replace(
                "seq > ?",
                "seq > (SELECT MAX(bound) FROM (SELECT CAST(? AS BIGINT) AS bound UNION ALL"
                " SELECT COALESCE((SELECT seq FROM {messages} WHERE session_id = ? AND turn_start = 1"
                " ORDER BY seq DESC LIMIT 1 OFFSET ?), 1) - 1) AS bounds)",
            )
            params += [session_id, last_turns - 1]
        text += " ORDER BY seq"
        if limit is not None:
            text += " LIMIT ?"
            params.append(limit)
        rows = yield from self._sql(text, tuple(params))
        return [RawMessage(*row) for row in rows]

    def _delete_messages(self, session_id: str) -> SqlPlan[int]:
        # Lock the session's record first, as an append does (the same order: no deadlock), then
        # the head: an append in flight commits before the messages are deleted (and is deleted
        # with them), and a later one waits for the delete's commit and finds no session.
        if self.delete_lock:
            yield from self._sql(
                f"SELECT 1 FROM {{records}} WHERE kind = 'session' AND key = ?{self.delete_lock}", (session_id,), "one"
            )
        yield from self._sql("DELETE FROM {heads} WHERE session_id = ?", (session_id,), "rowcount")
        deleted: int = yield from self._sql("DELETE FROM {messages} WHERE session_id = ?", (session_id,), "rowcount")
        return deleted
