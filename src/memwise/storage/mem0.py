"""Mem0Storage: the storage contract on Mem0 memories (open-source `Memory` or the hosted platform).

Mem0 is used as what it is, memories with metadata, filters and search, not as a blob store:

- Every record (session, run, profile, the store's format record) is ONE mem0 memory, and so is
  every message. The memory's text is meaningful (a message's words; a short description for a
  record) so mem0's own search and dashboard show real content. The exact JSON body the core
  produced rides along in the memory's metadata (`mw_body`) and comes back byte for byte.
- mem0 entity scopes follow the data: `user_id` is the memwise user (a placeholder,
  `<namespace>-anonymous`, when there is none) and `run_id` is the session. The memwise fields
  that are filtered on live in metadata with an `mw_` prefix (mem0 reserves `user_id`, `agent_id`,
  `run_id`, `created_at`...): `mw_ns` (the namespace, so several stores can share one mem0
  project), `mw_kind`, `mw_key`, `mw_version`, `mw_updated_at`, `mw_user`, `mw_agent`,
  `mw_session`, `mw_status`; for messages `mw_session`, `mw_seq`, `mw_turn`, `mw_run`,
  `mw_created_at`.
- Reads are mem0 `get_all` calls with `filters=` (identity inside the filters, as mem0 v2 wants).
  With the open-source Memory on qdrant, equality and range conditions (seq window, updated_at)
  are pushed down to the vector store; on the platform only what its filter grammar accepts is
  sent (entity fields and metadata equality) and the rest is applied here. Every condition is
  re-checked in Python, so a vector store with weaker filters still returns exact results.
  Mem0 has no ordered listing, so pages of sessions/runs are sorted here (newest first).

Atomicity: Mem0 has no compare-and-set and no counters. `_put_record`, `_delete_record`,
`_append_messages` and `_delete_messages` run under a lock held by this process (shared by every
Mem0Storage built on the same mem0 client object), and message seqs come from a per-session
counter kept in that process. An append checks under that lock that its session exists, and (on
the platform, where a plan's steps take the lock one by one) deleting a session's record also
deletes the messages appended since the plan deleted them: no message outlives its session.
**Mem0Storage is therefore safe for many threads and tasks in ONE process, not for several
processes (or hosts) writing the same mem0 store**: Mem0 itself offers no primitive that would
make cross-process writes atomic. A failed append removes the messages it had already written; a
process killed in the middle of a multi-message append can leave the first messages of that
append (each message is always whole).

Drivers: the open-source `Memory` is an in-process library (its qdrant local mode is not
thread-safe), so every plan runs under the lock and the async API uses the default thread driver.
The hosted platform runs `MemoryClient` (sync) and, when built from `api_key` or given an
`async_memory_client`, `AsyncMemoryClient` (httpx.AsyncClient) natively for the async API.
"""

from __future__ import annotations

import os

os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported: no telemetry calls
os.environ.setdefault(
    "MEM0_DIR",
    os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "memwise", "mem0"),
)

import sys  # noqa: E402

_MEM0_PRELOADED = "mem0" in sys.modules

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from memwise.errors import (  # noqa: E402
    ConfigurationError,
    CorruptRecordError,
    InvalidInputError,
    MemwiseError,
    StorageError,
    StorageUnavailableError,
)
from memwise.storage.base import Storage  # noqa: E402
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery, newest_first  # noqa: E402
from memwise.storage.options import common_options  # noqa: E402
from memwise.storage.plan import Plan, T, adrive, drive  # noqa: E402
from memwise.storage.records import StoredMessage  # noqa: E402

try:
    import httpx
    from mem0 import AsyncMemoryClient, Memory, MemoryClient
    from mem0.configs.base import MemoryConfig
    from mem0.exceptions import MemoryNotFoundError, NetworkError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        f"Mem0Storage needs the mem0 extra ({exc}); install it with: pip install 'memwise[mem0]'"
    ) from None

if _MEM0_PRELOADED:
    from mem0.memory import telemetry as _telemetry

    if _telemetry.MEM0_TELEMETRY:
        import warnings

        warnings.warn(
            "mem0 was imported before memwise.storage.mem0 with its telemetry on (it calls out to the "
            "internet); set MEM0_TELEMETRY=False in the environment, or import memwise.storage.mem0 first",
            RuntimeWarning,
            stacklevel=2,
        )

DEFAULT_HOST = "https://api.mem0.ai"
_ALL = 250_000_000  # "every match" for Memory.get_all (it fetches 4x top_k from the vector store)
_PAGE = 100  # platform get_all page size
_BATCH_DELETE = 1000  # platform batch delete limit
_TEXT_LIMIT = 4000  # characters of a message kept as the memory's text (the body is kept whole)
_PUSHDOWN_PROVIDERS = frozenset({"qdrant"})  # vector stores whose range filters memwise trusts
_QDRANT_INDEXES = (
    ("mw_ns", "keyword"), ("mw_kind", "keyword"), ("mw_key", "keyword"), ("mw_user", "keyword"),
    ("mw_agent", "keyword"), ("mw_session", "keyword"), ("mw_status", "keyword"),
    ("mw_seq", "integer"), ("mw_turn", "bool"), ("mw_updated_at", "float"),
)


# ==================================================================== commands
@dataclass(slots=True)
class _Call:
    """Call a method of the mem0 client (the sync one or the async twin, same name and args)."""

    method: str
    kwargs: dict[str, Any]
    missing_ok: bool = False  # a "not found" answer returns None instead of raising


@dataclass(slots=True)
class _Atomic:
    """Run a sub-plan while holding the store's write lock."""

    plan: Plan[Any]


@dataclass(slots=True)
class _Http:
    """A raw platform request the SDK has no method for (polling an add event)."""

    path: str


@dataclass(slots=True)
class _Sleep:
    seconds: float


@dataclass(slots=True)
class _Fn:
    """A plain blocking call (local Memory only: runs under the lock, in the sync driver)."""

    fn: Callable[[], Any]


# ==================================================================== shared per mem0 client
@dataclass
class _State:
    """What every Mem0Storage on one mem0 client object shares: the lock and the caches."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, kind, key) -> memory id
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (ns, session) -> mem0 user_id
    last_seq: dict[tuple[str, str], int] = field(default_factory=dict)  # (ns, session) -> last seq
    loop_locks: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()
_STATES_GUARD = threading.Lock()


def _state_for(client: Any) -> _State:
    with _STATES_GUARD:
        state = _STATES.get(client)
        if state is None:
            state = _STATES[client] = _State()
        return state


class Mem0Storage(Storage):
    """memwise storage on Mem0. Pass exactly one of:

    - `api_key`: the hosted platform (`host` defaults to https://api.mem0.ai; `timeout` bounds
      every request, the construction-time ping included);
    - `memory_client`: a ready `mem0.Memory` (open source) or `mem0.MemoryClient` (platform);
      memwise closes it on `close()` only with `close_client=True`. With a MemoryClient, pass its
      `AsyncMemoryClient` twin as `async_memory_client` for a native async API;
    - `config`: a mem0 `MemoryConfig` or its dict, from which a `Memory` is built (and closed).

    `namespace` separates several memwise stores inside one mem0 project or collection.
    One process only: see the module documentation.
    """

    def __init__(
        self,
        api_key: str | None = None,
        memory_client: Any = None,
        config: MemoryConfig | dict[str, Any] | None = None,
        *,
        host: str | None = None,
        namespace: str = "memwise",
        timeout: float = 10.0,
        async_memory_client: Any = None,
        close_client: bool = False,
        add_wait: float = 30.0,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name (table names: no tables here)
    ) -> None:
        self.id = common_options(id, session_table, user_memory_table)
        given = [name for name, value in (("api_key", api_key), ("memory_client", memory_client), ("config", config))
                 if value is not None]
        if len(given) > 1:
            raise ConfigurationError(f"Mem0Storage takes one of api_key, memory_client or config, not {' and '.join(given)}")
        if not given:
            api_key = os.environ.get("MEM0_API_KEY")
            if not api_key:
                raise ConfigurationError(
                    "Mem0Storage needs api_key= (hosted Mem0, or the MEM0_API_KEY variable), memory_client= "
                    "(a mem0 Memory or MemoryClient) or config= (a mem0 MemoryConfig for an open-source Memory)"
                )
        if not isinstance(namespace, str) or not namespace or any(c.isspace() for c in namespace):
            raise InvalidInputError(f"namespace must be a non-empty string without spaces, not {namespace!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidInputError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.namespace = namespace
        self.timeout = float(timeout)
        self.add_wait = float(add_wait)
        self._anonymous = _entity(f"{namespace}-anonymous")
        self._owns = close_client
        self._aclient: Any = None
        if api_key is not None:
            self._client, self._aclient = _connect_platform(api_key, host or DEFAULT_HOST, self.timeout)
            self._owns = True
        elif config is not None:
            self._client = _open_memory(config)
            self._owns = True
        else:
            if isinstance(memory_client, AsyncMemoryClient):
                raise ConfigurationError(
                    "memory_client must be a sync mem0 Memory or MemoryClient; pass an AsyncMemoryClient as "
                    "async_memory_client= next to its MemoryClient"
                )
            if not isinstance(memory_client, (Memory, MemoryClient)):
                raise ConfigurationError(
                    f"memory_client must be a mem0 Memory or MemoryClient, not {type(memory_client).__name__}"
                )
            self._client = memory_client
            if async_memory_client is not None:
                if not isinstance(async_memory_client, AsyncMemoryClient):
                    raise ConfigurationError(
                        f"async_memory_client must be a mem0 AsyncMemoryClient, not {type(async_memory_client).__name__}"
                    )
                if not isinstance(memory_client, MemoryClient):
                    raise ConfigurationError("async_memory_client goes with a hosted MemoryClient, not an open-source Memory")
                self._aclient = async_memory_client
        self._local = isinstance(self._client, Memory)
        self._state = _state_for(self._client)
        self._where = _describe(self._client)
        provider = getattr(getattr(getattr(self._client, "config", None), "vector_store", None), "provider", None)
        self._pushdown = self._local and provider in _PUSHDOWN_PROVIDERS

    # ---------------------------------------------------------------- public extras
    @property
    def client(self) -> Any:
        """The mem0 client underneath (a Memory or a MemoryClient)."""
        return self._client

    def semantic_search(
        self, query: str, *, session_id: str | None = None, user_id: str | None = None, limit: int = 10
    ) -> list[StoredMessage]:
        """Messages mem0's own semantic search finds for `query`, best first (scoped to a session or
        a user). `search_messages`, the lexical search every storage has, works here too."""
        return self._sync(self._m0_search(query, session_id, user_id, limit), write=False)

    async def asemantic_search(
        self, query: str, *, session_id: str | None = None, user_id: str | None = None, limit: int = 10
    ) -> list[StoredMessage]:
        return await self._async(self._m0_search(query, session_id, user_id, limit), write=False)

    # ---------------------------------------------------------------- drivers
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        if self._local:  # mem0's local vector stores are not thread-safe: one plan at a time
            with self._state.lock:
                return drive(plan, self._execute)
        return drive(plan, self._execute)

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        if self._aclient is None:
            return await asyncio.to_thread(self._run, plan, write=write)
        return await adrive(plan, self._aexecute)

    def _execute(self, command: Any) -> Any:
        if isinstance(command, _Call):
            try:
                return getattr(self._client, command.method)(**command.kwargs)
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, _Atomic):
            if self._local:  # _run holds the lock already
                return drive(command.plan, self._execute)
            with self._state.lock:
                return drive(command.plan, self._execute)
        if isinstance(command, _Http):
            try:
                response = self._client.client.get(command.path)
                response.raise_for_status()
                return response.json()
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, _Sleep):
            return time.sleep(command.seconds)
        if isinstance(command, _Fn):
            return command.fn()
        raise TypeError(f"unknown Mem0Storage command {command!r}")

    async def _aexecute(self, command: Any) -> Any:
        if isinstance(command, _Call):
            try:
                return await getattr(self._aclient, command.method)(**command.kwargs)
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, _Atomic):
            async with self._m0_async_lock():
                return await adrive(command.plan, self._aexecute)
        if isinstance(command, _Http):
            try:
                response = await self._aclient.async_client.get(command.path)
                response.raise_for_status()
                return response.json()
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, _Sleep):
            return await asyncio.sleep(command.seconds)
        raise TypeError(f"unknown Mem0Storage command for the async driver {command!r}")

    @contextlib.asynccontextmanager
    async def _m0_async_lock(self) -> AsyncIterator[None]:
        """The same threading lock the sync API uses, taken without blocking the event loop:
        tasks of one loop queue on an asyncio.Lock, then poll the thread lock."""
        loop = asyncio.get_running_loop()
        with _STATES_GUARD:
            queue = self._state.loop_locks.get(loop)
            if queue is None:
                queue = self._state.loop_locks[loop] = asyncio.Lock()
        async with queue:
            delay = 0.0005
            while not self._state.lock.acquire(blocking=False):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.02)
            try:
                yield
            finally:
                self._state.lock.release()

    def _m0_failed(self, exc: Exception, command: Any) -> Any:
        """Return None for a tolerated "not found"; otherwise raise a memwise error naming Mem0."""
        if isinstance(command, _Call) and command.missing_ok and _is_not_found(exc):
            return None
        if isinstance(exc, MemwiseError):
            raise exc
        what = command.method if isinstance(command, _Call) else f"GET {command.path}"
        if _is_unreachable(exc):
            raise StorageUnavailableError(
                f"{self._where} is unreachable ({what}: {exc}); check that it runs and is reachable, "
                f"and the timeout ({self.timeout:g}s)"
            ) from exc
        raise StorageError(f"{self._where}: {what} failed: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if not self._owns:
            return
        self._owns = False
        client = self._client
        if self._local:
            client.close()
            with contextlib.suppress(Exception):
                client.vector_store.client.close()
        else:
            client.client.close()

    async def aclose(self) -> None:
        if self._owns and self._aclient is not None:
            await self._aclient.async_client.aclose()
        self.close()

    # ---------------------------------------------------------------- primitives
    def _setup(self) -> Plan[None]:
        if self._local:
            yield _Fn(self._m0_create_indexes)

    def _m0_create_indexes(self) -> None:
        """On a qdrant server, index the metadata fields memwise filters on (mem0 itself indexes
        only user_id/agent_id/run_id/actor_id). Local qdrant has no payload indexes."""
        store: Any = getattr(self._client, "vector_store", None)
        if type(store).__name__ != "Qdrant" or getattr(store, "is_local", True):
            return
        for name, schema in _QDRANT_INDEXES:
            with contextlib.suppress(Exception):  # already there
                store.client.create_payload_index(
                    collection_name=store.collection_name, field_name=name, field_schema=schema
                )

    def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]:
        found = yield from self._m0_lookup(kind, key)
        return None if found is None else found[1]

    def _put_record(self, record: RawRecord, expected_version: int) -> Plan[bool]:
        return (yield _Atomic(self._m0_cas(record, expected_version)))

    def _m0_cas(self, record: RawRecord, expected_version: int) -> Plan[bool]:
        found = yield from self._m0_lookup(record.kind, record.key)
        if (found[1].version if found else 0) != expected_version:
            return False
        session = record.key if record.kind == "session" else record.session_id
        user = record.key if record.kind == "profile" else record.user_id
        text = _record_text(record)
        metadata = self._m0_record_metadata(record)
        if found is not None:
            yield _Call("update", {"memory_id": found[0], "text": text, "metadata": metadata})
        else:
            added = yield from self._m0_add(text, "user", self._m0_entities(user, session), metadata)
            if added:
                self._state.ids[(self.namespace, record.kind, record.key)] = added[0]
        if record.kind == "session":
            self._state.owners[(self.namespace, record.key)] = self._m0_entities(user, None)["user_id"]
        return True

    def _delete_record(self, kind: str, key: str) -> Plan[bool]:
        return (yield _Atomic(self._m0_delete_record(kind, key)))

    def _m0_delete_record(self, kind: str, key: str) -> Plan[bool]:
        found = yield from self._m0_lookup(kind, key)
        self._state.ids.pop((self.namespace, kind, key), None)
        if kind == "session":
            self._state.owners.pop((self.namespace, key), None)
        if found is None:
            return False
        deleted = (yield _Call("delete", {"memory_id": found[0]}, missing_ok=True)) is not None
        if kind == "session" and not self._local:  # a local Memory runs the whole delete plan under the lock
            yield from self._m0_delete_messages(key)  # appended since the plan deleted them: gone too
        return deleted

    def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]:
        if query.user_id is not None:
            entity = {"user_id": _entity(query.user_id)}
        elif query.session_id is not None:
            entity = {"run_id": _entity(query.session_id)}
        else:
            entity = {"user_id": "*"}
        equal: dict[str, Any] = {"mw_kind": query.kind}
        for name, field_name in (("user_id", "mw_user"), ("agent_id", "mw_agent"), ("session_id", "mw_session")):
            if getattr(query, name) is not None:
                equal[field_name] = getattr(query, name)
        pushed: dict[str, Any] = {}
        if query.statuses is not None:
            pushed["mw_status"] = {"in": list(query.statuses)}
        bound = [b for b in (query.updated_before, query.after[0] if query.after else None) if b is not None]
        if bound:  # the cursor's (updated_at, key) order is finished in Python
            pushed["mw_updated_at"] = {"lte": min(bound)}
        items = yield from self._m0_list(entity, equal, pushed)
        records = []
        for item in items:
            raw = self._m0_raw_record(item)
            self._state.ids[(self.namespace, raw.kind, raw.key)] = item["id"]
            if query.matches(raw):
                records.append(raw)
        records.sort(key=newest_first, reverse=True)
        return records[: query.limit]

    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> Plan[list[int] | None]:
        return (yield _Atomic(self._m0_append(session_id, messages)))

    def _m0_append(self, session_id: str, messages: list[RawMessage]) -> Plan[list[int] | None]:
        found = yield from self._m0_lookup("session", session_id)  # under the lock deletes take too
        if found is None:
            return None
        if not messages:
            return []
        slot = (self.namespace, session_id)
        last = self._state.last_seq.get(slot)
        if last is None:
            stored = yield from self._m0_list_messages(session_id, 0, None)
            last = max((m.seq for _, m in stored), default=0)
        owner = self._state.owners.get(slot) or self._m0_entities(found[1].user_id, None)["user_id"]
        entities = {"user_id": owner, "run_id": _entity(session_id)}
        seqs = []
        try:
            for offset, message in enumerate(messages, 1):
                role, text = _message_text(message.body)
                metadata = {
                    "mw_ns": self.namespace, "mw_kind": "message", "mw_session": session_id,
                    "mw_seq": last + offset, "mw_run": message.run_id, "mw_turn": bool(message.turn_start),
                    "mw_created_at": message.created_at, "mw_body": message.body,
                }
                yield from self._m0_add(text, role, entities, metadata)
                seqs.append(last + offset)
        except Exception:
            # all or nothing: take back what this append wrote, then report the failure
            with contextlib.suppress(Exception):
                partial = yield from self._m0_list_messages(session_id, last, None)
                yield from self._m0_delete_items([item_id for item_id, _ in partial])
            self._state.last_seq.pop(slot, None)
            raise
        self._state.last_seq[slot] = last + len(messages)
        return seqs

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> Plan[list[RawMessage]]:
        if last_turns is None:
            upper = None if limit is None else after_seq + limit
            stored = yield from self._m0_list_messages(session_id, after_seq, upper)
            found = [m for _, m in stored]
        else:
            # Seqs are contiguous, so the last turns sit in a window below the last seq this
            # process knows of; widen it until it holds enough turn starts (or everything).
            last = self._state.last_seq.get((self.namespace, session_id))
            window = 4 * last_turns + 8
            while True:
                low = after_seq if last is None or window >= last else max(after_seq, last - window)
                stored = yield from self._m0_list_messages(session_id, low, None)
                found = [m for _, m in stored]
                starts = [m.seq for m in found if m.turn_start]
                if len(starts) >= last_turns or low == after_seq:
                    break
                window *= 4
            if len(starts) >= last_turns:
                first = starts[-last_turns]
                found = [m for m in found if m.seq >= first]
        return found if limit is None else found[:limit]

    def _delete_messages(self, session_id: str) -> Plan[int]:
        return (yield _Atomic(self._m0_delete_messages(session_id)))

    def _m0_delete_messages(self, session_id: str) -> Plan[int]:
        stored = yield from self._m0_list_messages(session_id, 0, None)
        self._state.last_seq.pop((self.namespace, session_id), None)
        yield from self._m0_delete_items([item_id for item_id, _ in stored])
        return len(stored)

    # ---------------------------------------------------------------- search (what mem0 is for)
    def _m0_search(self, query: str, session_id: str | None, user_id: str | None, limit: int) -> Plan[list[StoredMessage]]:
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"query must be a non-empty string, not {query!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be an integer >= 1, not {limit!r}")
        equal: dict[str, Any] = {"mw_ns": self.namespace, "mw_kind": "message"}
        if session_id is not None:
            entity = {"run_id": _entity(session_id)}
            equal["mw_session"] = session_id
        else:
            entity = {"user_id": _entity(user_id) if user_id is not None else "*"}
        response = yield _Call("search", {"query": query, "filters": self._m0_filters(entity, equal, {}), "top_k": limit * 4})
        found = []
        for item in _results(response):
            meta = item.get("metadata") or {}
            if not self._m0_matches(meta, equal, {}) or (user_id is not None and item.get("user_id") != _entity(user_id)):
                continue
            raw = self._m0_raw_message(item)
            session = meta["mw_session"]
            found.append(StoredMessage(session, raw.seq, raw.run_id, raw.turn_start, raw.created_at, raw.body))
            found[-1].data  # noqa: B018 - a corrupted message fails the search that meets it
        return found[:limit]

    # ---------------------------------------------------------------- plan helpers
    def _m0_lookup(self, kind: str, key: str) -> Plan[tuple[str, RawRecord] | None]:
        """(memory id, record) of a record, by its cached memory id or by a filtered listing."""
        slot = (self.namespace, kind, key)
        memory_id = self._state.ids.get(slot)
        if memory_id is not None:
            item = yield _Call("get", {"memory_id": memory_id}, missing_ok=True)
            meta = (item or {}).get("metadata") or {}
            if meta.get("mw_ns") == self.namespace and meta.get("mw_kind") == kind and meta.get("mw_key") == key:
                return memory_id, self._m0_raw_record(item)
            self._state.ids.pop(slot, None)
        if kind == "session":
            entity = {"run_id": _entity(key)}
        elif kind == "profile":
            entity = {"user_id": _entity(key)}
        else:
            entity = {"user_id": "*"}
        items = yield from self._m0_list(entity, {"mw_kind": kind, "mw_key": key}, {})
        if not items:
            return None
        found = max(((item["id"], self._m0_raw_record(item)) for item in items), key=lambda pair: pair[1].version)
        self._state.ids[slot] = found[0]
        return found

    def _m0_list_messages(self, session_id: str, after: int, upto: int | None) -> Plan[list[tuple[str, RawMessage]]]:
        """(memory id, message) of a session with after < seq <= upto, by seq."""
        seq: dict[str, Any] = {"gt": after}
        if upto is not None:
            seq["lte"] = upto
        items = yield from self._m0_list(
            {"run_id": _entity(session_id)}, {"mw_kind": "message", "mw_session": session_id}, {"mw_seq": seq}, lean=True
        )
        found = [(item["id"], self._m0_raw_message(item)) for item in items]
        found.sort(key=lambda pair: pair[1].seq)
        return found

    def _m0_list(
        self, entity: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any], *, lean: bool = False
    ) -> Plan[list[dict[str, Any]]]:
        """Every memwise memory of this namespace matching; conditions are re-checked here.
        `lean`: send a local vector store only the entity and the ranges (selective enough, and
        each extra condition costs a payload check per stored point on local qdrant)."""
        equal = {"mw_ns": self.namespace, **equal}
        filters = self._m0_filters(entity, {} if lean and self._pushdown else equal, ranged)
        if self._local:
            items = _results((yield _Call("get_all", {"filters": filters, "top_k": _ALL})))
        else:
            items, page = [], 1
            while True:
                response = yield _Call("get_all", {"filters": filters, "page": page, "page_size": _PAGE})
                batch = _results(response)
                items += batch
                if not (isinstance(response, dict) and response.get("next")) or not batch:
                    break
                page += 1
        return [item for item in items if self._m0_matches(item.get("metadata") or {}, equal, ranged)]

    def _m0_filters(self, entity: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any]) -> dict[str, Any]:
        if self._local:  # ranges first: local qdrant checks conditions in order, per stored point
            return {**(ranged if self._pushdown else {}), **entity, **equal}
        # the platform grammar: entity fields, and metadata equality one key at a time
        return {"AND": [entity, *({"metadata": {name: value}} for name, value in equal.items())]}

    @staticmethod
    def _m0_matches(meta: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any]) -> bool:
        for name, wanted in equal.items():
            if meta.get(name) != wanted:
                return False
        for name, condition in ranged.items():
            value = meta.get(name)
            for op, bound in condition.items():
                if op == "in":
                    if value not in bound:
                        return False
                elif not isinstance(value, (int, float)) or isinstance(value, bool):
                    return False
                elif not {"gt": value > bound, "gte": value >= bound, "lt": value < bound, "lte": value <= bound}[op]:
                    return False
        return True

    def _m0_add(self, text: str, role: str, entities: dict[str, str], metadata: dict[str, Any]) -> Plan[list[str]]:
        """Add one memory (infer=False: stored as given, no LLM call); return its id(s) if known."""
        response = yield _Call("add", {"messages": [{"role": role, "content": text}], **entities,
                                       "metadata": metadata, "infer": False})
        ids = [item["id"] for item in _results(response) if isinstance(item.get("id"), str)]
        event = response.get("event_id") if isinstance(response, dict) else None
        if not ids and isinstance(event, str):  # the platform queued it: wait until it is stored
            deadline, delay = time.monotonic() + self.add_wait, 0.02
            while True:
                status = yield _Http(f"/v1/event/{event}/")
                state = str((status or {}).get("status", "")).upper()
                if state in ("SUCCEEDED", "COMPLETED", "DONE"):
                    found = (item.get("id") or item.get("memory_id") for item in _results(status))
                    return [key for key in found if isinstance(key, str)]
                if state == "FAILED":
                    raise StorageError(f"{self._where}: adding a memory failed (event {event}): {status}")
                if time.monotonic() > deadline:
                    raise StorageError(f"{self._where}: a memory add was not processed within {self.add_wait:g}s (event {event})")
                yield _Sleep(delay)
                delay = min(delay * 2, 1.0)
        return ids

    def _m0_delete_items(self, ids: list[str]) -> Plan[None]:
        if not ids:
            return
        if self._local:
            for memory_id in ids:
                yield _Call("delete", {"memory_id": memory_id}, missing_ok=True)
        else:
            for start in range(0, len(ids), _BATCH_DELETE):
                chunk = ids[start : start + _BATCH_DELETE]
                yield _Call("batch_delete", {"memories": [{"memory_id": memory_id} for memory_id in chunk]})

    def _m0_entities(self, user_id: str | None, session_id: str | None) -> dict[str, str]:
        entities = {"user_id": _entity(user_id) if user_id is not None else self._anonymous}
        if session_id is not None:
            entities["run_id"] = _entity(session_id)
        return entities

    def _m0_record_metadata(self, record: RawRecord) -> dict[str, Any]:
        return {
            "mw_ns": self.namespace, "mw_kind": record.kind, "mw_key": record.key, "mw_version": record.version,
            "mw_updated_at": record.updated_at, "mw_user": record.user_id, "mw_agent": record.agent_id,
            "mw_session": record.session_id, "mw_status": record.status, "mw_body": record.body,
        }

    def _m0_raw_record(self, item: dict[str, Any]) -> RawRecord:
        meta = item.get("metadata") or {}
        missing: KeyError | None = None
        try:
            raw = RawRecord(
                meta["mw_kind"], meta["mw_key"], meta["mw_version"], meta["mw_updated_at"], meta["mw_body"],
                meta.get("mw_user"), meta.get("mw_agent"), meta.get("mw_session"), meta.get("mw_status"),
            )
            ok = (isinstance(raw.key, str) and isinstance(raw.body, str) and type(raw.version) is int
                  and isinstance(raw.updated_at, (int, float)))
        except KeyError as exc:
            ok, missing = False, exc
        if not ok:
            what = f"{meta.get('mw_kind', 'record')} {meta.get('mw_key')!r}"
            detail = f"metadata {missing} is missing" if missing else "its metadata has the wrong types"
            raise CorruptRecordError(f"{what} (mem0 memory {item.get('id')}) is corrupted: {detail}")
        raw.updated_at = float(raw.updated_at)
        return raw

    def _m0_raw_message(self, item: dict[str, Any]) -> RawMessage:
        meta = item.get("metadata") or {}
        seq, body = meta.get("mw_seq"), meta.get("mw_body")
        if type(seq) is not int or not isinstance(body, str) or not isinstance(meta.get("mw_created_at"), (int, float)):
            raise CorruptRecordError(
                f"message {seq!r} of session {meta.get('mw_session')!r} (mem0 memory {item.get('id')}) is corrupted: "
                "its metadata lacks mw_seq, mw_created_at or mw_body"
            )
        return RawMessage(seq, meta.get("mw_run"), bool(meta.get("mw_turn")), float(meta["mw_created_at"]), body)


AsyncMem0Storage = Mem0Storage


# ==================================================================== construction helpers
def _connect_platform(api_key: str, host: str, timeout: float) -> tuple[Any, Any]:
    where = f"the Mem0 platform at {_host_port(host)}"
    http = httpx.Client(timeout=timeout)
    try:
        client = MemoryClient(api_key=api_key, host=host, client=http)  # pings GET /v1/ping/
    except Exception as exc:
        http.close()
        if _is_unreachable(exc):
            raise StorageUnavailableError(
                f"{where} did not answer within {timeout:g}s ({type(exc).__name__}: {exc}); check the host and "
                "port, the network or proxy, and raise timeout= if the link is slow"
            ) from None
        raise ConfigurationError(f"{where} refused the connection: {exc} (check the API key)") from None
    try:
        aclient = AsyncMemoryClient(api_key=api_key, host=host, client=httpx.AsyncClient(timeout=timeout))
    except Exception as exc:
        http.close()
        raise StorageUnavailableError(f"{where} answered the sync client but not the async one: {exc}") from None
    return client, aclient


def _open_memory(config: MemoryConfig | dict[str, Any]) -> Any:
    try:
        return Memory(config) if isinstance(config, MemoryConfig) else Memory.from_config(config)
    except Exception as exc:
        where = _config_where(config)
        if _is_unreachable(exc):
            raise StorageUnavailableError(
                f"mem0's vector store {where} is unreachable ({type(exc).__name__}: {exc}); check that it runs"
            ) from None
        raise ConfigurationError(f"mem0 could not build a Memory from this config ({where}): {exc}") from None


def _config_where(config: MemoryConfig | dict[str, Any]) -> str:
    store = config.vector_store if isinstance(config, MemoryConfig) else (config or {}).get("vector_store") or {}
    provider = getattr(store, "provider", None) or (store.get("provider") if isinstance(store, dict) else None) or "qdrant"
    inner = getattr(store, "config", None) if not isinstance(store, dict) else store.get("config")
    get = (lambda name: inner.get(name)) if isinstance(inner, dict) else (lambda name: getattr(inner, name, None))
    if url := get("url"):
        return f"{provider} at {_host_port(url)}"
    if get("host"):
        return f"{provider} at {get('host')}:{get('port')}"
    return f"{provider} at {get('path') or 'its default path'}"


def _describe(client: Any) -> str:
    if isinstance(client, Memory):
        return f"mem0 Memory ({_config_where(client.config)})"
    return f"the Mem0 platform at {_host_port(getattr(client, 'host', DEFAULT_HOST))}"


def _host_port(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (httpx.TransportError, NetworkError, ConnectionError, TimeoutError)):
        return True
    name = type(exc).__name__  # qdrant's and requests' wrappers of connection failures
    return name in ("ResponseHandlingException", "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout")


def _is_not_found(exc: BaseException) -> bool:
    if isinstance(exc, MemoryNotFoundError):
        return True
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 404:
        return True
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()


# ==================================================================== texts and ids
def _entity(value: str) -> str:
    """A memwise id as a mem0 entity id: mem0 rejects whitespace, and "*" is its wildcard."""
    return "".join(f"%{ord(c):02X}" if c.isspace() or c in "%*" else c for c in value)


def _results(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, dict):
        response = response.get("results", [])
    return [item for item in response or [] if isinstance(item, dict)]


def _record_text(record: RawRecord) -> str:
    if record.kind == "session":
        text = f"memwise session {record.key}"
        text += f" of user {record.user_id}" if record.user_id else ""
        return text + (f" with agent {record.agent_id}" if record.agent_id else "")
    if record.kind == "run":
        return f"memwise run {record.key} of session {record.session_id}: {record.status}"
    if record.kind == "profile":
        return f"memwise profile of user {record.key}"
    return f"memwise {record.kind} record {record.key}"


def _message_text(body: str) -> tuple[str, str]:
    """(mem0 role, text) of a stored pydantic-ai message: its words, so mem0 search finds it."""
    try:
        data = json.loads(body)
    except ValueError:
        return "user", "(unreadable message)"
    if not isinstance(data, dict):
        return "user", "(unreadable message)"
    role = "assistant" if data.get("kind") == "response" else "user"
    pieces: list[str] = []
    for part in data.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind, content = part.get("part_kind"), part.get("content")
        if kind == "tool-call":
            pieces.append(f"[calls {part.get('tool_name')}] {_short(part.get('args'))}")
        elif kind == "tool-return":
            pieces.append(f"[{part.get('tool_name')} returned] {_short(content)}")
        elif isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            pieces += [item for item in content if isinstance(item, str)]
    text = "\n".join(piece for piece in pieces if piece).strip()
    return role, (text[:_TEXT_LIMIT] if text else f"({role} message without text)")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 500 else text[:500] + "..."


__all__ = ["AsyncMem0Storage", "Mem0Storage"]
