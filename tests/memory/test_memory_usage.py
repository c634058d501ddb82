"""Usage of memory's own LLM calls is recorded per run and per session, apart from
the answer's usage."""

from __future__ import annotations

import pytest

from memwise import Agent, Memory
from tests.memory.fakes import ReadingModel


@pytest.mark.parametrize("background", [True, False], ids=["background", "in_turn"])
def test_memory_usage_per_run_and_per_session(storage, background) -> None:
    agent_model, memory_model = ReadingModel("agent"), ReadingModel("memory")
    memory = Memory(
        storage, session_id="s1", user_id="u1", model=memory_model.model,
        full_session_memory=True, summary_memory=True, user_analysis_memory=True, background_updates=background,
    )
    agent = Agent(agent_model.model, memory=memory)
    first = agent.do("My name is Alice and I'm a Python developer", return_output=True)
    second = agent.do("What's my name?", return_output=True)
    memory.flush()  # with background updates, the usage reports and records are complete once made

    for result in (first, second):
        assert result.usage.answer.requests == 1
        assert result.usage.memory.requests == 2  # one summary refresh, one trait extraction
        assert result.usage.memory.input_tokens > 0 and result.usage.answer.input_tokens > 0
        assert result.usage.total_tokens == (
            result.usage.answer.input_tokens + result.usage.answer.output_tokens
            + result.usage.memory.input_tokens + result.usage.memory.output_tokens
        )
        run = storage.get_run(result.run_id)
        assert run.status == "completed"
        assert run.usage == result.usage.as_dict()
        assert run.usage["memory_requests"] == 2 and run.usage["requests"] == 1

    # the memory model's calls were counted, not the agent model's
    assert len(memory_model.calls) == 4 and len(agent_model.calls) == 2
    session = storage.get_session("s1")
    expected = {k: first.usage.as_dict().get(k, 0) + second.usage.as_dict().get(k, 0) for k in session.usage}
    assert session.usage == expected
    assert session.usage["memory_requests"] == 4 and session.usage["requests"] == 2
    assert memory.load_run(first.run_id).usage == first.usage.as_dict()


def test_history_only_memory_reports_zero_memory_usage(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True)
    result = Agent(reader.model, memory=memory).do("hello", return_output=True)
    assert result.usage.memory.requests == 0 and result.usage.answer.requests == 1
    assert "memory_requests" not in storage.get_session("s1").usage
    assert reader.of("summary") == []
