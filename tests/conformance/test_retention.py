"""forget_user and prune."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from memwise.errors import InvalidInputError
from memwise.storage.records import Run, UserProfile
from tests.conformance.messages import turn


async def test_forget_user_removes_everything_of_that_user_only(api):
    for sid, user in [("a1", "alice"), ("a2", "alice"), ("b1", "bob")]:
        await api.create_session(sid, user_id=user)
        await api.append_messages(sid, turn("hi") + turn("again"))
        await api.create_run(Run(f"run-{sid}", sid, user_id=user))
    await api.put_profile(UserProfile("alice", {"name": "Alice"}), expected_version=0)
    await api.put_profile(UserProfile("bob", {"name": "Bob"}), expected_version=0)
    counts = await api.forget_user("alice")
    assert counts == {"sessions": 2, "messages": 8, "runs": 2, "profiles": 1}
    assert (await api.list_sessions(user_id="alice")).items == []
    assert await api.read_messages("a1") == [] and await api.get_run("run-a1") is None
    assert await api.get_profile("alice") is None
    assert len(await api.read_messages("b1")) == 4 and (await api.get_profile("bob")).data == {"name": "Bob"}
    assert await api.forget_user("alice") == {"sessions": 0, "messages": 0, "runs": 0, "profiles": 0}


async def test_prune_deletes_only_old_sessions_and_finished_runs(api):
    await api.create_session("old", user_id="u")
    await api.append_messages("old", turn("x"))
    await api.create_session("keep-parent")
    await api.create_run(Run("old-done", "keep-parent", status="completed"))
    await api.create_run(Run("old-paused", "keep-parent", status="paused"))
    await asyncio.sleep(0.02)
    cutoff = time.time()
    await asyncio.sleep(0.02)
    await api.create_session("new")
    await api.update_session("keep-parent", expected_version=1, summary="active")
    counts = await api.prune(cutoff)
    assert counts == {"sessions": 1, "messages": 2, "runs": 1}
    assert await api.get_session("old") is None and await api.read_messages("old") == []
    assert await api.get_session("new") is not None and await api.get_session("keep-parent") is not None
    assert await api.get_run("old-done") is None
    assert (await api.get_run("old-paused")).status == "paused"  # a paused run is never pruned by age alone
    assert await api.prune(timedelta(days=1)) == {"sessions": 0, "messages": 0, "runs": 0}
    assert (await api.prune(datetime.now(timezone.utc) + timedelta(seconds=5)))["sessions"] == 2
    with pytest.raises(InvalidInputError, match="older_than"):
        await api.prune("yesterday")
