"""Before a run: what memory puts in front of the model, within the token budget.

Only what the load flags allow is read. The summary, profile and metadata form one instructions
block; with `recall_memory`, the messages recall finds for the task join it (up to
`recall_tokens`, none that the history window holds); history fills the rest of the budget with
the newest whole user turns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage

from memwise.memory import recall
from memwise.memory.budget import estimate_tokens, messages_tokens
from memwise.memory.cache import turn_key
from memwise.memory.context import render_context
from memwise.memory.prompts import CONTEXT_HEADER
from memwise.memory.recall import Window
from memwise.memory.window import clean_turn, flatten
from memwise.storage.records import StoredMessage
from memwise.storage.turns import TurnStart

if TYPE_CHECKING:
    from memwise.memory.memory import Memory

#: Turns read per step when the history is bounded only by the token budget.
FIRST_READ_TURNS = 32


@dataclass(slots=True)
class LoadedMemory:
    """What a run receives from memory."""

    history: list[ModelMessage] = field(default_factory=list)
    context: str | None = None
    budget: int = 0
    turns: int = 0

    @property
    def tokens(self) -> int:
        return messages_tokens(self.history) + (estimate_tokens(self.context) if self.context else 0)


def first_read_turns(memory: Memory) -> int:
    """How many turns the run's first read asks for: `num_last_messages`, else the size of the
    last window plus a margin (so once the budget is full, one read per run suffices)."""
    return memory.num_last_messages or max(FIRST_READ_TURNS, memory.window_hint + 4)


async def load_memory(memory: Memory, start: TurnStart, budget: int, query: str | None = None) -> LoadedMemory:
    """Fit what `start_turn` read (as the load flags allow), and what recall finds for `query`
    (the task), into `budget` tokens."""
    loaded = LoadedMemory(budget=budget)
    session = start.session
    if not memory.loads_anything:
        return loaded
    summary = session.summary if session is not None and memory.load_summary_memory else None
    profile = start.profile.data if start.profile is not None and memory.load_user_analysis_memory else None
    metadata = session.metadata if session is not None else None
    loaded.context = render_context(summary=summary, profile=profile, metadata=metadata, max_tokens=budget)
    remaining = budget - (estimate_tokens(loaded.context) if loaded.context else 0)
    recalling = memory.recall_memory and bool(query and query.strip())
    room = remaining - estimate_tokens(CONTEXT_HEADER) - 1  # the header comes with the block if it was not there
    recall_budget = max(0, min(memory.recall_tokens, room)) if recalling else 0
    window = None
    if memory.load_full_session_memory and session is not None:
        turns, first_seq = await read_turns(memory, remaining - recall_budget, start.messages)
        loaded.history, loaded.turns = flatten(turns), len(turns)
        window = Window(memory.session_id, first_seq) if first_seq is not None else None
    if recall_budget and query:
        recalled = await recall.context(memory, query, recall_budget, window)
        if recalled:
            loaded.context = render_context(
                summary=summary, profile=profile, metadata=metadata, recalled=recalled, max_tokens=budget
            )
    return loaded


async def read_turns(
    memory: Memory, budget: int, stored: list[StoredMessage]
) -> tuple[list[list[ModelMessage]], int | None]:
    """The newest whole user turns that fit `budget`, at most `num_last_messages` of them, and
    the seq of the first message they hold (None when they hold none).

    `stored` is the first read (`first_read_turns` turns). Turns are decoded newest first and
    only until the budget is full. Without `num_last_messages`, a longer read happens only while
    the budget still has room, so a long session is never read (or decoded) whole.
    """
    limit = memory.num_last_messages
    want = first_read_turns(memory)
    feed = memory.feed_tool_call_results

    def shape(group: list[StoredMessage]) -> tuple[list[ModelMessage], int]:
        turn = clean_turn([memory.decoded.get(item) for item in group], feed_tool_call_results=feed)
        return turn, messages_tokens(turn)

    while True:
        groups = _group_turns(stored)
        kept: list[list[ModelMessage]] = []
        used, full = 0, False
        for group in reversed(groups):
            turn, cost = memory.turns.get(turn_key(group, feed), functools.partial(shape, group))
            if used + cost > budget:
                full = True
                break
            kept.append(turn)
            used += cost
        kept.reverse()
        if limit is not None or full or len(groups) < want:
            memory.window_hint = len(kept)
            return kept, (groups[len(groups) - len(kept)][0].seq if kept else None)
        per_turn = max(1, used // max(1, len(groups)))
        want = max(want * 2, (len(groups) + (budget - used) // per_turn) * 5 // 4 + 1)
        stored = await memory.storage.aread_messages(memory.session_id, last_turns=want)


def _group_turns(stored: list[StoredMessage]) -> list[list[StoredMessage]]:
    """Stored messages grouped by user turn (using the stored turn-start flag, no decoding)."""
    groups: list[list[StoredMessage]] = []
    for item in stored:
        if item.turn_start:
            groups.append([item])
        elif groups:
            groups[-1].append(item)
    return groups
