"""Fixtures shared by tests/memory and tests/agent: both storages, the reading model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memwise.storage.in_memory import InMemoryStorage
from memwise.storage.sqlite import SqliteStorage
from tests.memory.fakes import ReadingModel


@pytest.fixture(params=["in_memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    store = InMemoryStorage() if request.param == "in_memory" else SqliteStorage(db_file=str(tmp_path / "m.db"))
    yield store
    store.close()


@pytest.fixture
def reader() -> ReadingModel:
    return ReadingModel()


@pytest.fixture(autouse=True)
def _no_default_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMWISE_MODEL", raising=False)
