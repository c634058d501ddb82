"""Append-only messages: round trip, seqs, windows by user turn."""

from __future__ import annotations

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


@pytest.mark.parametrize("bad", ["text", [{"kind": "request", "parts": "nope"}], [42]])
async def test_bad_messages_are_rejected_and_nothing_is_stored(api, bad):
    await api.create_session("s1")
    await api.append_messages("s1", turn("kept"))
    with pytest.raises(InvalidInputError, match="messages"):
        await api.append_messages("s1", bad if isinstance(bad, str) else turn("lost") + bad)
    assert [prompt_of(m) for m in await api.read_messages("s1") if m.turn_start] == ["kept"]
