"""Append-only messages: round trip, seqs, windows by user turn."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from memwise.errors import InvalidInputError, NotFoundError
from tests.conformance.messages import prompt_of, tool_turn, turn


async def test_round_trip_keeps_every_part(api):
    await api.create_session("s1")
    sent = turn("hello") + tool_turn("weather?")
    assert await api.append_messages("s1", sent, run_id="r1") == [1, 2, 3, 4, 5, 6]
    stored = await api.read_messages("s1")
    assert [m.message for m in stored] == sent
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5, 6]
    assert [m.turn_start for m in stored] == [True, False, True, False, False, False]
    assert {m.run_id for m in stored} == {"r1"} and {m.session_id for m in stored} == {"s1"}


async def test_seqs_continue_across_appends(api):
    await api.create_session("s1")
    await api.create_session("s2")
    assert await api.append_messages("s1", turn("a")) == [1, 2]
    assert await api.append_messages("s2", turn("x")) == [1, 2]
    assert await api.append_messages("s1", turn("b")) == [3, 4]
    assert await api.append_messages("s1", []) == []


async def test_after_seq_and_limit(api):
    await api.create_session("s1")
    for i in range(5):
        await api.append_messages("s1", turn(f"t{i}"))
    assert [m.seq for m in await api.read_messages("s1", after_seq=6)] == [7, 8, 9, 10]
    assert [m.seq for m in await api.read_messages("s1", after_seq=2, limit=3)] == [3, 4, 5]
    assert await api.read_messages("s1", after_seq=10) == []


async def test_last_turns_counts_user_turns_not_messages(api):
    await api.create_session("s1")
    await api.append_messages("s1", turn("one") + tool_turn("two") + turn("three"))
    last2 = await api.read_messages("s1", last_turns=2)
    assert [prompt_of(m) for m in last2 if m.turn_start] == ["two", "three"]
    assert len(last2) == 6  # the tool round trip stays whole
    assert len(await api.read_messages("s1", last_turns=50)) == 8
    assert [m.seq for m in await api.read_messages("s1", last_turns=2, after_seq=5)] == [6, 7, 8]
    assert await api.read_messages("empty", last_turns=3) == []


async def test_append_needs_a_session(api):
    with pytest.raises(NotFoundError, match="create it"):
        await api.append_messages("ghost", turn("hi"))


async def test_append_to_a_missing_or_deleted_session_stores_nothing(api):
    await api.create_session("gone")
    await api.append_messages("gone", turn("before"))
    assert await api.delete_session("gone") is True
    for session_id in ("ghost", "gone"):
        for messages in (turn("lost"), []):
            missing = f"session {session_id!r} does not exist; create it before appending messages"
            with pytest.raises(NotFoundError, match=re.escape(missing)):
                await api.append_messages(session_id, messages, run_id="r1")
        assert await api.read_messages(session_id) == []
        assert await api.read_messages(session_id, last_turns=1) == []
        await api.create_session(session_id)  # nothing was kept for it: seqs start at 1
        assert await api.read_messages(session_id) == []
        assert await api.append_messages(session_id, turn("new")) == [1, 2]


async def test_appends_racing_a_session_delete_leave_nothing_behind(api):
    """An append running while its session is deleted lands before the delete (and goes with it)
    or fails: no message outlives its session."""
    for attempt in range(3):
        session_id = f"race{attempt}"
        await api.create_session(session_id)

        async def job(i, session_id=session_id):
            if i == 0:  # the deleter, once the writers are appending
                for _ in range(5000):
                    if await api.read_messages(session_id, limit=1):
                        break
                    await asyncio.sleep(0.001)
                return await api.delete_session(session_id)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # writers append until the session is gone
                try:
                    await api.append_messages(session_id, turn(f"w{i}"))
                except NotFoundError:
                    return True
                await asyncio.sleep(0)  # let the other tasks in (some backends never wait on I/O)
            return False

        assert await api.concurrently(4, job) == [True, True, True, True]
        assert await api.read_messages(session_id) == []
        await api.create_session(session_id)
        assert await api.append_messages(session_id, turn("new")) == [1, 2]


@pytest.mark.parametrize("bad", ["text", [{"kind": "request", "parts": "nope"}], [42]])
async def test_bad_messages_are_rejected_and_nothing_is_stored(api, bad):
    await api.create_session("s1")
    await api.append_messages("s1", turn("kept"))
    with pytest.raises(InvalidInputError, match="messages"):
        await api.append_messages("s1", bad if isinstance(bad, str) else turn("lost") + bad)
    assert [prompt_of(m) for m in await api.read_messages("s1") if m.turn_start] == ["kept"]
