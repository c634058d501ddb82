"""After a run: store what the save flags ask for, safely under concurrent runs.

Messages are appended (atomic, never rewritten). The profile and the session's summary and usage
are optimistic updates that re-read and re-merge on a version conflict, so two runs of one
session both persist completely.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.errors import NotFoundError
from memwise.memory.profile import cap_dynamic, extract_traits, merge_profile
from memwise.memory.retry import retry_on_conflict
from memwise.memory.summary import refresh_summary
from memwise.memory.transcript import assistant_texts, user_texts
from memwise.memory.usage import UsageReport, add_counts
from memwise.memory.window import split_turns
from memwise.storage.records import Session, UserProfile
from memwise.storage.turns import TurnStart

if TYPE_CHECKING:
    from memwise.memory.memory import Memory

#: At most this many unsummarised turns are read per refresh (then cut to the token cap).
MAX_SUMMARY_TURNS = 50


async def update_profile(
    memory: Memory, model: Model, messages: Sequence[ModelMessage], run_id: str, start: TurnStart
) -> RunUsage:
    """Extract traits from this run's user text (one LLM call; the assistant's replies are shown
    as context only) and merge those the user's words support, with their evidence, into the
    profile (the one `start_turn` read, when it read it; re-read after a conflict)."""
    texts, user_id = user_texts(messages), memory.user_id
    if not memory.user_analysis_memory or user_id is None or not texts:
        return RunUsage()
    known = memory.load_user_analysis_memory  # start_turn read the profile
    current = start.profile if known else await memory.storage.aget_profile(user_id)
    found, usage = await extract_traits(
        model,
        current.data if current else {},
        texts,
        memory.profile_limits,
        schema=memory.user_profile_schema,
        dynamic=memory.dynamic_user_profile,
        context=assistant_texts(messages),
    )
    memory.log("profile: the user's words support %s", sorted(found))

    fresh = [current]  # what the first attempt merges into; later attempts re-read

    async def attempt() -> None:
        profile = fresh.pop() if fresh else await memory.storage.aget_profile(user_id)
        data, provenance = (profile.data, profile.provenance) if profile else ({}, {})
        patch = cap_dynamic(found, list(data)) if memory.dynamic_user_profile else found
        new_data, new_prov = merge_profile(
            data, provenance, {k: v.value for k, v in patch.items()}, mode=memory.user_memory_mode,
            run_id=run_id, now=time.time(), evidence={k: v.evidence for k, v in patch.items()},
        )
        if profile is not None and new_data == data and new_prov == provenance:
            return
        record = UserProfile(user_id, new_data, new_prov, created_at=profile.created_at if profile else 0.0)
        await memory.storage.aput_profile(record, expected_version=profile.version if profile else 0)

    await retry_on_conflict(attempt, what=f"profile of user {user_id!r}")
    return usage


@dataclass(slots=True)
class SummaryUpdate:
    """A summary made before the turn is stored, from `base` (the session's summary and
    summarized_through) plus the stored turns through `last_seq` plus this run's messages. It
    may be written with the turn only if the session still has `base` and the run's messages
    come right after `last_seq` (else another run's turn is missing from it)."""

    summary: str
    base: tuple[str | None, int]
    last_seq: int | None  # None: history is not stored, so summarized_through does not move

    def changes(self, session: Session, seqs: list[int]) -> dict[str, Any] | None:
        if (session.summary, session.summarized_through) != self.base:
            return None
        if self.last_seq is None:
            return {"summary": self.summary}
        if seqs and seqs[0] != self.last_seq + 1:
            return None
        return {"summary": self.summary, "summarized_through": seqs[-1] if seqs else self.last_seq}


async def summarise_turn(
    memory: Memory, model: Model, start: TurnStart, messages: Sequence[ModelMessage], report: UsageReport
) -> SummaryUpdate | None:
    """Fold the unsummarised turns and this run's into the summary before the turn is stored, so
    the LLM call stays outside every storage plan. None when there is nothing to fold."""
    session = start.session
    if session is None:
        return None
    through = session.summarized_through
    last: int | None = None
    earlier: list[ModelMessage] = []
    if memory.full_session_memory:
        known = start.messages  # start_turn read the last turns when history is loaded
        if memory.load_full_session_memory and (known[0].seq <= through + 1 if known else through == 0):
            stored = [item for item in known if item.seq > through]
        else:
            stored = await memory.storage.aread_messages(
                memory.session_id, after_seq=through, last_turns=MAX_SUMMARY_TURNS
            )
        last = stored[-1].seq if stored else through
        earlier = [memory.decoded.get(item) for item in stored]
    turns = split_turns([*earlier, *messages])[-MAX_SUMMARY_TURNS:]
    if not turns:
        return None
    summary, usage = await refresh_summary(model, session.summary, turns, memory.summary_limits)
    report.memory.incr(usage)
    memory.log("summary refreshed from %d turn(s): %s", len(turns), summary, level=1)
    return SummaryUpdate(summary, (session.summary, through), last)


async def update_session(
    memory: Memory, model: Model, messages: Sequence[ModelMessage], report: UsageReport
) -> None:
    """Fold unsummarised turns into the summary and add this run's usage, in one versioned write.

    A conflict re-reads the session; the summary is recomputed only if what it depends on (the
    previous summary or the unsummarised turns) changed, and every call made is counted.
    """
    done: dict[tuple[str | None, int, int], tuple[str, int]] = {}

    async def attempt() -> None:
        session = await memory.storage.aget_session(memory.session_id)
        if session is None:
            raise NotFoundError(f"session {memory.session_id!r} was deleted meanwhile")
        changes: dict[str, Any] = {}
        if memory.summary_memory:
            turns, through = await _unsummarised(memory, messages, session.summarized_through)
            key = (session.summary, session.summarized_through, through)
            if turns and key not in done:
                summary, usage = await refresh_summary(model, session.summary, turns, memory.summary_limits)
                report.memory.incr(usage)
                done[key] = (summary, through)
                memory.log("summary refreshed from %d turn(s): %s", len(turns), summary, level=1)
            if key in done:
                changes["summary"], changes["summarized_through"] = done[key]
        changes["usage"] = add_counts(session.usage, report.as_dict())
        await memory.storage.aupdate_session(memory.session_id, expected_version=session.version, **changes)

    await retry_on_conflict(attempt, what=f"session {memory.session_id!r}")


async def _unsummarised(
    memory: Memory, messages: Sequence[ModelMessage], summarized_through: int
) -> tuple[list[list[ModelMessage]], int]:
    """Turns not yet in the summary, and the seq they reach. Without stored history, this run's."""
    if not memory.full_session_memory:
        return split_turns(messages), summarized_through
    stored = await memory.storage.aread_messages(
        memory.session_id, after_seq=summarized_through, last_turns=MAX_SUMMARY_TURNS
    )
    if not stored:
        return [], summarized_through
    return split_turns(item.message for item in stored), stored[-1].seq


async def history_stored(memory: Memory, run_id: str, since: float) -> bool:
    """Whether a run's messages are in the session already: its worker stored them and died before
    marking the run completed. Reads back only the messages stored since the run started."""
    if not memory.full_session_memory:
        return False
    want = 8
    while True:
        stored = await memory.storage.aread_messages(memory.session_id, last_turns=want)
        if any(item.run_id == run_id for item in stored):
            return True
        turns = sum(item.turn_start for item in stored)
        if not stored or turns < want or stored[0].created_at < since:
            return False
        want *= 4
