"""Usage accounting: the answer's tokens and memory's own LLM calls, kept apart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic_ai.usage import RunUsage

_FIELDS = ("requests", "input_tokens", "output_tokens", "tool_calls")


def counts(usage: RunUsage, prefix: str = "") -> dict[str, int]:
    """The integer counters of a RunUsage, keys optionally prefixed ("memory_input_tokens")."""
    return {f"{prefix}{name}": int(getattr(usage, name)) for name in _FIELDS if getattr(usage, name)}


def add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, value in b.items():
        total[key] = total.get(key, 0) + int(value)
    return total


@dataclass(slots=True)
class UsageReport:
    """Usage of one run: `answer` (the agent's model calls) and `memory` (summaries, traits)."""

    answer: RunUsage = field(default_factory=RunUsage)
    memory: RunUsage = field(default_factory=RunUsage)

    @property
    def input_tokens(self) -> int:
        return self.answer.input_tokens + self.memory.input_tokens

    @property
    def output_tokens(self) -> int:
        return self.answer.output_tokens + self.memory.output_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def requests(self) -> int:
        return self.answer.requests + self.memory.requests

    def as_dict(self) -> dict[str, int]:
        """Flat counters, as stored on runs and sessions: `input_tokens`, `memory_input_tokens`..."""
        return add_counts(counts(self.answer), counts(self.memory, "memory_"))
