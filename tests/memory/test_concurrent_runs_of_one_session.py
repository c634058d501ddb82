"""Two runs of one session at the same time (threads, or asyncio tasks) both persist
completely. Barriers in the fake model force the runs to overlap at every step: both answer
before either saves, and both compute their summary and profile from the same version (memory
updated within the turn, `background_updates=False`; with background updates, see
test_background_updates.py)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from pydantic_ai.messages import UserPromptPart

from memwise import Agent, Memory
from memwise.errors import VersionConflict
from tests.memory.fakes import Call, ReadingModel

PROMPTS = ("My name is Alice", "I like chess")


def overlapping_model() -> ReadingModel:
    """The first call of each kind from both runs waits for the other run's call."""
    barriers = {kind: threading.Barrier(2, timeout=60) for kind in ("answer", "summary", "profile")}
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def hook(call: Call) -> None:
        with lock:
            seen[call.kind] += 1
            first_two = seen[call.kind] <= 2
        if first_two:
            barriers[call.kind].wait()

    return ReadingModel(hook=hook)


def count_conflicts(storage, *names: str) -> Counter[str]:
    """Wrap storage methods to count the VersionConflicts they raise (the retry path is taken)."""
    counts: Counter[str] = Counter()
    for name in names:
        original = getattr(storage, name)

        async def wrapper(*args, _original=original, _name=name, **kwargs):
            try:
                return await _original(*args, **kwargs)
            except VersionConflict:
                counts[_name] += 1
                raise

        setattr(storage, name, wrapper)
    return counts


def run_both(agent: Agent, mode: str) -> list:
    if mode == "threads":
        results: list = [None, None]
        errors: list = []

        def work(i: int) -> None:
            try:
                results[i] = agent.do(PROMPTS[i], return_output=True)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        return results

    async def both() -> list:
        return list(await asyncio.gather(*(agent.do_async(p, return_output=True) for p in PROMPTS)))

    return asyncio.run(both())


@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_concurrent_runs_of_one_session_both_persist(storage, mode) -> None:
    reader = overlapping_model()
    memory = Memory(
        storage, session_id="s1", user_id="u1",
        full_session_memory=True, summary_memory=True, user_analysis_memory=True, background_updates=False,
    )
    agent = Agent(reader.model, memory=memory)
    outputs = run_both(agent, mode)

    # both runs answered without seeing each other (they overlapped) ...
    assert all(call.user_prompts[-1] in PROMPTS and len(call.messages) == 1 for call in reader.of("answer"))
    # ... and every message of both is stored, each run's turn contiguous
    stored = storage.read_messages("s1")
    assert len(stored) == 4
    prompts = [p.content for s in stored for p in s.message.parts if isinstance(p, UserPromptPart)]
    assert sorted(prompts) == sorted(PROMPTS)
    assert [s.run_id for s in stored][0::2] == [s.run_id for s in stored][1::2]

    session = storage.get_session("s1")
    assert "name=Alice" in session.summary and "likes=chess" in session.summary  # no summary update lost
    assert session.summarized_through == 4
    # the race really happened: both summarised from the same version; the later one was redone
    assert len(reader.of("summary")) == 3
    profile = storage.get_profile("u1")
    assert profile.data["name"] == "Alice" and profile.data["interests"] == ["chess"]  # no profile update lost

    # usage of both runs, memory calls included, is on the session
    memory_calls = len(reader.of("summary")) + len(reader.of("profile"))
    assert session.usage["requests"] == 2
    assert session.usage["memory_requests"] == memory_calls
    assert sum(o.usage.memory.requests for o in outputs) == memory_calls
    assert {storage.get_run(o.run_id).status for o in outputs} == {"completed"}


def test_many_threads_many_turns(storage, reader) -> None:
    """Eight threads, five runs each, one session: 80 messages, usage for all 40 runs."""
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True)
    agent = Agent(reader.model, memory=memory)
    threads = [threading.Thread(target=lambda n=n: [agent.do(f"thread {n} turn {i}") for i in range(5)]) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    memory.flush()
    stored = storage.read_messages("s1")
    assert len(stored) == 80 and [s.seq for s in stored] == list(range(1, 81))
    session = storage.get_session("s1")
    assert session.usage["requests"] == 40
    assert session.summarized_through == 80


def interleave_before_write(storage, write_name: str, other_writer) -> None:
    """Just before our first write, another writer changes the record: a deterministic race."""
    original = getattr(storage, write_name)
    state = {"done": False}

    async def write(*args, **kwargs):
        if not state["done"]:
            state["done"] = True
            other_writer()
        return await original(*args, **kwargs)

    setattr(storage, write_name, write)


def test_profile_write_racing_another_writer_merges_both(storage) -> None:
    from memwise.storage.records import UserProfile

    reader = ReadingModel()
    memory = Memory(storage, session_id="s1", user_id="u1", user_analysis_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice")
    memory.flush()
    conflicts = count_conflicts(storage, "aput_profile")

    def other_writer() -> None:
        current = storage.get_profile("u1")
        storage.put_profile(
            UserProfile("u1", {**current.data, "location": "Oslo"}, current.provenance),
            expected_version=current.version,
        )

    interleave_before_write(storage, "aput_profile", other_writer)
    agent.do("I like chess")
    memory.flush()
    assert conflicts["aput_profile"] == 1
    assert storage.get_profile("u1").data == {"name": "Alice", "location": "Oslo", "interests": ["chess"]}


def test_metadata_write_racing_a_summary_keeps_both(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True, background_updates=False)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice")

    def other_writer() -> None:  # after the summary was made from the session's version 2
        current = storage.get_session("s1")
        storage.update_session("s1", expected_version=current.version, metadata={"ticket": "T-1"})

    interleave_before_write(storage, "afinish_turn", other_writer)
    agent.do("I like chess")
    session = storage.get_session("s1")
    assert session.version == 4  # created, first turn, metadata, second turn: none overwritten
    assert session.metadata == {"ticket": "T-1"}
    assert "likes=chess" in session.summary and session.usage["requests"] == 2
    assert len(reader.of("summary")) == 2  # kept: the metadata write did not touch what it was made from
