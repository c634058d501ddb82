"""Resume in another process (SQLite file): each kind of requirement; a process SIGKILLed mid-run
leaves an interrupted run that can be inspected and taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memwise import Agent, Memory, Task
from memwise.errors import LeaseHeldError
from tests.hitl import support
from tests.hitl.conftest import make_agent
from tests.hitl.support import shape

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MEMWISE_MODEL"}
    return subprocess.Popen([sys.executable, "-m", "tests.hitl.worker", *args], cwd=ROOT, env=env, text=True, **popen)


def in_child(*args: str) -> dict:
    proc = child(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


CASES = {
    "confirm": ("call delete_file path=/a", {"confirm": True}, {"delete_file": "deleted /a"}),
    "reject": ("call delete_file path=/a", {"reject": "ask the owner first"}, {"delete_file": "ask the owner first"}),
    "external": ("call run_query sql=q", {"result": "7 rows"}, {"run_query": "7 rows"}),
    "user_input": ("call send_email subject=hi", {"input": {"to_address": "d@e.f"}}, {"send_email": "sent 'hi' to d@e.f"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_paused_here_is_resumed_by_another_process(store, db, scripted, case) -> None:
    prompt, decision, results = CASES[case]
    paused = make_agent(store, scripted).do(prompt)
    tool = paused.active_requirements[0].tool_execution.tool_name
    done = in_child("resume", str(db), paused.run_id, json.dumps({tool: decision}))

    assert done["status"] == "completed" and done["results"] == results  # what the child's model received
    executed = [name for name, _ in done["effects"]]
    assert executed == ([tool] if case in ("confirm", "user_input") else [])
    stored = shape([m.message for m in store.read_messages("s1")])
    assert len(stored) == 4 and stored[2] == ("request", [("return", tool, results[tool])])
    assert store.get_run(paused.run_id).status == "completed"


def test_a_run_paused_on_a_task_tool_is_resumed_by_a_new_agent_in_another_process(store, db, scripted) -> None:
    agent = Agent(scripted.model, memory=Memory(store, session_id="s1", user_id="u1", full_session_memory=True))
    paused = agent.do(Task("call delete_file path=/a", tools=[support.delete_file]), return_output=True)
    assert paused.is_paused
    # the child builds Agent(model, memory=...) with no tools; it imported tests.hitl.support
    done = in_child("resume-bare", str(db), paused.run_id, json.dumps({"delete_file": {"confirm": True}}))
    assert done["status"] == "completed" and done["results"] == {"delete_file": "deleted /a"}
    assert [name for name, _ in done["effects"]] == ["delete_file"]


def test_sigkill_mid_run_leaves_an_interrupted_run_to_inspect_and_resume(store, db, effects) -> None:
    proc = child("hang", str(db), "call step n=1", "1.0", stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "started"  # inside the tool, checkpoint written
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    agent = make_agent(store, support.ScriptedModel())
    [run] = store.list_runs(session_id="s1").items
    assert run.status == "running" and f":{proc.pid}:" in run.lease_owner  # visible, never silently gone
    time.sleep(max(0.0, run.lease_expires_at - time.time()) + 0.05)  # let the dead worker's lease lapse
    inspected = agent.get_run_output(run.run_id)
    assert inspected.status == "interrupted"
    assert [r.run_id for r in agent.list_interrupted_runs()] == [run.run_id]
    assert shape(inspected.messages) == [
        ("request", [("user", "call step n=1")]),
        ("response", [("call", "step", {"n": "1"})]),
    ]

    done = agent.continue_run(return_output=True, run_id=run.run_id)  # takes the expired lease over
    assert done.status == "completed" and done.output == "step: step 1"
    assert effects.count("step") == 1  # the interrupted step ran again, here
    assert shape([m.message for m in store.read_messages("s1")]) == [
        ("request", [("user", "call step n=1")]),
        ("response", [("call", "step", {"n": "1"})]),
        ("request", [("return", "step", "step 1")]),
        ("response", [("text", "step: step 1")]),
    ]
    assert agent.list_interrupted_runs() == []


def test_a_live_worker_keeps_its_run(store, db) -> None:
    proc = child("hang", str(db), "call step n=1", "30", stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "started"
        [run] = store.list_runs(session_id="s1").items
        agent = make_agent(store, support.ScriptedModel())
        assert agent.get_run_output(run.run_id).status == "running"
        with pytest.raises(LeaseHeldError, match="being resumed"):
            agent.continue_run(return_output=True, run_id=run.run_id)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
