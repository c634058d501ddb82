"""Fixtures for the HITL tests: a SQLite file store (other processes can open it), the scripted
model, and fresh tool effects for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memwise import Agent, Memory
from memwise.storage.sqlite import SqliteStorage
from tests.hitl import support
from tests.memory.fixtures import _no_default_model_env  # noqa: F401


@pytest.fixture(autouse=True)
def effects(monkeypatch: pytest.MonkeyPatch) -> support.Effects:
    fresh = support.Effects()
    monkeypatch.setattr(support, "EFFECTS", fresh)
    return fresh


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hitl.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteStorage]:
    storage = SqliteStorage(db_file=str(db))
    yield storage
    storage.close()


@pytest.fixture
def scripted() -> support.ScriptedModel:
    return support.ScriptedModel()


def make_agent(store, model: support.ScriptedModel, **memory_flags) -> Agent:
    """An Agent on session s1 of user u1 that stores history (unless flags say otherwise)."""
    flags = {"full_session_memory": True, **memory_flags}
    return Agent(model.model, memory=Memory(store, session_id="s1", user_id="u1", **flags), tools=support.TOOLS)
