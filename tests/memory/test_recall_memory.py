"""Recall in Memory: search, recall_context, injection into a run's instructions, the search_memory tool."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise import Agent, Memory
from memwise.errors import InvalidInputError
from memwise.recall.block import HEADING
from tests.memory.fakes import dump, text_turn

OLD = "My dog Rex loves chasing seagulls at Brighton beach"


def seed(storage) -> None:
    """Alice's earlier session (and Bob's, which must never show up for Alice)."""
    storage.create_session("alice-old", user_id="alice")
    storage.append_messages("alice-old", [*text_turn(OLD, "Rex sounds like a happy dog!"),
                                          *text_turn("I also collect vintage stamps", "Nice hobby.")])
    storage.create_session("bob-old", user_id="bob")
    storage.append_messages("bob-old", text_turn("My dog Rex hates Brighton beach", "Poor Rex."))


def test_search_returns_ranked_hits_of_the_user(storage) -> None:
    seed(storage)
    memory = Memory(storage, session_id="alice-new", user_id="alice")
    hits = memory.search("Where does Rex chase seagulls?")
    assert hits and hits[0].text == OLD
    assert hits[0].role == "user" and hits[0].session_id == "alice-old" and hits[0].seq == 1
    assert hits[0].created_at > 0 and hits[0].score > 0
    assert all(h.session_id != "bob-old" for h in hits)
    assert len(memory.search("Rex dog beach stamps", limit=1)) == 1
    assert memory.search("Rex", scope="session") == []  # this session holds nothing yet


def test_recall_context_is_the_block(storage) -> None:
    seed(storage)
    memory = Memory(storage, session_id="alice-new", user_id="alice")
    block = memory.recall_context("Tell me about Rex at the beach", max_tokens=200)
    assert block.startswith(HEADING) and f"user: {OLD}" in block and "[session alice-old," in block
    assert "hates" not in block
    assert memory.recall_context("quantum chromodynamics") == ""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.search(""), "query"),
        (lambda m: m.search("   "), "query"),
        (lambda m: m.search("rex", scope="everyone"), "scope"),
        (lambda m: m.search("rex", limit=0), "limit"),
        (lambda m: m.search("rex", limit=True), "limit"),
        (lambda m: m.recall_context("rex", max_tokens=3), "max_tokens"),
    ],
)
def test_bad_input_is_refused(storage, call, message) -> None:
    memory = Memory(storage, session_id="s", user_id="alice")
    with pytest.raises(InvalidInputError, match=message):
        call(memory)


def test_user_scope_needs_a_user(storage) -> None:
    with pytest.raises(InvalidInputError, match="user_id"):
        Memory(storage, session_id="s", recall_memory=True)
    with pytest.raises(InvalidInputError, match="user_id"):
        Memory(storage, session_id="s").search("rex")
    with pytest.raises(InvalidInputError, match="recall_scope"):
        Memory(storage, session_id="s", user_id="u", recall_scope="all")
    Memory(storage, session_id="s", recall_memory=True, recall_scope="session")  # fine without a user


def test_run_injects_recall_into_instructions_never_into_stored_text(storage, reader) -> None:
    seed(storage)
    memory = Memory(storage, session_id="alice-new", user_id="alice", full_session_memory=True, recall_memory=True)
    agent = Agent(reader.model, memory=memory, system_prompt="Be brief.")
    agent.do("Where does Rex like to run?")

    sent = reader.of("answer")[-1]
    assert f"user: {OLD}" in sent.instructions and "[session alice-old," in sent.instructions
    assert "Be brief." in sent.instructions and "hates" not in sent.instructions
    assert sent.user_prompts == ["Where does Rex like to run?"]
    stored = dump([item.message for item in storage.read_messages("alice-new")])
    assert "seagulls" not in stored and HEADING not in stored


def test_recall_is_off_by_default(storage, reader) -> None:
    seed(storage)
    memory = Memory(storage, session_id="alice-new", user_id="alice", full_session_memory=True)
    Agent(reader.model, memory=memory).do("Where does Rex like to run?")
    assert "seagulls" not in reader.of("answer")[-1].instructions


def test_messages_in_the_history_window_are_not_recalled_twice(storage, reader) -> None:
    memory = Memory(storage, session_id="chat", user_id="alice", full_session_memory=True, recall_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do(OLD)
    agent.do("What does Rex chase?")
    sent = reader.of("answer")[-1]
    assert OLD in sent.user_prompts  # the history window holds it ...
    assert "seagulls" not in sent.instructions  # ... so recall does not repeat it

    small = Memory(storage, session_id="chat", user_id="alice", full_session_memory=True, recall_memory=True,
                   num_last_messages=1)
    Agent(reader.model, memory=small).do("And what does Rex chase again?")
    sent = reader.of("answer")[-1]
    assert OLD not in sent.user_prompts and f"user: {OLD}" in sent.instructions  # out of the window: recalled


def test_recall_tokens_bound_the_block(storage, reader) -> None:
    seed(storage)
    for i in range(40):
        storage.append_messages("alice-old", text_turn(f"Rex and I walked to the beach on day {i}", f"Lovely walk {i}."))
    memory = Memory(storage, session_id="alice-new", user_id="alice", recall_memory=True, recall_tokens=120)
    Agent(reader.model, memory=memory).do("Rex beach walk")
    instructions = reader.of("answer")[-1].instructions
    block = instructions[instructions.index(HEADING):]
    assert "Rex and I walked" in block and len(block) <= 120 * 4


def test_search_memory_tool(storage) -> None:
    seed(storage)
    seen: list[str] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [p.content for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
        if returned:
            seen.append(returned[-1])
            return ModelResponse(parts=[TextPart("done")])
        assert [t.name for t in info.function_tools] == ["search_memory"]
        return ModelResponse(parts=[ToolCallPart("search_memory", {"query": "Rex beach"})])

    memory = Memory(storage, session_id="alice-new", user_id="alice", full_session_memory=True, recall_tool=True)
    assert Agent(FunctionModel(model), memory=memory).do("What do you remember about my dog?") == "done"
    assert f"user: {OLD}" in seen[0] and "hates" not in seen[0]
    stored = storage.read_messages("alice-new")
    assert any(isinstance(item.message, ModelRequest) for item in stored)
