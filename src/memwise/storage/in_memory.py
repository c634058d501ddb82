"""InMemoryStorage: the contract on Python dicts, for tests and ephemeral use. Nothing persists."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from memwise.storage.base import Storage
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery, newest_first
from memwise.storage.options import common_options
from memwise.storage.plan import CallPlan, Plan, T, call, drive, execute_call, nothing


@dataclass
class _Log:
    messages: list[RawMessage] = field(default_factory=list)
    turn_starts: list[int] = field(default_factory=list)  # seqs, ascending


class InMemoryStorage(Storage):
    """Same semantics as every other backend; a plan runs under one lock, so it is atomic."""

    def __init__(
        self,
        *,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name (table names: no tables here)
    ) -> None:
        self.id = common_options(id, session_table, user_memory_table)
        self._records: dict[tuple[str, str], RawRecord] = {}
        self._logs: dict[str, _Log] = {}
        self._lock = threading.RLock()

    def _run(self, plan: Plan[T], *, write: bool) -> T:
        with self._lock:
            return drive(plan, execute_call)

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        return self._run(plan, write=write)  # no I/O: never blocks the loop for long

    def _setup(self) -> CallPlan[None]:
        return nothing()  # nothing to create

    def _get_record(self, kind: str, key: str) -> CallPlan[RawRecord | None]:
        raw = yield from call(self._records.get, (kind, key))
        return None if raw is None else replace(raw)

    def _put_record(self, record: RawRecord, expected_version: int) -> CallPlan[bool]:
        return (yield from call(self._cas, replace(record), expected_version))

    def _cas(self, record: RawRecord, expected_version: int) -> bool:
        current = self._records.get((record.kind, record.key))
        if (current.version if current else 0) != expected_version:
            return False
        self._records[(record.kind, record.key)] = record
        return True

    def _delete_record(self, kind: str, key: str) -> CallPlan[bool]:
        return (yield from call(lambda: self._records.pop((kind, key), None) is not None))

    def _query_records(self, query: RecordQuery) -> CallPlan[list[RawRecord]]:
        return (yield from call(self._query, query))

    def _query(self, query: RecordQuery) -> list[RawRecord]:
        found = sorted(filter(query.matches, self._records.values()), key=newest_first, reverse=True)
        return [replace(raw) for raw in found[: query.limit]]

    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> CallPlan[list[int] | None]:
        return (yield from call(self._append, session_id, messages))

    def _append(self, session_id: str, messages: list[RawMessage]) -> list[int] | None:
        if ("session", session_id) not in self._records:  # under the plan's lock, like the delete
            return None
        log = self._logs.setdefault(session_id, _Log())
        seqs = []
        for message in messages:
            stored = replace(message, seq=len(log.messages) + 1)
            log.messages.append(stored)
            if stored.turn_start:
                log.turn_starts.append(stored.seq)
            seqs.append(stored.seq)
        return seqs

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> CallPlan[list[RawMessage]]:
        return (yield from call(self._read, session_id, after_seq, last_turns, limit))

    def _read(self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None) -> list[RawMessage]:
        log = self._logs.get(session_id)
        if log is None:
            return []
        start = after_seq
        if last_turns is not None and len(log.turn_starts) >= last_turns:
            start = max(start, log.turn_starts[-last_turns] - 1)
        end = len(log.messages) if limit is None else min(len(log.messages), start + limit)
        return [replace(message) for message in log.messages[start:end]]

    def _delete_messages(self, session_id: str) -> CallPlan[int]:
        return (yield from call(lambda: len(self._logs.pop(session_id, _Log()).messages)))


__all__ = ["InMemoryStorage"]
