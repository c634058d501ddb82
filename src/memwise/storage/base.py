"""`Storage`: the typed API (sessions, messages, profiles, runs) written once over the contract.

Each public method builds a plan from the contract's primitives and hands it to the backend's
sync driver; its `a`-prefixed twin hands the same plan to the async driver. Validation, ownership,
optimistic versioning, leases, forgetting and retention all live here, once, for every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from typing_extensions import Unpack

from memwise.errors import AlreadyExistsError, LeaseHeldError, NotFoundError, SchemaVersionError, VersionConflict
from memwise.storage import closing
from memwise.storage.checks import (
    Encoded,
    RunChanges,
    RunFilters,
    SessionChanges,
    SessionFilters,
    check_count,
    check_id,
    check_json_dict,
    check_known,
    check_messages,
    check_optional_id,
    check_positive,
    check_profile,
    check_run,
    check_run_changes,
    check_session_changes,
    prune_cutoff,
    record_query,
)
from memwise.storage.codec import dumps, loads
from memwise.storage.contract import Backend, RawMessage, RawRecord, RecordQuery
from memwise.storage.documents import KIND as DOCUMENTS
from memwise.storage.documents import KNOWLEDGE_AGENT, Documents
from memwise.storage.plan import Plan
from memwise.storage.raw import from_raw, to_raw
from memwise.storage.records import FINISHED_STATUSES, Page, Run, Session, StoredMessage, UserProfile
from memwise.storage.restore import restore_messages_plan, restore_plan
from memwise.storage.search import Searchable
from memwise.storage.turns import TurnEnd, TurnStart, TurnStartOptions, TurnWrite, finish_turn_plan, start_turn_plan
from memwise.storage.vectors import KIND as VECTORS
from memwise.storage.vectors import Vectors

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

T = TypeVar("T")

#: Version of the stored data's shape. Bump it and append a migration to MIGRATIONS together.
FORMAT_VERSION = 1
#: MIGRATIONS[n] turns a store of format n + 1 into format n + 2 (a plan over the primitives).
MIGRATIONS: list[Any] = []
#: Records deleted per query round when a delete cascades.
_BATCH = 200


class Storage(Searchable, Vectors, Documents, Backend):
    """Base class of every storage. Every method has an async twin named with an `a` prefix."""

    _opened = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        closing.hooks_first(cls)  # a backend's close() first ends the work that needs it

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
        return self._sync(self._p_create_session(session_id, user_id, agent_id, metadata, exist_ok), write=True)

    async def acreate_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> Session:
        return await self._async(self._p_create_session(session_id, user_id, agent_id, metadata, exist_ok), write=True)

    def get_session(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        """The session, or None when absent or (with `user_id`) owned by someone else."""
        return self._sync(self._p_get_session(session_id, user_id), write=False)

    async def aget_session(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        return await self._async(self._p_get_session(session_id, user_id), write=False)

    def list_sessions(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[SessionFilters]
    ) -> Page[Session]:
        """Sessions by user and/or agent, most recently updated first, one page at a time."""
        return self._sync(self._p_list("session", record_query("session", limit, cursor, filters)), write=False)

    async def alist_sessions(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[SessionFilters]
    ) -> Page[Session]:
        return await self._async(self._p_list("session", record_query("session", limit, cursor, filters)), write=False)

    def update_session(self, session_id: str, *, expected_version: int, **changes: Unpack[SessionChanges]) -> Session:
        """Change fields only if the stored version is `expected_version`, else VersionConflict."""
        return self._sync(self._p_update("session", session_id, expected_version, check_session_changes(changes)), write=True)

    async def aupdate_session(self, session_id: str, *, expected_version: int, **changes: Unpack[SessionChanges]) -> Session:
        return await self._async(self._p_update("session", session_id, expected_version, check_session_changes(changes)), write=True)

    def delete_session(self, session_id: str, *, user_id: str | None = None) -> bool:
        """Delete a session with its messages and runs. False when absent or not the user's."""
        return self._sync(self._p_delete_session(session_id, user_id), write=True)

    async def adelete_session(self, session_id: str, *, user_id: str | None = None) -> bool:
        return await self._async(self._p_delete_session(session_id, user_id), write=True)

    # ================================================================ messages
    def append_messages(
        self, session_id: str, messages: Sequence[ModelMessage], *, run_id: str | None = None
    ) -> list[int]:
        """Append pydantic-ai messages atomically; return their seqs (contiguous)."""
        return self._sync(self._p_append(session_id, check_messages(session_id, messages), run_id), write=True)

    async def aappend_messages(
        self, session_id: str, messages: Sequence[ModelMessage], *, run_id: str | None = None
    ) -> list[int]:
        return await self._async(self._p_append(session_id, check_messages(session_id, messages), run_id), write=True)

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
        return self._sync(self._p_read(session_id, after_seq, last_turns, limit, user_id), write=False)

    async def aread_messages(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        last_turns: int | None = None,
        limit: int | None = None,
        user_id: str | None = None,
    ) -> list[StoredMessage]:
        return await self._async(self._p_read(session_id, after_seq, last_turns, limit, user_id), write=False)

    # ================================================================ a whole turn, in one plan each
    def start_turn(self, session_id: str, **options: Unpack[TurnStartOptions]) -> TurnStart:
        """Everything a run needs before the model answers, in one plan (one transaction where
        the backend has them): the session (created when `create`, the default), the run record,
        the profile and the last turns. A session owned by a user other than `user_id` raises
        SessionAccessError (one without an owner is open to every user), before anything is written."""
        return self._sync(start_turn_plan(self, session_id, **check_known(options, TurnStartOptions, "start_turn")), write=True)

    async def astart_turn(self, session_id: str, **options: Unpack[TurnStartOptions]) -> TurnStart:
        return await self._async(start_turn_plan(self, session_id, **check_known(options, TurnStartOptions, "start_turn")), write=True)

    def finish_turn(self, turn: TurnWrite) -> TurnEnd:
        """Everything a run stores when it ends, in one plan (see `TurnWrite`). A run whose
        version is no longer `turn.update_run.expected_version` (cancelled, taken over) raises
        VersionConflict before anything is written; a session the update skipped is left None
        in `TurnEnd.session`, for the caller to recompute and write."""
        return self._sync(finish_turn_plan(self, turn), write=True)

    async def afinish_turn(self, turn: TurnWrite) -> TurnEnd:
        return await self._async(finish_turn_plan(self, turn), write=True)

    # ================================================================ profiles
    def get_profile(self, user_id: str) -> UserProfile | None:
        return self._sync(self._p_get("profile", check_id(user_id, "user_id")), write=False)

    async def aget_profile(self, user_id: str) -> UserProfile | None:
        return await self._async(self._p_get("profile", check_id(user_id, "user_id")), write=False)

    def put_profile(self, profile: UserProfile, *, expected_version: int) -> UserProfile:
        """Store a profile if the stored version is `expected_version` (0: none yet)."""
        return self._sync(self._p_put_profile(profile, expected_version), write=True)

    async def aput_profile(self, profile: UserProfile, *, expected_version: int) -> UserProfile:
        return await self._async(self._p_put_profile(profile, expected_version), write=True)

    def list_profiles(self, *, limit: int = 50, cursor: str | None = None) -> Page[UserProfile]:
        """Every stored profile (also of users without sessions), most recently updated first."""
        return self._sync(self._p_list("profile", record_query("profile", limit, cursor, {})), write=False)

    async def alist_profiles(self, *, limit: int = 50, cursor: str | None = None) -> Page[UserProfile]:
        return await self._async(self._p_list("profile", record_query("profile", limit, cursor, {})), write=False)

    # ================================================================ runs
    def create_run(self, run: Run) -> Run:
        return self._sync(self._p_create_run(run), write=True)

    async def acreate_run(self, run: Run) -> Run:
        return await self._async(self._p_create_run(run), write=True)

    def get_run(self, run_id: str) -> Run | None:
        return self._sync(self._p_get("run", check_id(run_id, "run_id")), write=False)

    async def aget_run(self, run_id: str) -> Run | None:
        return await self._async(self._p_get("run", check_id(run_id, "run_id")), write=False)

    def update_run(self, run_id: str, *, expected_version: int, **changes: Unpack[RunChanges]) -> Run:
        """Change a run only if the stored version is `expected_version`, else VersionConflict."""
        return self._sync(self._p_update("run", run_id, expected_version, check_run_changes(changes)), write=True)

    async def aupdate_run(self, run_id: str, *, expected_version: int, **changes: Unpack[RunChanges]) -> Run:
        return await self._async(self._p_update("run", run_id, expected_version, check_run_changes(changes)), write=True)

    def list_runs(self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[RunFilters]) -> Page[Run]:
        """Runs by session, user and/or status (one or several), most recently updated first."""
        return self._sync(self._p_list("run", record_query("run", limit, cursor, filters)), write=False)

    async def alist_runs(self, *, limit: int = 50, cursor: str | None = None, **filters: Unpack[RunFilters]) -> Page[Run]:
        return await self._async(self._p_list("run", record_query("run", limit, cursor, filters)), write=False)

    def delete_run(self, run_id: str) -> bool:
        return self._sync(self._delete_record("run", check_id(run_id, "run_id")), write=True)

    async def adelete_run(self, run_id: str) -> bool:
        return await self._async(self._delete_record("run", check_id(run_id, "run_id")), write=True)

    def acquire_lease(self, run_id: str, owner: str, ttl: float) -> Run:
        """Take the run's lease for `ttl` seconds; LeaseHeldError if another owner holds it."""
        return self._sync(self._p_lease(run_id, check_id(owner, "owner"), check_positive(ttl, "ttl")), write=True)

    async def aacquire_lease(self, run_id: str, owner: str, ttl: float) -> Run:
        return await self._async(self._p_lease(run_id, check_id(owner, "owner"), check_positive(ttl, "ttl")), write=True)

    def release_lease(self, run_id: str, owner: str) -> Run | None:
        """Give the lease back; None when `owner` does not hold it (nothing changes)."""
        return self._sync(self._p_lease(run_id, check_id(owner, "owner"), None), write=True)

    async def arelease_lease(self, run_id: str, owner: str) -> Run | None:
        return await self._async(self._p_lease(run_id, check_id(owner, "owner"), None), write=True)

    # ================================================================ restoring a backup
    def restore(self, record: Session | Run | UserProfile) -> Session | Run | UserProfile:
        """Write a record exactly as given, version and timestamps included, where the store has
        no record with its id (else AlreadyExistsError). For backups: `memwise.storage.transfer`."""
        return self._sync(restore_plan(self, record), write=True)

    async def arestore(self, record: Session | Run | UserProfile) -> Session | Run | UserProfile:
        return await self._async(restore_plan(self, record), write=True)

    def restore_messages(self, session_id: str, messages: Sequence[StoredMessage]) -> list[int]:
        """Append stored messages with their seqs, run ids and `created_at` as given; the first
        seq must follow the session's last one (else AlreadyExistsError or InvalidInputError)."""
        return self._sync(restore_messages_plan(self, session_id, messages), write=True)

    async def arestore_messages(self, session_id: str, messages: Sequence[StoredMessage]) -> list[int]:
        return await self._async(restore_messages_plan(self, session_id, messages), write=True)

    # ================================================================ users and retention
    def forget_user(self, user_id: str) -> dict[str, int]:
        """Delete every session, message, run and the profile of a user; return the counts."""
        return self._sync(self._p_forget_user(check_id(user_id, "user_id")), write=True)

    async def aforget_user(self, user_id: str) -> dict[str, int]:
        return await self._async(self._p_forget_user(check_id(user_id, "user_id")), write=True)

    def prune(self, older_than: datetime | timedelta | float) -> dict[str, int]:
        """Delete sessions not updated since `older_than` (with their messages and runs) and
        finished runs older than it. `older_than`: a datetime, an age, or epoch seconds."""
        return self._sync(self._p_prune(prune_cutoff(older_than)), write=True)

    async def aprune(self, older_than: datetime | timedelta | float) -> dict[str, int]:
        return await self._async(self._p_prune(prune_cutoff(older_than)), write=True)

    # ================================================================ driving plans
    def _sync(self, plan: Plan[T], *, write: bool) -> T:
        """Run a plan on the blocking driver, opening the store first; `write`: the plan may write."""
        if not self._opened:
            self._run(self._p_open(), write=True)
            while self._run(self._index_backlog(), write=True):  # one transaction per batch: resumable
                pass
            self._opened = True
        return self._run(plan, write=write)

    async def _async(self, plan: Plan[T], *, write: bool) -> T:
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

    @overload
    def _p_get(self, kind: Literal["session"], key: str) -> Plan[Session | None]: ...
    @overload
    def _p_get(self, kind: Literal["run"], key: str) -> Plan[Run | None]: ...
    @overload
    def _p_get(self, kind: Literal["profile"], key: str) -> Plan[UserProfile | None]: ...
    def _p_get(self, kind: str, key: str) -> Plan[Any]:
        raw = yield from self._get_record(kind, key)
        return None if raw is None else from_raw(raw)

    def _p_get_session(self, session_id: str, user_id: str | None) -> Plan[Session | None]:
        session = yield from self._p_get("session", check_id(session_id, "session_id"))
        if session is None or (user_id is not None and session.user_id != user_id):
            return None
        return session

    def _p_create_session(
        self, session_id: str, user_id: str | None, agent_id: str | None, metadata: Any, exist_ok: bool
    ) -> Plan[Session]:
        now = time.time()
        session = Session(
            check_id(session_id, "session_id"),
            user_id=check_optional_id(user_id, "user_id"),
            agent_id=check_optional_id(agent_id, "agent_id"),
            metadata=check_json_dict(metadata or {}, "metadata"),
            created_at=now,
            updated_at=now,
            version=1,
        )
        if (yield from self._put_record(to_raw(session), 0)):
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
        items = [from_raw(raw) for raw in raws]
        return Page(items, f"{raws[-1].updated_at!r}|{raws[-1].key}" if more and raws else None)

    @overload
    def _p_update(
        self, kind: Literal["session"], key: str, expected_version: int, changes: dict[str, Any], raw: RawRecord | None = None
    ) -> Plan[Session]: ...
    @overload
    def _p_update(
        self, kind: Literal["run"], key: str, expected_version: int, changes: dict[str, Any], raw: RawRecord | None = None
    ) -> Plan[Run]: ...
    def _p_update(
        self, kind: str, key: str, expected_version: int, changes: dict[str, Any], raw: RawRecord | None = None
    ) -> Plan[Any]:
        """Compare-and-set `changes` on a record (`raw`: the record as just read, if it was)."""
        key = check_id(key, f"{kind}_id")
        if raw is None:
            raw = yield from self._get_record(kind, key)
        if raw is None:
            raise NotFoundError(f"{kind} {key!r} does not exist")
        if raw.version != expected_version:
            raise VersionConflict(f"{kind} {key!r}", expected_version, raw.version)
        record = from_raw(raw)
        for name, value in changes.items():
            setattr(record, name, value)
        record.version, record.updated_at = expected_version + 1, time.time()
        if not (yield from self._put_record(to_raw(record), expected_version)):
            current = yield from self._get_record(kind, key)
            raise VersionConflict(f"{kind} {key!r}", expected_version, current.version if current else None)
        return record

    def _p_delete_session(self, session_id: str, user_id: str | None) -> Plan[bool]:
        session_id = check_id(session_id, "session_id")
        raw = yield from self._get_record("session", session_id)  # not decoded: corrupt ones go too
        if raw is None or (user_id is not None and raw.user_id != user_id):
            return False
        self._forget_indexed(session_id)
        yield from self._delete_messages(session_id)
        yield from self._p_delete_all(RecordQuery("run", session_id=session_id, limit=_BATCH))
        yield from self._p_delete_all(RecordQuery(VECTORS, session_id=session_id, limit=_BATCH))
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
        run_id = check_optional_id(run_id, "run_id")
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
        session_id = check_id(session_id, "session_id")
        after_seq = check_count(after_seq, "after_seq", allow_zero=True)
        last_turns = None if last_turns is None else check_count(last_turns, "last_turns")
        limit = None if limit is None else check_count(limit, "limit")
        if user_id is not None and (yield from self._p_get_session(session_id, user_id)) is None:
            return []
        raws = yield from self._read_messages(session_id, after_seq, last_turns, limit)
        stored = [StoredMessage(session_id, raw.seq, raw.run_id, bool(raw.turn_start), raw.created_at, raw.body) for raw in raws]
        if parse:
            for item in stored:
                item.data  # noqa: B018 - parse now: a corrupted message fails the read that meets it
        return stored


    def _p_put_profile(self, profile: UserProfile, expected_version: int) -> Plan[UserProfile]:
        check_profile(profile)
        now = time.time()
        stored = UserProfile(
            profile.user_id, dict(profile.data), dict(profile.provenance),
            created_at=profile.created_at or now, updated_at=now,
            version=check_count(expected_version, "expected_version", allow_zero=True) + 1,
        )
        if not (yield from self._put_record(to_raw(stored), expected_version)):
            current = yield from self._get_record("profile", profile.user_id)
            raise VersionConflict(f"profile {profile.user_id!r}", expected_version, current.version if current else None)
        return stored

    def _p_create_run(self, run: Run) -> Plan[Run]:
        check_run(run)
        now = time.time()
        stored = replace(run, created_at=run.created_at or now, updated_at=now, version=1)
        if not (yield from self._put_record(to_raw(stored), 0)):
            raise AlreadyExistsError(f"run {run.run_id!r} exists already")
        return stored

    @overload
    def _p_lease(self, run_id: str, owner: str, ttl: float) -> Plan[Run]: ...
    @overload
    def _p_lease(self, run_id: str, owner: str, ttl: None) -> Plan[Run | None]: ...
    def _p_lease(self, run_id: str, owner: str, ttl: float | None) -> Plan[Run | None]:
        """Take (ttl given) or release (ttl None) a run's lease with a compare-and-set loop."""
        run_id = check_id(run_id, "run_id")
        while True:
            raw = yield from self._get_record("run", run_id)
            if raw is None:
                raise NotFoundError(f"run {run_id!r} does not exist")
            run: Run = from_raw(raw)
            now = time.time()
            if ttl is None:
                if run.lease_owner != owner:
                    return None
                run.lease_owner = run.lease_expires_at = None
            else:
                expires = run.lease_expires_at or 0.0
                if run.lease_owner not in (None, owner) and expires > now:
                    raise LeaseHeldError(
                        f"run {run_id!r} is being resumed by {run.lease_owner!r} (lease expires in {expires - now:.1f}s)"
                    )
                run.lease_owner, run.lease_expires_at = owner, now + ttl
            run.version, run.updated_at = raw.version + 1, now
            if (yield from self._put_record(to_raw(run), raw.version)):
                return run

    def _p_delete_sessions(
        self, query: RecordQuery, keep: Callable[[RawRecord], bool] | None = None
    ) -> Plan[dict[str, int]]:
        """Delete every session a query matches (but those `keep` keeps), with its messages and runs."""
        counts = {"sessions": 0, "messages": 0, "runs": 0}
        while True:
            raws = yield from self._query_records(query)
            for raw in raws:
                if keep is not None and keep(raw):
                    continue
                self._forget_indexed(raw.key)
                counts["messages"] += yield from self._delete_messages(raw.key)
                counts["runs"] += yield from self._p_delete_all(RecordQuery("run", session_id=raw.key, limit=_BATCH))
                yield from self._p_delete_all(RecordQuery(VECTORS, session_id=raw.key, limit=_BATCH))
                counts["sessions"] += bool((yield from self._delete_record("session", raw.key)))
            if len(raws) < query.limit:
                return counts
            query = replace(query, after=(raws[-1].updated_at, raws[-1].key))

    def _p_forget_user(self, user_id: str) -> Plan[dict[str, int]]:
        counts = yield from self._p_delete_sessions(RecordQuery("session", user_id=user_id, limit=_BATCH))
        counts["runs"] += yield from self._p_delete_all(RecordQuery("run", user_id=user_id, limit=_BATCH))
        counts["profiles"] = int((yield from self._delete_record("profile", user_id)))
        yield from self._p_delete_all(RecordQuery(DOCUMENTS, user_id=user_id, limit=_BATCH))  # a knowledge base's owner
        return counts

    def _p_prune(self, cutoff: float) -> Plan[dict[str, int]]:
        old = RecordQuery("session", updated_before=cutoff, limit=_BATCH)
        counts = yield from self._p_delete_sessions(old, keep=lambda raw: raw.agent_id == KNOWLEDGE_AGENT)
        finished = RecordQuery("run", statuses=FINISHED_STATUSES, updated_before=cutoff, limit=_BATCH)
        counts["runs"] += yield from self._p_delete_all(finished)
        return counts

