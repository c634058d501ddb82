"""After a run: store what the save flags ask for, safely under concurrent runs.

Messages are appended (atomic, never rewritten). The profile and the session's summary and usage
are optimistic updates that re-read and re-merge on a version conflict, so two runs of one
session both persist completely.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.memory.profile import cap_dynamic, extract_traits, merge_profile
from memwise.memory.retry import retry_on_conflict
from memwise.memory.summary import refresh_summary
from memwise.memory.transcript import user_texts
from memwise.memory.usage import UsageReport, add_counts
from memwise.memory.window import split_turns
from memwise.storage.records import UserProfile

if TYPE_CHECKING:
    from memwise.memory.memory import Memory

#: At most this many unsummarised turns are read per refresh (then cut to the token cap).
MAX_SUMMARY_TURNS = 50


async def append_history(memory: Memory, messages: Sequence[ModelMessage], run_id: str) -> list[int]:
    if not memory.full_session_memory or not messages:
        return []
    return await memory.storage.aappend_messages(memory.session_id, list(messages), run_id=run_id)


async def update_profile(memory: Memory, model: Model, messages: Sequence[ModelMessage], run_id: str) -> RunUsage:
    """Extract traits from this run's user text (one LLM call) and merge them into the profile."""
    texts = user_texts(messages)
    if not memory.user_analysis_memory or memory.user_id is None or not texts:
        return RunUsage()
    current = await memory.storage.aget_profile(memory.user_id)
    found, usage = await extract_traits(
        model,
        current.data if current else {},
        texts,
        memory.profile_limits,
        schema=memory.user_profile_schema,
        dynamic=memory.dynamic_user_profile,
    )
    memory.log("profile: model found %s", sorted(found))

    async def attempt() -> None:
        profile = await memory.storage.aget_profile(memory.user_id)
        data, provenance = (profile.data, profile.provenance) if profile else ({}, {})
        patch = cap_dynamic(found, list(data)) if memory.dynamic_user_profile else found
        new_data, new_prov = merge_profile(
            data, provenance, patch, mode=memory.user_memory_mode, run_id=run_id, now=time.time()
        )
        if profile is not None and new_data == data and new_prov == provenance:
            return
        record = UserProfile(memory.user_id, new_data, new_prov, created_at=profile.created_at if profile else 0.0)
        await memory.storage.aput_profile(record, expected_version=profile.version if profile else 0)

    await retry_on_conflict(attempt, what=f"profile of user {memory.user_id!r}")
    return usage


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
        changes: dict = {}
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
