"""Optimistic updates: read, merge, write with the version read; on a conflict, do it again.

Used for every shared record memory changes (session summary, usage, metadata, profile), so two
runs of one session never lose each other's update, and a write that keeps losing fails loudly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from memwise.errors import VersionConflict
from memwise.memory.errors import MemorySaveError

T = TypeVar("T")
MAX_ATTEMPTS = 50


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run `attempt` (which re-reads what it merges) until it wins its compare-and-set."""
    for number in range(1, MAX_ATTEMPTS + 1):
        try:
            return await attempt()
        except VersionConflict:
            if number == MAX_ATTEMPTS:
                break
            await asyncio.sleep(random.uniform(0, 0.001 * min(number, 20)))  # de-synchronise writers
    raise MemorySaveError(f"{what}: still conflicting after {MAX_ATTEMPTS} attempts; nothing was overwritten")
