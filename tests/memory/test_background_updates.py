"""Answer first: `do` returns once the answer and the turn are stored; the summary and profile
follow in the background, and nothing is lost or read stale. Memory's model is held at a gate
(events, not timings) to catch each moment."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from memwise import Agent, Memory
from memwise.errors import MemorySaveError
from memwise.memory import background
from memwise.storage.in_memory import InMemoryStorage
from tests.memory.fakes import Call, Gate, ReadingModel

FIRST = "My name is Alice and I work on project Falcon"
SECOND = "What project am I working on?"
FLAGS = dict(session_id="s1", user_id="u1", full_session_memory=True, summary_memory=True, user_analysis_memory=True)


def run_turn(agent: Agent, how: str, text: str) -> None:
    if how == "do":
        agent.do(text)
    elif how == "stream":
        assert "".join(agent.stream(text))
    else:
        asyncio.run(agent.do_async(text))


@pytest.mark.parametrize("how", ["do", "do_async", "stream"])
def test_the_answer_returns_before_memory_model_finishes(storage, how) -> None:
    gate = Gate()
    answerer = ReadingModel()
    memory = Memory(storage, model=gate.model, **FLAGS)
    agent = Agent(answerer.model, memory=memory)
    run_turn(agent, how, FIRST)
    if how != "do_async":  # (asyncio.run ended the update's loop: the next read makes it)
        assert gate.entered.wait(30)  # memory's update has started ...
    session = storage.get_session("s1")
    assert session.summary is None and storage.get_profile("u1") is None  # ... and not finished
    assert len(storage.read_messages("s1")) == 2  # the turn is stored, and listed as pending
    assert [(p["needs"], "seqs" in p) for p in session.pending_turns] == [(["summary", "profile"], True)]
    assert storage.list_runs(session_id="s1").items[0].status == "completed"

    gate.opened.set()
    assert "project=Falcon" in memory.get_session().summary  # a read through Memory waits for it
    assert memory.get_user_profile().data["name"] == "Alice"
    assert storage.get_session("s1").pending_turns == [] and memory.pending().turns == 0


@pytest.mark.parametrize("background_updates", [True, False])
def test_background_updates_off_keeps_memory_within_the_turn(background_updates) -> None:
    returned = threading.Event()
    seen: dict[str, bool] = {}

    def hook(call: Call) -> None:  # does the answer return before memory's call completes?
        if call.kind == "summary":
            seen["returned first"] = returned.wait(10 if background_updates else 0.2)

    storage = InMemoryStorage()
    memory = Memory(storage, model=ReadingModel(hook=hook).model, background_updates=background_updates, **FLAGS)
    Agent(ReadingModel().model, memory=memory).do(FIRST)
    stored_at_return = storage.get_session("s1").summary
    returned.set()
    memory.flush()
    assert seen["returned first"] is background_updates
    assert (stored_at_return is None) is background_updates
    assert "project=Falcon" in storage.get_session("s1").summary


def test_reads_and_the_next_run_wait_for_this_process_updates() -> None:
    gate = Gate()
    answerer = ReadingModel()
    memory = Memory(InMemoryStorage(), model=gate.model, **FLAGS)
    agent = Agent(answerer.model, memory=memory)

    async def main() -> tuple[object, object]:
        await agent.do_async(FIRST)
        await asyncio.to_thread(gate.entered.wait, 30)
        read = asyncio.create_task(memory.get_session_async())
        turn = asyncio.create_task(agent.do_async(SECOND))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not read.done() and not turn.done()  # both wait for the update held at the gate
        assert len(answerer.of("answer")) == 1
        gate.opened.set()
        result = await read, await turn
        await memory.aflush()  # before asyncio.run ends this loop
        return result

    session, answer = asyncio.run(main())
    assert "project=Falcon" in session.summary
    second = answerer.of("answer")[-1]
    assert "project=Falcon" in second.instructions and "- name: Alice" in second.instructions


def test_summary_only_mode_keeps_the_turn_pending_and_answers_turn_two_from_it(storage) -> None:
    gate = Gate()
    answerer = ReadingModel()
    memory = Memory(storage, session_id="s1", user_id="u1", summary_memory=True, user_analysis_memory=True,
                    model=gate.model)
    agent = Agent(answerer.model, memory=memory)
    agent.do(FIRST)
    assert gate.entered.wait(30)
    [pending] = storage.get_session("s1").pending_turns  # the raw turn lives only here until folded
    assert pending["messages"][0]["parts"][0]["content"] == FIRST and storage.read_messages("s1") == []
    gate.opened.set()

    answer = agent.do(SECOND)  # right away: the run waits for turn 1's summary
    assert "project=Falcon" in answer
    second = answerer.of("answer")[-1]
    assert second.user_prompts == [SECOND] and "project=Falcon" in second.instructions
    memory.flush()
    session = storage.get_session("s1")
    assert session.pending_turns == [] and storage.read_messages("s1") == []  # folded, then deleted
    assert storage.get_profile("u1").data["name"] == "Alice"


@pytest.mark.parametrize("behind", ["crashed", "model_down"])
def test_no_raw_history_is_injected_while_a_summary_is_pending(storage, behind, monkeypatch) -> None:
    monkeypatch.setattr(background, "BACKOFF_SECONDS", (60.0,))
    def summarise(prompt: str) -> str:
        if behind == "model_down":
            raise RuntimeError("memory model down")
        return ReadingModel.summarize(prompt)

    gate, answerer = Gate(ReadingModel(summary_fn=summarise)), ReadingModel()
    if behind == "model_down":
        gate.opened.set()
    flags = dict(FLAGS, user_analysis_memory=False, load_full_session_memory=False)
    memory = Memory(storage, model=gate.model, **flags)
    agent = Agent(answerer.model, memory=memory)
    agent.do(FIRST)
    if behind == "crashed":  # the process "dies" between the answer and the update
        assert gate.entered.wait(30)
        background.discard(storage)
        gate.opened.set()
    assert len(storage.get_session("s1").pending_turns) == 1

    agent.do(SECOND)  # never raises; catches up when it can
    second = answerer.of("answer")[-1]
    assert len(second.messages) == 1 and FIRST not in second.sent_text  # no raw history, ever
    assert ("project=Falcon" in second.instructions) is (behind == "crashed")  # caught up by the run


def test_a_crash_between_answer_and_update_is_caught_up_by_flush(storage) -> None:
    gate = Gate()
    memory = Memory(storage, model=gate.model, **FLAGS)
    Agent(ReadingModel().model, memory=memory).do(FIRST)
    assert gate.entered.wait(30)
    background.discard(storage)  # this process's updates stop, as if it died
    gate.opened.set()
    assert storage.get_session("s1").summary is None and memory.pending().turns == 1

    later = Memory(storage, model=ReadingModel().model, **FLAGS)  # e.g. a new process
    later.flush()
    assert "project=Falcon" in storage.get_session("s1").summary
    assert storage.get_profile("u1").data["name"] == "Alice" and later.pending().turns == 0


def test_a_failing_update_is_retried_reported_and_never_raised_into_a_turn(storage, monkeypatch, caplog) -> None:
    monkeypatch.setattr(background, "BACKOFF_SECONDS", (60.0,) * 3)  # only the retries the test asks for
    down = {"on": True}
    made: list[str] = []

    def summarise(prompt: str) -> str:
        if down["on"]:
            raise RuntimeError("429 rate limited")
        made.append(prompt)
        return ReadingModel.summarize(prompt)

    memory = Memory(storage, model=ReadingModel(summary_fn=summarise).model, **dict(FLAGS, user_analysis_memory=False))
    agent = Agent(ReadingModel().model, memory=memory)
    with caplog.at_level(logging.WARNING, logger="memwise.memory"):
        agent.do(FIRST)
        with pytest.raises(MemorySaveError, match="429 rate limited"):
            memory.flush()  # an explicit flush says why it cannot
        result = agent.do(SECOND, return_output=True)  # the next turn is not bothered
    assert result.status == "completed" and "failed" in caplog.text and "429 rate limited" in caplog.text
    behind = memory.pending()
    for _ in range(500):  # the second turn may have woken an attempt: let it fail and back off
        if not behind.running:
            break
        time.sleep(0.01)
        behind = memory.pending()
    assert (behind.turns, behind.needs, behind.running) == (2, {"summary": 2}, False)
    # the flush may have come before the first background attempt, which then served it: one
    # failure at least, and the next attempt is scheduled with a backoff
    assert behind.failures >= 1 and "429 rate limited" in behind.last_error and behind.retry_in is not None

    down["on"] = False  # the model is back: one update covers both waiting turns
    memory.flush()
    assert len(made) == 1
    new_turns = made[0].partition("New conversation turns:")[2]
    assert FIRST in new_turns and SECOND in new_turns
    assert memory.pending() == background.PendingUpdates("s1")
    assert storage.get_run(result.run_id).usage["memory_requests"] == 1  # charged to the newest turn


def test_concurrent_turns_of_one_session_end_with_one_summary_covering_both(storage) -> None:
    both = threading.Barrier(2, timeout=30)

    def hook(call: Call) -> None:  # both runs answer before either stores its turn
        if call.kind == "answer":
            both.wait()

    answerer = ReadingModel(hook=hook)
    memory = Memory(storage, model=ReadingModel().model, **FLAGS)
    agent = Agent(answerer.model, memory=memory)

    async def turns() -> list:
        texts = ("My name is Alice", "I like chess")
        return list(await asyncio.gather(*(agent.do_async(t, return_output=True) for t in texts)))

    outputs = asyncio.run(turns())
    memory.flush()
    session = storage.get_session("s1")
    assert "name=Alice" in session.summary and "likes=chess" in session.summary and session.pending_turns == []
    assert session.summarized_through == 4
    assert storage.get_profile("u1").data == {"name": "Alice", "interests": ["chess"]}
    memory_requests = sum(storage.get_run(o.run_id).usage.get("memory_requests", 0) for o in outputs)
    assert session.usage["memory_requests"] == memory_requests >= 2


def test_forgetting_a_user_stops_their_pending_updates(storage) -> None:
    gate = Gate()
    memory = Memory(storage, model=gate.model, **FLAGS)
    Agent(ReadingModel().model, memory=memory).do(FIRST)
    assert gate.entered.wait(30)
    forgot = memory.forget_user()
    gate.opened.set()
    background.flush_all(5)
    assert forgot["sessions"] == 1
    assert storage.get_profile("u1") is None and storage.get_session("s1") is None  # nothing written again
