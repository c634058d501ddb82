"""The memwise-side search index: BM25 over sessions' messages, held in this process.

Backends without native search (in-memory, JSON files, Redis, MongoDB, Mem0) share it. It is a
cache of the message log, never a second source of truth: before each search the core reads,
for every session in scope, the messages after the last seq indexed here (see
`memwise.storage.search`), so it is right across processes. A session is known by its id and its
record's `created_at`, so one deleted and created again is indexed afresh.

Ranking is Okapi BM25 (k1 = 1.2, b = 0.75, FTS5's defaults and its idf floor) over the sessions
of the scope, so a user's own messages decide which words are rare.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from heapq import nlargest

from memwise.storage.contract import RawHit, RawMessage
from memwise.storage.search_terms import terms
from memwise.storage.search_text import search_text_of_body

_K1, _B = 1.2, 0.75


@dataclass(slots=True)
class _Session:
    owner: str | None
    created_at: float | None
    last_seq: int = 0
    messages: dict[int, RawMessage] = field(default_factory=dict)  # seq -> message (text set)
    lengths: dict[int, int] = field(default_factory=dict)  # seq -> number of terms
    postings: dict[str, dict[int, int]] = field(default_factory=dict)  # term -> seq -> count
    total: int = 0  # terms in all messages


@dataclass(slots=True, frozen=True)
class Scope:
    """A session the search may look into: its id, owner and record `created_at`."""

    session_id: str
    owner: str | None
    created_at: float | None


class LocalIndex:
    """Thread-safe; plans of one storage may catch it up and search it from many threads."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def positions(self, scope: Iterable[Scope]) -> dict[str, int]:
        """For each session of the scope, the last seq indexed here (0 when new or recreated)."""
        with self._lock:
            found = {}
            for item in scope:
                indexed = self._sessions.get(item.session_id)
                if indexed is None or indexed.created_at != item.created_at:
                    indexed = self._sessions[item.session_id] = _Session(item.owner, item.created_at)
                found[item.session_id] = indexed.last_seq
            return found

    def add(self, item: Scope, messages: list[RawMessage]) -> None:
        """Index messages read from the session's log (those indexed meanwhile are skipped)."""
        prepared = []
        for message in messages:  # outside the lock: the costly part
            text = message.search_text or search_text_of_body(message.body)
            prepared.append((message, text, Counter(terms(text)) if text else None))
        with self._lock:
            indexed = self._sessions.get(item.session_id)
            if indexed is None or indexed.created_at != item.created_at:
                return  # dropped or recreated meanwhile: the next search reads it afresh
            for message, text, counts in prepared:
                if message.seq <= indexed.last_seq:
                    continue
                indexed.last_seq = message.seq
                if not counts:
                    continue
                seq = message.seq
                indexed.messages[seq] = RawMessage(
                    seq, message.run_id, message.turn_start, message.created_at, message.body, text
                )
                indexed.lengths[seq] = length = sum(counts.values())
                indexed.total += length
                for term, count in counts.items():
                    indexed.postings.setdefault(term, {})[seq] = count

    def drop(self, session_ids: Iterable[str]) -> None:
        with self._lock:
            for session_id in session_ids:
                self._sessions.pop(session_id, None)

    def owned_by(self, user_id: str) -> set[str]:
        with self._lock:
            return {sid for sid, indexed in self._sessions.items() if indexed.owner == user_id}

    def search(self, session_ids: Iterable[str], query_terms: Iterable[str], limit: int) -> list[RawHit]:
        """The best `limit` messages of these sessions for any of the terms, best first."""
        with self._lock:
            sessions = [(sid, self._sessions[sid]) for sid in session_ids if sid in self._sessions]
            count = sum(len(indexed.lengths) for _, indexed in sessions)
            if not count:
                return []
            average = sum(indexed.total for _, indexed in sessions) / count
            scores: dict[tuple[str, int], float] = {}
            for term in dict.fromkeys(query_terms):
                postings = [(sid, indexed, indexed.postings.get(term)) for sid, indexed in sessions]
                frequency = sum(len(found) for _, _, found in postings if found)
                if not frequency:
                    continue
                idf = max(math.log((count - frequency + 0.5) / (frequency + 0.5)), 1e-6)
                for sid, indexed, found in postings:
                    for seq, tf in (found or {}).items():
                        norm = tf + _K1 * (1 - _B + _B * indexed.lengths[seq] / average)
                        scores[(sid, seq)] = scores.get((sid, seq), 0.0) + idf * tf * (_K1 + 1) / norm
            best = nlargest(limit, scores.items(), key=lambda item: item[1])  # ties: first found first
            return [RawHit(sid, score, self._sessions[sid].messages[seq]) for (sid, seq), score in best]

