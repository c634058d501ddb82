"""Restoring a backup (records and messages exactly as given) and listing profiles."""

from __future__ import annotations

from dataclasses import replace

import pytest

from memwise.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from memwise.storage.codec import encode_message
from memwise.storage.records import Run, Session, StoredMessage, UserProfile
from tests.conformance.messages import tool_turn, turn

# stamps far from now, with all the digits a float has, so any rounding or "now" shows
SESSION = Session("s1", user_id="u1", agent_id="a1", summary="short", summarized_through=2,
                  metadata={"topic": "ünï ✓", "n": [1, 2.5, None]}, usage={"requests": 3},
                  created_at=1_600_000_000.123456, updated_at=1_600_000_100.987654, version=7)
RUN = Run("r1", "s1", user_id="u1", agent_id="a1", status="paused", checkpoint={"step": 2}, error=None,
          usage={"input_tokens": 5}, lease_owner="worker-7", lease_expires_at=1_600_000_200.5,
          created_at=1_600_000_000.25, updated_at=1_600_000_050.75, version=4)
PROFILE = UserProfile("u1", {"name": "Alice"}, {"name": {"run_id": "r1", "updated_at": 1.5}},
                      created_at=1_500_000_000.5, updated_at=1_600_000_000.5, version=3)


def stored(session_id: str, messages: list, first_seq: int = 1, run_id: str | None = "r1") -> list[StoredMessage]:
    """pydantic-ai messages as a backup holds them: seqs from `first_seq`, old `created_at`s."""
    out = []
    for offset, message in enumerate(messages):
        body, turn_start = encode_message(message, "message")
        seq = first_seq + offset
        out.append(StoredMessage(session_id, seq, run_id, turn_start, 1_600_000_000.0 + seq / 7, body))
    return out


async def test_restore_keeps_versions_and_timestamps(api):
    for record in (SESSION, RUN, PROFILE):
        assert await api.restore(record) == record
    assert await api.get_session("s1") == SESSION
    assert await api.get_run("r1") == RUN
    assert await api.get_profile("u1") == PROFILE
    # the restored stamps order listings; the versions are the next compare-and-set's
    await api.create_session("s2")
    assert [s.session_id for s in (await api.list_sessions()).items] == ["s2", "s1"]
    updated = await api.update_session("s1", expected_version=7, summary="longer")
    assert (updated.version, updated.created_at) == (8, SESSION.created_at)


async def test_restore_never_overwrites(api):
    await api.create_session("s1", user_id="someone")
    with pytest.raises(AlreadyExistsError, match="session 's1'"):
        await api.restore(SESSION)
    assert (await api.get_session("s1")).user_id == "someone"
    await api.restore(PROFILE)
    with pytest.raises(AlreadyExistsError, match="profile 'u1'"):
        await api.restore(replace(PROFILE, data={"name": "Mallory"}))
    assert (await api.get_profile("u1")).data == {"name": "Alice"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (replace(SESSION, version=0), "version must be an integer >= 1"),
        (replace(SESSION, created_at=-1.0), "created_at must be epoch seconds"),
        (replace(SESSION, updated_at=float("nan")), "updated_at must be epoch seconds"),
        (replace(SESSION, summarized_through=-1), "summarized_through must be an integer >= 0"),
        (replace(SESSION, user_id=""), "session.user_id must be a non-empty string"),
        (replace(RUN, status="sleeping"), "status must be one of"),
        (replace(RUN, lease_expires_at="soon"), "run.lease_expires_at must be epoch seconds"),
        (replace(PROFILE, data=["not", "a", "dict"]), "profile.data must be a dict"),
        ({"session_id": "s1"}, "restore takes a Session, Run or UserProfile"),
    ],
)
async def test_restore_checks_like_the_writes_do(api, record, message):
    with pytest.raises(InvalidInputError, match=message):
        await api.restore(record)
    assert (await api.list_sessions()).items == [] and (await api.list_runs()).items == []
    assert await api.get_profile("u1") is None


async def test_restore_messages_keeps_seqs_created_at_and_turns(api):
    await api.restore(SESSION)
    first = stored("s1", turn("one") + tool_turn("two"))
    second = stored("s1", turn("three"), first_seq=7, run_id=None)
    assert await api.restore_messages("s1", first) == [1, 2, 3, 4, 5, 6]
    assert await api.restore_messages("s1", second) == [7, 8]
    read = await api.read_messages("s1")
    assert [(m.seq, m.run_id, m.turn_start, m.created_at, m.data) for m in read] == [
        (m.seq, m.run_id, m.turn_start, m.created_at, m.data) for m in first + second
    ]
    assert [m.seq for m in await api.read_messages("s1", last_turns=2)] == [3, 4, 5, 6, 7, 8]
    assert (await api.get_session("s1")).version == 7  # messages do not touch the session record
    assert await api.append_messages("s1", turn("four")) == [9, 10]  # the log goes on after them


async def test_restore_messages_only_continues_the_log(api):
    with pytest.raises(NotFoundError, match="restore it before its messages"):
        await api.restore_messages("s1", stored("s1", turn("one")))
    await api.restore(SESSION)
    assert await api.read_messages("s1") == []  # nothing written by the refused call
    with pytest.raises(InvalidInputError, match="has no message 2"):
        await api.restore_messages("s1", stored("s1", turn("gap"), first_seq=3))
    await api.restore_messages("s1", stored("s1", turn("one")))
    with pytest.raises(AlreadyExistsError, match="has a message 2 already"):
        await api.restore_messages("s1", stored("s1", turn("overlap"), first_seq=2))
    assert [m.seq for m in await api.read_messages("s1")] == [1, 2]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ms: [ms[0], replace(ms[1], seq=3)], r"messages\[1\].seq is 3; seqs must be consecutive \(2 here\)"),
        (lambda ms: [replace(ms[0], seq=0), ms[1]], r"messages\[0\].seq must be an integer >= 1"),
        (lambda ms: [replace(ms[0], turn_start=False), ms[1]], r"messages\[0\].turn_start must be True"),
        (lambda ms: [replace(ms[0], session_id="s2"), ms[1]], "belongs to session 's2'"),
        (lambda ms: [replace(ms[0], created_at=None), ms[1]], r"messages\[0\].created_at must be epoch seconds"),
        (lambda ms: [replace(ms[0], body='{"kind": "nonsense"}'), ms[1]], "not a pydantic-ai ModelMessage"),
        (lambda ms: [replace(ms[0], body="[1, 2]"), ms[1]], r"messages\[0\].body"),
        (lambda ms: ms[0], "must be a list of StoredMessage"),
    ],
)
async def test_restore_messages_checks_every_message_first(api, mutate, message):
    await api.restore(SESSION)
    with pytest.raises(InvalidInputError, match=message):
        await api.restore_messages("s1", mutate(stored("s1", turn("one"))))
    assert await api.read_messages("s1") == []


async def test_list_profiles_pages_through_every_profile(api):
    for index in range(5):
        await api.restore(replace(PROFILE, user_id=f"u{index}", updated_at=1_600_000_000.0 + index))
    await api.put_profile(UserProfile("newest", {"x": 1}), expected_version=0)  # a user without sessions
    seen, cursor, sizes = [], None, []
    for _ in range(5):  # bounded: a listing that ignores the cursor must fail, not hang
        page = await api.list_profiles(limit=2, cursor=cursor)
        seen += [p.user_id for p in page.items]
        sizes.append(len(page.items))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["newest", "u4", "u3", "u2", "u1", "u0"] and sizes == [2, 2, 2]
    assert (await api.list_profiles()).items[1] == replace(PROFILE, user_id="u4", updated_at=1_600_000_004.0)
    with pytest.raises(InvalidInputError, match="cursor"):
        await api.list_profiles(cursor="nonsense")
    with pytest.raises(InvalidInputError, match="limit"):
        await api.list_profiles(limit=0)
