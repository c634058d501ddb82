"""Reciprocal rank fusion: one ranking from several (lexical, dense) without comparing their scores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

#: The usual constant (Cormack et al. 2009); fixed, not tuned.
RRF_K = 60


def rrf(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Keys of every ranking, best first, scored sum(1 / (k + rank)) over the rankings they are in."""
    scores: dict[K, float] = defaultdict(float)
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] += 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
