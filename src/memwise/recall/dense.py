"""Dense retrieval (optional): the messages whose embedding is nearest the query's.

Exact cosine over every message in the scope (a user's messages number thousands, not
millions). Vectors live in the storage beside their messages (`put_vectors` / `read_vectors`,
removed with their session), so a message is embedded once, by whichever process meets it
first. Each process keeps the scope's vectors in memory as a matrix and catches it up from the
message log before each ranking; sessions that left the scope (deleted, a forgotten user) leave
it on the next catch-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from memwise.errors import ConfigurationError, InvalidInputError
from memwise.recall.recalled import Key, Recalled, from_stored

_PAGE = 1_000
#: Texts per embedding request while catching up.
EMBED_BATCH = 256
#: Up to this many sessions with new messages, their stored vectors are read session by session.
_READ_PER_SESSION = 4


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
    if isinstance(value, EmbeddingModel):
        return Embedder(value)
    if isinstance(value, str) and value:  # built now: an unknown provider or a missing key is bad input here
        from pydantic_ai.embeddings import infer_embedding_model

        try:
            return Embedder(infer_embedding_model(value))
        except Exception as exc:  # noqa: BLE001 - pydantic-ai's UserError, a missing extra or key
            raise ConfigurationError(f"embedder {value!r} cannot be used: {exc}") from exc
    raise InvalidInputError(
        f"embedder must be a pydantic-ai Embedder, a model string or 'local', got {type(value).__name__}"
    )


@dataclass
class _Session:
    through: int = 0  # highest seq read from the log
    items: list[Recalled] = field(default_factory=list)
    matrix: Any = None  # numpy (len(items), dims), rows of unit length

    def add(self, items: list[Recalled], vectors: Sequence[Sequence[float]]) -> None:
        import numpy as np

        rows = _unit_rows(vectors)
        self.items += items
        self.matrix = rows if self.matrix is None else np.vstack([self.matrix, rows])


def _unit_rows(vectors: Sequence[Sequence[float]]) -> Any:
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)


class VectorIndex:
    """Message vectors of one embedder: stored in the backend, held by session in this process."""

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

    @property
    def model_name(self) -> str:
        """The name vectors are stored under ("{provider}:{model}"); read on first use, since a
        model string's provider is only built then."""
        model = self.embedder.model
        return f"{model.system}:{model.model_name}"

    async def catch_up(self, storage: Any, user_id: str | None, session_id: str | None) -> list[str]:
        """Bring the scope's new messages into the index; return the scope's session ids.

        A new message takes its vector from the storage (put there by any process) or, when it
        has none, is embedded and its vector put there, so each message is embedded once."""
        ids = await self._session_ids(storage, user_id, session_id)
        if session_id is None:  # sessions gone from the user's listing are gone from the index
            for gone in set(self.sessions) - set(ids):
                del self.sessions[gone]
        entries = [self.sessions.setdefault(sid, _Session()) for sid in ids]
        # the ids are the scope's own (listed by user, or checked above): read without re-checking
        reads = await asyncio.gather(
            *(storage.aread_messages(sid, after_seq=e.through) for sid, e in zip(ids, entries, strict=True))
        )
        new: dict[str, list[Recalled]] = {}
        for sid, entry, stored in zip(ids, entries, reads, strict=True):
            if stored:
                entry.through = stored[-1].seq
                new[sid] = [item for item in map(from_stored, stored) if item is not None]
        new = {sid: items for sid, items in new.items() if items}
        if new:
            known = await self._stored_vectors(storage, user_id, list(new))
            missing = [item for items in new.values() for item in items if item.key not in known]
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start : start + EMBED_BATCH]
                vectors = (await self.embedder.embed_documents([item.text for item in batch])).embeddings
                by_session: dict[str, list[tuple[int, Sequence[float]]]] = {}
                for item, vector in zip(batch, vectors, strict=True):
                    known[item.key] = vector
                    by_session.setdefault(item.session_id, []).append((item.seq, vector))
                await asyncio.gather(*(storage.aput_vectors(sid, self.model_name, rows) for sid, rows in by_session.items()))
            for sid, items in new.items():
                self.sessions[sid].add(items, [known[item.key] for item in items])
        return ids

    async def _stored_vectors(self, storage: Any, user_id: str | None, session_ids: list[str]) -> dict[Key, Any]:
        """Stored vectors of these sessions: one read per session, or one for the user when many."""
        if user_id is not None and len(session_ids) > _READ_PER_SESSION:
            found = await storage.aread_vectors(self.model_name, user_id=user_id)
        else:
            reads = await asyncio.gather(
                *(storage.aread_vectors(self.model_name, session_id=sid, user_id=user_id) for sid in session_ids)
            )
            found = [row for rows in reads for row in rows]
        return {(sid, seq): vector for sid, seq, vector in found}

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
