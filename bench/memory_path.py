"""memwise's own part of a turn, apart from pydantic-ai's.

An agent turn with memory costs more than one without for two reasons: memwise loads the
context and stores the turn (its own code and storage round trips), and pydantic-ai then handles
a longer message history. Only the first is memory's overhead, so the workloads measure it on its
own: `MemoryClock` times the memory steps inside real agent turns, and `memory_turn` runs those
same steps with no agent at all (what the concurrency workload drives).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The steps of `MemoryRun` a turn goes through: one read plan, the window, one write plan.
STEPS = ("begin", "open", "complete")


class MemoryClock:
    """Seconds spent in memory's steps since the last `take()`."""

    def __init__(self) -> None:
        self.spent = 0.0

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent


@contextmanager
def clocked_memory_runs() -> Iterator[MemoryClock]:
    """Time every MemoryRun step (of every agent) while the block runs."""
    from memwise.memory.run import MemoryRun

    clock = MemoryClock()
    originals = {name: getattr(MemoryRun, name) for name in STEPS}

    def timed(original: Any) -> Any:
        async def step(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                clock.spent += time.perf_counter() - start

        return step

    for name, original in originals.items():
        setattr(MemoryRun, name, timed(original))
    try:
        yield clock
    finally:
        for name, original in originals.items():
            setattr(MemoryRun, name, original)


async def memory_turn(memory: Any, model: Any, messages: list[Any], *, agent_id: str = "bench") -> None:
    """Memory's side of one agent turn, without the agent: record the run (leased) and load the
    context in one plan, then store the turn and complete the run in one plan."""
    from pydantic_ai.usage import RunUsage

    from memwise.hitl.lease import RunLease
    from memwise.memory.run import MemoryRun
    from memwise.storage.records import Run

    run_id = str(uuid.uuid4())
    run = MemoryRun(memory, run_id=run_id, agent_id=agent_id, model=model)
    record = RunLease.leased(Run(run_id, memory.session_id, user_id=memory.user_id, agent_id=agent_id))
    created = await run.begin(record)
    await run.open()
    await run.complete(messages, RunUsage(requests=1), lease=RunLease(memory.storage, created, 60.0))
