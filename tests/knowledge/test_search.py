"""How a knowledge base orders what it found: at most two chunks of a document ahead of others'."""

from __future__ import annotations

from memwise.knowledge.search import PER_DOCUMENT, KnowledgeChunk, diverse


def chunk(document: str, n: int) -> KnowledgeChunk:
    return KnowledgeChunk(f"{document}{n}", f"/{document}", document, "", 1.0 / n, document, "kb")


def test_a_document_gives_at_most_two_results_while_others_match():
    ranked = [chunk("a", 1), chunk("a", 2), chunk("a", 3), chunk("b", 4), chunk("a", 5), chunk("c", 6)]
    assert PER_DOCUMENT == 2
    assert [c.text for c in diverse(ranked, 4)] == ["a1", "a2", "b4", "c6"]
    assert [c.text for c in diverse(ranked, 6)] == ["a1", "a2", "b4", "c6", "a3", "a5"]  # then in rank order
    assert [c.text for c in diverse(ranked[:3], 5)] == ["a1", "a2", "a3"]  # one document: all of it
    assert diverse([], 5) == []
