"""Search over stored messages: the typed API, its input checks, and the memwise-side index plan.

`Storage` inherits `Searchable`. `search_messages` checks its input, then runs the backend's
`_search_messages` plan: native on SQLite (FTS5) and PostgreSQL (tsvector), and everywhere else
the plan below, which catches the in-process `LocalIndex` up from the message log before
ranking. Catching up costs one batch of reads (one per session in scope, sent together where the
backend batches) and makes the index right across processes: whatever an append returned from,
in any process, is read here before the answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from memwise.errors import InvalidInputError
from memwise.storage.checks import check_count, check_optional_id
from memwise.storage.codec import loads
from memwise.storage.contract import RawHit, RawRecord, RecordQuery, SearchQuery
from memwise.storage.plan import Plan, gather
from memwise.storage.records import SearchHit, StoredMessage
from memwise.storage.search_index import LocalIndex, Scope
from memwise.storage.search_terms import query_words, stem
from memwise.storage.search_text import message_role, message_time

if TYPE_CHECKING:
    from memwise.storage.plan import T

#: Longest query accepted, in characters; most hits one search may return.
MAX_QUERY_CHARS = 2000
MAX_LIMIT = 1000
_PAGE = 1000  # sessions listed per round trip when the scope is a user


class Searchable:
    """Ranked lexical search and ranged reads, for every backend (mixed into `Storage`)."""

    if TYPE_CHECKING:
        def _sync(self, plan: Plan[T], *, write: bool) -> T: ...
        async def _async(self, plan: Plan[T], *, write: bool) -> T: ...
        def _p_read(self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None,
                    user_id: str | None, parse: bool = True) -> Plan[list[StoredMessage]]: ...
        def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]: ...
        def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]: ...
        def _read_messages(self, session_id: str, after_seq: int, last_turns: int | None,
                           limit: int | None) -> Plan[list[Any]]: ...

    def search_messages(
        self, query: str, *, user_id: str | None = None, session_id: str | None = None, limit: int = 50
    ) -> list[SearchHit]:
        """Messages matching any word of `query`, best first, at most `limit`: in session
        `session_id` (which must be `user_id`'s when both are given), or in every session of
        `user_id`. Never across users."""
        return self._sync(self._p_search(_search_query(query, user_id, session_id, limit)), write=False)

    async def asearch_messages(
        self, query: str, *, user_id: str | None = None, session_id: str | None = None, limit: int = 50
    ) -> list[SearchHit]:
        return await self._async(self._p_search(_search_query(query, user_id, session_id, limit)), write=False)

    def read_message_range(
        self, session_id: str, first_seq: int, last_seq: int, *, user_id: str | None = None
    ) -> list[StoredMessage]:
        """Messages first_seq..last_seq (both included) of a session, in order: a hit's
        neighbours. Empty when `user_id` does not own the session."""
        return self._sync(self._p_range(session_id, first_seq, last_seq, user_id), write=False)

    async def aread_message_range(
        self, session_id: str, first_seq: int, last_seq: int, *, user_id: str | None = None
    ) -> list[StoredMessage]:
        return await self._async(self._p_range(session_id, first_seq, last_seq, user_id), write=False)

    # ---------------------------------------------------------------- plans
    def _p_range(self, session_id: str, first_seq: Any, last_seq: Any, user_id: str | None) -> Plan[list[StoredMessage]]:
        check_count(first_seq, "first_seq")
        check_count(last_seq, "last_seq")
        if last_seq < first_seq:
            raise InvalidInputError(f"last_seq ({last_seq}) must not be less than first_seq ({first_seq})")
        return (yield from self._p_read(session_id, first_seq - 1, None, last_seq - first_seq + 1, user_id))

    def _p_search(self, query: SearchQuery) -> Plan[list[SearchHit]]:
        if not query.terms:  # only stopwords or punctuation: nothing can match
            return []
        hits = yield from self._search_messages(query)
        return [_hit(hit) for hit in hits]

    def _search_messages(self, query: SearchQuery) -> Plan[list[RawHit]]:
        """The memwise-side index: list the scope, catch each session up, rank."""
        index = self._search_index()
        if query.session_id is not None:
            raw = yield from self._get_record("session", query.session_id)
            if raw is None:
                index.drop([query.session_id])
            records = [raw] if raw is not None and query.user_id in (None, raw.user_id) else []
            scope = [Scope(raw.key, raw.user_id, created_at(raw)) for raw in records]
        else:
            records = yield from self._p_sessions_of(query.user_id)
            scope = [Scope(raw.key, raw.user_id, created_at(raw)) for raw in records]
            if query.user_id is not None:  # always, in this scope: drop the user's deleted sessions
                index.drop(index.owned_by(query.user_id) - {item.session_id for item in scope})
        after = index.positions(scope)
        logs = yield from gather(*(self._read_messages(item.session_id, after[item.session_id], None, None) for item in scope))
        for item, messages in zip(scope, logs, strict=True):
            index.add(item, messages)
        return index.search([item.session_id for item in scope], query.terms, query.limit)

    def _p_sessions_of(self, user_id: str | None) -> Plan[list[RawRecord]]:
        return (yield from all_records(self, RecordQuery("session", user_id=user_id, limit=_PAGE)))

    def _index_backlog(self) -> Plan[int]:
        """The memwise-side index has no backlog: it reads what it lacks when it searches."""
        return 0
        yield  # unreachable: only makes this function a generator

    def _search_index(self) -> LocalIndex:
        index: LocalIndex | None = self.__dict__.get("_local_index")
        if index is None:  # setdefault: two threads making one at once keep the same
            index = self.__dict__.setdefault("_local_index", LocalIndex())
        return index

    def _forget_indexed(self, session_id: str) -> None:
        """Drop a deleted session from this process's index at once (others drop it when they next
        search), so no forgotten words stay in memory."""
        index = self.__dict__.get("_local_index")
        if index is not None:
            index.drop([session_id])


def all_records(store: Any, query: RecordQuery) -> Plan[list[RawRecord]]:
    """Every record a query matches, a page (`query.limit`) per round trip."""
    found: list[RawRecord] = []
    while True:
        page = yield from store._query_records(query)
        found.extend(page)
        if len(page) < query.limit:
            return found
        query = replace(query, after=(page[-1].updated_at, page[-1].key))


def created_at(raw: RawRecord) -> float | None:
    """What tells a session from an earlier one of the same id (None: unreadable record)."""
    try:
        created = loads(raw.body, f"session {raw.key!r}").get("created_at")
    except Exception:  # noqa: BLE001 - a corrupt record is reported where it is read, not here
        return None
    return created if isinstance(created, (int, float)) else None


def _hit(raw: RawHit) -> SearchHit:
    from memwise.storage.codec import load_object

    message = raw.message
    data = load_object(message.body, f"message {message.seq} of session {raw.session_id!r}")
    when = message_time(data)
    return SearchHit(
        raw.session_id, message.seq, float(raw.score), when.timestamp() if when else message.created_at,
        message_role(data), message.search_text, message.run_id, bool(message.turn_start), message.body, data,
    )


# ==================================================================== argument checks
def _search_query(query: Any, user_id: Any, session_id: Any, limit: Any) -> SearchQuery:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"query must be a non-empty string, not {query!r}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"query must be at most {MAX_QUERY_CHARS} characters, not {len(query)}")
    check_optional_id(user_id, "user_id")
    check_optional_id(session_id, "session_id")
    if user_id is None and session_id is None:
        raise InvalidInputError("search needs a scope: a session_id, a user_id, or both")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    words = tuple(query_words(query))
    return SearchQuery(query.strip(), words, tuple(dict.fromkeys(stem(word) for word in words)), user_id, session_id, limit)

