"""`Storage`: the typed API (sessions, messages, profiles, runs) written once over the contract.

Each public method builds a plan from the contract's primitives and hands it to the backend's
sync driver; its `a`-prefixed twin hands the same plan to the async driver. Validation, ownership,
optimistic versioning, leases, forgetting and retention all live here, once, for every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from typing_extensions import Unpack

from memwise.errors import (
    AlreadyExistsError,
    InvalidInputError,
    LeaseHeldError,
    NotFoundError,
    SchemaVersionError,
    SessionAccessError,
    VersionConflict,
)
from memwise.storage.codec import dumps, encode_message, loads, record_body, record_from_body
from memwise.storage.contract import Backend, RawMessage, RawRecord, RecordQuery
from memwise.storage.plan import Plan, gather, nothing
from memwise.storage.records import (
    FINISHED_STATUSES,
    RUN_STATUSES,
    Page,
    Run,
    Session,
    StoredMessage,
    UserProfile,
)
from memwise.storage.search import Searchable
from memwise.storage.search_text import search_text

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

T = TypeVar("T")

#: Version of the stored data's shape. Bump it and append a migration to MIGRATIONS together.
FORMAT_VERSION = 1
#: MIGRATIONS[n] turns a store of format n + 1 into format n + 2 (a plan over the primitives).
MIGRATIONS: list[Any] = []


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


class TurnStartOptions(TypedDict, total=False):
    user_id: str | None
    agent_id: str | None
    create: bool
    run: Run | None
    load_profile: bool
    last_turns: int | None


class SessionChanges(TypedDict, total=False):
    summary: str | None
    summarized_through: int
    metadata: dict[str, Any]
    usage: dict[str, int]


class RunChanges(TypedDict, total=False):
    status: str
    checkpoint: dict[str, Any] | None
    error: str | None
    usage: dict[str, int]


class SessionFilters(TypedDict, total=False):
    user_id: str | None
    agent_id: str | None


class RunFilters(TypedDict, total=False):
    session_id: str | None
    user_id: str | None
    status: str | Iterable[str] | None


# kind -> (record class, key field, fields kept as indexed columns)
_KINDS: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "session": (Session, "session_id", ("user_id", "agent_id")),
    "run": (Run, "run_id", ("session_id", "user_id", "agent_id", "status")),
    "profile": (UserProfile, "user_id", ("user_id",)),
}
_BATCH = 200
#: A message ready to append: its JSON text, whether it starts a user turn, its search text.
Encoded = tuple[str, bool, str]


class Storage(Searchable, Backend):
    """Base class of every storage. Every method has an async twin named with an `a` prefix."""

    _opened = False

    # ================================================================ sessions
    def create_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> Session:
        """Create a session; with `exist_ok`, return the existing one when the owner matches."""
        return self._sync(self._p_create_session(session_id, user_id, agent_id, metadata, exist_ok), True)

    async def acreate_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> Session:
        return await self._async(self._p_create_session(session_id, user_id, agent_id, metadata, exist_ok), True)

    def get_session(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        """The session, or None when absent or (with `user_id`) owned by someone else."""
        return self._sync(self._p_get_session(session_id, user_id), False)

    async def aget_session(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        return await self._async(self._p_get_session(session_id, user_id), False)

    def list_sessions(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[SessionFilters]
    ) -> Page[Session]:
        """Sessions by user and/or agent, most recently updated first, one page at a time."""
        return self._sync(self._p_list("session", _query("session", limit, cursor, filters)), False)

    async def alist_sessions(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[SessionFilters]
    ) -> Page[Session]:
        return await self._async(self._p_list("session", _query("session", limit, cursor, filters)), False)

    def update_session(self, session_id: str, *, expected_version: int, **changes: Unpack[SessionChanges]) -> Session:
        """Change fields only if the stored version is `expected_version`, else VersionConflict."""
        return self._sync(self._p_update("session", session_id, expected_version, _session_changes(changes)), True)

    async def aupdate_session(self, session_id: str, *, expected_version: int, **changes: Unpack[SessionChanges]) -> Session:
        return await self._async(self._p_update("session", session_id, expected_version, _session_changes(changes)), True)

    def delete_session(self, session_id: str, *, user_id: str | None = None) -> bool:
        """Delete a session with its messages and runs. False when absent or not the user's."""
        return self._sync(self._p_delete_session(session_id, user_id), True)

    async def adelete_session(self, session_id: str, *, user_id: str | None = None) -> bool:
        return await self._async(self._p_delete_session(session_id, user_id), True)

    # ================================================================ messages
    def append_messages(
        self, session_id: str, messages: Sequence[ModelMessage], *, run_id: str | None = None
    ) -> list[int]:
        """Append pydantic-ai messages atomically; return their seqs (contiguous)."""
        return self._sync(self._p_append(session_id, _encode_messages(session_id, messages), run_id), True)

    async def aappend_messages(
        self, session_id: str, messages: Sequence[ModelMessage], *, run_id: str | None = None
    ) -> list[int]:
        return await self._async(self._p_append(session_id, _encode_messages(session_id, messages), run_id), True)

    def read_messages(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        last_turns: int | None = None,
        limit: int | None = None,
        user_id: str | None = None,
    ) -> list[StoredMessage]:
        """Messages in order: those after `after_seq`, only the last `last_turns` user turns, at
        most `limit` of them. Empty when `user_id` does not own the session."""
        return self._sync(self._p_read(session_id, after_seq, last_turns, limit, user_id), False)

    async def aread_messages(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        last_turns: int | None = None,
        limit: int | None = None,
        user_id: str | None = None,
    ) -> list[StoredMessage]:
        return await self._async(self._p_read(session_id, after_seq, last_turns, limit, user_id), False)

    # ================================================================ a whole turn, in one plan each
    def start_turn(self, session_id: str, **options: Unpack[TurnStartOptions]) -> TurnStart:
        """Everything a run needs before the model answers, in one plan (one transaction where
        the backend has them): the session (created when `create`, the default), the run record,
        the profile and the last turns. A session owned by a user other than `user_id` raises
        SessionAccessError (one without an owner is open to every user), before anything is written."""
        return self._sync(self._p_start_turn(session_id, **_known(options, TurnStartOptions, "start_turn")), True)

    async def astart_turn(self, session_id: str, **options: Unpack[TurnStartOptions]) -> TurnStart:
        return await self._async(self._p_start_turn(session_id, **_known(options, TurnStartOptions, "start_turn")), True)

    def finish_turn(
        self,
        session_id: str,
        messages: Sequence[ModelMessage] = (),
        *,
        run_id: str | None = None,
        update_session: SessionUpdate | None = None,
        update_run: tuple[int, dict[str, Any]] | None = None,
    ) -> TurnEnd:
        """Everything a run stores when it ends, in one plan: append `messages`, apply
        `update_session` (called with the current session and the new seqs, and called again
        after a version conflict; returning None skips the session, leaving `TurnEnd.session`
        None so the caller can recompute and write it), then update the run `run_id` with
        `update_run = (expected_version, changes)`. A run whose version is no longer
        `expected_version` raises VersionConflict before anything is written."""
        plan = self._p_finish_turn(session_id, _encode_messages(session_id, messages), run_id, update_session, update_run)
        return self._sync(plan, True)

    async def afinish_turn(
        self,
        session_id: str,
        messages: Sequence[ModelMessage] = (),
        *,
        run_id: str | None = None,
        update_session: SessionUpdate | None = None,
        update_run: tuple[int, dict[str, Any]] | None = None,
    ) -> TurnEnd:
        plan = self._p_finish_turn(session_id, _encode_messages(session_id, messages), run_id, update_session, update_run)
        return await self._async(plan, True)

    # ================================================================ profiles
    def get_profile(self, user_id: str) -> UserProfile | None:
        return self._sync(self._p_get("profile", _id(user_id, "user_id")), False)

    async def aget_profile(self, user_id: str) -> UserProfile | None:
        return await self._async(self._p_get("profile", _id(user_id, "user_id")), False)

    def put_profile(self, profile: UserProfile, *, expected_version: int) -> UserProfile:
        """Store a profile if the stored version is `expected_version` (0: none yet)."""
        return self._sync(self._p_put_profile(profile, expected_version), True)

    async def aput_profile(self, profile: UserProfile, *, expected_version: int) -> UserProfile:
        return await self._async(self._p_put_profile(profile, expected_version), True)

    # ================================================================ runs
    def create_run(self, run: Run) -> Run:
        return self._sync(self._p_create_run(run), True)

    async def acreate_run(self, run: Run) -> Run:
        return await self._async(self._p_create_run(run), True)

    def get_run(self, run_id: str) -> Run | None:
        return self._sync(self._p_get("run", _id(run_id, "run_id")), False)

    async def aget_run(self, run_id: str) -> Run | None:
        return await self._async(self._p_get("run", _id(run_id, "run_id")), False)

    def update_run(self, run_id: str, *, expected_version: int, **changes: Unpack[RunChanges]) -> Run:
        """Change a run only if the stored version is `expected_version`, else VersionConflict."""
        return self._sync(self._p_update("run", run_id, expected_version, _run_changes(changes)), True)

    async def aupdate_run(self, run_id: str, *, expected_version: int, **changes: Unpack[RunChanges]) -> Run:
        return await self._async(self._p_update("run", run_id, expected_version, _run_changes(changes)), True)

    def list_runs(self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[RunFilters]) -> Page[Run]:
        """Runs by session, user and/or status (one or several), most recently updated first."""
        return self._sync(self._p_list("run", _query("run", limit, cursor, filters)), False)

    async def alist_runs(self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[RunFilters]) -> Page[Run]:
        return await self._async(self._p_list("run", _query("run", limit, cursor, filters)), False)

    def delete_run(self, run_id: str) -> bool:
        return self._sync(self._delete_record("run", _id(run_id, "run_id")), True)

    async def adelete_run(self, run_id: str) -> bool:
        return await self._async(self._delete_record("run", _id(run_id, "run_id")), True)

    def acquire_lease(self, run_id: str, owner: str, ttl: float) -> Run:
        """Take the run's lease for `ttl` seconds; LeaseHeldError if another owner holds it."""
        return self._sync(self._p_lease(run_id, _id(owner, "owner"), _positive(ttl, "ttl")), True)

    async def aacquire_lease(self, run_id: str, owner: str, ttl: float) -> Run:
        return await self._async(self._p_lease(run_id, _id(owner, "owner"), _positive(ttl, "ttl")), True)

    def release_lease(self, run_id: str, owner: str) -> Run | None:
        """Give the lease back; None when `owner` does not hold it (nothing changes)."""
        return self._sync(self._p_lease(run_id, _id(owner, "owner"), None), True)

    async def arelease_lease(self, run_id: str, owner: str) -> Run | None:
        return await self._async(self._p_lease(run_id, _id(owner, "owner"), None), True)

    # ================================================================ users and retention
    def forget_user(self, user_id: str) -> dict[str, int]:
        """Delete every session, message, run and the profile of a user; return the counts."""
        return self._sync(self._p_forget_user(_id(user_id, "user_id")), True)

    async def aforget_user(self, user_id: str) -> dict[str, int]:
        return await self._async(self._p_forget_user(_id(user_id, "user_id")), True)

    def prune(self, older_than: datetime | timedelta | float) -> dict[str, int]:
        """Delete sessions not updated since `older_than` (with their messages and runs) and
        finished runs older than it. `older_than`: a datetime, an age, or epoch seconds."""
        return self._sync(self._p_prune(_cutoff(older_than)), True)

    async def aprune(self, older_than: datetime | timedelta | float) -> dict[str, int]:
        return await self._async(self._p_prune(_cutoff(older_than)), True)

    # ================================================================ driving plans
    def _sync(self, plan: Plan[T], write: bool) -> T:
        if not self._opened:
            self._run(self._p_open(), write=True)
            while self._run(self._index_backlog(), write=True):  # one transaction per batch: resumable
                pass
            self._opened = True
        return self._run(plan, write=write)

    async def _async(self, plan: Plan[T], write: bool) -> T:
        if not self._opened:
            await self._arun(self._p_open(), write=True)
            while await self._arun(self._index_backlog(), write=True):
                pass
            self._opened = True
        return await self._arun(plan, write=write)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ================================================================ plans (the logic, once)
    def _p_open(self) -> Plan[None]:
        """Create the schema, then check and migrate the stored format version."""
        yield from self._setup()
        while True:
            raw = yield from self._get_record("meta", "format")
            if raw is None:
                record = RawRecord("meta", "format", 1, time.time(), dumps({"format": FORMAT_VERSION}, "format"))
                if (yield from self._put_record(record, 0)):
                    return
                continue
            stored = loads(raw.body, "the store's format record").get("format")
            if not isinstance(stored, int) or stored > FORMAT_VERSION:
                raise SchemaVersionError(
                    f"this store has data format {stored!r}, written by a newer memwise; this memwise "
                    f"reads format {FORMAT_VERSION} at most. Upgrade memwise to open it."
                )
            if stored == FORMAT_VERSION:
                return
            yield from MIGRATIONS[stored - 1](self)
            raw.body, raw.updated_at = dumps({"format": stored + 1}, "format"), time.time()
            raw.version += 1
            yield from self._put_record(raw, raw.version - 1)

    def _p_get(self, kind: str, key: str) -> Plan[Any]:
        raw = yield from self._get_record(kind, key)
        return None if raw is None else _decode(raw)

    def _p_get_session(self, session_id: str, user_id: str | None) -> Plan[Session | None]:
        session = yield from self._p_get("session", _id(session_id, "session_id"))
        if session is None or (user_id is not None and session.user_id != user_id):
            return None
        return session

    def _p_create_session(
        self, session_id: str, user_id: str | None, agent_id: str | None, metadata: Any, exist_ok: bool
    ) -> Plan[Session]:
        now = time.time()
        session = Session(
            _id(session_id, "session_id"),
            user_id=_opt_id(user_id, "user_id"),
            agent_id=_opt_id(agent_id, "agent_id"),
            metadata=_json_dict(metadata or {}, "metadata"),
            created_at=now,
            updated_at=now,
            version=1,
        )
        if (yield from self._put_record(_encode(session), 0)):
            return session
        existing = yield from self._p_get("session", session.session_id)
        if existing is None:  # deleted in between: try once more
            return (yield from self._p_create_session(session_id, user_id, agent_id, metadata, exist_ok))
        if not exist_ok:
            raise AlreadyExistsError(f"session {session_id!r} exists already")
        if existing.user_id != session.user_id:
            raise AlreadyExistsError(f"session {session_id!r} exists and belongs to another user")
        return existing

    def _p_list(self, kind: str, query: RecordQuery) -> Plan[Page[Any]]:
        raws = yield from self._query_records(query)
        more = len(raws) > query.limit - 1
        raws = raws[: query.limit - 1]
        items = [_decode(raw) for raw in raws]
        return Page(items, f"{raws[-1].updated_at!r}|{raws[-1].key}" if more and raws else None)

    def _p_update(
        self, kind: str, key: str, expected_version: int, changes: dict[str, Any], raw: RawRecord | None = None
    ) -> Plan[Any]:
        """Compare-and-set `changes` on a record (`raw`: the record as just read, if it was)."""
        key = _id(key, f"{kind}_id")
        if raw is None:
            raw = yield from self._get_record(kind, key)
        if raw is None:
            raise NotFoundError(f"{kind} {key!r} does not exist")
        if raw.version != expected_version:
            raise VersionConflict(f"{kind} {key!r}", expected_version, raw.version)
        record = _decode(raw)
        for name, value in changes.items():
            setattr(record, name, value)
        record.version, record.updated_at = expected_version + 1, time.time()
        if not (yield from self._put_record(_encode(record), expected_version)):
            current = yield from self._get_record(kind, key)
            raise VersionConflict(f"{kind} {key!r}", expected_version, current.version if current else None)
        return record

    def _p_delete_session(self, session_id: str, user_id: str | None) -> Plan[bool]:
        session_id = _id(session_id, "session_id")
        raw = yield from self._get_record("session", session_id)  # not decoded: corrupt ones go too
        if raw is None or (user_id is not None and raw.user_id != user_id):
            return False
        self._forget_indexed(session_id)
        yield from self._delete_messages(session_id)
        yield from self._p_delete_all(RecordQuery("run", session_id=session_id, limit=_BATCH))
        return (yield from self._delete_record("session", session_id))

    def _p_delete_all(self, query: RecordQuery) -> Plan[int]:
        """Delete every record a query matches, one batch at a time; return how many."""
        deleted = 0
        while True:
            raws = yield from self._query_records(query)
            for raw in raws:
                deleted += bool((yield from self._delete_record(raw.kind, raw.key)))
            if len(raws) < query.limit:
                return deleted
            query = replace(query, after=(raws[-1].updated_at, raws[-1].key))

    def _p_append(self, session_id: str, encoded: list[Encoded], run_id: str | None) -> Plan[list[int]]:
        now = time.time()
        run_id = _opt_id(run_id, "run_id")
        rows = [RawMessage(0, run_id, turn_start, now, text, indexed) for text, turn_start, indexed in encoded]
        seqs = yield from self._append_messages(session_id, rows)  # checks that the session exists
        if seqs is None:
            raise NotFoundError(f"session {session_id!r} does not exist; create it before appending messages")
        return seqs

    def _p_read(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None, user_id: str | None,
        parse: bool = True,
    ) -> Plan[list[StoredMessage]]:
        """The messages, each body checked to be a JSON object (`parse=False`: checked when used)."""
        session_id = _id(session_id, "session_id")
        after_seq = _count(after_seq, "after_seq", allow_zero=True)
        last_turns = None if last_turns is None else _count(last_turns, "last_turns")
        limit = None if limit is None else _count(limit, "limit")
        if user_id is not None and (yield from self._p_get_session(session_id, user_id)) is None:
            return []
        raws = yield from self._read_messages(session_id, after_seq, last_turns, limit)
        stored = [StoredMessage(session_id, raw.seq, raw.run_id, bool(raw.turn_start), raw.created_at, raw.body) for raw in raws]
        if parse:
            for item in stored:
                item.data  # noqa: B018 - parse now: a corrupted message fails the read that meets it
        return stored

    def _p_start_turn(
        self, session_id: str, user_id: str | None = None, agent_id: str | None = None, create: bool = True,
        run: Run | None = None, load_profile: bool = False, last_turns: int | None = None,
    ) -> Plan[TurnStart]:
        """Reads first, in one batch (session, profile, last turns); then, once the session is known
        to be the caller's, creates it if needed and the run: two round trips where a backend
        batches, whatever was asked."""
        session_id = _id(session_id, "session_id")
        load_profile = load_profile and user_id is not None
        # the last turns are parsed only where used: memory has decoded most of a window before
        reads = [
            self._p_get("session", session_id),
            self._p_get("profile", _id(user_id, "user_id")) if load_profile else nothing(),
            self._p_read(session_id, 0, last_turns, None, None, parse=False) if last_turns is not None else nothing(),
        ]
        session, profile, messages = yield from gather(*reads)
        if session is None and create:
            try:
                session = yield from self._p_create_session(session_id, user_id, agent_id, None, True)
            except AlreadyExistsError as exc:  # created by another user in between
                raise SessionAccessError(f"session {session_id!r} belongs to another user") from exc
            if last_turns is not None:  # another turn of this user may have created it in between
                messages = yield from self._p_read(session_id, 0, last_turns, None, None, parse=False)
        if session is not None and session.user_id is not None and session.user_id != user_id:
            raise SessionAccessError(f"session {session_id!r} belongs to another user")
        start = TurnStart(session, profile=profile, messages=messages if session is not None and messages else [])
        if run is not None:
            start.run = yield from self._p_create_run(run)
        return start

    def _p_finish_turn(
        self, session_id: str, encoded: list[Encoded], run_id: str | None,
        update_session: SessionUpdate | None, update_run: tuple[int, dict[str, Any]] | None,
    ) -> Plan[TurnEnd]:
        """Three round trips where a backend batches: read the run and the session; append; write
        the session and the run."""
        if update_run is not None and run_id is None:
            raise InvalidInputError("update_run needs the run_id of the run to update")
        run_changes = None if update_run is None else _run_changes(dict(update_run[1]))  # checked before writing
        run, raw = yield from gather(
            self._get_record("run", run_id) if update_run is not None else nothing(),
            self._get_record("session", session_id) if update_session is not None else nothing(),
        )
        if update_run is not None and (run is None or run.version != update_run[0]):
            # a cancelled or taken-over run must not store its turn
            raise VersionConflict(f"run {run_id!r}", update_run[0], run.version if run else None)
        end = TurnEnd((yield from self._p_append(session_id, encoded, run_id)) if encoded else [])
        writes = [
            self._p_update_session(session_id, update_session, end.seqs, raw) if update_session is not None else nothing(),
            self._p_update("run", run_id, update_run[0], run_changes, run) if update_run is not None else nothing(),
        ]
        session, updated_run = yield from gather(*writes)
        end.session = session
        end.run = updated_run
        return end

    def _p_update_session(
        self, session_id: str, update_session: SessionUpdate, seqs: list[int], raw: RawRecord | None
    ) -> Plan[Session | None]:
        """Apply `update_session` by compare-and-set, calling it again on the newer version after a
        conflict; `raw` is the session as read before (None: gone)."""
        while True:
            if raw is None:
                raise NotFoundError(f"session {session_id!r} does not exist")
            changes = update_session(_decode(raw), seqs)
            if changes is None:
                return None  # the caller recomputes (e.g. a new summary) and writes it itself
            try:
                return (yield from self._p_update("session", session_id, raw.version, _session_changes(changes), raw))
            except VersionConflict:
                raw = yield from self._get_record("session", session_id)  # someone wrote in between

    def _p_put_profile(self, profile: UserProfile, expected_version: int) -> Plan[UserProfile]:
        if not isinstance(profile, UserProfile):
            raise InvalidInputError(f"profile must be a UserProfile, not {type(profile).__name__}")
        _id(profile.user_id, "profile.user_id")
        _json_dict(profile.data, "profile.data")
        _json_dict(profile.provenance, "profile.provenance")
        now = time.time()
        stored = UserProfile(
            profile.user_id, dict(profile.data), dict(profile.provenance),
            created_at=profile.created_at or now, updated_at=now,
            version=_count(expected_version, "expected_version", allow_zero=True) + 1,
        )
        if not (yield from self._put_record(_encode(stored), expected_version)):
            current = yield from self._get_record("profile", profile.user_id)
            raise VersionConflict(f"profile {profile.user_id!r}", expected_version, current.version if current else None)
        return stored

    def _p_create_run(self, run: Run) -> Plan[Run]:
        if not isinstance(run, Run):
            raise InvalidInputError(f"run must be a Run, not {type(run).__name__}")
        _id(run.run_id, "run.run_id")
        _id(run.session_id, "run.session_id")
        _run_changes({"status": run.status, "checkpoint": run.checkpoint, "error": run.error, "usage": run.usage})
        now = time.time()
        stored = replace(run, created_at=run.created_at or now, updated_at=now, version=1)
        if not (yield from self._put_record(_encode(stored), 0)):
            raise AlreadyExistsError(f"run {run.run_id!r} exists already")
        return stored

    def _p_lease(self, run_id: str, owner: str, ttl: float | None) -> Plan[Run | None]:
        """Take (ttl given) or release (ttl None) a run's lease with a compare-and-set loop."""
        run_id = _id(run_id, "run_id")
        while True:
            raw = yield from self._get_record("run", run_id)
            if raw is None:
                raise NotFoundError(f"run {run_id!r} does not exist")
            run: Run = _decode(raw)
            now = time.time()
            if ttl is None:
                if run.lease_owner != owner:
                    return None
                run.lease_owner = run.lease_expires_at = None
            else:
                held = run.lease_owner not in (None, owner) and (run.lease_expires_at or 0) > now
                if held:
                    raise LeaseHeldError(
                        f"run {run_id!r} is being resumed by {run.lease_owner!r} "
                        f"(lease expires in {run.lease_expires_at - now:.1f}s)"
                    )
                run.lease_owner, run.lease_expires_at = owner, now + ttl
            run.version, run.updated_at = raw.version + 1, now
            if (yield from self._put_record(_encode(run), raw.version)):
                return run

    def _p_delete_sessions(self, query: RecordQuery) -> Plan[dict[str, int]]:
        """Delete every session a query matches, with its messages and runs."""
        counts = {"sessions": 0, "messages": 0, "runs": 0}
        while True:
            raws = yield from self._query_records(query)
            for raw in raws:
                self._forget_indexed(raw.key)
                counts["messages"] += yield from self._delete_messages(raw.key)
                counts["runs"] += yield from self._p_delete_all(RecordQuery("run", session_id=raw.key, limit=_BATCH))
                counts["sessions"] += bool((yield from self._delete_record("session", raw.key)))
            if len(raws) < query.limit:
                return counts
            query = replace(query, after=(raws[-1].updated_at, raws[-1].key))

    def _p_forget_user(self, user_id: str) -> Plan[dict[str, int]]:
        counts = yield from self._p_delete_sessions(RecordQuery("session", user_id=user_id, limit=_BATCH))
        counts["runs"] += yield from self._p_delete_all(RecordQuery("run", user_id=user_id, limit=_BATCH))
        counts["profiles"] = int((yield from self._delete_record("profile", user_id)))
        return counts

    def _p_prune(self, cutoff: float) -> Plan[dict[str, int]]:
        counts = yield from self._p_delete_sessions(RecordQuery("session", updated_before=cutoff, limit=_BATCH))
        finished = RecordQuery("run", statuses=FINISHED_STATUSES, updated_before=cutoff, limit=_BATCH)
        counts["runs"] += yield from self._p_delete_all(finished)
        return counts


# ==================================================================== record <-> raw
def _encode(record: Any) -> RawRecord:
    kind = {Session: "session", Run: "run", UserProfile: "profile"}[type(record)]
    _, key_field, columns = _KINDS[kind]
    skip = (key_field, "version", "updated_at", *columns)
    body = dumps(record_body(record, skip), f"{kind} {getattr(record, key_field)!r}")
    return RawRecord(
        kind, getattr(record, key_field), record.version, record.updated_at, body,
        **{name: getattr(record, name) for name in columns},
    )


def _decode(raw: RawRecord) -> Any:
    cls, key_field, columns = _KINDS[raw.kind]
    what = f"{raw.kind} {raw.key!r}"
    extra = {name: getattr(raw, name) for name in columns if name != key_field}
    return record_from_body(
        cls, loads(raw.body, what), what, **{key_field: raw.key}, **extra, version=raw.version, updated_at=raw.updated_at
    )


# ==================================================================== argument checks
def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _opt_id(value: Any, name: str) -> str | None:
    return None if value is None else _id(value, name)


def _count(value: Any, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise InvalidInputError(f"{name} must be an integer >= {0 if allow_zero else 1}, not {value!r}")
    return value


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def _json_dict(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be a dict, not {type(value).__name__}")
    dumps(value, name)
    return value


def _usage(value: Any) -> dict[str, int]:
    _json_dict(value, "usage")
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInputError(f"usage[{key!r}] must be an integer, not {count!r}")
    return value


def _known(values: dict[str, Any], allowed: type, what: str) -> dict[str, Any]:
    unknown = set(values) - set(allowed.__annotations__)
    if unknown:
        raise InvalidInputError(f"{what} has no field {', '.join(sorted(unknown))}; known: {', '.join(allowed.__annotations__)}")
    return values


def _session_changes(changes: dict[str, Any]) -> dict[str, Any]:
    _known(changes, SessionChanges, "a session")
    if changes.get("summary") is not None and not isinstance(changes["summary"], str):
        raise InvalidInputError(f"summary must be a string or None, not {type(changes['summary']).__name__}")
    if "summarized_through" in changes:
        _count(changes["summarized_through"], "summarized_through", allow_zero=True)
    if "metadata" in changes:
        _json_dict(changes["metadata"], "metadata")
    if "usage" in changes:
        _usage(changes["usage"])
    return changes


def _run_changes(changes: dict[str, Any]) -> dict[str, Any]:
    _known(changes, RunChanges, "a run")
    if "status" in changes and changes["status"] not in RUN_STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(RUN_STATUSES)}, not {changes['status']!r}")
    if changes.get("checkpoint") is not None:
        _json_dict(changes["checkpoint"], "checkpoint")
    if changes.get("error") is not None and not isinstance(changes["error"], str):
        raise InvalidInputError(f"error must be a string or None, not {type(changes['error']).__name__}")
    if "usage" in changes:
        _usage(changes["usage"])
    return changes


def _query(kind: str, limit: int, cursor: str | None, filters: dict[str, Any]) -> RecordQuery:
    _known(filters, SessionFilters if kind == "session" else RunFilters, f"listing {kind}s")
    for name in ("user_id", "agent_id", "session_id"):
        _opt_id(filters.get(name), name)
    status = filters.pop("status", None)
    if status is not None:
        filters["statuses"] = (status,) if isinstance(status, str) else tuple(status)
        for item in filters["statuses"]:
            _run_changes({"status": item})
    after = None
    if cursor is not None:
        stamp, sep, key = str(cursor).partition("|")
        try:
            after = (float(stamp), key)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise InvalidInputError(f"cursor {cursor!r} is not a cursor this storage returned")
    return RecordQuery(kind, after=after, limit=_count(limit, "limit") + 1, **filters)


def _encode_messages(session_id: str, messages: Sequence[Any]) -> list[Encoded]:
    _id(session_id, "session_id")
    if isinstance(messages, (str, bytes, dict)) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of pydantic-ai messages, not {type(messages).__name__}")
    encoded = []
    for index, message in enumerate(messages):
        text, turn_start, model = encode_message(message, f"messages[{index}]")
        encoded.append((text, turn_start, search_text(model)))
    return encoded


def _cutoff(older_than: datetime | timedelta | float) -> float:
    if isinstance(older_than, timedelta):
        return time.time() - older_than.total_seconds()
    if isinstance(older_than, datetime):
        return older_than.timestamp()
    if isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        return float(older_than)
    raise InvalidInputError(f"older_than must be a datetime, a timedelta or epoch seconds, not {older_than!r}")
