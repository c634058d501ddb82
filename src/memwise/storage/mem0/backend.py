"""Mem0Storage: the storage contract on Mem0 memories (see the package notes for the design)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from mem0 import AsyncMemoryClient, Memory, MemoryClient
from mem0.configs.base import MemoryConfig

from memwise.errors import (
    ConfigurationError,
    InvalidInputError,
    MemwiseError,
    StorageError,
    StorageUnavailableError,
)
from memwise.storage.base import Storage
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery, newest_first
from memwise.storage.mem0.commands import (
    STATES_GUARD,
    Atomic,
    Call,
    Command,
    Fn,
    Http,
    Mem0Plan,
    Sleep,
    atomic,
    shared_state,
)
from memwise.storage.mem0.connect import (
    DEFAULT_HOST,
    connect_platform,
    describe,
    is_not_found,
    is_unreachable,
    open_memory,
)
from memwise.storage.mem0.documents import (
    entity_id,
    matches,
    message_text,
    raw_message,
    raw_record,
    record_metadata,
    record_text,
    results,
)
from memwise.storage.options import common_options
from memwise.storage.plan import Plan, T, adrive, drive
from memwise.storage.records import StoredMessage

_ALL = 250_000_000  # "every match" for Memory.get_all (it fetches 4x top_k from the vector store)
_PAGE = 100  # platform get_all page size
_BATCH_DELETE = 1000  # platform batch delete limit
_PUSHDOWN_PROVIDERS = frozenset({"qdrant"})  # vector stores whose range filters memwise trusts
_QDRANT_INDEXES = (
    ("mw_ns", "keyword"), ("mw_kind", "keyword"), ("mw_key", "keyword"), ("mw_user", "keyword"),
    ("mw_agent", "keyword"), ("mw_session", "keyword"), ("mw_status", "keyword"),
    ("mw_seq", "integer"), ("mw_turn", "bool"), ("mw_updated_at", "float"),
)


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
        self._anonymous = entity_id(f"{namespace}-anonymous")
        self._owns = close_client
        self._aclient: Any = None
        if api_key is not None:
            self._client, self._aclient = connect_platform(api_key, host or DEFAULT_HOST, self.timeout)
            self._owns = True
        elif config is not None:
            self._client = open_memory(config)
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
        self._state = shared_state(self._client)
        self._where = describe(self._client)
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

    def _execute(self, command: Command) -> Any:
        if isinstance(command, Call):
            try:
                return getattr(self._client, command.method)(**command.kwargs)
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, Atomic):
            if self._local:  # _run holds the lock already
                return drive(command.plan, self._execute)
            with self._state.lock:
                return drive(command.plan, self._execute)
        if isinstance(command, Http):
            try:
                response = self._client.client.get(command.path)
                response.raise_for_status()
                return response.json()
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, Sleep):
            return time.sleep(command.seconds)
        if isinstance(command, Fn):
            return command.fn()
        raise TypeError(f"unknown Mem0Storage command {command!r}")

    async def _aexecute(self, command: Command) -> Any:
        if isinstance(command, Call):
            try:
                return await getattr(self._aclient, command.method)(**command.kwargs)
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, Atomic):
            async with self._m0_async_lock():
                return await adrive(command.plan, self._aexecute)
        if isinstance(command, Http):
            try:
                response = await self._aclient.async_client.get(command.path)
                response.raise_for_status()
                return response.json()
            except Exception as exc:
                return self._m0_failed(exc, command)
        if isinstance(command, Sleep):
            return await asyncio.sleep(command.seconds)
        raise TypeError(f"unknown Mem0Storage command for the async driver {command!r}")

    @contextlib.asynccontextmanager
    async def _m0_async_lock(self) -> AsyncIterator[None]:
        """The same threading lock the sync API uses, taken without blocking the event loop:
        tasks of one loop queue on an asyncio.Lock, then poll the thread lock."""
        loop = asyncio.get_running_loop()
        with STATES_GUARD:
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
        if isinstance(command, Call) and command.missing_ok and is_not_found(exc):
            return None
        if isinstance(exc, MemwiseError):
            raise exc
        what = command.method if isinstance(command, Call) else f"GET {command.path}"
        if is_unreachable(exc):
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
    def _setup(self) -> Mem0Plan[None]:
        if self._local:
            yield Fn(self._m0_create_indexes)

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

    def _get_record(self, kind: str, key: str) -> Mem0Plan[RawRecord | None]:
        found = yield from self._m0_lookup(kind, key)
        return None if found is None else found[1]

    def _put_record(self, record: RawRecord, expected_version: int) -> Mem0Plan[bool]:
        return (yield from atomic(self._m0_cas(record, expected_version)))

    def _m0_cas(self, record: RawRecord, expected_version: int) -> Mem0Plan[bool]:
        found = yield from self._m0_lookup(record.kind, record.key)
        if (found[1].version if found else 0) != expected_version:
            return False
        session = record.key if record.kind == "session" else record.session_id
        user = record.key if record.kind == "profile" else record.user_id
        text = record_text(record)
        metadata = record_metadata(self.namespace, record)
        if found is not None:
            yield Call("update", {"memory_id": found[0], "text": text, "metadata": metadata})
        else:
            added = yield from self._m0_add(text, "user", self._m0_entities(user, session), metadata)
            if added:
                self._state.ids[(self.namespace, record.kind, record.key)] = added[0]
        if record.kind == "session":
            self._state.owners[(self.namespace, record.key)] = self._m0_entities(user, None)["user_id"]
        return True

    def _delete_record(self, kind: str, key: str) -> Mem0Plan[bool]:
        return (yield from atomic(self._m0_delete_record(kind, key)))

    def _m0_delete_record(self, kind: str, key: str) -> Mem0Plan[bool]:
        found = yield from self._m0_lookup(kind, key)
        self._state.ids.pop((self.namespace, kind, key), None)
        if kind == "session":
            self._state.owners.pop((self.namespace, key), None)
        if found is None:
            return False
        deleted = (yield Call("delete", {"memory_id": found[0]}, missing_ok=True)) is not None
        if kind == "session" and not self._local:  # a local Memory runs the whole delete plan under the lock
            yield from self._m0_delete_messages(key)  # appended since the plan deleted them: gone too
        return deleted

    def _query_records(self, query: RecordQuery) -> Mem0Plan[list[RawRecord]]:
        if query.user_id is not None:
            entity = {"user_id": entity_id(query.user_id)}
        elif query.session_id is not None:
            entity = {"run_id": entity_id(query.session_id)}
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
            raw = raw_record(item)
            self._state.ids[(self.namespace, raw.kind, raw.key)] = item["id"]
            if query.matches(raw):
                records.append(raw)
        records.sort(key=newest_first, reverse=True)
        return records[: query.limit]

    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> Mem0Plan[list[int] | None]:
        return (yield from atomic(self._m0_append(session_id, messages)))

    def _m0_append(self, session_id: str, messages: list[RawMessage]) -> Mem0Plan[list[int] | None]:
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
        entities = {"user_id": owner, "run_id": entity_id(session_id)}
        seqs = []
        try:
            for offset, message in enumerate(messages, 1):
                role, text = message_text(message.body)
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
    ) -> Mem0Plan[list[RawMessage]]:
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

    def _delete_messages(self, session_id: str) -> Mem0Plan[int]:
        return (yield from atomic(self._m0_delete_messages(session_id)))

    def _m0_delete_messages(self, session_id: str) -> Mem0Plan[int]:
        stored = yield from self._m0_list_messages(session_id, 0, None)
        self._state.last_seq.pop((self.namespace, session_id), None)
        yield from self._m0_delete_items([item_id for item_id, _ in stored])
        return len(stored)

    # ---------------------------------------------------------------- search (what mem0 is for)
    def _m0_search(self, query: str, session_id: str | None, user_id: str | None, limit: int) -> Mem0Plan[list[StoredMessage]]:
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"query must be a non-empty string, not {query!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be an integer >= 1, not {limit!r}")
        equal: dict[str, Any] = {"mw_ns": self.namespace, "mw_kind": "message"}
        if session_id is not None:
            entity = {"run_id": entity_id(session_id)}
            equal["mw_session"] = session_id
        else:
            entity = {"user_id": entity_id(user_id) if user_id is not None else "*"}
        response = yield Call("search", {"query": query, "filters": self._m0_filters(entity, equal, {}), "top_k": limit * 4})
        found = []
        for item in results(response):
            meta = item.get("metadata") or {}
            if not matches(meta, equal, {}) or (user_id is not None and item.get("user_id") != entity_id(user_id)):
                continue
            raw = raw_message(item)
            session = meta["mw_session"]
            found.append(StoredMessage(session, raw.seq, raw.run_id, raw.turn_start, raw.created_at, raw.body))
            found[-1].data  # noqa: B018 - a corrupted message fails the search that meets it
        return found[:limit]

    # ---------------------------------------------------------------- plan helpers
    def _m0_lookup(self, kind: str, key: str) -> Mem0Plan[tuple[str, RawRecord] | None]:
        """(memory id, record) of a record, by its cached memory id or by a filtered listing."""
        slot = (self.namespace, kind, key)
        memory_id = self._state.ids.get(slot)
        if memory_id is not None:
            item = yield Call("get", {"memory_id": memory_id}, missing_ok=True)
            meta = (item or {}).get("metadata") or {}
            if meta.get("mw_ns") == self.namespace and meta.get("mw_kind") == kind and meta.get("mw_key") == key:
                return memory_id, raw_record(item)
            self._state.ids.pop(slot, None)
        if kind == "session":
            entity = {"run_id": entity_id(key)}
        elif kind == "profile":
            entity = {"user_id": entity_id(key)}
        else:
            entity = {"user_id": "*"}
        items = yield from self._m0_list(entity, {"mw_kind": kind, "mw_key": key}, {})
        if not items:
            return None
        found = max(((item["id"], raw_record(item)) for item in items), key=lambda pair: pair[1].version)
        self._state.ids[slot] = found[0]
        return found

    def _m0_list_messages(self, session_id: str, after: int, upto: int | None) -> Mem0Plan[list[tuple[str, RawMessage]]]:
        """(memory id, message) of a session with after < seq <= upto, by seq."""
        seq: dict[str, Any] = {"gt": after}
        if upto is not None:
            seq["lte"] = upto
        items = yield from self._m0_list(
            {"run_id": entity_id(session_id)}, {"mw_kind": "message", "mw_session": session_id}, {"mw_seq": seq}, lean=True
        )
        found = [(item["id"], raw_message(item)) for item in items]
        found.sort(key=lambda pair: pair[1].seq)
        return found

    def _m0_list(
        self, entity: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any], *, lean: bool = False
    ) -> Mem0Plan[list[dict[str, Any]]]:
        """Every memwise memory of this namespace matching; conditions are re-checked here.
        `lean`: send a local vector store only the entity and the ranges (selective enough, and
        each extra condition costs a payload check per stored point on local qdrant)."""
        equal = {"mw_ns": self.namespace, **equal}
        filters = self._m0_filters(entity, {} if lean and self._pushdown else equal, ranged)
        if self._local:
            items = results((yield Call("get_all", {"filters": filters, "top_k": _ALL})))
        else:
            items, page = [], 1
            while True:
                response = yield Call("get_all", {"filters": filters, "page": page, "page_size": _PAGE})
                batch = results(response)
                items += batch
                if not (isinstance(response, dict) and response.get("next")) or not batch:
                    break
                page += 1
        return [item for item in items if matches(item.get("metadata") or {}, equal, ranged)]

    def _m0_filters(self, entity: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any]) -> dict[str, Any]:
        if self._local:  # ranges first: local qdrant checks conditions in order, per stored point
            return {**(ranged if self._pushdown else {}), **entity, **equal}
        # the platform grammar: entity fields, and metadata equality one key at a time
        return {"AND": [entity, *({"metadata": {name: value}} for name, value in equal.items())]}

    def _m0_add(self, text: str, role: str, entities: dict[str, str], metadata: dict[str, Any]) -> Mem0Plan[list[str]]:
        """Add one memory (infer=False: stored as given, no LLM call); return its id(s) if known."""
        response = yield Call("add", {"messages": [{"role": role, "content": text}], **entities,
                                       "metadata": metadata, "infer": False})
        ids = [item["id"] for item in results(response) if isinstance(item.get("id"), str)]
        event = response.get("event_id") if isinstance(response, dict) else None
        if not ids and isinstance(event, str):  # the platform queued it: wait until it is stored
            deadline, delay = time.monotonic() + self.add_wait, 0.02
            while True:
                status = yield Http(f"/v1/event/{event}/")
                state = str((status or {}).get("status", "")).upper()
                if state in ("SUCCEEDED", "COMPLETED", "DONE"):
                    found = (item.get("id") or item.get("memory_id") for item in results(status))
                    return [key for key in found if isinstance(key, str)]
                if state == "FAILED":
                    raise StorageError(f"{self._where}: adding a memory failed (event {event}): {status}")
                if time.monotonic() > deadline:
                    raise StorageError(f"{self._where}: a memory add was not processed within {self.add_wait:g}s (event {event})")
                yield Sleep(delay)
                delay = min(delay * 2, 1.0)
        return ids

    def _m0_delete_items(self, ids: list[str]) -> Mem0Plan[None]:
        if not ids:
            return
        if self._local:
            for memory_id in ids:
                yield Call("delete", {"memory_id": memory_id}, missing_ok=True)
        else:
            for start in range(0, len(ids), _BATCH_DELETE):
                chunk = ids[start : start + _BATCH_DELETE]
                yield Call("batch_delete", {"memories": [{"memory_id": memory_id} for memory_id in chunk]})

    def _m0_entities(self, user_id: str | None, session_id: str | None) -> dict[str, str]:
        entities = {"user_id": entity_id(user_id) if user_id is not None else self._anonymous}
        if session_id is not None:
            entities["run_id"] = entity_id(session_id)
        return entities


__all__ = ["Mem0Storage"]
