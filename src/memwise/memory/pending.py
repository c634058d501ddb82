"""Turns whose memory updates are still to be made, kept durably on the session record.

With background updates a turn is stored with its answer, and its summary and profile updates run
afterwards. Until they are made, the session's `pending_turns` lists the turn: which updates it
needs ("summary", "profile") and where its messages are: in the session's log (`seqs`, when
history is saved) or in the entry itself (`messages`, when only a summary or profile is kept; the
raw turn then lives nowhere else and goes when its last update is made). The entry is written in
the same plan as the turn, so a crash right after the answer loses nothing: any process reads the
list and catches up. Each update removes its own need in the write that stores its result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from memwise.errors import CorruptRecordError
from memwise.memory.transcript import user_texts
from memwise.memory.usage import UsageReport, add_counts
from memwise.storage.records import Session
from memwise.storage.turns import TurnWrite

if TYPE_CHECKING:
    from memwise.memory.memory import Memory

logger = logging.getLogger("memwise.memory")

SUMMARY, PROFILE = "summary", "profile"
NEEDS = (SUMMARY, PROFILE)
#: At most this many turns wait on a session (a long outage of the memory model); the oldest
#: go first, as a summary's input cap would drop them anyway.
MAX_PENDING = 50


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """One turn waiting for memory's updates (see the module docstring)."""

    run_id: str
    needs: tuple[str, ...]
    seqs: tuple[int, int] | None = None  # first and last seq of its messages in the session's log
    messages: tuple[dict[str, Any], ...] = ()  # their JSON form, when they are not in the log
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run_id": self.run_id, "needs": list(self.needs), "at": self.at}
        if self.seqs is not None:
            data["seqs"] = list(self.seqs)
        if self.messages:
            data["messages"] = list(self.messages)
        return data

    @classmethod
    def from_json(cls, data: Any, session_id: str) -> PendingTurn:
        try:
            seqs = data.get("seqs")
            entry = cls(
                run_id=str(data["run_id"]),
                needs=tuple(need for need in data["needs"] if need in NEEDS),
                seqs=None if seqs is None else (int(seqs[0]), int(seqs[1])),
                messages=tuple(data.get("messages") or ()),
                at=float(data.get("at", 0.0)),
            )
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            raise CorruptRecordError(f"a pending turn of session {session_id!r} is corrupted: {data!r:.200}") from None
        if not all(isinstance(message, dict) for message in entry.messages):
            raise CorruptRecordError(f"pending turn {entry.run_id!r} of session {session_id!r} holds a non-message")
        return entry

    def decoded(self) -> list[ModelMessage]:
        return ModelMessagesTypeAdapter.validate_python(list(self.messages))


def pending_of(session: Session | None, need: str | None = None) -> list[PendingTurn]:
    """The session's pending turns, oldest first (only those needing `need`, if given)."""
    if session is None:
        return []
    entries = [PendingTurn.from_json(item, session.session_id) for item in session.pending_turns]
    return [e for e in entries if need is None or need in e.needs]


def without(session: Session, need: str, run_ids: Collection[str]) -> list[dict[str, Any]]:
    """The session's pending list once `need` is made for the turns `run_ids`: their need is
    removed, and a turn that needs nothing more is dropped (with its messages)."""
    kept = []
    for entry in pending_of(session):
        if entry.run_id in run_ids and need in entry.needs:
            entry = PendingTurn(entry.run_id, tuple(n for n in entry.needs if n != need), entry.seqs, entry.messages, entry.at)
        if entry.needs:
            kept.append(entry.to_json())
    return kept


def needs_of(memory: Memory, messages: Sequence[ModelMessage]) -> tuple[str, ...]:
    """The updates a turn's messages need under the memory's save flags."""
    needs = []
    if memory.summary_memory:
        needs.append(SUMMARY)
    if memory.user_analysis_memory and memory.user_id is not None and user_texts(messages):
        needs.append(PROFILE)
    return tuple(needs)


def pending_turn_write(
    memory: Memory, run_id: str, messages: Sequence[ModelMessage], report: UsageReport, *, history_stored: bool
) -> tuple[TurnWrite, tuple[str, ...]]:
    """The turn's writes when its updates come later: the new messages (if history is saved),
    the answer's usage, and the turn listed as pending, all in the turn's one plan. Returns the
    write and the updates the turn needs."""
    in_log = memory.full_session_memory and not history_stored
    needs = needs_of(memory, messages)
    carried = () if in_log else tuple(ModelMessagesTypeAdapter.dump_python(list(messages), mode="json"))

    def session_changes(session: Session, seqs: list[int]) -> dict[str, Any]:
        changes: dict[str, Any] = {"usage": add_counts(session.usage, report.as_dict())}
        if needs:
            span = (seqs[0], seqs[-1]) if in_log and seqs else None
            entry = PendingTurn(run_id, needs, span, carried, time.time())
            changes["pending_turns"] = _appended(session, entry)
        return changes

    turn = TurnWrite(memory.session_id, list(messages) if in_log else [], run_id=run_id, update_session=session_changes)
    return turn, needs


def _appended(session: Session, entry: PendingTurn) -> list[dict[str, Any]]:
    entries = [*session.pending_turns, entry.to_json()]
    if len(entries) > MAX_PENDING:
        logger.warning(
            "session %r: more than %d turns wait for memory updates; the oldest %d are dropped",
            session.session_id, MAX_PENDING, len(entries) - MAX_PENDING,
        )
        entries = entries[-MAX_PENDING:]
    return entries
