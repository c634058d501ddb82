"""Native search on SQL: SQLite FTS5 and PostgreSQL full-text, plus the backfill of old messages.

Both indexes are written by the append's own statement (an FTS5 trigger, a generated tsvector
column; see `schema.py`) from `search_text`, which the core computes. A query matches messages
having ANY of its words (natural-language questions rarely share every word with the answer):

- SQLite: FTS5 `"w1" OR "w2" ...`, ranked by `bm25()` (negated: higher is better);
- PostgreSQL: `plainto_tsquery('english', ...)` with its ANDs turned into ORs, ranked by
  `ts_rank_cd` (cover density: no idf, so the engine above should not rely on rare words
  ranking first there).

The scope joins the session records: one session, or every session whose owner is the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memwise.storage.contract import RawHit, RawMessage, SearchQuery
from memwise.storage.search_text import search_text_of_body

if TYPE_CHECKING:
    from memwise.storage.plan import Plan

#: Old messages indexed per transaction by the backfill (an interrupted run keeps its batches).
BACKLOG_BATCH = 500

_COLUMNS = "m.session_id, m.seq, m.run_id, m.turn_start, m.created_at, m.body, m.search_text"
_MATCH = {
    "sqlite": (
        f"SELECT {_COLUMNS}, -bm25({{search}}) FROM {{search}}"
        " JOIN {search_rows} r ON r.id = {search}.rowid"
        " JOIN {messages} m ON m.session_id = r.session_id AND m.seq = r.seq"
        " JOIN {records} s ON s.kind = 'session' AND s.key = m.session_id"
        " WHERE {search} MATCH ?"
    ),
    "postgresql": (
        f"SELECT {_COLUMNS}, ts_rank_cd(m.search_vector, q.query) AS score"
        " FROM (SELECT replace(plainto_tsquery('english'::regconfig, ?)::text, '&', '|')::tsquery AS query) AS q"
        " JOIN {messages} m ON m.search_vector @@ q.query"
        " JOIN {records} s ON s.kind = 'session' AND s.key = m.session_id"
        " WHERE TRUE"
    ),
}
_ORDER = {
    "sqlite": " ORDER BY bm25({search}), m.session_id, m.seq LIMIT ?",
    "postgresql": " ORDER BY score DESC, m.session_id, m.seq LIMIT ?",
}
#: PostgreSQL backfills from several processes at once without waiting on each other's rows.
_BACKLOG_LOCK = {"sqlite": "", "postgresql": " FOR UPDATE SKIP LOCKED"}


class SqlSearch:
    """The two search primitives of `SqlBackend` (mixed in; uses its `_sql` and `dialect`)."""

    dialect: str
    if TYPE_CHECKING:
        def _sql(self, text: str, params: Any = (), fetch: str = "all") -> Plan[Any]: ...

    def _search_messages(self, query: SearchQuery) -> Plan[list[RawHit]]:
        text = _MATCH[self.dialect]
        params: list[Any] = [_fts5_query(query) if self.dialect == "sqlite" else query.text]
        if query.session_id is not None:
            text += " AND m.session_id = ?"
            params.append(query.session_id)
        if query.user_id is not None:
            text += " AND s.user_id = ?"
            params.append(query.user_id)
        rows = yield from self._sql(text + _ORDER[self.dialect], (*params, query.limit))
        return [RawHit(row[0], row[7], RawMessage(*row[1:7])) for row in rows]

    def _index_backlog(self) -> Plan[int]:
        """Index up to BACKLOG_BATCH messages stored before search existed (search_text NULL):
        the to-do list is the data itself, so an interrupted backfill resumes where it stopped."""
        rows = yield from self._sql(
            "SELECT session_id, seq, body FROM {messages} WHERE search_text IS NULL ORDER BY session_id, seq LIMIT ?"
            + _BACKLOG_LOCK[self.dialect],
            (BACKLOG_BATCH,),
        )
        if rows:
            yield from self._sql(
                "UPDATE {messages} SET search_text = ? WHERE session_id = ? AND seq = ?",
                [(search_text_of_body(body), session_id, seq) for session_id, seq, body in rows],
                "many",
            )
        return len(rows)


def _fts5_query(query: SearchQuery) -> str:
    """Any of the words, each quoted (FTS5 stems and folds them as it did the text)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in query.words)
