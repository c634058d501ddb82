"""The narrow contract every backend implements: versioned records plus an append-only message log.

A backend implements eight plan primitives (see `Backend`), may add native search (two more),
and says how to run a plan (`_run`, `_arun`). Everything typed (sessions, runs, profiles,
leases, ownership, forget, prune, search) is built on these once, in `memwise.storage.base` and
`memwise.storage.search`, and is the same on every backend.

Invariants a backend must keep:
- `_put_record` is an atomic compare-and-set on (kind, key, version).
- `_append_messages` gives the new messages contiguous seqs after the session's last one,
  atomically, even under many concurrent writers (threads, processes, hosts), and only while the
  session's record exists: checked with the append, atomically where the backend can, so no
  message outlives a `delete_session` (which deletes the messages, the runs, then the record).
- Each primitive is atomic on its own; a plan may run in a transaction, but correctness must not
  depend on it (Redis and MongoDB run a plan's commands, and its batches, with no transaction).
- Stored text is kept byte for byte; backends never parse `body`.
- Search (`_search_messages`) is optional: a backend without a native index inherits the
  memwise-side one (`memwise.storage.search`), kept up to date from `_read_messages`. A native
  index is written with the append, atomically, from `RawMessage.search_text`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from memwise.storage.plan import Plan, T, drive

#: Fields a record may be filtered by. Backends index them.
INDEX_FIELDS = ("user_id", "agent_id", "session_id", "status")


@dataclass(slots=True)
class RawRecord:
    """A versioned JSON document of one kind ("session", "run", "profile", "meta", "vectors")."""

    kind: str
    key: str
    version: int
    updated_at: float
    body: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    status: str | None = None


@dataclass(slots=True)
class RawMessage:
    """One message of a session's log; `seq` is assigned by the backend on append.

    `search_text` is what search indexes of it (`memwise.storage.search_text`), set by the core
    on append so a native index can store it in the same write; reads may leave it "".
    """

    seq: int
    run_id: str | None
    turn_start: bool
    created_at: float
    body: str
    search_text: str = ""


@dataclass(slots=True, frozen=True)
class RecordQuery:
    """Records of one kind matching every given field, newest `updated_at` first (ties: key desc).

    `after` is a keyset cursor: the (updated_at, key) of the last record already seen.
    """

    kind: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    statuses: tuple[str, ...] | None = None
    updated_before: float | None = None
    after: tuple[float, str] | None = None
    limit: int = 50

    def matches(self, record: RawRecord) -> bool:
        """Reference semantics of a query, used by backends that filter in Python."""
        if record.kind != self.kind:
            return False
        for name in ("user_id", "agent_id", "session_id"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(record, name) != wanted:
                return False
        if self.statuses is not None and record.status not in self.statuses:
            return False
        if self.updated_before is not None and not record.updated_at < self.updated_before:
            return False
        if self.after is not None and not (record.updated_at, record.key) < self.after:
            return False
        return True


@dataclass(slots=True, frozen=True)
class SearchQuery:
    """Messages matching ANY of the query's words, best first, at most `limit`, only from the
    scope: session `session_id` (which must be owned by `user_id` when both are given), or every
    session owned by `user_id`. `text` is the query as given (for engines that parse it
    themselves), `words` its words without stopwords, `terms` those words stemmed."""

    text: str
    words: tuple[str, ...]
    terms: tuple[str, ...]
    user_id: str | None
    session_id: str | None
    limit: int


@dataclass(slots=True)
class RawHit:
    """One found message: its session, its message (with `search_text` set) and a score
    (higher is better; comparable only within one answer)."""

    session_id: str
    score: float
    message: RawMessage


def newest_first(record: RawRecord) -> tuple[float, str]:
    """Sort key (use with reverse=True) matching RecordQuery's order."""
    return (record.updated_at, record.key)


class Backend(ABC):
    """What a storage backend provides. All primitives are plans (generator functions)."""

    # ---- schema ---------------------------------------------------------------------------
    @abstractmethod
    def _setup(self) -> Plan[None]:
        """Create tables, indexes or files; idempotent, safe to run from many processes at once."""

    # ---- versioned records ----------------------------------------------------------------
    @abstractmethod
    def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]: ...

    @abstractmethod
    def _put_record(self, record: RawRecord, expected_version: int) -> Plan[bool]:
        """Write `record` (whose version is expected_version + 1) only if the stored version is
        `expected_version` (0: no record may exist). Return False, writing nothing, otherwise."""

    @abstractmethod
    def _delete_record(self, kind: str, key: str) -> Plan[bool]:
        """Delete a record; return whether it existed. A backend that runs a plan's commands one
        by one also deletes a session's messages here, with or after its record: an append may
        have found the record after the plan's `_delete_messages`."""

    @abstractmethod
    def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]: ...

    # ---- append-only message log ----------------------------------------------------------
    @abstractmethod
    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> Plan[list[int] | None]:
        """Append atomically, only if the session's record exists; return the assigned seqs
        (contiguous, after the last stored), or None, appending nothing, when it does not (also
        for an empty `messages`)."""

    @abstractmethod
    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> Plan[list[RawMessage]]:
        """Messages with seq > after_seq, ascending; with `last_turns`, only those from the
        `last_turns`-th last turn start on; with `limit`, at most that many (the first ones)."""

    @abstractmethod
    def _delete_messages(self, session_id: str) -> Plan[int]: ...

    # ---- search (not abstract: `memwise.storage.search` serves backends without a native index)
    def _search_messages(self, query: SearchQuery) -> Plan[list[RawHit]]:
        """Ranked lexical search in the scope. A native index must be written in the append's
        own atomic write and lose a session's messages with `_delete_messages`."""
        raise NotImplementedError

    def _index_backlog(self) -> Plan[int]:
        """Index one batch of messages stored before the native index existed; return how many
        (0: none left). Run in its own plan, repeatedly, when a store is first opened."""
        raise NotImplementedError

    # ---- running plans --------------------------------------------------------------------
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        """Run a plan synchronously. Default: commands are executed by `_execute`."""
        return drive(plan, self._execute)

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        """Run a plan from asyncio. Default: the blocking driver in a worker thread, so the event
        loop never blocks. Network backends override this with a native async driver."""
        return await asyncio.to_thread(self._run, plan, write=write)

    def _execute(self, command: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _execute or _run")

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release connections and files. The storage must not be used afterwards."""

    async def aclose(self) -> None:
        self.close()
