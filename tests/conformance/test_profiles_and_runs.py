"""User profiles and run records: round trips, optimistic versions, leases."""

from __future__ import annotations

import pytest

from memwise.errors import AlreadyExistsError, InvalidInputError, LeaseHeldError, NotFoundError, VersionConflict
from memwise.storage.records import Run, UserProfile


async def test_profile_round_trip_and_versions(api):
    assert await api.get_profile("u1") is None
    p1 = await api.put_profile(
        UserProfile("u1", {"name": "Alice", "skills": ["python"]}, {"name": {"run_id": "r1", "updated_at": 1.5}}),
        expected_version=0,
    )
    assert p1.version == 1 and await api.get_profile("u1") == p1
    with pytest.raises(VersionConflict):
        await api.put_profile(UserProfile("u1", {"name": "Mallory"}), expected_version=0)
    p2 = await api.put_profile(UserProfile("u1", {"name": "Alice", "role": "dev"}, created_at=p1.created_at), expected_version=1)
    assert (p2.version, p2.data["role"], p2.created_at) == (2, "dev", p1.created_at)
    assert (await api.get_profile("u1")).data == {"name": "Alice", "role": "dev"}


async def test_run_round_trip_update_and_list(api):
    await api.create_session("s1", user_id="u1")
    run = await api.create_run(Run("r1", "s1", user_id="u1", agent_id="a", checkpoint={"step": 1}))
    assert run.version == 1 and await api.get_run("r1") == run
    with pytest.raises(AlreadyExistsError):
        await api.create_run(Run("r1", "s1"))
    paused = await api.update_run("r1", expected_version=1, status="paused", checkpoint={"step": 2, "pending": ["t"]},
                                  usage={"input_tokens": 5})
    assert (paused.status, paused.checkpoint, paused.usage, paused.version) == ("paused", {"step": 2, "pending": ["t"]}, {"input_tokens": 5}, 2)
    with pytest.raises(VersionConflict):
        await api.update_run("r1", expected_version=1, status="completed")
    with pytest.raises(NotFoundError):
        await api.update_run("nope", expected_version=1, status="completed")
    with pytest.raises(InvalidInputError, match="status"):
        await api.update_run("r1", expected_version=2, status="exploded")
    await api.create_run(Run("r2", "s1", user_id="u1"))
    await api.create_run(Run("r3", "s1", user_id="u2"))
    assert [r.run_id for r in (await api.list_runs(session_id="s1")).items] == ["r3", "r2", "r1"]
    assert [r.run_id for r in (await api.list_runs(session_id="s1", status="paused")).items] == ["r1"]
    assert [r.run_id for r in (await api.list_runs(user_id="u1", status=["running", "paused"])).items] == ["r2", "r1"]
    assert await api.delete_run("r2") is True and await api.get_run("r2") is None


async def test_leases_are_exclusive_until_expiry(api):
    await api.create_session("s1")
    await api.create_run(Run("r1", "s1", status="paused"))
    held = await api.acquire_lease("r1", "worker-a", 60)
    assert held.lease_owner == "worker-a" and held.lease_expires_at > held.updated_at
    with pytest.raises(LeaseHeldError, match="worker-a"):
        await api.acquire_lease("r1", "worker-b", 60)
    assert (await api.acquire_lease("r1", "worker-a", 60)).lease_owner == "worker-a"  # renewal
    assert await api.release_lease("r1", "worker-b") is None
    assert (await api.get_run("r1")).lease_owner == "worker-a"
    released = await api.release_lease("r1", "worker-a")
    assert released.lease_owner is None
    assert (await api.acquire_lease("r1", "worker-b", 0.001)).lease_owner == "worker-b"
    import asyncio

    await asyncio.sleep(0.01)  # worker-b's lease has expired: a new worker may take over
    assert (await api.acquire_lease("r1", "worker-c", 60)).lease_owner == "worker-c"
    with pytest.raises(NotFoundError):
        await api.acquire_lease("ghost", "worker-a", 60)


async def test_only_one_of_many_racing_workers_gets_the_lease(api):
    await api.create_session("s1")
    await api.create_run(Run("r1", "s1", status="paused"))

    async def grab(i):
        try:
            await api.acquire_lease("r1", f"worker-{i}", 60)
            return f"worker-{i}"
        except LeaseHeldError:
            return None

    winners = [w for w in await api.concurrently(6, grab) if w]
    assert len(winners) == 1
    assert (await api.get_run("r1")).lease_owner == winners[0]
