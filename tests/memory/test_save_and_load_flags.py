"""Save flags decide what is stored; each load flag decides exactly what reaches the model."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import UserPromptPart

from memwise import Agent, Memory, Task
from tests.memory.fakes import ReadingModel

FIRST = "My name is Alice and I'm a Python developer"
SECOND = "What's my name and expertise?"


def two_runs(storage, reader: ReadingModel, **flags) -> Memory:
    memory = Memory(storage, session_id="s1", user_id="u1", **flags)
    agent = Agent(reader.model, memory=memory)
    agent.do(Task(FIRST))
    agent.do(Task(SECOND))
    return memory


def test_every_save_flag_off_stores_nothing(storage, reader) -> None:
    memory = two_runs(storage, reader)
    assert storage.get_session("s1") is None
    assert storage.read_messages("s1") == []
    assert storage.get_profile("u1") is None
    assert storage.list_sessions().items == []
    assert storage.list_runs().items == []
    assert memory.get_messages() == []
    second = reader.of("answer")[-1]
    assert second.user_prompts == [SECOND] and second.instructions == ""
    assert reader.of("summary") == reader.of("profile") == []


def test_save_history_load_summary_only(storage, reader) -> None:
    """The issue's example: storage holds everything, the model gets the summary and no history."""
    two_runs(
        storage, reader,
        full_session_memory=True, summary_memory=True,
        load_full_session_memory=False, load_summary_memory=True,
    )
    second = reader.of("answer")[-1]
    assert second.user_prompts == [SECOND]
    assert len(second.messages) == 1  # no message of the first run
    assert "name=Alice" in second.instructions and "Summary of the conversation" in second.instructions
    stored = [p.content for m in storage.read_messages("s1") for p in m.message.parts if isinstance(p, UserPromptPart)]
    assert stored == [FIRST, SECOND]
    assert len(storage.read_messages("s1")) == 4


@pytest.mark.parametrize("load", ["history", "summary", "profile"])
def test_each_load_flag_controls_its_own_content(storage, reader, load) -> None:
    two_runs(
        storage, reader,
        full_session_memory=True, summary_memory=True, user_analysis_memory=True,
        load_full_session_memory=load == "history",
        load_summary_memory=load == "summary",
        load_user_analysis_memory=load == "profile",
    )
    second = reader.of("answer")[-1]
    got_history = FIRST in second.user_prompts
    got_summary = "Summary of the conversation" in second.instructions
    got_profile = "What you know about the user" in second.instructions
    assert (got_history, got_summary, got_profile) == (load == "history", load == "summary", load == "profile")
    assert "Alice" in reader_answer(second, reader)
    # every save flag was on: all of it is stored regardless of what was loaded
    assert len(storage.read_messages("s1")) == 4
    assert "Alice" in storage.get_session("s1").summary
    assert storage.get_profile("u1").data["name"] == "Alice"


def reader_answer(call, reader: ReadingModel) -> str:
    return reader.answer(call).parts[0].content


def test_load_flags_default_to_save_flags(storage) -> None:
    memory = Memory(storage, user_id="u", full_session_memory=True, user_analysis_memory=True)
    assert (memory.load_full_session_memory, memory.load_summary_memory, memory.load_user_analysis_memory) == (
        True, False, True,
    )
    assert Memory(storage, summary_memory=True, load_summary_memory=False).load_summary_memory is False
