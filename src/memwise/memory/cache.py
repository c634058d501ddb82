"""Memory's per-process caches of what never changes once stored.

Stored messages are append-only, so turning their JSON back into pydantic-ai messages (the main
cost of loading history) and shaping a stored turn for the window (cleaning, counting its
tokens) happen once per process, not once per run. Bounded, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from pydantic_ai.messages import ModelMessage

from memwise.storage.records import StoredMessage

V = TypeVar("V")


class Lru(Generic[V]):
    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
        value = make()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return value


def message_key(stored: StoredMessage) -> Hashable:
    # created_at is part of the key: a deleted and re-created session reuses seqs
    return (stored.session_id, stored.seq, stored.created_at)


class DecodedMessages(Lru[ModelMessage]):
    def __init__(self, capacity: int = 4_096) -> None:
        super().__init__(capacity)

    def get(self, stored: StoredMessage) -> ModelMessage:  # type: ignore[override]
        return super().get(message_key(stored), lambda: stored.message)


def turn_key(group: Sequence[StoredMessage], *options: Hashable) -> Hashable:
    """A stored turn: its first and last message (a turn can still grow at its end)."""
    return (message_key(group[0]), group[-1].seq, *options)
