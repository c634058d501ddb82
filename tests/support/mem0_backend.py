"""Mem0 for the tests, fully offline: mem0's open-source Memory on a local qdrant, with a
deterministic hashing embedder (no model, no network) and an LLM that is never called
(`add(infer=False)` makes no LLM call)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.recipe import BackendUnavailable, Recipe

DIMS = 64
_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Feature hashing of words into a unit vector: texts sharing words are close. It has the
    methods mem0 calls on an embedder (`embed`, `embed_batch`)."""

    def __init__(self, dims: int = DIMS) -> None:
        self.config = None
        self.dims = dims

    def embed(self, text: Any, memory_action: str | None = None) -> list[float]:
        vector = [0.0] * self.dims
        for word in _WORD.findall(str(text).lower()):
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            vector[digest % self.dims] += 1.0 if digest >> 63 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if not norm:
            vector[0], norm = 1.0, 1.0
        return [x / norm for x in vector]

    def embed_batch(self, texts: list[Any], memory_action: str | None = None) -> list[list[float]]:
        return [self.embed(text, memory_action) for text in texts]


def memory_config(path: str, history: str = ":memory:") -> dict[str, Any]:
    """A mem0 config that never touches the network: local qdrant, placeholder OpenAI keys
    (the embedder is swapped for HashingEmbedder; the LLM is never called with infer=False)."""
    return {
        "vector_store": {"provider": "qdrant", "config": {"collection_name": "memwise", "embedding_model_dims": DIMS, "path": path}},
        "embedder": {"provider": "openai", "config": {"api_key": "offline-unused", "embedding_dims": DIMS}},
        "llm": {"provider": "openai", "config": {"api_key": "offline-unused"}},
        "history_db_path": history,
    }


def offline_memory(path: str = ":memory:", history: str = ":memory:") -> Any:
    from mem0 import Memory

    import memwise.storage.mem0  # noqa: F401  (sets MEM0_TELEMETRY=False before mem0 loads)

    memory = Memory.from_config(memory_config(path, history))
    memory.embedding_model = HashingEmbedder()
    return memory


def open_local(path: str = ":memory:", history: str = ":memory:", namespace: str = "memwise") -> Any:
    """A Mem0Storage on a fresh offline Memory (qdrant `:memory:` or an on-disk folder)."""
    from memwise.storage.mem0 import Mem0Storage

    return Mem0Storage(memory_client=offline_memory(path, history), namespace=namespace, close_client=True)


@contextmanager
def mem0(tmp_path: Path) -> Iterator[Recipe]:
    try:
        import memwise.storage.mem0  # noqa: F401
    except Exception as exc:  # the mem0 extra is missing
        raise BackendUnavailable(f"mem0ai is not importable ({exc}); install memwise[mem0]") from None
    # qdrant in memory: an on-disk local qdrant commits every point (~30 adds/s), and a mem0
    # store is one process's anyway (shared=False), so nothing is lost by not persisting.
    yield Recipe("tests.support.mem0_backend:open_local", {"path": ":memory:"}, shared=False)
