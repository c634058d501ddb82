"""Recall: from a query to the stored messages worth showing the model, best first.

First stage: the backend's lexical search (`storage.asearch_messages`, the top FIRST_STAGE hits
in the scope). Then, in Python and the same for every backend: the session prior, fusion with a
dense ranking when an embedder is set, the neighbours of the best hits, and packing into the
token budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from memwise.recall.block import pack, render
from memwise.recall.dense import VectorIndex
from memwise.recall.fusion import rrf
from memwise.recall.neighbours import with_neighbours
from memwise.recall.prior import with_session_prior
from memwise.recall.query import search_words
from memwise.recall.recalled import Recalled, from_hit

#: Hits the first stage asks the backend for: enough for the priors to re-rank, few enough to be cheap.
FIRST_STAGE = 200


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose messages to search: every session of `user_id`, or only `session_id`."""

    user_id: str | None = None
    session_id: str | None = None

    def search_args(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "session_id": self.session_id}


Skip = Callable[[Recalled], bool]


async def ranked(storage: Any, query: str, scope: Scope, *, limit: int = FIRST_STAGE, skip: Skip | None = None,
                 dense: VectorIndex | None = None) -> list[Recalled]:
    """The messages matching `query` in `scope`, best first: lexical with the session prior,
    fused (RRF) with the nearest messages by embedding when `dense` is given."""
    hits = await storage.asearch_messages(search_words(query), limit=limit, **scope.search_args())
    items = [from_hit(hit, score) for hit, score in with_session_prior(hits)]
    if dense is not None:
        near = await dense.rank(storage, query, user_id=scope.user_id, session_id=scope.session_id, limit=limit)
        known = {item.key: item for item in (*near, *items)}
        items = [replace(known[key], score=score) for key, score in rrf([[i.key for i in items], [i.key for i in near]])]
    return [item for item in items if skip is None or not skip(item)]


async def recall(storage: Any, query: str, scope: Scope, max_tokens: int, *, skip: Skip | None = None,
                 dense: VectorIndex | None = None) -> list[Recalled]:
    """The messages recall puts in a block of `max_tokens` for `query`, in rank order.
    `skip` drops messages the model sees anyway (the run's history window)."""
    items = await ranked(storage, query, scope, skip=skip, dense=dense)
    return pack(await with_neighbours(storage, items, max_tokens, user_id=scope.user_id, skip=skip), max_tokens)


async def recall_context(storage: Any, query: str, scope: Scope, max_tokens: int, *, skip: Skip | None = None,
                         dense: VectorIndex | None = None) -> str:
    """The recall block for `query` ("" when nothing matches)."""
    return render(await recall(storage, query, scope, max_tokens, skip=skip, dense=dense))
