"""A whole storage turn with every option on (run, profile, last turns, session and run updates),
for backend tests that count what one turn sends."""

from __future__ import annotations

from typing import Any

from memwise.storage.records import Run
from memwise.storage.turns import RunUpdate, TurnStart, TurnWrite
from tests.conformance.messages import turn


def _start(session_id: str, run_id: str) -> dict[str, Any]:
    return {"user_id": "u1", "run": Run(run_id, session_id, user_id="u1"), "load_profile": True, "last_turns": 3}


def _finish(session_id: str, run_id: str) -> TurnWrite:
    return TurnWrite(
        session_id, turn(run_id), run_id=run_id,
        update_session=lambda session, seqs: {"metadata": {"last": seqs[-1]}},
        update_run=RunUpdate(1, {"status": "completed"}),
    )


def full_turn(store: Any, session_id: str, run_id: str) -> TurnStart:
    """start_turn then finish_turn for user "u1" (the session's metadata records the last seq);
    returns what start_turn read."""
    start = store.start_turn(session_id, **_start(session_id, run_id))
    store.finish_turn(_finish(session_id, run_id))
    return start


async def afull_turn(store: Any, session_id: str, run_id: str) -> TurnStart:
    """The asyncio twin of `full_turn`."""
    start = await store.astart_turn(session_id, **_start(session_id, run_id))
    await store.afinish_turn(_finish(session_id, run_id))
    return start
