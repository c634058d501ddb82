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


def visible(indexed: str) -> str:
    """The message's own text from its indexed text ("{day} {Month} {year}: {text}", see
    storage/search_text.py): recall shows the date once per group, not on every line."""
    return _DATE_PREFIX.sub("", indexed, count=1)


def from_hit(hit: Any, score: float | None = None) -> Recalled:
    """A storage `SearchHit` as a Recalled (no decoding: the hit carries its indexed text)."""
    return Recalled(hit.session_id, hit.seq, hit.created_at, hit.role, visible(hit.text),
                    hit.score if score is None else score)


def from_stored(stored: Any) -> Recalled | None:
    """A `StoredMessage` as a Recalled, or None when it has no visible text (a tool call or return)."""
    from memwise.storage.search_text import message_role, message_time, search_text

    data = stored.data
    text = visible(search_text(data))
    if not text:
        return None
    when = message_time(data)
    return Recalled(stored.session_id, stored.seq, when.timestamp() if when else stored.created_at,
                    message_role(data), text)
