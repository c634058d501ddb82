"""Decoded messages, cached per Memory. Stored messages never change once appended, and turning
JSON back into pydantic-ai messages is the main cost of loading history, so each stored message
is decoded once per process (bounded, least recently used first out)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from pydantic_ai.messages import ModelMessage

from memwise.storage.records import StoredMessage


class DecodedMessages:
    def __init__(self, capacity: int = 4_096) -> None:
        self._items: OrderedDict[tuple[str, int, float], ModelMessage] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, stored: StoredMessage) -> ModelMessage:
        # created_at is part of the key: a deleted and re-created session reuses seqs
        key = (stored.session_id, stored.seq, stored.created_at)
        with self._lock:
            message = self._items.get(key)
            if message is not None:
                self._items.move_to_end(key)
                return message
        message = stored.message
        with self._lock:
            self._items[key] = message
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return message
