"""A turn's two plans: `start_turn` (everything a run reads before the model answers) and
`finish_turn` (everything it writes after, described by one `TurnWrite`), each a few round trips
where a backend batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from memwise.errors import AlreadyExistsError, InvalidInputError, NotFoundError, SessionAccessError, VersionConflict
from memwise.storage.checks import check_id, check_messages, check_run_changes, check_session_changes
from memwise.storage.contract import RawRecord
from memwise.storage.plan import Plan, gather, nothing
from memwise.storage.raw import from_raw
from memwise.storage.records import Run, Session, StoredMessage, UserProfile

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from memwise.storage.base import Storage


@dataclass(slots=True)
class TurnStart:
    """What `start_turn` read: the session (None if absent and not created), the new run
    record (if one was given), the user's profile (if asked) and the last turns (if asked)."""

    session: Session | None
    run: Run | None = None
    profile: UserProfile | None = None
    messages: list[StoredMessage] = field(default_factory=list)


@dataclass(slots=True)
class TurnEnd:
    """What `finish_turn` wrote: the new messages' seqs, the session and the run after it."""

    seqs: list[int]
    session: Session | None = None
    run: Run | None = None


#: `finish_turn`'s session callback, given the current session and the seqs this turn's messages
#: got: the changes to make, or None to leave the session alone (e.g. a summary made from a
#: version that is gone, or missing another run's messages, must be recomputed first).
SessionUpdate = Callable[[Session, list[int]], "dict[str, Any] | None"]


class RunUpdate(NamedTuple):
    """Changes to a run, written only if its stored version is still `expected_version`."""

    expected_version: int
    changes: dict[str, Any]


@dataclass(slots=True, frozen=True)
class TurnWrite:
    """Everything a turn stores when it ends, written by `finish_turn` in one plan: `messages`
    appended (tagged with `run_id`), `update_session` applied to the session (called with the
    current session and the new seqs, again after a version conflict; returning None leaves the
    session to the caller), then `update_run` applied to the run `run_id`. Memory builds it; the
    run's lease adds `update_run` (see `RunLease.complete`)."""

    session_id: str
    messages: Sequence[ModelMessage] = ()
    run_id: str | None = None
    update_session: SessionUpdate | None = None
    update_run: RunUpdate | None = None


class TurnStartOptions(TypedDict, total=False):
    user_id: str | None
    agent_id: str | None
    create: bool
    run: Run | None
    load_profile: bool
    last_turns: int | None


def start_turn_plan(
    store: Storage, session_id: str, user_id: str | None = None, agent_id: str | None = None, create: bool = True,
    run: Run | None = None, load_profile: bool = False, last_turns: int | None = None,
) -> Plan[TurnStart]:
    """Reads first, in one batch (session, profile, last turns); then, once the session is known
    to be the caller's, creates it if needed and the run: two round trips where a backend
    batches, whatever was asked."""
    session_id = check_id(session_id, "session_id")
    load_profile = load_profile and user_id is not None
    # the last turns are parsed only where used: memory has decoded most of a window before
    reads = [
        store._p_get("session", session_id),
        store._p_get("profile", check_id(user_id, "user_id")) if load_profile else nothing(),
        store._p_read(session_id, 0, last_turns, None, None, parse=False) if last_turns is not None else nothing(),
    ]
    session, profile, messages = yield from gather(*reads)
    if session is None and create:
        try:
            session = yield from store._p_create_session(session_id, user_id, agent_id, None, True)
        except AlreadyExistsError as exc:  # created by another user in between
            raise SessionAccessError(f"session {session_id!r} belongs to another user") from exc
        if last_turns is not None:  # another turn of this user may have created it in between
            messages = yield from store._p_read(session_id, 0, last_turns, None, None, parse=False)
    if session is not None and session.user_id is not None and session.user_id != user_id:
        raise SessionAccessError(f"session {session_id!r} belongs to another user")
    start = TurnStart(session, profile=profile, messages=messages if session is not None and messages else [])
    if run is not None:
        start.run = yield from store._p_create_run(run)
    return start


def finish_turn_plan(store: Storage, turn: TurnWrite) -> Plan[TurnEnd]:
    """Three round trips where a backend batches: read the run and the session; append; write
    the session and the run. Everything is checked before the first command."""
    if not isinstance(turn, TurnWrite):
        raise InvalidInputError(f"finish_turn takes a TurnWrite, not {type(turn).__name__}")
    session_id, run_id, update_session = turn.session_id, turn.run_id, turn.update_session
    encoded = check_messages(session_id, turn.messages)
    update_run = None if turn.update_run is None else RunUpdate(*turn.update_run)
    run_changes: dict[str, Any] = {}
    if update_run is not None:
        if run_id is None:
            raise InvalidInputError("update_run needs the run_id of the run to update")
        run_changes = check_run_changes(update_run.changes)
    run, raw = yield from gather(
        store._get_record("run", run_id) if update_run is not None and run_id is not None else nothing(),
        store._get_record("session", session_id) if update_session is not None else nothing(),
    )
    if update_run is not None and (run is None or run.version != update_run.expected_version):
        # a cancelled or taken-over run must not store its turn
        raise VersionConflict(f"run {run_id!r}", update_run.expected_version, run.version if run else None)
    end = TurnEnd((yield from store._p_append(session_id, encoded, run_id)) if encoded else [])
    writes = [
        _update_session_plan(store, session_id, update_session, end.seqs, raw) if update_session is not None else nothing(),
        store._p_update("run", run_id, update_run.expected_version, run_changes, run)
        if update_run is not None and run_id is not None else nothing(),
    ]
    session, updated_run = yield from gather(*writes)
    end.session = session
    end.run = updated_run
    return end


def _update_session_plan(
    store: Storage, session_id: str, update_session: SessionUpdate, seqs: list[int], raw: RawRecord | None
) -> Plan[Session | None]:
    """Apply `update_session` by compare-and-set, calling it again on the newer version after a
    conflict; `raw` is the session as read before (None: gone)."""
    while True:
        if raw is None:
            raise NotFoundError(f"session {session_id!r} does not exist")
        changes = update_session(from_raw(raw), seqs)
        if changes is None:
            return None  # the caller recomputes (e.g. a new summary) and writes it itself
        try:
            return (yield from store._p_update("session", session_id, raw.version, check_session_changes(changes), raw))
        except VersionConflict:
            raw = yield from store._get_record("session", session_id)  # someone wrote in between
