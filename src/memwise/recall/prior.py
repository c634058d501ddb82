"""The session prior: a message in a session that matches the query as a whole ranks higher.

A conversation's evidence clusters: the session where a topic was discussed holds the turns that
answer questions about it. Score = the hit's score / the best hit's + SESSION_WEIGHT x its
session's score / the best session's, where a session's score is the sum of its hits' scores
(the first stage's hits: a lexical score of the session as one document, from what the backend
returned, so no second query is needed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

#: Fixed before measuring (research on LoCoMo's development conversations), not tuned.
SESSION_WEIGHT = 0.3


def with_session_prior(hits: Sequence[Any], weight: float = SESSION_WEIGHT) -> list[tuple[Any, float]]:
    """`hits` (storage SearchHits) re-ranked with the session prior, best first, with their scores."""
    if not hits:
        return []
    sessions: dict[str, float] = defaultdict(float)
    for hit in hits:
        sessions[hit.session_id] += hit.score
    best_hit = max(hit.score for hit in hits) or 1.0
    best_session = max(sessions.values()) or 1.0
    scored = [(hit, hit.score / best_hit + weight * sessions[hit.session_id] / best_session) for hit in hits]
    scored.sort(key=lambda pair: -pair[1])
    return scored
