"""Dense retrieval (optional): the messages whose embedding is nearest the query's.

Exact cosine over every message in the scope (a user's messages number thousands, not
millions). Vectors are kept in process, per embedder, and caught up from the message log before
each ranking (new messages of every session in scope are embedded once); sessions that left the
scope (deleted, a forgotten user) leave the index on the next catch-up. Once the storage
contract keeps vectors (RECALL-CONTRACT.md, put_vectors/read_vectors), they move there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from memwise.errors import InvalidInputError
from memwise.recall.recalled import Recalled, from_stored

_PAGE = 1_000
#: Texts per embedding request while catching up.
EMBED_BATCH = 256


def resolve_embedder(value: Any) -> Any:
    """A pydantic-ai Embedder from `value`: an Embedder, an EmbeddingModel, a model string
    ("openai:text-embedding-3-small"), or "local" (memwise[embed]); None stays None."""
    if value is None:
        return None
    from pydantic_ai.embeddings import Embedder, EmbeddingModel

    if isinstance(value, Embedder):
        return value
    if value == "local":
        from memwise.recall.local_embedding import LocalEmbeddingModel

        return Embedder(LocalEmbeddingModel())
    if isinstance(value, (str, EmbeddingModel)) and value:
        return Embedder(value)
    raise InvalidInputError(
        f"embedder must be a pydantic-ai Embedder, a model string or 'local', got {type(value).__name__}"
    )


@dataclass
class _Session:
    through: int = 0  # highest seq embedded
    items: list[Recalled] = field(default_factory=list)
    matrix: Any = None  # numpy (len(items), dims), rows of unit length


def _unit_rows(vectors: Sequence[Sequence[float]]) -> Any:
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)


class VectorIndex:
    """Message vectors of one embedder, by session, in this process."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.sessions: dict[str, _Session] = {}

    async def _session_ids(self, storage: Any, user_id: str | None, session_id: str | None) -> list[str]:
        if session_id is not None:
            session = await storage.aget_session(session_id)
            ok = session is not None and (user_id is None or session.user_id == user_id)
            return [session_id] if ok else []
        ids, cursor = [], None
        while True:
            page = await storage.alist_sessions(user_id=user_id, limit=_PAGE, cursor=cursor)
            ids += [s.session_id for s in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return ids

    async def catch_up(self, storage: Any, user_id: str | None, session_id: str | None) -> list[str]:
        """Embed the scope's messages not embedded yet; return the scope's session ids."""
        ids = await self._session_ids(storage, user_id, session_id)
        if session_id is None:  # sessions gone from the user's listing are gone from the index
            for gone in set(self.sessions) - set(ids):
                del self.sessions[gone]
        entries = [self.sessions.setdefault(sid, _Session()) for sid in ids]
        # the ids are the scope's own (listed by user, or checked above): read without re-checking
        reads = await asyncio.gather(*(storage.aread_messages(sid, after_seq=e.through) for sid, e in zip(ids, entries, strict=True)))
        new: list[tuple[_Session, Recalled]] = []
        for entry, stored in zip(entries, reads, strict=True):
            if stored:
                entry.through = stored[-1].seq
                new += [(entry, item) for item in map(from_stored, stored) if item is not None]
        import numpy as np

        for start in range(0, len(new), EMBED_BATCH):
            batch = new[start : start + EMBED_BATCH]
            vectors = (await self.embedder.embed_documents([item.text for _, item in batch])).embeddings
            rows = _unit_rows(vectors)
            for entry in {id(e): e for e, _ in batch}.values():
                mine = [k for k, (e, _) in enumerate(batch) if e is entry]
                entry.items += [batch[k][1] for k in mine]
                block = rows[mine]
                entry.matrix = block if entry.matrix is None else np.vstack([entry.matrix, block])
        return ids

    async def rank(self, storage: Any, query: str, *, user_id: str | None, session_id: str | None,
                   limit: int) -> list[Recalled]:
        """The `limit` messages of the scope nearest `query`, best first (score = cosine)."""
        import numpy as np

        ids = await self.catch_up(storage, user_id, session_id)
        sessions = [self.sessions[sid] for sid in ids if self.sessions[sid].items]
        if not sessions:
            return []
        items = [item for entry in sessions for item in entry.items]
        matrix = np.concatenate([entry.matrix for entry in sessions])
        query_vector = _unit_rows((await self.embedder.embed_query(query)).embeddings)[0]
        scores = matrix @ query_vector
        best = np.argsort(-scores, kind="stable")[:limit]
        return [replace(items[i], score=float(scores[i])) for i in best.tolist()]
