"""Concurrent writers: threads (sync mode) or tasks (async mode) on one storage object."""

from __future__ import annotations

from memwise.errors import VersionConflict
from tests.conformance.messages import turn


async def test_8_writers_x_200_appends_lose_nothing(api):
    await api.create_session("hot")

    async def writer(w):
        for i in range(100):  # 100 appends of one turn = 200 messages per writer
            await api.append_messages("hot", turn(f"w{w}-{i}"))

    await api.concurrently(8, writer)
    stored = await api.read_messages("hot")
    assert [m.seq for m in stored] == list(range(1, 1601))
    prompts = [m.message.parts[0].content for m in stored if m.turn_start]
    assert sorted(prompts) == sorted(f"w{w}-{i}" for w in range(8) for i in range(100))
    for request, response in zip(stored[::2], stored[1::2], strict=True):  # each append stayed contiguous
        assert response.message.parts[0].content == "re: " + request.message.parts[0].content


async def test_same_version_writers_exactly_one_wins(api):
    await api.create_session("s1")

    async def writer(w):
        try:
            await api.update_session("s1", expected_version=1, summary=f"from {w}")
            return w
        except VersionConflict:
            return None

    winners = [w for w in await api.concurrently(6, writer) if w is not None]
    assert len(winners) == 1
    assert (await api.get_session("s1")).summary == f"from {winners[0]}"


async def test_retrying_summary_writers_lose_no_update(api):
    await api.create_session("s1")

    async def writer(w):
        for i in range(10):
            while True:  # the read-modify-write loop memory uses
                session = await api.get_session("s1")
                try:
                    await api.update_session("s1", expected_version=session.version,
                                             summary=(session.summary or "") + f"[{w}.{i}]")
                    break
                except VersionConflict:
                    continue

    await api.concurrently(4, writer)
    final = await api.get_session("s1")
    assert final.version == 41
    assert sorted(final.summary.strip("[]").split("][")) == sorted(f"{w}.{i}" for w in range(4) for i in range(10))
