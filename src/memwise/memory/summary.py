"""Incremental, bounded session summaries.

Each refresh sends the previous summary plus only the turns not yet summarised, newest first into
a fixed token cap (oldest cut first), and the stored summary is itself capped. So what a refresh
costs stays flat however long the session grows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.errors import InvalidInputError
from memwise.memory import prompts
from memwise.memory.budget import cut_to_tokens, newest_texts_that_fit
from memwise.memory.llm import ask
from memwise.memory.transcript import render_turn


@dataclass(frozen=True, slots=True)
class SummaryLimits:
    """`max_summary_tokens` caps the stored summary; `max_input_tokens` caps the new-turn text
    sent per refresh."""

    max_summary_tokens: int = 400
    max_input_tokens: int = 1_500

    def __post_init__(self) -> None:
        for name in ("max_summary_tokens", "max_input_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 16:
                raise InvalidInputError(f"{name} must be an int >= 16, got {value!r}")


def summary_instructions(limits: SummaryLimits) -> str:
    return prompts.SUMMARY_INSTRUCTIONS.format(max_words=max(10, limits.max_summary_tokens * 3 // 4))


def summary_prompt(previous: str | None, turns: Sequence[Sequence[ModelMessage]], limits: SummaryLimits) -> str:
    """The user prompt of a refresh: the previous summary and the newest turns that fit the cap."""
    texts = [text for text in (render_turn(turn) for turn in turns) if text]
    kept = newest_texts_that_fit(texts, limits.max_input_tokens)
    return prompts.SUMMARY_PROMPT.format(
        previous=clamp_summary(previous, limits) or "(none yet)",
        turns="\n\n".join(kept) or "(none)",
    )


def clamp_summary(text: str | None, limits: SummaryLimits) -> str:
    """The summary without loops, cut to its cap (a model that ignores the word limit cannot grow it)."""
    return cut_to_tokens(drop_loops((text or "").strip()), limits.max_summary_tokens)


def drop_loops(text: str) -> str:
    """A phrase repeated four times or more in a row is kept once: a small model stuck in a loop
    ("said they said they said they ...") must not fill the summary."""
    return _LOOP.sub(r"\1", text)


_LOOP = re.compile(r"(\S.{6,79}?)(?:\s*\1){3,}", re.S)


async def refresh_summary(
    model: Model, previous: str | None, turns: Sequence[Sequence[ModelMessage]], limits: SummaryLimits
) -> tuple[str, RunUsage]:
    """Fold `turns` into `previous`; returns the new (capped) summary and the call's usage."""
    output, usage = await ask(
        model, instructions=summary_instructions(limits), prompt=summary_prompt(previous, turns, limits),
        max_tokens=limits.max_summary_tokens * 3 // 2,  # the cap and some slack: a runaway stops early
    )
    return clamp_summary(str(output), limits), usage
