"""One agent run as memory sees it: begin (one read plan), open (fit the context), complete (one write plan)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.memory import background, freshness
from memwise.memory.budget import context_budget
from memwise.memory.load import LoadedMemory, first_read_turns, load_memory
from memwise.memory.pending import pending_turn_write
from memwise.memory.save import SummaryUpdate, summarise_turn, update_profile, update_session
from memwise.memory.usage import UsageReport, add_counts
from memwise.memory.window import strip_injected
from memwise.models.resolve import context_window
from memwise.storage.records import Run, Session
from memwise.storage.turns import TurnStart, TurnWrite

if TYPE_CHECKING:
    from memwise.hitl.lease import RunLease
    from memwise.memory.memory import Memory


def stored_form(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """A run's new messages as memory stores and reports them: no injected instructions."""
    return [m for m in (strip_injected(message) for message in messages) if m is not None]


class MemoryRun:
    """Memory's side of one run: `begin` (one storage plan), `open` (fit it into the context),
    `complete` (one storage plan, after memory's own LLM calls). `model` answers; memory's own
    calls use `memory.model` or it. The run's record is the Agent's: it is only carried along."""

    def __init__(self, memory: Memory, *, run_id: str, agent_id: str | None, model: Model) -> None:
        self.memory = memory
        self.run_id = run_id
        self.agent_id = memory.agent_id or agent_id
        self.model = model
        self.memory_model = memory.model or model
        self.start = TurnStart(None)
        self.loaded = LoadedMemory()

    async def begin(self, run: Run | None = None) -> Run | None:
        """Read what the load flags ask for (creating the session when saving), recording `run`
        in the same plan; return the recorded run. A session of another user raises
        SessionAccessError before anything is written."""
        memory = self.memory
        if run is None and not (memory.saves_anything or memory.loads_anything):
            return None
        if memory.updates_later:
            await freshness.before_reading(memory)
        self.start = await memory.storage.astart_turn(
            memory.session_id,
            user_id=memory.user_id,
            agent_id=memory.agent_id,
            create=memory.saves_anything,
            run=run,
            load_profile=memory.load_user_analysis_memory,
            last_turns=first_read_turns(memory) if memory.load_full_session_memory else None,
        )
        return self.start.run

    async def open(self, task: str | None = None) -> LoadedMemory:
        """Fit what `begin` read, and what recall finds for the `task` text, into the model's
        context budget."""
        memory = self.memory
        if not memory.loads_anything:
            return self.loaded
        budget = context_budget(memory.max_context_tokens, context_window(self.model))
        self.loaded = await load_memory(memory, self.start, budget, task)
        if memory.updates_later and await freshness.catch_up_for_run(memory, self.memory_model, self.start, self.loaded):
            self.loaded = await load_memory(memory, self.start, budget, task)
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
        self,
        messages: Sequence[ModelMessage],
        answer: RunUsage,
        *,
        history_stored: bool = False,
        lease: RunLease | None = None,
    ) -> UsageReport:
        """Store the run (already in stored form) and memory's updates, and mark the run's record
        (`lease`) completed in the same plan; return the run's usage. Memory's LLM calls
        (traits, summary) come first, outside the plan. `history_stored`: the messages are in
        the session already (a resumed run stored them before its worker died)."""
        report = UsageReport(answer=answer)
        memory = self.memory
        if not memory.saves_anything:
            if lease is not None:
                await lease.complete(report.as_dict())
            return report
        if memory.updates_later:  # the answer first; memory's LLM calls follow in the background
            turn, needs = pending_turn_write(memory, self.run_id, messages, report, history_stored=history_stored)
            await (lease.complete(report.as_dict(), turn) if lease is not None else memory.storage.afinish_turn(turn))
            if needs:
                background.enqueue(memory, self.memory_model, self.run_id, report)
            return report
        turn = await self._turn_write(messages, report, history_stored)
        end = await (lease.complete(report.as_dict(), turn) if lease is not None else memory.storage.afinish_turn(turn))
        memory.log("stored %d message(s) of run %s", len(end.seqs), self.run_id)
        if end.session is None:  # the summary's session moved on (or it was deferred): recompute it
            await update_session(memory, self.memory_model, messages, report)
            if lease is not None:  # the run's usage now includes the recomputed summary
                await lease.save(usage=report.as_dict())
        return report

    async def _turn_write(self, messages: Sequence[ModelMessage], report: UsageReport, history_stored: bool) -> TurnWrite:
        """Memory's LLM calls (traits, then the summary), then the turn's writes as one value: the
        new messages and the session's changes (summary, usage). If a call fails, the turn is
        stored without them and the error raised."""
        memory = self.memory
        new = list(messages) if memory.full_session_memory and not history_stored else []
        # a resumed run's summary must read its stored messages: written after the plan instead
        deferred = memory.summary_memory and history_stored
        summary: SummaryUpdate | None = None

        def session_changes(session: Session, seqs: list[int]) -> dict[str, Any] | None:
            changes = summary.changes(session, seqs) if summary is not None else {}
            if changes is None:
                return None  # another run moved the session on: recompute after the plan
            return {**changes, "usage": add_counts(session.usage, report.as_dict())}

        turn = TurnWrite(memory.session_id, new, run_id=self.run_id, update_session=session_changes)
        try:
            report.memory.incr(await update_profile(memory, self.memory_model, messages, self.run_id, self.start))
            if memory.summary_memory and not deferred:
                summary = await summarise_turn(memory, self.memory_model, self.start, messages, report)
        except Exception:  # memory's model failed: the turn is stored all the same, then it raises
            await memory.storage.afinish_turn(turn)
            raise
        return replace(turn, update_session=None) if deferred else turn
