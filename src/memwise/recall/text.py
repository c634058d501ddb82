"""What recall shows of a message: its user-visible text and its own time."""

from __future__ import annotations

from typing import Any


def visible_text(message: Any) -> str:
    """The text a person saw: user prompt strings and response text parts (no tool traffic)."""
    parts = [
        part.content
        for part in message.parts
        if getattr(part, "part_kind", None) in ("user-prompt", "text") and isinstance(part.content, str)
    ]
    return "\n".join(p for p in parts if p)


def message_time(message: Any, default: float) -> float:
    """The message's own timestamp (its first part's, else the message's), as epoch seconds."""
    for part in message.parts:
        stamp = getattr(part, "timestamp", None)
        if stamp is not None:
            return stamp.timestamp()
    stamp = getattr(message, "timestamp", None)
    return stamp.timestamp() if stamp is not None else default
