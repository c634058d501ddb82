"""Cancelling runs, and runs whose tool raised: marked error, resumed once the cause is fixed."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from memwise.errors import MemorySaveError
from memwise.hitl import RequirementError, RunCancelledError, RunNotResumableError
from tests.hitl import support
from tests.hitl.conftest import make_agent
from tests.hitl.support import shape


def test_cancel_stops_a_running_run_at_its_next_step(store, scripted, effects) -> None:
    agent = make_agent(store, scripted)

    async def cancel_from_elsewhere() -> None:
        [running] = (await store.alist_runs(session_id="s1", status="running")).items
        assert await make_agent(store, support.ScriptedModel()).cancel_run_async(running.run_id)

    effects.on_call = cancel_from_elsewhere  # the `step` tool runs while the run is cancelled
    with pytest.raises(RunCancelledError) as caught:
        agent.do("call step n=1")

    assert len(scripted.requests) == 1  # stopped before the next model request
    run = store.get_run(caught.value.run_id)
    assert run.status == "cancelled" and run.lease_owner is None
    assert store.read_messages("s1") == []  # a cancelled run saves nothing to memory
    assert agent.cancel_run(run.run_id) is False  # already cancelled
    with pytest.raises(RunNotResumableError, match="cancelled"):
        agent.continue_run(return_output=True, run_id=run.run_id)


def test_a_cancel_during_the_last_model_call_stops_before_memory_is_saved(store, scripted) -> None:
    agent = make_agent(store, scripted)

    def cancel_on_answer(messages) -> None:
        if len(scripted.requests) == 2:  # the request that gets the final answer
            [running] = store.list_runs(session_id="s1", status="running").items
            agent.cancel_run(running.run_id)

    scripted.hook = cancel_on_answer
    with pytest.raises(RunCancelledError):
        agent.do("call lookup q=x")
    assert store.read_messages("s1") == [] and store.get_session("s1").usage == {}


def test_a_paused_run_can_be_cancelled(store, scripted) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do("call delete_file path=/a")
    assert agent.cancel_run(paused.run_id) is True
    assert agent.get_run_output(paused.run_id).status == "cancelled" and agent.list_paused_runs() == []
    paused.active_requirements[0].confirm()
    with pytest.raises(RunNotResumableError, match="cancelled"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)


def test_a_tool_error_marks_the_run_error_and_it_resumes_once_fixed(store, scripted, effects) -> None:
    agent = make_agent(store, scripted)
    effects.fail_with = "disk full"
    with pytest.raises(OSError, match="disk full"):
        agent.do("call lookup q=x")
    [run] = store.list_runs(session_id="s1").items
    assert run.status == "error" and "disk full" in run.error and run.lease_owner is None
    inspected = make_agent(store, support.ScriptedModel()).get_run_output(run.run_id)
    assert inspected.status == "error" and "disk full" in inspected.error
    assert shape(inspected.messages) == [
        ("request", [("user", "call lookup q=x")]),
        ("response", [("call", "lookup", {"q": "x"})]),
    ]

    effects.fail_with = None  # the cause is fixed
    done = make_agent(store, support.ScriptedModel()).continue_run(return_output=True, run_id=run.run_id)
    assert done.status == "completed" and done.output == "lookup: found x"
    assert effects.count("lookup") == 2 and len(scripted.requests) == 1  # the failed step re-ran; the model did not
    assert shape([m.message for m in store.read_messages("s1")]) == [
        ("request", [("user", "call lookup q=x")]),
        ("response", [("call", "lookup", {"q": "x"})]),
        ("request", [("return", "lookup", "found x")]),
        ("response", [("text", "lookup: found x")]),
    ]


def test_an_approved_call_that_failed_is_retried_with_the_same_decision(store, scripted, effects) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do("call delete_file path=/a")
    paused.active_requirements[0].confirm()
    effects.fail_with = "read-only file system"
    with pytest.raises(OSError):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert store.get_run(paused.run_id).status == "error"
    with pytest.raises(RequirementError, match="not paused"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)

    effects.fail_with = None
    done = agent.continue_run(return_output=True, run_id=paused.run_id)  # the recorded confirmation is replayed
    assert done.output == "delete_file: deleted /a" and effects.count("delete_file") == 2
    assert len(store.read_messages("s1")) == 4


def test_a_run_cut_short_after_storing_its_messages_is_not_stored_twice(store, scripted, monkeypatch) -> None:
    finish_turn = store.afinish_turn

    async def storage_gone_before_the_run_update(write):
        # what a backend without transactions is left with when it dies inside finish_turn
        await finish_turn(replace(write, update_run=None))
        raise ConnectionError("storage went away")

    monkeypatch.setattr(store, "afinish_turn", storage_gone_before_the_run_update)
    with pytest.raises(MemorySaveError):
        make_agent(store, scripted).do("call lookup q=x")
    monkeypatch.setattr(store, "afinish_turn", finish_turn)
    [run] = store.list_runs(session_id="s1").items
    assert run.status == "error" and len(store.read_messages("s1")) == 4  # stored, not marked completed

    done = make_agent(store, support.ScriptedModel()).continue_run(return_output=True, run_id=run.run_id)
    assert done.status == "completed" and store.get_run(run.run_id).status == "completed"
    assert len(store.read_messages("s1")) == 4


def test_a_running_run_renews_its_lease(store, scripted, effects) -> None:
    agent = make_agent(store, scripted)
    agent.lease_ttl = 0.6  # renewed every 0.2 s while the run executes
    renewed = []

    async def wait_for_renewal() -> None:
        [run] = (await store.alist_runs(session_id="s1", status="running")).items
        for _ in range(600):
            now = await store.aget_run(run.run_id)
            if now.lease_expires_at > run.lease_expires_at:
                renewed.append(now.lease_owner == run.lease_owner)
                return
            await asyncio.sleep(0.05)

    effects.on_call = wait_for_renewal
    assert agent.do("call step n=1") == "step: step 1"
    assert renewed == [True]
