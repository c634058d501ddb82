"""`model` is what memory's own calls use; omitted, the agent's model; with neither,
MEMWISE_MODEL, else "local" (a clear error when its extra is missing). Nothing skipped silently."""

from __future__ import annotations

import sys

import pytest
from pydantic_ai.models.test import TestModel

from memwise import Agent, Memory
from memwise.errors import ConfigurationError
from memwise.memory.errors import MemorySaveError
from tests.memory.fakes import ReadingModel

FLAGS = dict(session_id="s1", user_id="u1", full_session_memory=True, summary_memory=True, user_analysis_memory=True)


def test_memory_model_does_memory_calls(storage) -> None:
    agent_model, memory_model = ReadingModel("agent"), ReadingModel("memory")
    agent = Agent(agent_model.model, memory=Memory(storage, model=memory_model.model, **FLAGS))
    agent.do("My name is Alice")
    agent.memory.flush()
    assert [c.kind for c in agent_model.calls] == ["answer"]
    assert sorted(c.kind for c in memory_model.calls) == ["profile", "summary"]


def test_agent_model_used_when_memory_model_omitted(storage, reader) -> None:
    memory = Memory(storage, **FLAGS)
    Agent(reader.model, memory=memory).do("My name is Alice")
    memory.flush()
    assert sorted(c.kind for c in reader.calls) == ["answer", "profile", "summary"]


def test_neither_model_uses_env_then_local(storage, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "memwise.models.local", None)  # the local extra is not installed
    with pytest.raises(ConfigurationError, match=r"memwise\[local\]"):
        Agent(memory=Memory(storage, **FLAGS))
    with pytest.raises(ConfigurationError, match=r"memwise\[local\]"):
        Memory(storage, model="local", **FLAGS)

    monkeypatch.setenv("MEMWISE_MODEL", "test")
    agent = Agent(memory=Memory(storage, **FLAGS))
    assert isinstance(agent.model, TestModel)
    agent.do("hello")
    assert agent.memory.get_session().summary  # the env model wrote it

    explicit = ReadingModel()
    assert Agent(explicit.model).model is explicit.model  # an explicit model wins over the env


def test_a_failing_memory_call_is_never_skipped_silently(storage, reader) -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("summariser down")

    failing = ReadingModel(summary_fn=broken)  # memory updated within the turn (see test_background_updates.py)
    agent = Agent(reader.model, memory=Memory(storage, model=failing.model, background_updates=False, **FLAGS))
    with pytest.raises(MemorySaveError, match="summariser down") as caught:
        agent.do("My name is Alice")
    result = caught.value.output
    assert "know" in result.output  # the answer is not lost
    run = storage.get_run(result.run_id)
    assert run.status == "error" and "summariser down" in run.error
    assert len(storage.read_messages("s1")) == 2  # history was stored before the failure
