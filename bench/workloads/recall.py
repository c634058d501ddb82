"""Workload 5: recall on LoCoMo (strict evidence recall by category and budget, and latency).

Each conversation is stored through the public storage API (bench/locomo.py). For every question
of categories 1-4, `recall_context(question, max_tokens=B)` at B = 1k, 2k, 4k tokens, scoped to
the conversation's user. Strict evidence recall = share of questions whose every evidence turn's
text appears in the context. Latency = the time of one `recall_context` call (search, priors,
neighbours, packing) at 2k tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import locomo
from bench.common import Mode, Section, p50, pct

BUDGETS = (1_000, 2_000, 4_000)


@dataclass
class Score:
    """Strict evidence recall of one configuration: hits / questions per (budget, category)."""

    found: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    asked: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    seconds: list[float] = field(default_factory=list)
    tokens: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, budget: int, category: int, ok: bool) -> None:
        self.asked[budget, category] += 1
        self.found[budget, category] += ok

    def recall(self, budget: int, category: int | None = None) -> float:
        keys = [k for k in self.asked if k[0] == budget and (category is None or k[1] == category)]
        asked = sum(self.asked[k] for k in keys)
        return sum(self.found[k] for k in keys) / asked if asked else float("nan")


def evaluate(conversations: Sequence[locomo.Conversation], make_storage: Callable[[], Any],
             make_context: Callable[[Any, str, str, int], Any], budgets: Sequence[int] = BUDGETS,
             score: Score | None = None) -> Score:
    """Load each conversation into a fresh store, ask every question at every budget.
    `make_context(storage, user_id, question, budget)` is awaited and returns the context text."""
    from memwise.memory.budget import estimate_tokens

    score = score or Score()

    async def ask(storage: Any, conv: locomo.Conversation) -> None:
        for question in conv.questions:
            for budget in budgets:
                started = time.perf_counter()
                context = await make_context(storage, conv.sample_id, question.text, budget)
                elapsed = time.perf_counter() - started
                if budget == 2_000:
                    score.seconds.append(elapsed)
                score.tokens[budget].append(estimate_tokens(context))
                score.add(budget, question.category, all(text in context for text in question.evidence))

    for conv in conversations:
        storage = make_storage()
        try:
            locomo.load(storage, conv)
            asyncio.run(ask(storage, conv))
        finally:
            close = getattr(storage, "close", None)
            if close is not None:
                close()
    return score


def rows(name: str, score: Score, budgets: Sequence[int] = BUDGETS) -> list[dict[str, Any]]:
    out = []
    for budget in budgets:
        row: dict[str, Any] = {"config": name, "budget": budget, "all": score.recall(budget)}
        for category, label in locomo.CATEGORIES.items():
            row[label] = score.recall(budget, category)
        row["questions"] = sum(v for k, v in score.asked.items() if k[0] == budget)
        row["tokens_p50"] = p50(score.tokens[budget]) if score.tokens[budget] else float("nan")
        out.append(row)
    if score.seconds:
        out[-1]["latency_p50_ms"] = p50(score.seconds) * 1e3
        out[-1]["latency_p95_ms"] = pct(score.seconds, 0.95) * 1e3
    return out


def run(mode: Mode, section: Section, path: str | None = None) -> None:
    from memwise.recall import Scope, recall_context
    from memwise.storage.in_memory import InMemoryStorage

    conversations = [locomo.conversation(raw) for raw in locomo.read(path)]

    async def context(storage: Any, user_id: str, question: str, budget: int) -> str:
        return await recall_context(storage, question, Scope(user_id=user_id), budget)

    score = evaluate(conversations, InMemoryStorage, context)
    section.rows.extend(rows("lexical + priors + neighbours (no model)", score))
    for row in section.rows:
        print(f"  [recall] {row['config']} @{row['budget']}: {row['all']:.3f}", flush=True)
