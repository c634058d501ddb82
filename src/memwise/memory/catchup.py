"""Catch memory up with the turns listed as pending on a session: fold them into the summary and
the profile, each update removing its need from the list in the write that stores its result.

Every step re-reads what it merges and writes by compare-and-set, so any process may catch up any
session at any time (after a crash, or two at once) and the result is one summary covering every
turn. A summary is recomputed only when what it was made from (the previous summary and its
watermark) changed. The profile is read and written apart from the session: a crash between the
two makes a turn's text be read twice, which merging makes harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.errors import NotFoundError
from memwise.memory.pending import PROFILE, SUMMARY, PendingTurn, pending_of, without
from memwise.memory.retry import retry_on_conflict
from memwise.memory.save import MAX_SUMMARY_TURNS, update_profile
from memwise.memory.summary import refresh_summary
from memwise.memory.usage import UsageReport, add_counts, counts
from memwise.memory.window import split_turns
from memwise.storage.checks import SessionChanges
from memwise.storage.records import Session
from memwise.storage.turns import TurnStart

if TYPE_CHECKING:
    from memwise.memory.memory import Memory


@dataclass(slots=True)
class Bill:
    """Usage of memory's calls: per run it is charged to, and what the session has not got yet."""

    runs: dict[str, RunUsage] = field(default_factory=dict)
    unbilled: RunUsage = field(default_factory=RunUsage)

    def charge(self, run_id: str, usage: RunUsage) -> None:
        if not counts(usage):
            return
        self.runs.setdefault(run_id, RunUsage()).incr(usage)
        self.unbilled.incr(usage)

    def session_usage(self, session: Session) -> dict[str, int]:
        return add_counts(session.usage, counts(self.unbilled, "memory_"))


def work_for(memory: Memory, session: Session | None) -> list[str]:
    """The updates this memory makes (its save flags) that the session's pending turns need."""
    mine = [need for need, on in ((SUMMARY, memory.summary_memory), (PROFILE, memory.user_analysis_memory)) if on]
    return [need for need in mine if pending_of(session, need)]


async def catch_up(memory: Memory, model: Model | None, reports: Mapping[str, UsageReport] | None = None) -> None:
    """Fold every pending turn the memory's save flags cover, the summary and the profile side
    by side, with `model` (else the memory's, else the default model). Memory's usage goes to
    the session, to the run each call is charged to (the newest turn it covered) and to that
    run's `reports` entry when this process holds one."""
    work = work_for(memory, await memory.storage.aget_session(memory.session_id))
    if not work:
        return
    if model is None:
        from memwise.models import resolve_model

        model = memory.model or resolve_model(None)
    folds = {SUMMARY: fold_summary, PROFILE: fold_profile}
    bills = {need: Bill() for need in work}
    results = await asyncio.gather(*(folds[need](memory, model, bills[need]) for need in work), return_exceptions=True)
    for bill in bills.values():
        await _charge_runs(memory, bill, reports or {})
    for result in results:
        if isinstance(result, BaseException):
            raise result


@dataclass(slots=True)
class _Summary:
    """A summary made from `base` (summary, summarized_through): the turns it folded (`run_ids`,
    and with history saved, every stored message through `through`)."""

    text: str | None
    through: int | None
    run_ids: frozenset[str]

    def applies(self, waiting: list[PendingTurn]) -> bool:
        return self.through is not None or self.run_ids <= {e.run_id for e in waiting}

    def covers(self, waiting: list[PendingTurn]) -> set[str]:
        return {
            e.run_id
            for e in waiting
            if e.run_id in self.run_ids or (self.through is not None and e.seqs is not None and e.seqs[1] <= self.through)
        }


async def fold_summary(memory: Memory, model: Model, bill: Bill) -> None:
    made: dict[tuple[str | None, int], _Summary] = {}

    async def attempt() -> None:
        session = await memory.storage.aget_session(memory.session_id)
        if session is None:
            return
        waiting = pending_of(session, SUMMARY)
        if not waiting:  # (made meanwhile by another process: a summary made here is still billed)
            if counts(bill.unbilled):
                await memory.storage.aupdate_session(
                    memory.session_id, expected_version=session.version, usage=bill.session_usage(session)
                )
                bill.unbilled = RunUsage()
            return
        base = (session.summary, session.summarized_through)
        summary = made.get(base)
        if summary is None or not summary.applies(waiting):
            summary = made[base] = await _summarise(memory, model, session, waiting, bill)
        changes: SessionChanges = {"pending_turns": without(session, SUMMARY, summary.covers(waiting))}
        if summary.text is not None:
            changes["summary"] = summary.text
        if summary.through is not None:
            changes["summarized_through"] = summary.through
        changes["usage"] = bill.session_usage(session)
        await memory.storage.aupdate_session(memory.session_id, expected_version=session.version, **changes)
        bill.unbilled = RunUsage()
        memory.log("summary caught up with %d turn(s)", len(summary.run_ids))

    await _on_live_session(retry_on_conflict(attempt, what=f"summary of session {memory.session_id!r}"))


async def _summarise(memory: Memory, model: Model, session: Session, waiting: list[PendingTurn], bill: Bill) -> _Summary:
    """One refresh: the previous summary plus the turns not yet in it (the stored messages after
    the watermark with history saved, else the pending turns' own messages)."""
    through: int | None = None
    if memory.full_session_memory:
        stored = await memory.storage.aread_messages(
            memory.session_id, after_seq=session.summarized_through, last_turns=MAX_SUMMARY_TURNS
        )
        through = stored[-1].seq if stored else session.summarized_through
        messages = [memory.decoded.get(item) for item in stored]
    else:
        messages = [message for entry in waiting for message in entry.decoded()]
    turns = split_turns(messages)[-MAX_SUMMARY_TURNS:]
    run_ids = frozenset(e.run_id for e in waiting)
    if not turns:
        return _Summary(None, through, run_ids)
    text, usage = await refresh_summary(model, session.summary, turns, memory.summary_limits)
    bill.charge(waiting[-1].run_id, usage)
    memory.log("summary refreshed from %d turn(s): %s", len(turns), text, level=1)
    return _Summary(text, through, run_ids)


async def fold_profile(memory: Memory, model: Model, bill: Bill) -> None:
    session = await memory.storage.aget_session(memory.session_id)
    waiting = pending_of(session, PROFILE)
    if not waiting or memory.user_id is None:
        return
    messages = await _messages_of(memory, waiting)
    start = TurnStart(session, profile=await memory.storage.aget_profile(memory.user_id))
    bill.charge(waiting[-1].run_id, await update_profile(memory, model, messages, waiting[-1].run_id, start))
    done = {e.run_id for e in waiting}

    async def attempt() -> None:
        current = await memory.storage.aget_session(memory.session_id)
        if current is None:
            raise NotFoundError(f"session {memory.session_id!r} does not exist")
        await memory.storage.aupdate_session(
            memory.session_id, expected_version=current.version,
            pending_turns=without(current, PROFILE, done), usage=bill.session_usage(current),
        )
        bill.unbilled = RunUsage()

    await _on_live_session(retry_on_conflict(attempt, what=f"pending turns of session {memory.session_id!r}"))


async def _messages_of(memory: Memory, waiting: list[PendingTurn]) -> list[ModelMessage]:
    """The pending turns' messages in order: carried in the entry, or read from the log."""
    spans = [e.seqs for e in waiting if e.seqs is not None and not e.messages]
    logged: dict[int, ModelMessage] = {}
    if spans:
        first, last = min(s[0] for s in spans), max(s[1] for s in spans)
        stored = await memory.storage.aread_messages(memory.session_id, after_seq=first - 1, limit=last - first + 1)
        logged = {item.seq: memory.decoded.get(item) for item in stored}
    messages: list[ModelMessage] = []
    for entry in waiting:
        if entry.messages:
            messages += entry.decoded()
        elif entry.seqs is not None:
            messages += [logged[seq] for seq in range(entry.seqs[0], entry.seqs[1] + 1) if seq in logged]
    return messages


async def _on_live_session(write: object) -> None:
    """A session deleted meanwhile has nothing left to catch up."""
    try:
        await write  # type: ignore[misc]
    except NotFoundError:
        pass


async def _charge_runs(memory: Memory, bill: Bill, reports: Mapping[str, UsageReport]) -> None:
    """Add memory's usage to the runs it is charged to (their records, and this process's reports)."""
    for run_id, usage in bill.runs.items():
        if run_id in reports:
            reports[run_id].memory.incr(usage)

        async def attempt(run_id: str = run_id, usage: RunUsage = usage) -> None:
            run = await memory.storage.aget_run(run_id)
            if run is None:
                return
            merged = add_counts(run.usage, counts(usage, "memory_"))
            await memory.storage.aupdate_run(run_id, expected_version=run.version, usage=merged)

        await _on_live_session(retry_on_conflict(attempt, what=f"usage of run {run_id!r}"))
