"""One agent run as memory sees it: open (load, record the run) then complete or fail."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.memory.budget import context_budget
from memwise.memory.load import LoadedMemory, load_memory
from memwise.memory.save import append_history, update_profile, update_session
from memwise.memory.usage import UsageReport
from memwise.memory.window import strip_injected
from memwise.models.resolve import context_window
from memwise.storage.records import Run

if TYPE_CHECKING:
    from memwise.memory.memory import Memory


def stored_form(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """A run's new messages as memory stores and reports them: no injected instructions."""
    return [m for m in (strip_injected(message) for message in messages) if m is not None]


class MemoryRun:
    """Memory's side of one run. `model` answers; memory's own calls use `memory.model` or it."""

    def __init__(self, memory: Memory, *, run_id: str, agent_id: str | None, model: Model) -> None:
        self.memory = memory
        self.run_id = run_id
        self.agent_id = memory.agent_id or agent_id
        self.model = model
        self.memory_model = memory.model or model
        self.loaded = LoadedMemory()
        self._run: Run | None = None

    async def open(self) -> LoadedMemory:
        """Create the session and a 'running' run record (when saving), then load context."""
        memory = self.memory
        if memory.saves_anything:
            session = await memory.ensure_session()
            self._run = await memory.storage.acreate_run(
                Run(self.run_id, memory.session_id, user_id=memory.user_id, agent_id=self.agent_id)
            )
        elif memory.loads_anything:
            session = memory.check_owner(await memory.storage.aget_session(memory.session_id))
        else:
            return self.loaded
        budget = context_budget(memory.max_context_tokens, context_window(self.model))
        self.loaded = await load_memory(memory, session, budget)
        if memory.debug:
            memory.log(
                "loaded %d turn(s) of history and %s for session %s (%d of %d tokens)",
                self.loaded.turns,
                "a context block" if self.loaded.context else "no context block",
                memory.session_id,
                self.loaded.tokens,
                budget,
            )
            if self.loaded.context:
                memory.log("context block:\n%s", self.loaded.context, level=2)
        return self.loaded

    async def complete(self, messages: Sequence[ModelMessage], answer: RunUsage) -> UsageReport:
        """Store the run (already in stored form) and memory's updates; return the run's usage."""
        report = UsageReport(answer=answer)
        memory = self.memory
        if not memory.saves_anything:
            return report
        seqs = await append_history(memory, messages, self.run_id)
        memory.log("stored %d message(s) of run %s", len(seqs), self.run_id)
        report.memory.incr(await update_profile(memory, self.memory_model, messages, self.run_id))
        await update_session(memory, self.memory_model, messages, report)
        await self._finish("completed", usage=report.as_dict())
        return report

    async def fail(self, error: BaseException, report: UsageReport | None = None) -> None:
        """Mark the run record as failed (cancelled for a cancellation), keeping what it used."""
        status = "cancelled" if isinstance(error, (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)) else "error"
        usage = report.as_dict() if report is not None else None
        await self._finish(status, error=f"{type(error).__name__}: {error}", usage=usage)

    async def _finish(self, status: str, *, error: str | None = None, usage: dict[str, int] | None = None) -> None:
        if self._run is None:
            return
        changes = {"status": status, "error": error}
        if usage is not None:
            changes["usage"] = usage
        self._run = await self.memory.storage.aupdate_run(
            self.run_id, expected_version=self._run.version, **changes
        )
