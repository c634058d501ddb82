"""Summary, profile and metadata go into the instructions, never into stored user text."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart

from memwise import Agent, Memory, Task
from tests.memory.fakes import dump

FIRST = "My name is Alice and I work on project Falcon"
SECOND = "What project am I working on?"
THIRD = "Anything else?"


def test_context_in_instructions_never_stored_as_user_text(storage, reader) -> None:
    memory = Memory(
        storage, session_id="s1", user_id="u1",
        full_session_memory=True, summary_memory=True, user_analysis_memory=True,
    )
    memory.set_metadata({"ticket": "T-42"})
    agent = Agent(reader.model, memory=memory, system_prompt="You are terse.")
    agent.do(Task(FIRST))
    agent.do(Task(SECOND))
    agent.do(Task(THIRD))

    sent = reader.of("answer")[-1]
    summary = storage.get_session("s1").summary
    assert "project=Falcon" in summary
    # what reached the model: context in the instructions ...
    for needle in (summary, "- name: Alice", "ticket: T-42", "You are terse."):
        assert needle in sent.instructions
    # ... and user prompts exactly as typed
    assert sent.user_prompts == [FIRST, SECOND, THIRD]
    assert not any(isinstance(p, SystemPromptPart) for m in sent.messages for p in m.parts)

    stored = [item.message for item in storage.read_messages("s1")]
    assert [p.content for m in stored for p in m.parts if isinstance(p, UserPromptPart)] == [FIRST, SECOND, THIRD]
    assert all(m.instructions is None for m in stored if isinstance(m, ModelRequest))
    text = dump([m for m in stored if isinstance(m, ModelRequest)])  # what the user side holds
    for injected in ("Summary of the conversation", "What you know about the user", "T-42", "You are terse."):
        assert injected not in text


def test_summariser_never_reads_injected_context(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do(Task(FIRST))
    agent.do(Task(SECOND))
    memory.flush()
    second_refresh = reader.of("summary")[-1]
    new_turns = second_refresh.prompt.partition("New conversation turns:")[2]
    assert SECOND in new_turns and FIRST not in new_turns
    assert "Summary of the conversation" not in second_refresh.prompt


def test_run_output_messages_are_the_stored_form(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do(FIRST)
    result = agent.do(SECOND, return_output=True)
    assert [type(m).__name__ for m in result.messages] == ["ModelRequest", "ModelResponse"]
    assert result.messages[0].instructions is None
    assert dump(result.messages) == dump([s.message for s in storage.read_messages("s1")][2:])
