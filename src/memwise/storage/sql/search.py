"""Native search on SQL: SQLite FTS5 and PostgreSQL full-text, plus the backfill of old messages.

Both indexes are written by the append's own statement (an FTS5 trigger, a generated tsvector
column; see `schema.py`) from `search_text`, which the core computes. A query matches messages
having ANY of its words (natural-language questions rarely share every word with the answer):

- SQLite: FTS5 `"w1" OR "w2" ...`, ranked by `bm25()` (negated: higher is better);
- PostgreSQL: the query's lexemes (`to_tsvector('english', ...)`) ORed, ranked by `ts_rank_cd`
  (cover density: no idf). Words in more than COMMON_SHARE of all messages (a date's year, a
  name said in every other turn: PostgreSQL's own column statistics, `pg_stats`) still count in
  the score but do not select messages alone: otherwise one would make every search rank most
  of the table (measured at 10k LoCoMo messages: p50 18 ms instead of 32 ms on a
  loaded machine; 0.2 keeps 97% of the evidence turns found in the top 200, 0.05 only 83%). A query of common words
  only selects by all of them.

The scope is one session, or every session whose owner is the user (SQLite keeps the owner with
each indexed row; PostgreSQL looks the user's sessions up in the records).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from memwise.storage.contract import RawHit, RawMessage, SearchQuery
from memwise.storage.search_text import search_text_of_body

if TYPE_CHECKING:
    from memwise.storage.plan import Plan

#: Old messages indexed per transaction by the backfill (an interrupted run keeps its batches).
BACKLOG_BATCH = 500

# The best `limit` (session_id, seq, score) of the scope first, then only their messages' bodies.
_TOP = {
    "sqlite": (
        "SELECT r.session_id, r.seq, -bm25({search}) AS score FROM {search} JOIN {search_rows} r ON r.id = {search}.rowid"
        " WHERE {search} MATCH ?{scope} ORDER BY score DESC, r.session_id, r.seq LIMIT ?"
    ),
    "postgresql": (
        "WITH words AS (SELECT unnest(tsvector_to_array(to_tsvector('english'::regconfig, ?))) AS w),"
        " q AS (SELECT string_agg(quote_literal(w), ' | ')::tsquery AS every, COALESCE(string_agg(quote_literal(w), ' | ')"
        " FILTER (WHERE w <> ALL(?::text[])), string_agg(quote_literal(w), ' | '))::tsquery AS gate FROM words)"
        " SELECT m.session_id, m.seq, ts_rank_cd(m.search_vector, q.every) AS score"
        " FROM q JOIN {messages} m ON m.search_vector @@ q.gate{scope} ORDER BY score DESC, m.session_id, m.seq LIMIT ?"
    ),
}
_SCOPE = {
    "sqlite": {"session_id": " AND r.session_id = ?", "user_id": " AND r.owner = ?"},
    "postgresql": {
        "session_id": " AND m.session_id = ?",
        "user_id": " AND m.session_id IN (SELECT key FROM {records} WHERE kind = 'session' AND user_id = ?)",
    },
}
_HITS = (
    "SELECT m.session_id, m.seq, m.run_id, m.turn_start, m.created_at, m.body, m.search_text, top.score"
    " FROM ({top}) AS top JOIN {{messages}} m ON m.session_id = top.session_id AND m.seq = top.seq"
    " ORDER BY top.score DESC, m.session_id, m.seq"
)
#: PostgreSQL: lexemes in more than this share of messages never select messages on their own.
COMMON_SHARE = 0.2
#: ... as its statistics say, read again after this many seconds.
COMMON_TTL = 600.0
_COMMON = (
    "SELECT x.e FROM pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS x(e, f)"
    " WHERE s.schemaname = ? AND s.tablename = ? AND s.attname = 'search_vector'"
    " AND x.f > ? AND x.e IS NOT NULL"
)
#: PostgreSQL backfills from several processes at once without waiting on each other's rows.
_BACKLOG_LOCK = {"sqlite": "", "postgresql": " FOR UPDATE SKIP LOCKED"}


class SqlSearch:
    """The two search primitives of `SqlBackend` (mixed in; uses its `_sql` and `dialect`)."""

    dialect: str
    messages_table: str
    if TYPE_CHECKING:
        def _sql(self, text: str, params: Any = (), fetch: str = "all") -> Plan[Any]: ...

    def _search_messages(self, query: SearchQuery) -> Plan[list[RawHit]]:
        if self.dialect == "sqlite":
            params: list[Any] = [_fts5_query(query)]
        else:
            params = [query.text, (yield from self._p_common_lexemes())]
        scope = ""
        for name in ("session_id", "user_id"):
            if getattr(query, name) is not None:
                scope += _SCOPE[self.dialect][name]
                params.append(getattr(query, name))
        top = _TOP[self.dialect].replace("{scope}", scope)
        rows = yield from self._sql(_HITS.format(top=top), (*params, query.limit))
        return [RawHit(row[0], row[7], RawMessage(*row[1:7])) for row in rows]

    def _p_common_lexemes(self) -> Plan[list[str]]:
        """PostgreSQL's lexemes in more than COMMON_SHARE of messages, cached for COMMON_TTL."""
        cached = self.__dict__.get("_common_lexemes")
        if cached is not None and time.monotonic() - cached[0] < (COMMON_TTL if cached[1] else COMMON_TTL / 20):
            return cached[1]  # none yet (a new table, not analyzed): asked again sooner
        rows = yield from self._sql(_COMMON, (getattr(self, "db_schema", "public"), self.messages_table, COMMON_SHARE))
        common = [row[0] for row in rows]
        self.__dict__["_common_lexemes"] = (time.monotonic(), common)
        return common

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
