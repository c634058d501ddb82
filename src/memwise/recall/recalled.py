"""`Recalled`: one message recall found, as the engine ranks, packs and renders it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Key = tuple[str, int]  # (session_id, seq)

_DATE_PREFIX = re.compile(
    r"^\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}: "
)


@dataclass(slots=True)
class Recalled:
    """A stored message with its visible text (verbatim) and its own timestamp (epoch seconds).
    `score` is its ranking score (higher is better; 0 for a neighbour added for context)."""

    session_id: str
    seq: int
    created_at: float
    role: str  # "user" (a request) or "assistant" (a response)
    text: str
    score: float = 0.0

    @property
    def key(self) -> Key:
        return (self.session_id, self.seq)


def from_hit(hit: Any, score: float | None = None) -> Recalled:
    """A storage `SearchHit` as a Recalled: its indexed text is "{day} {Month} {year}: {text}"
    (RECALL-CONTRACT.md), so the visible text is what follows that prefix (no decoding)."""
    text = _DATE_PREFIX.sub("", hit.text, count=1)
    return Recalled(hit.session_id, hit.seq, hit.created_at, hit.role, text, hit.score if score is None else score)


def from_stored(stored: Any) -> Recalled | None:
    """A `StoredMessage` as a Recalled, or None when it has no visible text (a tool call or return)."""
    from memwise.recall.text import message_time, visible_text

    message = stored.message
    text = visible_text(message)
    if not text:
        return None
    role = "user" if message.kind == "request" else "assistant"
    return Recalled(stored.session_id, stored.seq, message_time(message, stored.created_at), role, text)
