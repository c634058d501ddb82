"""`num_last_messages` keeps the last N *user turns*, tools always paired;
feed_tool_call_results=False drops tool parts but keeps the model's text beside them."""

from __future__ import annotations

from pydantic_ai.messages import TextPart, ToolCallPart, ToolReturnPart

from memwise import Agent, Memory
from tests.memory.fakes import text_turn, tool_ids, tool_turn


def seed(storage, *turns) -> None:
    storage.create_session("s1")
    for turn in turns:
        storage.append_messages("s1", turn)


def window_sent(storage, reader, **flags):
    memory = Memory(storage, session_id="s1", full_session_memory=True, **flags)
    Agent(reader.model, memory=memory).do("next question")
    return reader.of("answer")[-1]


def test_last_n_user_turns_with_tool_round_trips(storage, reader) -> None:
    seed(storage, text_turn("t1"), tool_turn("t2", "c2"), tool_turn("t3", "c3"), tool_turn("t4", "c4"))
    sent = window_sent(storage, reader, num_last_messages=2, feed_tool_call_results=True)
    assert sent.user_prompts == ["t3", "t4", "next question"]  # 2 user turns, not 2 request/response pairs
    history = sent.messages[:-1]
    assert len(history) == 8
    calls, results = tool_ids(history)
    assert calls == results == {"c3", "c4"}


def test_window_never_orphans_a_tool_result(storage, reader) -> None:
    """A log whose oldest readable turn starts mid-way (e.g. data written by another tool)."""
    broken = tool_turn("t1", "c1")[2:]  # a tool result and an answer, without their user turn
    seed(storage, broken, tool_turn("t2", "c2"))
    sent = window_sent(storage, reader, feed_tool_call_results=True)
    calls, results = tool_ids(sent.messages)
    assert calls == results == {"c2"}
    assert sent.user_prompts == ["t2", "next question"]


def test_an_unanswered_stored_call_is_not_sent(storage, reader) -> None:
    """A turn whose tool result never got stored (e.g. written by an interrupted process)."""
    cut = tool_turn("t1", "c1")
    seed(storage, [cut[0], cut[1], cut[3]], tool_turn("t2", "c2"))
    sent = window_sent(storage, reader, feed_tool_call_results=True)
    calls, results = tool_ids(sent.messages)
    assert calls == results == {"c2"}
    assert "Let me check." in [p.content for m in sent.messages for p in m.parts if isinstance(p, TextPart)]


def test_feed_tool_call_results_false_keeps_text_beside_calls(storage, reader) -> None:
    seed(storage, tool_turn("t1", "c1", aside="Checking the docs."), text_turn("t2"))
    sent = window_sent(storage, reader, feed_tool_call_results=False)
    parts = [p for m in sent.messages for p in m.parts]
    assert not any(isinstance(p, (ToolCallPart, ToolReturnPart)) for p in parts)
    texts = [p.content for p in parts if isinstance(p, TextPart)]
    assert texts == ["Checking the docs.", "answer to t1", "ok"]
    # storage still has the tool parts: the flag only filters what is sent
    assert tool_ids([s.message for s in storage.read_messages("s1")]) == ({"c1"}, {"c1"})


def test_agent_tool_run_is_stored_whole_and_replayed_paired(storage, reader) -> None:
    def get_weather(city: str) -> str:
        """Weather of a city."""
        return f"sunny in {city}"

    memory = Memory(storage, session_id="s1", full_session_memory=True, feed_tool_call_results=True)
    agent = Agent(reader.model, memory=memory, tools=[get_weather])
    assert agent.do("What's the weather?") == "The weather is sunny in Paris."
    agent.do("And now?")
    sent = reader.of("answer")[-1]
    calls, results = tool_ids(sent.messages)
    assert len(calls) == 1 and calls == results


def test_token_budget_trims_oldest_whole_turns(storage, reader) -> None:
    seed(storage, *[text_turn(f"turn {i} " + "x" * 800) for i in range(20)])
    sent = window_sent(storage, reader, max_context_tokens=1_000)
    history = sent.user_prompts[:-1]
    assert 0 < len(history) < 20
    assert history == [f"turn {i} " + "x" * 800 for i in range(20 - len(history), 20)]  # newest, contiguous
    from memwise.memory.budget import messages_tokens

    assert messages_tokens(sent.messages[:-1]) <= 1_000


def test_token_budget_never_exceeds_a_known_context_window(storage) -> None:
    from pydantic_ai.models.function import FunctionModel

    from tests.memory.fakes import ReadingModel

    small = ReadingModel()
    small.model = FunctionModel(small._respond, profile={"context_window": 1_200})
    seed(storage, *[text_turn(f"turn {i} " + "x" * 800) for i in range(20)])
    sent = window_sent(storage, small, max_context_tokens=50_000)
    from memwise.memory.budget import messages_tokens

    assert 0 < messages_tokens(sent.messages[:-1]) <= 600
