"""Token estimates and budget cuts. A cheap, provider-neutral estimate (about 4 characters per
token) is enough to keep what memory sends bounded; it never calls a tokenizer or the network."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import ModelMessage

CHARS_PER_TOKEN = 4
#: Used when the model's context window is unknown and the user set no budget.
DEFAULT_CONTEXT_BUDGET = 8_000
#: Share of a known context window that memory may fill (the rest is the prompt and the answer).
CONTEXT_WINDOW_SHARE = 0.5


def estimate_tokens(text: str) -> int:
    """Rough token count of `text` (ceil of characters / 4)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def part_text(part: Any) -> str:
    """The text a part contributes to a prompt: its content, or a tool call's name and arguments."""
    content = getattr(part, "content", None)
    if isinstance(content, str):
        return content
    args = getattr(part, "args", None)
    if args is not None:
        return f"{getattr(part, 'tool_name', '')}({args if isinstance(args, str) else _json(args)})"
    if content is not None:
        return _json(content)
    return ""


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def message_tokens(message: ModelMessage) -> int:
    """Estimated tokens of one message (a small per-part overhead included)."""
    return sum(estimate_tokens(part_text(part)) + 4 for part in message.parts)


def messages_tokens(messages: Sequence[ModelMessage]) -> int:
    return sum(message_tokens(m) for m in messages)


def newest_that_fit(groups: Sequence[Sequence[ModelMessage]], budget: int) -> list[Sequence[ModelMessage]]:
    """The newest whole groups (user turns) whose total fits `budget`; oldest are cut first.

    Stops at the first group that does not fit, so the result is always a contiguous tail.
    """
    kept: list[Sequence[ModelMessage]] = []
    used = 0
    for group in reversed(groups):
        cost = messages_tokens(group)
        if used + cost > budget:
            break
        kept.append(group)
        used += cost
    kept.reverse()
    return kept


def newest_texts_that_fit(texts: Sequence[str], budget: int) -> list[str]:
    """The newest texts whose total fits `budget`; if even the newest is too long, its head is
    kept (cut to the budget) so the newest turn is never silently dropped."""
    kept: list[str] = []
    used = 0
    for text in reversed(texts):
        cost = estimate_tokens(text)
        if used + cost > budget:
            if not kept:
                kept.append(cut_to_tokens(text, budget))
            break
        kept.append(text)
        used += cost
    kept.reverse()
    return kept


def cut_to_tokens(text: str, max_tokens: int, *, keep: str = "head") -> str:
    """Cut `text` to about `max_tokens`, keeping its head (or its tail), marking the cut."""
    limit = max(0, max_tokens) * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    marker = " [...]"
    room = max(0, limit - len(marker))
    if keep == "tail":
        return "[...] " + text[len(text) - room :]
    return text[:room] + marker


def context_budget(explicit: int | None, context_window: int | None) -> int:
    """Tokens memory may inject: the user's budget, never more than a share of a known window."""
    cap = int(context_window * CONTEXT_WINDOW_SHARE) if context_window else None
    if explicit is not None:
        return min(explicit, cap) if cap else explicit
    return min(DEFAULT_CONTEXT_BUDGET, cap) if cap else DEFAULT_CONTEXT_BUDGET
