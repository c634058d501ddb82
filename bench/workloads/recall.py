"""Workload 5: recall on LoCoMo (strict evidence recall by category and budget, and latency).

The five development conversations (bench/locomo.py) are stored through the public storage API in
one store, each under its own user. For every question of categories 1-4,
`recall_context(question, max_tokens=B)` at B = 1k, 2k, 4k tokens, scoped to the conversation's
user. Strict evidence recall = share of questions whose every evidence turn's text appears in the
context. Latency = one `recall_context` call at 2k (search, priors, neighbours, packing; with an
embedder also the query's embedding and the cosine ranking) and one `search_messages` call
(the first stage alone), at LoCoMo's size (~600 messages per user) and at ~10k messages per user.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import locomo
from bench.common import Mode, Section, guarded, p50, pct

BUDGETS = (1_000, 2_000, 4_000)
TIMED_BUDGET = 2_000
#: (label, embedder): the table's configurations. "local" needs memwise[embed].
CONFIGS = (("no model", None), ("MiniLM int8 (embedder='local')", "local"))
SCALE_MESSAGES = 10_000


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


Context = Callable[[Any, str, str, int], Any]  # (storage, user_id, question, budget) -> awaitable text


def evaluate(conversations: Sequence[locomo.Conversation], storage: Any, context: Context,
             budgets: Sequence[int] = BUDGETS) -> Score:
    """Ask every question of the (already stored) conversations at every budget."""
    from memwise.memory.budget import estimate_tokens

    score = Score()

    async def ask() -> None:
        for conv in conversations:
            for question in conv.questions:
                for budget in budgets:
                    started = time.perf_counter()
                    text = await context(storage, conv.sample_id, question.text, budget)
                    if budget == TIMED_BUDGET:
                        score.seconds.append(time.perf_counter() - started)
                    score.tokens[budget].append(estimate_tokens(text))
                    score.add(budget, question.category, all(e in text for e in question.evidence))

    asyncio.run(ask())
    return score


def contexts(embedder: Any) -> Context:
    """recall_context through the engine; with `embedder`, a fresh vector index (vectors stored in the backend)."""
    from memwise.recall import Scope, recall_context
    from memwise.recall.dense import VectorIndex, resolve_embedder

    dense = VectorIndex(resolve_embedder(embedder)) if embedder is not None else None

    async def context(storage: Any, user_id: str, question: str, budget: int) -> str:
        return await recall_context(storage, question, Scope(user_id=user_id), budget, dense=dense)

    return context


def rows(config: str, backend: str, score: Score, budgets: Sequence[int] = BUDGETS) -> list[dict[str, Any]]:
    out = []
    for budget in budgets:
        row: dict[str, Any] = {"config": config, "backend": backend, "budget": budget, "all": score.recall(budget)}
        for category, label in locomo.CATEGORIES.items():
            row[label] = score.recall(budget, category)
        row["questions"] = sum(v for k, v in score.asked.items() if k[0] == budget)
        row["tokens_p50"] = p50(score.tokens[budget])
        if budget == TIMED_BUDGET and score.seconds:
            row["recall_p50_ms"] = p50(score.seconds) * 1e3
            row["recall_p95_ms"] = pct(score.seconds, 0.95) * 1e3
        out.append(row)
    return out


def search_latency(storage: Any, conversations: Sequence[locomo.Conversation], user_of: Callable[[str], str],
                   rounds: int) -> dict[str, float]:
    """p50/p95 of `search_messages` (limit 200, as recall asks) over the questions, in ms."""
    from memwise.recall.query import search_words

    seconds = []
    for _ in range(rounds):
        for conv in conversations:
            for question in conv.questions:
                started = time.perf_counter()
                storage.search_messages(search_words(question.text), user_id=user_of(conv.sample_id), limit=200)
                seconds.append(time.perf_counter() - started)
    return {"search_p50_ms": p50(seconds) * 1e3, "search_p95_ms": pct(seconds, 0.95) * 1e3, "searches": len(seconds)}


def load_scaled(storage: Any, conversations: Sequence[locomo.Conversation], messages: int) -> int:
    """One user holding ~`messages` messages: the conversations' sessions stored again and again."""
    stored, copy = 0, 0
    while stored < messages:
        for conv in conversations:
            for session_id, when, turns in conv.sessions:
                sid = f"scale-{copy}-{session_id}"
                storage.create_session(sid, user_id="scale-user")
                stored += len(storage.append_messages(sid, list(locomo.messages(conv, turns, when))))
        copy += 1
    return stored


def run(mode: Mode, section: Section, path: str | None = None) -> None:
    from bench.stores import PostgresBackend, SqliteBackend
    from memwise.storage.in_memory import InMemoryStorage

    conversations = [locomo.conversation(raw) for raw in locomo.read(path)]
    questions = sum(len(c.questions) for c in conversations)
    unresolved = sum(c.unresolved for c in conversations)
    section.notes.append(
        f"LoCoMo development conversations ({len(conversations)}; {questions} questions of categories 1-4"
        + (f"; {unresolved} of them name an evidence turn that does not exist: scored on the others" if unresolved else "")
        + "). Strict recall: every evidence turn's text is in the context. Latency: one recall_context at 2k tokens."
    )

    class Memory:  # the in-memory backend in the same shape as bench.stores' backends
        name, label = "memory", "in-memory"

        def __enter__(self) -> Memory:
            self._storage = InMemoryStorage()
            return self

        def __exit__(self, *exc: object) -> None:
            self._storage.close()

        def storage(self) -> Any:
            return self._storage

    backends = {"sqlite": SqliteBackend, "memory": Memory, "postgres": PostgresBackend}
    embedders = [c for c in CONFIGS if c[1] is None or (not mode.quick and _local_ready(section))]

    def one(backend_name: str, configs: Sequence[tuple[str, Any]]) -> None:
        with backends[backend_name]() as backend:
            storage = backend.storage()
            started = time.perf_counter()
            count = sum(locomo.load(storage, conv) for conv in conversations)
            section.raw.setdefault("load_seconds", {})[backend_name] = time.perf_counter() - started
            for label, embedder in configs:
                t = time.perf_counter()
                score = evaluate(conversations, storage, contexts(embedder))
                for row in rows(label, backend.label, score):
                    row["messages_per_user"] = count // len(conversations)
                    section.rows.append(row)
                    print(f"  [recall] {backend.label:10} {label:32} @{row['budget']:>5}: strict {row['all']:.3f}"
                          + (f"  recall p50 {row['recall_p50_ms']:.1f} ms" if "recall_p50_ms" in row else ""), flush=True)
                section.raw.setdefault("seconds", {})[f"{backend_name}/{label}"] = time.perf_counter() - t
            latency = search_latency(storage, conversations, lambda user: user, 1)
            section.raw.setdefault("search", {})[backend_name] = {"messages_per_user": count // len(conversations), **latency}

    guarded(section, "sqlite", lambda: one("sqlite", embedders))
    guarded(section, "memory", lambda: one("memory", embedders))
    guarded(section, "postgres", lambda: one("postgres", CONFIGS[:1]))
    for name in ("sqlite", "memory", "postgres"):
        guarded(section, f"{name} at {SCALE_MESSAGES:,} messages", lambda name=name: _scale(name, backends, conversations, section))


def _scale(name: str, backends: dict[str, Any], conversations: Sequence[locomo.Conversation], section: Section) -> None:
    with backends[name]() as backend:
        storage = backend.storage()
        count = load_scaled(storage, conversations, SCALE_MESSAGES)
        storage.search_messages("warm up", user_id="scale-user", limit=200)
        latency = search_latency(storage, conversations[:2], lambda _: "scale-user", 1)
        context = contexts(None)
        seconds = []

        async def ask() -> None:
            for conv in conversations[:2]:
                for question in conv.questions:
                    started = time.perf_counter()
                    await context(storage, "scale-user", question.text, TIMED_BUDGET)
                    seconds.append(time.perf_counter() - started)

        asyncio.run(ask())
        latency |= {"recall_p50_ms": p50(seconds) * 1e3, "recall_p95_ms": pct(seconds, 0.95) * 1e3}
        section.raw.setdefault("scale", {})[name] = {"messages_per_user": count, **latency}
        print(f"  [recall] {backend.label:10} at {count:,} messages: search p50 {latency['search_p50_ms']:.1f} ms,"
              f" recall p50 {latency['recall_p50_ms']:.1f} ms", flush=True)


def _local_ready(section: Section) -> bool:
    """Whether embedder='local' can run here (memwise[embed] installed); if not, say why."""
    from memwise.errors import InvalidInputError
    from memwise.recall.local_embedding import model_files

    try:
        model_files()
        return True
    except InvalidInputError as exc:
        section.skip("embedder='local'", str(exc))
        return False
