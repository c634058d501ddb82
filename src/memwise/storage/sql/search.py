"""Native search on SQL: SQLite FTS5 and PostgreSQL full-text, plus the backfill of old messages.

Both indexes are written by the append's own statement (an FTS5 trigger, a generated tsvector
column; see `schema.py`) from `search_text`, which the core computes. A query matches messages
having ANY of its words (natural-language questions rarely share every word with the answer):

- SQLite: FTS5 `"w1" OR "w2" ...`, ranked by `bm25()` (negated: higher is better);
- PostgreSQL: the query's lexemes (`to_tsvector('english', ...)`) ORed, ranked by the sum of
  the idfs of the lexemes a message holds (BM25 with term frequency 1 and no length
  normalization: on LoCoMo this found more evidence turns than with b = 0.3 or 0.75), each
  lexeme's share of messages taken from PostgreSQL's own column statistics (`pg_stats`,
  table-wide like FTS5's, read again every COMMON_TTL seconds). `ts_rank_cd` has no idf: a name
  said in every other turn weighed as much as a rare word. Lexemes in more than COMMON_SHARE of all messages
  (a date's year, such a name) add to the score but select no message alone, else they make
  every search rank most of the table (measured at 10k LoCoMo messages: p50 18 ms instead of
  32 ms on a loaded machine, keeping 97% of the evidence turns found in the top 200; 0.05 kept
  only 83%). A query of common words only selects by all of them.

The scope is one session, or every session whose owner is the user (SQLite keeps the owner with
each indexed row; PostgreSQL looks the user's sessions up in the records).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memwise.storage.contract import RawHit, RawMessage, SearchQuery
from memwise.storage.search_text import search_text_of_body

if TYPE_CHECKING:
    from memwise.storage.sql.backend import Fetch, SqlPlan

#: Old messages indexed per transaction by the backfill (an interrupted run keeps its batches).
BACKLOG_BATCH = 500

# The best `limit` (session_id, seq, score) of the scope first, then only their messages' bodies.
_TOP = {
    "sqlite": (
        "SELECT r.session_id, r.seq, -bm25({search}) AS score FROM {search} JOIN {search_rows} r ON r.id = {search}.rowid"
        " WHERE {search} MATCH ?{scope} ORDER BY score DESC, r.session_id, r.seq LIMIT ?"
    ),
    # terms: each query lexeme, its tsquery, its idf (from its share f of messages);
    # gate: the lexemes that select messages (all when every one is common);
    # v: a selected message's tsvector read once (`|| ''` detoasts it; OFFSET 0 keeps the planner
    # from inlining it), not once per query lexeme (400-token chunks: p50 44 -> 34 ms, same ranking).
    "postgresql": (
        "WITH terms AS (SELECT quote_literal(w)::tsquery AS q, COALESCE(s.f, ?) AS f"
        " FROM unnest(tsvector_to_array(to_tsvector('english'::regconfig, ?))) AS w"
        " LEFT JOIN unnest(?::text[], ?::float8[]) AS s(e, f) ON s.e = w),"
        " gate AS (SELECT COALESCE(string_agg(q::text, ' | ') FILTER (WHERE f <= ?), string_agg(q::text, ' | '))::tsquery"
        " AS q FROM terms)"
        " SELECT m.session_id, m.seq,"
        " (SELECT sum(GREATEST(ln((1 - t.f) / t.f), 1e-6)) FROM terms t WHERE m.v @@ t.q) AS score"
        " FROM (SELECT m.session_id, m.seq, m.search_vector || ''::tsvector AS v"
        " FROM gate JOIN {messages} m ON m.search_vector @@ gate.q{scope} OFFSET 0) AS m"
        " ORDER BY score DESC, m.session_id, m.seq LIMIT ?"
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
#: The share of messages assumed for a lexeme the statistics do not list, when there are none.
_RARE = 0.001
# The most common lexemes and their shares of messages (the freqs array ends with 3 more
# numbers: the least and greatest share listed, and the share of NULLs).
_STATS = (
    "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
    " WHERE schemaname = ? AND tablename = ? AND attname = 'search_vector'"
)
#: PostgreSQL backfills from several processes at once without waiting on each other's rows.
_BACKLOG_LOCK = {"sqlite": "", "postgresql": " FOR UPDATE SKIP LOCKED"}


@dataclass(frozen=True, slots=True)
class LexemeStats:
    """What PostgreSQL's statistics say of the search column: the listed lexemes and the share of
    messages holding each, and the share assumed for the others (half the least listed one)."""

    read_at: float
    lexemes: list[str]
    shares: list[float]
    unlisted: float


class SqlSearch:
    """The two search primitives of `SqlBackend` (mixed in; uses its `_sql` and `dialect`)."""

    dialect: str
    messages_table: str
    if TYPE_CHECKING:
        def _sql(self, text: str, params: Any = (), fetch: Fetch = "all") -> SqlPlan[Any]: ...

    def _search_messages(self, query: SearchQuery) -> SqlPlan[list[RawHit]]:
        if self.dialect == "sqlite":
            params: list[Any] = [_fts5_query(query)]
        else:
            stats = yield from self._p_lexeme_stats()
            params = [stats.unlisted, query.text, stats.lexemes, stats.shares, COMMON_SHARE]
        scope = ""
        for name in ("session_id", "user_id"):
            if getattr(query, name) is not None:
                scope += _SCOPE[self.dialect][name]
                params.append(getattr(query, name))
        top = _TOP[self.dialect].replace("{scope}", scope)
        rows = yield from self._sql(_HITS.format(top=top), (*params, query.limit))
        return [RawHit(row[0], row[7], RawMessage(*row[1:7])) for row in rows]

    def _p_lexeme_stats(self) -> SqlPlan[LexemeStats]:
        """PostgreSQL's statistics of the search column, cached for COMMON_TTL (a table not yet
        analyzed has none: asked again sooner)."""
        cached: LexemeStats | None = self.__dict__.get("_lexeme_stats")
        if cached is not None and time.monotonic() - cached.read_at < (COMMON_TTL if cached.lexemes else COMMON_TTL / 20):
            return cached
        row = yield from self._sql(_STATS, (getattr(self, "db_schema", "public"), self.messages_table), "one")
        elems, freqs = (list(row[0] or []), list(row[1] or [])) if row else ([], [])
        listed = [float(f) for f in freqs[: len(elems)]]
        unlisted = float(freqs[len(elems)]) / 2 if elems and len(freqs) > len(elems) else _RARE
        stats = LexemeStats(time.monotonic(), elems, listed, unlisted)
        self.__dict__["_lexeme_stats"] = stats
        return stats

    def _index_backlog(self) -> SqlPlan[int]:
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
