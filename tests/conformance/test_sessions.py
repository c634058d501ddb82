"""Sessions: round trip, ownership, optimistic updates, listing, deletion."""

from __future__ import annotations

import pytest

from memwise.errors import AlreadyExistsError, NotFoundError, VersionConflict
from tests.conformance.messages import turn


async def test_round_trip(api):
    created = await api.create_session("s1", user_id="u1", agent_id="a1", metadata={"topic": "db", "n": [1, 2]})
    got = await api.get_session("s1")
    assert got == created
    assert (got.user_id, got.agent_id, got.metadata, got.version, got.summary) == ("u1", "a1", {"topic": "db", "n": [1, 2]}, 1, None)
    assert await api.get_session("missing") is None


async def test_create_twice(api):
    await api.create_session("s1", user_id="u1")
    with pytest.raises(AlreadyExistsError):
        await api.create_session("s1", user_id="u1")
    assert (await api.create_session("s1", user_id="u1", exist_ok=True)).user_id == "u1"
    with pytest.raises(AlreadyExistsError, match="another user"):
        await api.create_session("s1", user_id="intruder", exist_ok=True)


async def test_owner_isolation(api):
    await api.create_session("s1", user_id="alice")
    await api.append_messages("s1", turn("secret"))
    assert await api.get_session("s1", user_id="bob") is None
    assert await api.read_messages("s1", user_id="bob") == []
    assert await api.delete_session("s1", user_id="bob") is False
    assert (await api.get_session("s1", user_id="alice")).user_id == "alice"
    assert len(await api.read_messages("s1", user_id="alice")) == 2


async def test_update_with_version(api):
    s = await api.create_session("s1")
    s2 = await api.update_session("s1", expected_version=s.version, summary="short", summarized_through=4,
                                  metadata={"k": "v"}, usage={"input_tokens": 10})
    assert (s2.summary, s2.summarized_through, s2.metadata, s2.usage, s2.version) == ("short", 4, {"k": "v"}, {"input_tokens": 10}, 2)
    assert await api.get_session("s1") == s2
    with pytest.raises(VersionConflict) as info:
        await api.update_session("s1", expected_version=s.version, summary="stale")
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert (await api.get_session("s1")).summary == "short"
    with pytest.raises(NotFoundError):
        await api.update_session("nope", expected_version=1, summary="x")


async def test_list_newest_first_with_filters_and_pages(api):
    for i in range(7):
        await api.create_session(f"s{i}", user_id="u1" if i % 2 == 0 else "u2", agent_id="a" if i < 4 else "b")
    await api.update_session("s0", expected_version=1, summary="touched")  # s0 becomes the newest
    everything = await api.list_sessions(limit=100)
    assert [s.session_id for s in everything.items] == ["s0", "s6", "s5", "s4", "s3", "s2", "s1"]
    assert everything.next_cursor is None
    seen, cursor = [], None
    while True:
        page = await api.list_sessions(user_id="u1", limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += [s.session_id for s in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["s0", "s6", "s4", "s2"]
    assert [s.session_id for s in (await api.list_sessions(user_id="u1", agent_id="b")).items] == ["s6", "s4"]
    assert (await api.list_sessions(user_id="nobody")).items == []


async def test_delete_cascades(api):
    from memwise.storage.records import Run

    await api.create_session("s1", user_id="u1")
    await api.create_session("s2", user_id="u1")
    await api.append_messages("s1", turn("a") + turn("b"))
    await api.append_messages("s2", turn("keep"))
    await api.create_run(Run("r1", "s1", user_id="u1"))
    await api.create_run(Run("r2", "s2", user_id="u1"))
    assert await api.delete_session("s1") is True
    assert await api.get_session("s1") is None
    assert await api.read_messages("s1") == []
    assert await api.get_run("r1") is None
    assert await api.delete_session("s1") is False
    assert len(await api.read_messages("s2")) == 2 and (await api.get_run("r2")) is not None
    await api.create_session("s1", user_id="u1")  # the id can be reused, starting empty
    assert await api.append_messages("s1", turn("again")) == [1, 2]
