"""`Memory`: what an agent remembers, configured by save flags (what is stored) and load flags
(what reaches the model). Public methods each have an `_async` twin holding the logic."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

from memwise._sync import sync_twin
from memwise.errors import InvalidInputError, NotFoundError
from memwise.memory import background, recall
from memwise.memory.background import PendingUpdates
from memwise.memory.cache import DecodedMessages, Lru
from memwise.memory.errors import SessionAccessError
from memwise.memory.profile import ProfileLimits, UserMemoryMode, check_schema
from memwise.memory.recall import RecallScope
from memwise.memory.retry import retry_on_conflict
from memwise.memory.summary import SummaryLimits
from memwise.storage.base import Storage
from memwise.storage.records import Run, Session, UserProfile

if TYPE_CHECKING:
    from memwise.recall.dense import VectorIndex
    from memwise.recall.recalled import Recalled

logger = logging.getLogger("memwise.memory")
_S = TypeVar("_S", Session, Optional[Session])  # noqa: UP045 - a runtime type


@dataclass(slots=True)
class SessionWithMessages(Session):
    """What `Memory.get_session()` returns: the session record and its stored `messages`."""

    messages: list[ModelMessage] = field(default_factory=list)

_STORAGE_METHODS = ("aget_session", "acreate_session", "aappend_messages", "aread_messages", "aget_profile")


class Memory:
    """Persistent memory for an Agent: chat history, a running summary and a user profile.

    Save flags (`full_session_memory`, `summary_memory`, `user_analysis_memory`) decide what is
    stored; load flags (`load_*`, defaulting to their save flag) decide what is injected into the
    next runs. See docs/memory.md for every parameter.
    """

    def __init__(
        self,
        storage: Storage,
        session_id: str | None = None,
        user_id: str | None = None,
        full_session_memory: bool = False,
        summary_memory: bool = False,
        user_analysis_memory: bool = False,
        load_full_session_memory: bool | None = None,
        load_summary_memory: bool | None = None,
        load_user_analysis_memory: bool | None = None,
        user_profile_schema: type[BaseModel] | None = None,
        dynamic_user_profile: bool = False,
        num_last_messages: int | None = None,
        model: Model | str | None = None,
        debug: bool = False,
        debug_level: int = 1,
        feed_tool_call_results: bool = False,
        user_memory_mode: UserMemoryMode = "update",
        *,
        max_context_tokens: int | None = None,
        summary_max_tokens: int = 400,
        summary_input_tokens: int = 1_500,
        profile_input_tokens: int = 1_000,
        agent_id: str | None = None,
        recall_memory: bool = False,
        recall_tokens: int = 1_500,
        recall_scope: RecallScope = "user",
        recall_tool: bool = False,
        embedder: Any = None,
        background_updates: bool = True,
    ) -> None:
        missing = [name for name in _STORAGE_METHODS if not callable(getattr(storage, name, None))]
        if missing:
            raise InvalidInputError(
                f"storage must be a memwise Storage (e.g. SqliteStorage(db_file=...)), got {type(storage).__name__}"
            )
        self.storage = storage
        self.session_id = _opt_str(session_id, "session_id") or str(uuid.uuid4())
        self.user_id = _opt_str(user_id, "user_id")
        self.agent_id = _opt_str(agent_id, "agent_id")
        self.full_session_memory = _flag(full_session_memory, "full_session_memory")
        self.summary_memory = _flag(summary_memory, "summary_memory")
        self.user_analysis_memory = _flag(user_analysis_memory, "user_analysis_memory")
        self.load_full_session_memory = _load_flag(load_full_session_memory, self.full_session_memory, "load_full_session_memory")
        self.load_summary_memory = _load_flag(load_summary_memory, self.summary_memory, "load_summary_memory")
        self.load_user_analysis_memory = _load_flag(
            load_user_analysis_memory, self.user_analysis_memory, "load_user_analysis_memory"
        )
        self.user_profile_schema = check_schema(user_profile_schema)
        self.dynamic_user_profile = _flag(dynamic_user_profile, "dynamic_user_profile")
        if self.dynamic_user_profile and self.user_profile_schema is not None:
            raise InvalidInputError("pass either user_profile_schema or dynamic_user_profile=True, not both")
        if (self.user_analysis_memory or self.load_user_analysis_memory) and self.user_id is None:
            raise InvalidInputError("user_analysis_memory / load_user_analysis_memory need a user_id")
        self.num_last_messages = _opt_count(num_last_messages, "num_last_messages")
        self.max_context_tokens = _opt_count(max_context_tokens, "max_context_tokens")
        self.feed_tool_call_results = _flag(feed_tool_call_results, "feed_tool_call_results")
        if user_memory_mode not in ("update", "replace"):
            raise InvalidInputError(f"user_memory_mode must be 'update' or 'replace', got {user_memory_mode!r}")
        self.user_memory_mode: UserMemoryMode = user_memory_mode
        self.summary_limits = SummaryLimits(
            _min_tokens(summary_max_tokens, "summary_max_tokens"), _min_tokens(summary_input_tokens, "summary_input_tokens")
        )
        self.profile_limits = ProfileLimits(_min_tokens(profile_input_tokens, "profile_input_tokens"))
        self.recall_memory = _flag(recall_memory, "recall_memory")
        self.recall_tool = _flag(recall_tool, "recall_tool")
        self.recall_tokens = _min_tokens(recall_tokens, "recall_tokens")
        self.recall_scope: RecallScope = recall.check_scope(recall_scope, "recall_scope")
        if self.recall_memory or self.recall_tool:
            recall.scope_of(self, recall_scope, "recall_scope")  # "user" needs a user_id: say so now
        self.vectors: VectorIndex | None = None  # dense recall: message vectors of `embedder`
        if embedder is not None:
            from memwise.recall.dense import VectorIndex, resolve_embedder

            self.vectors = VectorIndex(resolve_embedder(embedder))
        self.background_updates = _flag(background_updates, "background_updates")
        self.debug = _flag(debug, "debug")
        self.debug_level = debug_level
        if self.debug:
            enable_debug_logging()
        self.decoded = DecodedMessages()
        self.turns: Lru[tuple[list[ModelMessage], int]] = Lru(1_024)  # stored turn -> (window form, tokens)
        self.window_hint = 0  # turns the last history window held (sizes the next read)
        self.model: Model | None = None
        if model is not None:
            from memwise.models import resolve_model

            self.model = resolve_model(model)

    # ------------------------------------------------------------------ flags
    @property
    def full_session_memory_enabled(self) -> bool:
        return self.full_session_memory

    @property
    def summary_memory_enabled(self) -> bool:
        return self.summary_memory

    @property
    def user_analysis_memory_enabled(self) -> bool:
        return self.user_analysis_memory

    @property
    def is_profile_dynamic(self) -> bool:
        return self.dynamic_user_profile

    @property
    def saves_anything(self) -> bool:
        return self.full_session_memory or self.summary_memory or self.user_analysis_memory

    @property
    def loads_anything(self) -> bool:
        return (
            self.load_full_session_memory or self.load_summary_memory or self.load_user_analysis_memory
            or self.recall_memory
        )

    @property
    def updates_later(self) -> bool:
        """Summary and profile updates run after the answer (`background_updates`, see background.py)."""
        return self.background_updates and (self.summary_memory or self.user_analysis_memory)

    def log(self, message: str, *args: Any, level: int = 1) -> None:
        """Debug output (`debug=True`); level-2 messages need `debug_level=2`."""
        if self.debug and level <= self.debug_level:
            logger.info(message, *args)

    # ------------------------------------------------------------------ sessions
    def check_owner(self, session: _S) -> _S:
        """Refuse a session owned by another user (a guessed id must not leak history)."""
        if session is not None and session.user_id is not None and session.user_id != self.user_id:
            raise SessionAccessError(f"session {session.session_id!r} belongs to another user")
        return session

    async def get_session_async(self) -> SessionWithMessages | None:
        """This memory's session (summary, metadata, usage) with its stored `messages`, or None
        before the first save. Waits for this process's pending updates of the session first."""
        await background.settle(self)
        session = await self._session()
        if session is None:
            return None
        stored = await self.storage.aread_messages(self.session_id)
        record = {f.name: getattr(session, f.name) for f in fields(Session)}
        return SessionWithMessages(**record, messages=[self.decoded.get(item) for item in stored])

    async def _session(self) -> Session | None:
        return self.check_owner(await self.storage.aget_session(self.session_id))

    async def find_session_async(self, session_id: str) -> Session | None:
        """Another session of this memory's user, or None."""
        return self.check_owner(await self.storage.aget_session(session_id))

    async def get_messages_async(self, *, last_turns: int | None = None) -> list[ModelMessage]:
        """The stored messages of this session (the last `last_turns` user turns, or all)."""
        if await self._session() is None:
            return []
        stored = await self.storage.aread_messages(self.session_id, last_turns=last_turns)
        return [item.message for item in stored]

    async def list_sessions_async(self, user_id: str | None = None, *, limit: int = 50) -> list[Session]:
        """Sessions of `user_id` (default: this memory's user), most recently updated first."""
        page = await self.storage.alist_sessions(user_id=user_id or self.user_id, limit=limit)
        return list(page.items)

    async def delete_session_async(self, session_id: str | None = None) -> bool:
        """Delete a session (default: this one) with its messages and runs."""
        target = session_id or self.session_id
        self.check_owner(await self.storage.aget_session(target))
        await background.stop(self.storage, lambda memory: memory.session_id == target)
        return await self.storage.adelete_session(target)

    async def get_metadata_async(self) -> dict[str, Any]:
        session = await self._session()
        return dict(session.metadata) if session else {}

    async def set_metadata_async(self, metadata: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
        """Merge `metadata` into the session's metadata (or replace it); returns the result.
        Metadata is injected into the instructions of runs whenever any load flag is on."""
        if not isinstance(metadata, dict):
            raise InvalidInputError(f"metadata must be a dict, got {type(metadata).__name__}")
        await self.ensure_session()

        async def attempt() -> dict[str, Any]:
            session = self.check_owner(await self.storage.aget_session(self.session_id))
            if session is None:
                raise NotFoundError(f"session {self.session_id!r} was deleted meanwhile")
            merged = dict(metadata) if replace else {**session.metadata, **metadata}
            updated = await self.storage.aupdate_session(
                self.session_id, expected_version=session.version, metadata=merged
            )
            return dict(updated.metadata)

        return await retry_on_conflict(attempt, what=f"metadata of session {self.session_id!r}")

    async def ensure_session(self) -> Session:
        """Create this memory's session on first use (owned by `user_id`)."""
        session = await self.storage.aget_session(self.session_id)
        if session is None:
            from memwise.errors import AlreadyExistsError

            try:
                session = await self.storage.acreate_session(
                    self.session_id, user_id=self.user_id, agent_id=self.agent_id, exist_ok=True
                )
            except AlreadyExistsError as exc:
                raise SessionAccessError(str(exc)) from exc
        return self.check_owner(session)

    # ------------------------------------------------------------------ users and runs
    async def get_user_profile_async(self, user_id: str | None = None) -> UserProfile | None:
        """The stored profile (`.data`, and `.provenance[field]` = run and time that set it).
        Waits for this process's pending updates of this memory's session first."""
        uid = user_id or self.user_id
        if uid is None:
            raise InvalidInputError("get_user_profile needs a user_id (none given, none configured)")
        await background.settle(self)
        return await self.storage.aget_profile(uid)

    async def forget_user_async(self, user_id: str | None = None) -> dict[str, int]:
        """Delete every session, message, run and the profile of a user; returns the counts."""
        uid = user_id or self.user_id
        if uid is None:
            raise InvalidInputError("forget_user needs a user_id (none given, none configured)")
        await background.stop(self.storage, lambda memory: memory.user_id == uid)
        return await self.storage.aforget_user(uid)

    async def prepare_inputs_for_task_async(self) -> dict[str, Any]:
        """What memory would give the next run, read without writing anything:
        `message_history` (the history window), `context_injection` (the summary),
        `system_prompt_injection` (the profile) and `metadata_injection` (session metadata),
        each "" when there is none. A run sends the three as one block in its instructions."""
        from memwise.memory.budget import context_budget
        from memwise.memory.context import render_context
        from memwise.memory.load import first_read_turns, load_memory
        from memwise.models.resolve import context_window

        await background.settle(self)
        start = await self.storage.astart_turn(
            self.session_id, user_id=self.user_id, agent_id=self.agent_id, create=False,
            load_profile=self.load_user_analysis_memory,
            last_turns=first_read_turns(self) if self.load_full_session_memory else None,
        )
        budget = context_budget(self.max_context_tokens, context_window(self.model) if self.model else None)
        loaded = await load_memory(self, start, budget)
        session, profile = start.session, start.profile
        parts: dict[str, dict[str, Any]] = {
            "context_injection": {"summary": session.summary if session and self.load_summary_memory else None},
            "system_prompt_injection": {"profile": profile.data if profile and self.load_user_analysis_memory else None},
            "metadata_injection": {"metadata": session.metadata if session and self.loads_anything else None},
        }
        prepared: dict[str, Any] = {"message_history": loaded.history}
        for name, section in parts.items():
            prepared[name] = render_context(**section, max_tokens=budget) or ""
        return prepared

    # ------------------------------------------------------------------ background updates
    async def aflush(self, timeout: float | None = None) -> None:
        """Make the session's pending summary and profile updates now and wait for them: this
        process's, and those another process left behind (it crashed after answering). Raises
        MemorySaveError if they cannot be made (the error of the last attempt) within `timeout`."""
        await background.flush(self, timeout)

    flush = sync_twin(aflush, shared_loop=lambda self: True)

    async def apending(self) -> PendingUpdates:
        """What memory is behind on for this session: turns whose updates are not stored yet
        (per update), whether this process is making them, and the last error if they fail."""
        return await background.status(self)

    pending = sync_twin(apending)

    async def load_run_async(self, run_id: str) -> Run | None:
        """A run record of this session (status, usage, error), or None."""
        run = await self.storage.aget_run(run_id)
        return run if run is not None and run.session_id == self.session_id else None

    # ------------------------------------------------------------------ recall
    async def asearch(self, query: str, *, scope: RecallScope = "user", limit: int = 10) -> list[Recalled]:
        """Stored messages matching `query`, best first: every session of this memory's user
        (`scope="user"`) or this session only. Each has `text` (verbatim), `role`, `session_id`,
        `seq`, `created_at` (the message's own time, epoch seconds) and `score`."""
        return await recall.search(self, query, scope, limit)

    async def arecall_context(self, query: str, max_tokens: int = 2_000) -> str:
        """Exactly the block recall injects for `query`: the relevant stored messages, verbatim with
        their session and date, grouped by session in time order, within `max_tokens`."""
        return await recall.context(self, query, _min_tokens(max_tokens, "max_tokens"))

    search = sync_twin(asearch)
    recall_context = sync_twin(arecall_context)

    # reads may make the updates an ended event loop left behind: with memory's model, on the shared loop
    get_session = sync_twin(get_session_async, shared_loop=lambda self: self.updates_later)
    find_session = sync_twin(find_session_async)
    get_messages = sync_twin(get_messages_async)
    list_sessions = sync_twin(list_sessions_async)
    delete_session = sync_twin(delete_session_async)
    get_metadata = sync_twin(get_metadata_async)
    set_metadata = sync_twin(set_metadata_async)
    get_user_profile = sync_twin(get_user_profile_async, shared_loop=lambda self: self.updates_later)
    forget_user = sync_twin(forget_user_async)
    load_run = sync_twin(load_run_async)
    prepare_inputs_for_task = sync_twin(prepare_inputs_for_task_async, shared_loop=lambda self: self.updates_later)

    def __repr__(self) -> str:
        flags = [
            name
            for name in ("full_session_memory", "summary_memory", "user_analysis_memory")
            if getattr(self, name)
        ]
        return f"Memory(session_id={self.session_id!r}, user_id={self.user_id!r}, saves={flags})"


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def _load_flag(value: Any, default: bool, name: str) -> bool:
    return default if value is None else _flag(value, name)


def _opt_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _opt_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return value


def _min_tokens(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 16:
        raise InvalidInputError(f"{name} must be an integer >= 16 (tokens), got {value!r}")
    return value


_debug_handler: logging.Handler | None = None


def enable_debug_logging() -> None:
    """Make `debug=True` visible without logging setup (once per process)."""
    global _debug_handler
    if _debug_handler is None and not logger.handlers:
        _debug_handler = logging.StreamHandler()
        _debug_handler.setFormatter(logging.Formatter("[memwise] %(message)s"))
        logger.addHandler(_debug_handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
