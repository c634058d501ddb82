"""Restoring a backup: records and messages written exactly as given (versions, timestamps, seqs),
never over what a store already has. The plans behind `Storage.restore` and `restore_messages`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memwise.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StorageError
from memwise.storage.checks import check_restorable, check_restorable_messages
from memwise.storage.plan import Plan
from memwise.storage.raw import to_raw
from memwise.storage.records import Run, Session, StoredMessage, UserProfile

if TYPE_CHECKING:
    from memwise.storage.base import Storage


def restore_plan(store: Storage, record: Session | Run | UserProfile) -> Plan[Session | Run | UserProfile]:
    raw = to_raw(check_restorable(record))
    if not (yield from store._put_record(raw, 0)):  # version and stamps as given: only where none is
        raise AlreadyExistsError(f"{raw.kind} {raw.key!r} exists already; restore only writes records a store lacks")
    return record


def restore_messages_plan(store: Storage, session_id: str, messages: Sequence[StoredMessage]) -> Plan[list[int]]:
    """Check that the log ends just before the first seq, then append: the backend assigns the
    same seqs (a mismatch means someone appended meanwhile; rolled back where a plan is a
    transaction)."""
    rows = check_restorable_messages(session_id, messages)
    if not rows:
        return []
    first = rows[0].seq
    before = yield from store._read_messages(session_id, max(first - 2, 0), None, 2)
    if first in [raw.seq for raw in before]:
        raise AlreadyExistsError(f"session {session_id!r} has a message {first} already")
    if first > 1 and not before:
        raise InvalidInputError(f"session {session_id!r} has no message {first - 1}; restore its messages in order")
    seqs = yield from store._append_messages(session_id, rows)
    if seqs is None:
        raise NotFoundError(f"session {session_id!r} does not exist; restore it before its messages")
    if seqs != [raw.seq for raw in rows]:
        raise StorageError(f"session {session_id!r} got seqs {seqs[0]}..{seqs[-1]} for {first}..{rows[-1].seq}: written to meanwhile?")
    return seqs
