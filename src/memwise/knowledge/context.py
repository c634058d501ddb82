"""The knowledge block: the chunks a task is given, within a token budget, each with its source,
in the run's instructions (`Task(context=[kb])`) or as a tool's answer (`search_<name>`)."""

from __future__ import annotations

from collections.abc import Iterable

from memwise.knowledge.search import KnowledgeChunk
from memwise.memory.budget import CHARS_PER_TOKEN


def heading(kb: str, description: str | None) -> str:
    about = f" ({description})" if description else ""
    return f'## From the knowledge base "{kb}"{about}; cite a passage by its [source]'


def entry(chunk: KnowledgeChunk) -> str:
    return f"[{chunk.citation}]\n{chunk.text}"


def render(kb: str, description: str | None, chunks: Iterable[KnowledgeChunk], max_tokens: int) -> str:
    """The best chunks whose block fits `max_tokens` (a chunk that does not fit is skipped, a
    smaller one after it may still fit), in rank order; "" when none fits or none was found."""
    top = heading(kb, description)
    room = max_tokens * CHARS_PER_TOKEN - len(top)
    kept: list[str] = []
    for chunk in chunks:
        text = entry(chunk)
        if len(text) + 2 <= room:
            kept.append(text)
            room -= len(text) + 2
    return top + "\n\n" + "\n\n".join(kept) if kept else ""
