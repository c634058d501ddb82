"""Summaries are incremental (previous summary + only new turns) and bounded, so what a
refresh costs at turn 200 is within 1.5x of turn 20."""

from __future__ import annotations

from memwise import Agent, Memory
from memwise.memory.budget import estimate_tokens
from memwise.memory.prompts import SUMMARY_PROMPT
from tests.memory.fakes import ReadingModel

FILLER = "We talked about deployment pipelines, caching layers and the trade-offs of each approach in detail."


def copying_summarizer(prompt: str) -> str:
    """A lazy model: restates the previous summary and appends every new user line (never shrinks)."""
    previous, _, turns = prompt.partition("New conversation turns:")
    previous = previous.replace("Previous summary:", "").strip()
    new = " ".join(line for line in turns.splitlines() if line.startswith("User:"))
    return f"{'' if previous == '(none yet)' else previous} {new}".strip()


def test_refresh_cost_is_flat_from_turn_20_to_200(storage) -> None:
    reader = ReadingModel(summary_fn=copying_summarizer)
    # a short history window keeps the answers cheap; the summary path is the one under test
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True, num_last_messages=2)
    agent = Agent(reader.model, memory=memory)
    for i in range(1, 201):
        agent.do(f"Turn {i}: I like topic{i}. {FILLER}")
    memory.flush()

    refreshes = reader.of("summary")
    assert len(refreshes) == 200  # one refresh per turn, none skipped
    t20, t200 = refreshes[19].tokens, refreshes[199].tokens
    assert t200 <= 1.5 * t20, (t20, t200)

    # incremental: the newest refresh saw only turn 200 as new, never the earlier turns' text
    new_section = refreshes[199].prompt.partition("New conversation turns:")[2]
    assert "Turn 200:" in new_section and "Turn 199:" not in new_section
    # bounded: instructions + capped summary + capped new turns
    limits = memory.summary_limits
    overhead = estimate_tokens(refreshes[199].instructions + SUMMARY_PROMPT)
    assert t200 <= overhead + limits.max_summary_tokens + limits.max_input_tokens + 50
    # the stored summary itself is capped and the pointer covers every turn
    session = storage.get_session("s1")
    assert estimate_tokens(session.summary) <= limits.max_summary_tokens
    assert session.summarized_through == storage.read_messages("s1")[-1].seq == 400


def test_summary_only_mode_folds_each_run_into_the_previous_summary(storage) -> None:
    reader = ReadingModel()
    memory = Memory(storage, session_id="s1", full_session_memory=False, summary_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice and I work on project Falcon")
    agent.do("I like chess")
    answer = agent.do("What project am I working on?")
    memory.flush()
    assert storage.read_messages("s1") == []  # no raw history kept
    assert "project=Falcon" in answer and "likes=chess" in storage.get_session("s1").summary
    last = reader.of("summary")[-1]
    assert "Falcon" in last.prompt.partition("New conversation turns:")[0]  # from the previous summary
    assert "What project" in last.prompt.partition("New conversation turns:")[2]


def test_backlog_is_cut_oldest_first_to_the_input_cap(storage) -> None:
    """Summaries switched on late: the refresh reads a bounded tail of the backlog, never all of it."""
    from tests.memory.fakes import text_turn

    storage.create_session("s1")
    for i in range(300):
        storage.append_messages("s1", text_turn(f"old turn {i} " + "y" * 200))
    reader = ReadingModel()
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True, summary_input_tokens=500)
    Agent(reader.model, memory=memory).do("new turn")
    memory.flush()
    refresh = reader.of("summary")[0]
    assert "new turn" in refresh.prompt and "old turn 0 " not in refresh.prompt
    assert refresh.tokens <= estimate_tokens(refresh.instructions) + 500 + 60
    assert storage.get_session("s1").summarized_through == 602


def test_a_summary_stuck_in_a_loop_is_stored_once(storage) -> None:
    """A small model can loop ("said they said they ..."); the stored summary keeps the phrase once
    and the call is asked to stop near the summary's cap."""
    reader = ReadingModel(summary_fn=lambda prompt: "The user is Alice. The assistant said they" + " said they" * 200 + ".")
    memory = Memory(storage, session_id="s1", summary_memory=True, summary_max_tokens=100)
    Agent(reader.model, memory=memory).do("My name is Alice")
    assert memory.get_session().summary == "The user is Alice. The assistant said they."  # waits for the update
    assert reader.of("summary")[0].info.model_settings["max_tokens"] == 150
