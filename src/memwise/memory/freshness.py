"""Read-your-writes for runs with background updates: a run starts from memory that includes
every earlier turn of its session.

Before reading, a run waits for this process's updates of the session (`background.settle`).
Turns still listed as pending after that (another process crashed or is still at them) are caught
up by the run itself, unless its own context already holds them: the history window it sends
starts at or before them. Only what the load flags allow is ever injected: a pending turn is never
sent as raw text unless history is loaded anyway. While the session's updates are failing in this
process, the run goes on with memory as stored: the failure is reported by `Memory.pending()`,
never raised into the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_ai.models import Model

from memwise.memory import background
from memwise.memory.load import LoadedMemory
from memwise.memory.pending import PROFILE, SUMMARY, PendingTurn, pending_of
from memwise.storage.turns import TurnStart

if TYPE_CHECKING:
    from memwise.memory.memory import Memory


async def before_reading(memory: Memory) -> None:
    """This process's updates of the session land before the run reads it."""
    await background.settle(memory)


async def catch_up_for_run(memory: Memory, model: Model, start: TurnStart, loaded: LoadedMemory) -> bool:
    """Make the pending updates the run would load and its context lacks, and re-read the session
    and profile into `start`. True when they were re-read (the context is to be fitted again)."""
    loads = {SUMMARY: memory.summary_memory and memory.load_summary_memory,
             PROFILE: memory.user_analysis_memory and memory.load_user_analysis_memory}
    waiting = [e for e in pending_of(start.session) if any(loads[need] for need in e.needs)]
    if not waiting:
        return False
    if held(memory, start, loaded, waiting) or background.failing(memory):
        background.enqueue(memory, model)  # after the run
        return False
    if not await background.catch_up_now(memory, model, force=False, timeout=background.WAIT_SECONDS):
        return False
    start.session = memory.check_owner(await memory.storage.aget_session(memory.session_id))
    if memory.load_user_analysis_memory and memory.user_id is not None:
        start.profile = await memory.storage.aget_profile(memory.user_id)
    return True


def held(memory: Memory, start: TurnStart, loaded: LoadedMemory, waiting: list[PendingTurn]) -> bool:
    """Whether the history window the run sends holds every turn in `waiting`."""
    if not memory.load_full_session_memory or loaded.turns == 0 or any(e.seqs is None for e in waiting):
        return False
    starts = [item.seq for item in start.messages if item.turn_start]
    if not starts:
        return False
    first_in_window = starts[max(0, len(starts) - loaded.turns)]
    return min(e.seqs[0] for e in waiting if e.seqs is not None) >= first_in_window
