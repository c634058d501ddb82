"""Neighbours: the messages around the best hits, so a hit comes with what it answers and what
answered it. Evidence sits next to the words that find it: "I just signed up for a pottery
class" answers "what do you do to relax?".

Up to REACH messages on each side of a hit are added right after it, best hits first, while the
neighbours added so far take at most NEIGHBOUR_SHARE of the budget (more budget, more hits with
context). Both constants were fixed on LoCoMo's development conversations from a coarse grid
(reach 1 or 2; share 0.15-0.5, where 0.25-0.5 gave the same within .005); see bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import Any

from memwise.memory.budget import CHARS_PER_TOKEN
from memwise.recall.block import message_line
from memwise.recall.recalled import Key, Recalled, from_stored

REACH = 2
NEIGHBOUR_SHARE = 1 / 3
#: Seqs read on each side, so tool calls and returns (no visible text) between turns are skipped.
SCAN = 6
#: Rough tokens of one hit's neighbours: sizes how many hits' neighbours are read at once.
NEIGHBOURS_TOKENS = 100


async def nearest(storage: Any, item: Recalled, user_id: str | None, reach: int = REACH) -> list[Recalled]:
    """Up to `reach` visible messages before `item` and `reach` after it, in seq order."""
    first = max(1, item.seq - SCAN)
    stored = await storage.aread_message_range(item.session_id, first, item.seq + SCAN, user_id=user_id)
    around = [r for r in map(from_stored, stored) if r is not None and r.seq != item.seq]
    before = [r for r in around if r.seq < item.seq][-reach:]
    after = [r for r in around if r.seq > item.seq][:reach]
    return before + after


def hits_with_context(max_tokens: int, share: float = NEIGHBOUR_SHARE) -> int:
    """How many of the best hits get their neighbours read (enough to spend the share)."""
    return max(3, min(16, math.ceil(share * max_tokens / NEIGHBOURS_TOKENS)))


async def with_neighbours(
    storage: Any,
    ranked: Sequence[Recalled],
    max_tokens: int,
    *,
    user_id: str | None = None,
    skip: Callable[[Recalled], bool] | None = None,
    share: float = NEIGHBOUR_SHARE,
) -> list[Recalled]:
    """`ranked` with the neighbours of its best hits right after each of them; a message keeps
    its first (best) place. `user_id`: the owner the sessions are read as (never another's)."""
    top = hits_with_context(max_tokens, share)
    found = await asyncio.gather(*(nearest(storage, item, user_id) for item in ranked[:top]))
    room = share * max_tokens * CHARS_PER_TOKEN
    out: list[Recalled] = []
    seen: set[Key] = set()
    for index, item in enumerate(ranked):
        if item.key in seen:
            continue
        seen.add(item.key)
        out.append(item)
        if index >= top:
            continue
        extra = [n for n in found[index] if n.key not in seen and (skip is None or not skip(n))]
        cost = sum(len(message_line(n)) + 1 for n in extra)
        if extra and cost <= room:
            room -= cost
            seen.update(n.key for n in extra)
            out.extend(extra)
    return out
