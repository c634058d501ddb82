"""start_turn / finish_turn: a whole run's reads and writes, one plan each, same rules as the parts."""

from __future__ import annotations

import pytest

from memwise.errors import SessionAccessError, VersionConflict
from memwise.storage.records import Run, UserProfile
from memwise.storage.turns import RunUpdate, TurnWrite
from tests.conformance.messages import prompt_of, turn


async def test_start_turn_creates_and_reads_everything(api):
    first = await api.start_turn("s1", user_id="u1", agent_id="a", run=Run("r1", "s1", user_id="u1"),
                                 load_profile=True, last_turns=3)
    assert (first.session.session_id, first.session.user_id, first.run.status, first.profile, first.messages) == (
        "s1", "u1", "running", None, [])
    await api.append_messages("s1", turn("one") + turn("two") + turn("three"))
    await api.put_profile(UserProfile("u1", {"name": "Alice"}), expected_version=0)
    again = await api.start_turn("s1", user_id="u1", run=Run("r2", "s1", user_id="u1"), load_profile=True, last_turns=2)
    assert again.session.created_at == first.session.created_at
    assert [prompt_of(m) for m in again.messages if m.turn_start] == ["two", "three"]
    assert again.profile.data == {"name": "Alice"} and (await api.get_run("r2")).status == "running"
    assert (await api.start_turn("ghost", create=False)).session is None
    assert await api.get_session("ghost") is None


async def test_start_turn_refuses_another_users_session(api):
    await api.create_session("s1", user_id="alice")
    await api.append_messages("s1", turn("secret"))
    for create in (True, False):
        with pytest.raises(SessionAccessError):
            await api.start_turn("s1", user_id="bob", create=create, last_turns=5)
    assert await api.get_run("r-bob") is None


async def test_finish_turn_appends_updates_session_and_run(api):
    await api.start_turn("s1", run=Run("r1", "s1"))
    end = await api.finish_turn(TurnWrite(
        "s1", turn("hello"), run_id="r1",
        update_session=lambda s, seqs: {"usage": {"tokens": s.usage.get("tokens", 0) + len(seqs)}},
        update_run=RunUpdate(1, {"status": "completed", "usage": {"tokens": 5}}),
    ))
    assert end.seqs == [1, 2] and end.session.usage == {"tokens": 2} and end.run.status == "completed"
    assert [m.run_id for m in await api.read_messages("s1")] == ["r1", "r1"]
    assert (await api.get_session("s1")).usage == {"tokens": 2}


async def test_finish_turn_retries_the_session_update_on_conflict(api, monkeypatch):
    await api.create_session("s1")
    real_put, lost = api.storage._put_record, []

    def put_losing_once(record, expected_version):  # as if another writer got in first, once
        if record.kind == "session" and not lost:
            lost.append(expected_version)
            return False
        return (yield from real_put(record, expected_version))

    monkeypatch.setattr(api.storage, "_put_record", put_losing_once)
    calls = []

    def update(session, seqs):
        calls.append(session.version)
        return {"summary": f"call {len(calls)}"}

    end = await api.finish_turn(TurnWrite("s1", update_session=update))
    assert lost == [1] and calls == [1, 1]
    assert end.session.summary == "call 2" and (await api.get_session("s1")).summary == "call 2"


async def test_finish_turn_leaves_a_stale_session_to_the_caller(api):
    await api.start_turn("s1", run=Run("r1", "s1"))
    end = await api.finish_turn(TurnWrite("s1", turn("appended"), run_id="r1", update_session=lambda s, seqs: None,
                                          update_run=RunUpdate(1, {"status": "completed"})))
    assert end.session is None and end.seqs == [1, 2] and end.run.status == "completed"
    assert len(await api.read_messages("s1")) == 2 and (await api.get_session("s1")).version == 1


async def test_finish_turn_of_a_stale_run_writes_nothing(api):
    await api.start_turn("s1", run=Run("r1", "s1"))
    await api.update_run("r1", expected_version=1, status="cancelled")  # e.g. cancelled meanwhile
    with pytest.raises(VersionConflict):
        await api.finish_turn(TurnWrite("s1", turn("late"), run_id="r1", update_session=lambda s, seqs: {"summary": "x"},
                                        update_run=RunUpdate(1, {"status": "completed"})))
    assert await api.read_messages("s1") == [] and (await api.get_session("s1")).summary is None
    assert (await api.get_run("r1")).status == "cancelled"
