"""The recall block: which recalled messages fit a token budget, and how they read.

Messages are packed in rank order (one that does not fit is skipped, smaller ones after it may
still fit) and shown grouped by session and day, sessions in time order, messages in their
order, each verbatim after its role. Costs use memory's token estimate (memory/budget.py), and
the rendered block never exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from memwise.memory.budget import CHARS_PER_TOKEN
from memwise.recall.recalled import Recalled

HEADING = "## Recalled from earlier conversations (verbatim, by session, oldest first)"


def day(created_at: float) -> str:
    """The message's own date in words, e.g. "8 May 2023" (UTC, as the search index has it)."""
    when = datetime.fromtimestamp(created_at, tz=timezone.utc)
    return f"{when.day} {when.strftime('%B')} {when.year}"


def group_line(item: Recalled) -> str:
    return f"[session {item.session_id}, {day(item.created_at)}]"


def message_line(item: Recalled) -> str:
    return f"{item.role}: {item.text}"


def pack(ranked: Iterable[Recalled], max_tokens: int) -> list[Recalled]:
    """The best-ranked messages whose block fits `max_tokens` (exactly as `render` counts it)."""
    room = max_tokens * CHARS_PER_TOKEN - len(HEADING)
    groups: set[tuple[str, str]] = set()
    kept: list[Recalled] = []
    for item in ranked:
        group = (item.session_id, day(item.created_at))
        cost = len(message_line(item)) + 1 + (0 if group in groups else len(group_line(item)) + 2)
        if cost > room:
            continue
        room -= cost
        groups.add(group)
        kept.append(item)
    return kept


def render(items: Iterable[Recalled]) -> str:
    """The block for `items` ("" when there are none): groups by session and day, in time order."""
    groups: dict[tuple[str, str], list[Recalled]] = {}
    for item in sorted(items, key=lambda i: (i.session_id, i.seq)):
        groups.setdefault((item.session_id, day(item.created_at)), []).append(item)
    if not groups:
        return ""
    ordered = sorted(groups.values(), key=lambda g: (g[0].created_at, g[0].session_id, g[0].seq))
    blocks = [group_line(g[0]) + "\n" + "\n".join(message_line(i) for i in g) for g in ordered]
    return HEADING + "\n" + "\n\n".join(blocks)

