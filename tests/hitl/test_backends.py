"""HITL on every storage backend: pause, list, resume from a second storage object (as another
worker would), complete once. In CI an unreachable server fails the test; locally it skips."""

from __future__ import annotations

from typing import Any

import pytest

from memwise import Agent, Memory
from memwise.errors import LeaseHeldError
from memwise.hitl import RunNotResumableError
from tests.hitl import support
from tests.hitl.support import shape
from tests.support.fixtures import recipe  # noqa: F401 (the shared per-backend fixture)
from tests.support.recipe import Recipe


def agent_on(storage: Any) -> Agent:
    memory = Memory(storage, session_id="s1", user_id="u1", full_session_memory=True)
    return Agent(support.ScriptedModel().model, memory=memory, tools=support.TOOLS)


def test_pause_and_resume_on_every_backend(recipe: Recipe, effects) -> None:
    first = recipe.build()
    second = recipe.build() if recipe.shared else first  # in-memory lives in one object
    try:
        paused = agent_on(first).do("call delete_file path=/a")
        worker = agent_on(second)
        [listed] = worker.list_paused_runs(user_id="u1")
        assert listed.run_id == paused.run_id and listed.active_requirements[0].needs_confirmation

        second.acquire_lease(paused.run_id, "another-worker", 60)  # someone is resuming it
        listed.active_requirements[0].confirm()
        with pytest.raises(LeaseHeldError):
            worker.continue_run(return_output=True, run_id=paused.run_id, requirements=listed.active_requirements)
        second.release_lease(paused.run_id, "another-worker")

        done = worker.continue_run(return_output=True, run_id=paused.run_id, requirements=listed.active_requirements)
        assert done.output == "delete_file: deleted /a" and effects.count("delete_file") == 1
        assert shape([m.message for m in first.read_messages("s1")]) == [
            ("request", [("user", "call delete_file path=/a")]),
            ("response", [("call", "delete_file", {"path": "/a"})]),
            ("request", [("return", "delete_file", "deleted /a")]),
            ("response", [("text", "delete_file: deleted /a")]),
        ]
        with pytest.raises(RunNotResumableError):
            agent_on(first).continue_run(return_output=True, run_id=paused.run_id, requirements=listed.active_requirements)
        assert worker.list_paused_runs(user_id="u1") == []
    finally:
        first.close()
        if second is not first:
            second.close()
