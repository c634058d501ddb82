"""Two workers resuming one run: one resumes, the other is told clearly; the tool runs once."""

from __future__ import annotations

import threading

import pytest

from memwise.errors import LeaseHeldError
from memwise.hitl import RunNotResumableError
from memwise.storage.sqlite import SqliteStorage
from tests.hitl import support
from tests.hitl.conftest import make_agent


def test_a_second_resumer_is_refused_while_the_first_resumes(store, scripted, effects) -> None:
    paused = make_agent(store, scripted).do("call delete_file path=/a")
    paused.active_requirements[0].confirm()
    effects.gate = threading.Event()  # the first resumer stays inside the approved tool
    first: dict = {}

    def resume_first() -> None:
        first["out"] = make_agent(store, support.ScriptedModel()).continue_run(
            return_output=True, run_id=paused.run_id, requirements=paused.active_requirements
        )

    worker = threading.Thread(target=resume_first)
    worker.start()
    assert effects.entered.wait(timeout=60)
    second = make_agent(SqliteStorage(db_file=store.db_file), support.ScriptedModel())
    try:
        with pytest.raises(LeaseHeldError, match="being resumed"):
            second.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
        assert second.get_run_output(paused.run_id).status == "running"  # live, not interrupted
    finally:
        effects.gate.set()
        worker.join(timeout=60)
    assert first["out"].status == "completed"
    with pytest.raises(RunNotResumableError, match="completed"):
        second.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert effects.count("delete_file") == 1 and len(store.read_messages("s1")) == 4


def test_racing_resumers_resume_the_run_exactly_once(store, scripted, effects, db) -> None:
    paused = make_agent(store, scripted).do("call delete_file path=/a")
    paused.active_requirements[0].confirm()
    start = threading.Barrier(4)
    outcomes: list = []

    def resume() -> None:
        agent = make_agent(SqliteStorage(db_file=str(db)), support.ScriptedModel())
        start.wait()
        try:
            outcomes.append(agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements).status)
        except (LeaseHeldError, RunNotResumableError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes).count("completed") == 1 and len(outcomes) == 4
    assert effects.count("delete_file") == 1 and len(store.read_messages("s1")) == 4
