"""Searching a knowledge base: recall's ranking over its chunks, kept to the current versions.

The first stage and the fusion are recall's (`memwise.recall.engine.ranked`: the backend's lexical
index, the session prior (here: a document matching the query as a whole ranks its chunks
higher), RRF with the embedder's ranking when one is set), scoped to the knowledge base's owner
id. A hit counts only if its document's record points at the hit's chunks session: a version
being written, or one just replaced, is never returned. A document swapped while a search ran
(its hits were of the old version, its record now names the new) makes the search look again,
so it is not missing from the answer either. A document gives at most PER_DOCUMENT of the
results while other documents match (`diverse`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from memwise.recall.dense import VectorIndex
from memwise.recall.engine import FIRST_STAGE, Scope, ranked
from memwise.storage.documents import document_of, owner_id

#: Searches at most, when documents are swapped under one; seconds of clock difference allowed
#: between this process and the one that swapped.
_ATTEMPTS = 3
_CLOCK_SLACK = 1.0
#: Chunks of one document among the results before other documents' (python3-doc, 50 questions,
#: lexical: hit@5 0.68 with no cap, 0.72 with 2, 0.76 with 1; 2 keeps a page's neighbouring chunk,
#: which often completes its answer).
PER_DOCUMENT = 2


@dataclass(frozen=True, slots=True)
class KnowledgeChunk:
    """A chunk a search found: its text (the heading path on the first line), where it comes from
    (`source`: the file's path or "text:<hash>"; `name`: the file's name; `location` in it), its
    score (higher is better, comparable within one answer) and its document's id."""

    text: str
    source: str
    name: str
    location: str
    score: float
    document_id: str
    knowledge_base: str

    @property
    def citation(self) -> str:
        """How the chunk is cited: "name, location"."""
        return f"{self.name}, {self.location}" if self.location else self.name


async def search(storage: Any, kb: str, query: str, limit: int, *, dense: VectorIndex | None = None,
                 count_access: bool = True) -> list[KnowledgeChunk]:
    """The best `limit` chunks of knowledge base `kb` for `query`."""
    for _ in range(_ATTEMPTS):
        started = time.time()
        found, swapped = await _search(storage, kb, query, limit, dense, started)
        if not swapped:
            break  # else a document was swapped while this searched: its new chunks were not seen
    if count_access and found:
        await storage.acount_access(list(dict.fromkeys(chunk.document_id for chunk in found)))
    return found


async def _search(storage: Any, kb: str, query: str, limit: int, dense: VectorIndex | None,
                  started: float) -> tuple[list[KnowledgeChunk], bool]:
    items = await ranked(storage, query, Scope(user_id=owner_id(kb)), limit=max(limit, FIRST_STAGE), dense=dense)
    documents = await storage.aget_documents(list(dict.fromkeys(filter(None, (document_of(i.session_id) for i in items)))))
    found: list[KnowledgeChunk] = []
    swapped = False
    for item in items:
        document = documents.get(document_of(item.session_id))
        if document is None or document.chunks_session != item.session_id:
            # a version being written, replaced, or removed; replaced during this search: look again
            swapped = swapped or (document is not None and document.updated_at >= started - _CLOCK_SLACK)
            continue
        location = document.locations[item.seq - 1] if item.seq <= len(document.locations) else ""
        found.append(KnowledgeChunk(item.text, document.source, document.name, location, item.score, document.id, kb))
    return diverse(found, limit), swapped


def diverse(ranked: list[KnowledgeChunk], limit: int) -> list[KnowledgeChunk]:
    """The first `limit` of `ranked` with at most PER_DOCUMENT chunks of one document ahead of
    the others' (a long page matching everywhere would fill the answer with its overlapping
    chunks); the rest follow, in rank order, when too few documents match."""
    taken: dict[str, int] = {}
    first: list[KnowledgeChunk] = []
    later: list[KnowledgeChunk] = []
    for chunk in ranked:
        taken[chunk.document_id] = taken.get(chunk.document_id, 0) + 1
        (first if taken[chunk.document_id] <= PER_DOCUMENT else later).append(chunk)
        if len(first) == limit:
            break
    return (first + later)[:limit]
