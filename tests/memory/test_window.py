"""History windows count user turns and never split a tool call from its result."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, SystemPromptPart, TextPart, UserPromptPart

from memwise.memory.window import (
    drop_tool_parts,
    last_turns,
    pair_tool_calls,
    split_turns,
    strip_injected,
)
from tests.memory.fakes import text_turn, tool_ids, tool_turn


def history() -> list:
    return [*text_turn("one"), *tool_turn("two", "c2"), *tool_turn("three", "c3"), *text_turn("four")]


def prompts(messages: list) -> list[str]:
    return [p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart)]


def test_turns_are_user_turns_not_request_response_pairs() -> None:
    turns = split_turns(history())
    assert [len(t) for t in turns] == [2, 4, 4, 2]
    window = last_turns(history(), 3)
    assert prompts(window) == ["two", "three", "four"]
    assert len(window) == 10  # two tool turns of 4 messages each, one text turn


def test_last_turns_handles_more_than_available_and_zero() -> None:
    assert prompts(last_turns(history(), 10)) == ["one", "two", "three", "four"]
    assert last_turns(history(), 0) == []


def test_a_window_never_starts_mid_turn() -> None:
    cut = history()[3:]  # starts with the tool result of turn "two"
    window = last_turns(cut, None)
    assert prompts(window) == ["three", "four"]
    calls, results = tool_ids(window)
    assert calls == results == {"c3"}


def test_pairing_drops_orphans_both_ways() -> None:
    turn = tool_turn("x", "c1")
    orphan_result = pair_tool_calls(turn[2:])  # result without its call
    assert tool_ids(orphan_result) == (set(), set())
    orphan_call = pair_tool_calls(turn[:2])  # call without its result
    assert tool_ids(orphan_call) == (set(), set())
    assert [p.content for p in orphan_call[1].parts] == ["Let me check."]  # the text beside it stays
    assert tool_ids(pair_tool_calls(turn)) == ({"c1"}, {"c1"})


def test_drop_tool_parts_keeps_text_written_beside_a_call() -> None:
    slim = drop_tool_parts(tool_turn("x", "c1"))
    assert tool_ids(slim) == (set(), set())
    texts = [p.content for m in slim for p in m.parts if isinstance(p, TextPart)]
    assert texts == ["Let me check.", "answer to x"]
    assert prompts(slim) == ["x"]


def test_strip_injected_removes_instructions_and_system_parts_only() -> None:
    request = ModelRequest(parts=[SystemPromptPart("sys"), UserPromptPart("hello")], instructions="MEMORY")
    stored = strip_injected(request)
    assert stored.instructions is None
    assert [type(p).__name__ for p in stored.parts] == ["UserPromptPart"]
    assert strip_injected(ModelRequest(parts=[SystemPromptPart("sys")])) is None
    response = ModelResponse(parts=[TextPart("hi")])
    assert strip_injected(response) is response
