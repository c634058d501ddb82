"""Recall in Memory: search what the user said before, and put the relevant messages in front of
the model. The ranking lives in `memwise.recall`; this module maps Memory's settings onto it
(scope, budget, the history window to skip) and makes the `search_memory` tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from memwise.errors import InvalidInputError

if TYPE_CHECKING:  # memwise.recall uses memory's token budget: imported when first used
    from memwise.memory.memory import Memory
    from memwise.recall.engine import Scope
    from memwise.recall.recalled import Recalled

RecallScope = Literal["user", "session"]
#: Most hits `memory.search` returns (the storage search's own limit).
MAX_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class Window:
    """Messages the run's history window holds already: this session's, from seq `first` on."""

    session_id: str
    first: int

    def holds(self, item: Recalled) -> bool:
        return item.session_id == self.session_id and item.seq >= self.first


def check_scope(value: Any, what: str) -> RecallScope:
    if value == "user" or value == "session":
        return value  # type: ignore[no-any-return]  # narrowed to the two literals
    raise InvalidInputError(f"{what} must be 'user' or 'session', got {value!r}")


def scope_of(memory: Memory, scope: Any, what: str = "scope") -> Scope:
    """Where to search; "user" (every session of the user) needs the memory's user_id."""
    from memwise.recall.engine import Scope

    if check_scope(scope, what) == "session":
        return Scope(user_id=memory.user_id, session_id=memory.session_id)
    if memory.user_id is None:
        raise InvalidInputError(f"{what}='user' searches every session of a user: Memory needs a user_id")
    return Scope(user_id=memory.user_id)


def check_query(query: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"query must be a non-empty string, got {query!r}")
    return query


async def search(memory: Memory, query: str, scope: Any, limit: Any) -> list[Recalled]:
    """The best `limit` messages for `query`, ranked as recall ranks them (without neighbours)."""
    check_query(query)
    where = scope_of(memory, scope)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    from memwise.recall.engine import FIRST_STAGE, ranked

    items = await ranked(memory.storage, query, where, limit=max(limit, FIRST_STAGE), dense=memory.vectors)
    return items[:limit]


async def context(memory: Memory, query: str, max_tokens: int, window: Window | None = None) -> str:
    """The recall block for `query` in memory's recall scope ("" when nothing matches)."""
    from memwise.recall.engine import recall_context

    check_query(query)
    skip = window.holds if window is not None else None
    where = scope_of(memory, memory.recall_scope, "recall_scope")
    return await recall_context(memory.storage, query, where, max_tokens, skip=skip, dense=memory.vectors)


def tools(memory: Memory | None) -> list[Any]:
    """The `search_memory` tool when `recall_tool=True`, else nothing."""
    if memory is None or not memory.recall_tool:
        return []

    async def search_memory(query: str) -> str:
        """Search earlier conversations with this user for `query` (a few keywords or a question);
        returns the matching messages verbatim with their dates, or says nothing was found."""
        if not query.strip():
            from pydantic_ai import ModelRetry

            raise ModelRetry("search_memory needs a query: a few keywords or a question")
        found = await context(memory, query, memory.recall_tokens)
        return found or "Nothing in earlier conversations matches that."

    return [search_memory]
