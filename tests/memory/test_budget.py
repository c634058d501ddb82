"""Token budget: whole turns, oldest cut first, never above a share of a known context window."""

from __future__ import annotations

from memwise.memory.budget import (
    context_budget,
    cut_to_tokens,
    estimate_tokens,
    messages_tokens,
    newest_texts_that_fit,
    newest_that_fit,
)
from memwise.memory.window import split_turns
from tests.memory.fakes import text_turn


def test_newest_whole_turns_fit_the_budget() -> None:
    turns = split_turns([m for i in range(10) for m in text_turn(f"turn {i} " + "x" * 400)])
    one = messages_tokens(turns[0])
    kept = newest_that_fit(turns, one * 3 + 1)
    assert [t[0].parts[0].content[:6] for t in kept] == ["turn 7", "turn 8", "turn 9"]
    assert newest_that_fit(turns, one - 1) == []


def test_newest_texts_keep_the_newest_even_when_too_long() -> None:
    texts = ["old " * 50, "new " * 500]
    kept = newest_texts_that_fit(texts, 100)
    assert len(kept) == 1 and kept[0].startswith("new") and estimate_tokens(kept[0]) <= 100


def test_cut_to_tokens_marks_the_cut() -> None:
    text = "a" * 1000
    assert estimate_tokens(cut_to_tokens(text, 50)) <= 50
    assert cut_to_tokens(text, 50).endswith("[...]")
    assert cut_to_tokens(text, 50, keep="tail").startswith("[...]")
    assert cut_to_tokens("short", 50) == "short"


def test_context_budget_respects_a_known_window() -> None:
    assert context_budget(None, None) == 8_000
    assert context_budget(None, 4_000) == 2_000
    assert context_budget(100_000, 4_000) == 2_000
    assert context_budget(500, None) == 500
    assert context_budget(500, 128_000) == 500
