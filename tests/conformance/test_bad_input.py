"""Bad input fails clearly and changes nothing; corrupted records are named, never hidden or lost."""

from __future__ import annotations

import pytest

from memwise.errors import CorruptRecordError, InvalidInputError
from memwise.storage.contract import RawMessage
from tests.conformance.messages import turn


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda api: api.create_session(123), "session_id"),
        (lambda api: api.create_session("", user_id="u"), "session_id"),
        (lambda api: api.create_session("s9", metadata={"when": object()}), r"metadata\['when'\]"),
        (lambda api: api.create_session("s9", metadata=["not", "a", "dict"]), "metadata must be a dict"),
        (lambda api: api.update_session("s1", expected_version=1, summary=5), "summary"),
        (lambda api: api.update_session("s1", expected_version=1, metadata={"x": {1, 2}}), r"metadata\['x'\]"),
        (lambda api: api.update_session("s1", expected_version=1, usage={"tokens": "many"}), "usage"),
        (lambda api: api.update_session("s1", expected_version=1, summarized_through=-1), "summarized_through"),
        (lambda api: api.update_session("s1", expected_version=1, summry="typo"), "no field summry"),
        (lambda api: api.list_runs(state="paused"), "no field state"),
        (lambda api: api.list_sessions(limit=0), "limit"),
        (lambda api: api.list_sessions(cursor="garbage"), "cursor"),
        (lambda api: api.read_messages("s1", last_turns=0), "last_turns"),
        (lambda api: api.acquire_lease("r", "w", -1), "ttl"),
    ],
)
async def test_bad_arguments_raise_clear_errors_and_change_nothing(api, call, match):
    await api.create_session("s1", metadata={"keep": True})
    await api.append_messages("s1", turn("kept"))
    with pytest.raises(InvalidInputError, match=match):
        await call(api)
    session = await api.get_session("s1")
    assert (session.version, session.metadata, session.summary) == (1, {"keep": True}, None)
    assert len(await api.read_messages("s1")) == 2
    assert await api.get_session("s9") is None


async def _write_raw(api, plan):
    """Write below the typed API, as a bug or a disk fault would."""
    storage = api.storage
    if api.mode == "async":
        return await storage._async(plan, write=True)
    return storage._sync(plan, write=True)


async def test_corrupted_record_is_named_and_others_stay_readable(api):
    await api.create_session("good", metadata={"ok": 1})
    await api.create_session("bad")
    raw = await _write_raw(api, api.storage._get_record("session", "bad"))
    raw.body, raw.version = '{"summary": "trunc', raw.version + 1
    assert await _write_raw(api, api.storage._put_record(raw, raw.version - 1))
    with pytest.raises(CorruptRecordError, match="session 'bad'"):
        await api.get_session("bad")
    with pytest.raises(CorruptRecordError, match="session 'bad'"):
        await api.list_sessions()
    assert (await api.get_session("good")).metadata == {"ok": 1}
    assert await api.delete_session("bad") is True  # a corrupted record can still be removed
    assert [s.session_id for s in (await api.list_sessions()).items] == ["good"]


async def test_corrupted_message_is_named_and_the_rest_is_kept(api):
    await api.create_session("s1")
    await api.append_messages("s1", turn("before"))
    await _write_raw(api, api.storage._append_messages("s1", [RawMessage(0, None, False, 0.0, "not json {")]))
    await api.append_messages("s1", turn("after"))
    with pytest.raises(CorruptRecordError, match="message 3 of session 's1'"):
        await api.read_messages("s1")
    assert [m.seq for m in await api.read_messages("s1", limit=2)] == [1, 2]
    assert [m.seq for m in await api.read_messages("s1", after_seq=3)] == [4, 5]
