"""Typed records the storage API hands out. Plain dataclasses: cheap to build, easy to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

RunStatus = Literal["running", "paused", "completed", "error", "cancelled"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
FINISHED_STATUSES: tuple[str, ...] = ("completed", "error", "cancelled")

T = TypeVar("T")


@dataclass(slots=True)
class Session:
    """One conversation. `summarized_through` is the highest message seq folded into `summary`;
    `pending_turns` lists the turns whose memory updates (summary, profile) are still to be made
    (see memwise.memory.pending)."""

    session_id: str
    user_id: str | None = None
    agent_id: str | None = None
    summary: str | None = None
    summarized_through: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    pending_turns: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0


class _Decoded:
    """`data` (the parsed JSON of `body`) and `message` (the pydantic-ai message), made on first
    use: a history read mostly meets messages memory has decoded before, so most are never parsed."""

    __slots__ = ()
    session_id: str
    seq: int
    body: str
    _data: dict[str, Any] | None

    @property
    def data(self) -> dict[str, Any]:
        """The message's JSON form; CorruptRecordError (naming the message) if it is not an object."""
        if self._data is None:
            from memwise.storage.codec import load_object

            # the subclasses' slots hold _data (this mixin has none, so that they have no __dict__)
            self._data = load_object(self.body, f"message {self.seq} of session {self.session_id!r}")  # type: ignore[misc]
        return self._data

    @property
    def message(self) -> ModelMessage:
        from memwise.storage.codec import decode_message

        return decode_message(self.data)


@dataclass(slots=True)
class StoredMessage(_Decoded):
    """One pydantic-ai message as stored: `body` is its JSON text, `seq` its place in the session."""

    session_id: str
    seq: int
    run_id: str | None
    turn_start: bool
    created_at: float
    body: str = field(repr=False)
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class SearchHit(_Decoded):
    """A message found by search. `text` is what was indexed (`storage.search_text`), `role`
    "user" (a request) or "assistant" (a response), `created_at` the message's own timestamp
    (epoch seconds), `score` higher for better (comparable within one answer only)."""

    session_id: str
    seq: int
    score: float
    created_at: float
    role: str
    text: str
    run_id: str | None
    turn_start: bool
    body: str = field(repr=False)
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class UserProfile:
    """What memory learned about a user; `provenance[field]` says which run set it and when."""

    user_id: str
    data: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0


@dataclass(slots=True)
class Run:
    """One agent run; `checkpoint` holds what a paused run needs to resume, `lease_*` who resumes it."""

    run_id: str
    session_id: str
    user_id: str | None = None
    agent_id: str | None = None
    status: RunStatus = "running"
    checkpoint: dict[str, Any] | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0


DocumentStatus = Literal["ready", "error"]


@dataclass(slots=True)
class KnowledgeDocument:
    """One source of a knowledge base, as registered in the storage (`memwise.knowledge`).

    `chunks_session` names the session holding the chunks searches may return (one message per
    chunk, `locations[seq - 1]` citing where each comes from); a changed source gets a new one,
    swapped in by one compare-and-set, so a search sees the old chunks or the new, never a mix.
    `status` "error" with `status_message` when the last ingestion failed (chunks of an earlier
    good version, if any, stay searchable). `settings` fingerprints how it was chunked."""

    id: str
    knowledge_base_id: str
    name: str
    source: str
    type: str = ""
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    content_hash: str | None = None
    chunk_count: int = 0
    status: DocumentStatus = "ready"
    status_message: str | None = None
    access_count: int = 0
    settings: str = ""
    chunks_session: str | None = None
    locations: list[str] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a listing; pass `next_cursor` back to get the next page (None: no more)."""

    items: list[T]
    next_cursor: str | None = None
