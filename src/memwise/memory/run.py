"""One agent run as memory sees it: open (load what the flags allow), then complete (save)."""

from __future__ import annotations

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

if TYPE_CHECKING:
    from memwise.memory.memory import Memory


def stored_form(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """A run's new messages as memory stores and reports them: no injected instructions."""
    return [m for m in (strip_injected(message) for message in messages) if m is not None]


class MemoryRun:
    """Memory's side of one run. `model` answers; memory's own calls use `memory.model` or it.
    The run's record (status, lease, checkpoint) is the Agent's business, not memory's."""

    def __init__(self, memory: Memory, *, run_id: str, agent_id: str | None, model: Model) -> None:
        self.memory = memory
        self.run_id = run_id
        self.agent_id = memory.agent_id or agent_id
        self.model = model
        self.memory_model = memory.model or model
        self.loaded = LoadedMemory()

    async def open(self) -> LoadedMemory:
        """Create the session (when saving), then load context."""
        memory = self.memory
        if memory.saves_anything:
            session = await memory.ensure_session()
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

    async def complete(
        self, messages: Sequence[ModelMessage], answer: RunUsage, *, history_stored: bool = False
    ) -> UsageReport:
        """Store the run (already in stored form) and memory's updates; return the run's usage.
        `history_stored`: the messages are in the session already (a resumed run that had
        stored them before its worker died), so they are not appended twice."""
        report = UsageReport(answer=answer)
        memory = self.memory
        if not memory.saves_anything:
            return report
        if not history_stored:
            seqs = await append_history(memory, messages, self.run_id)
            memory.log("stored %d message(s) of run %s", len(seqs), self.run_id)
        report.memory.incr(await update_profile(memory, self.memory_model, messages, self.run_id))
        await update_session(memory, self.memory_model, messages, report)
        return report
