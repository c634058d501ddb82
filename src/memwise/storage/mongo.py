"""MongoStorage: the contract on MongoDB, with pymongo's `MongoClient` and `AsyncMongoClient`.

Layout (collection names take `collection_prefix`, default "memwise"):

- `memwise_records`: one document per versioned record, `_id` = "<kind>/<key>", fields kind, key,
  version, updated_at, body (the core's JSON text, stored as-is) and the indexed fields that are
  set (user_id, agent_id, session_id, status). Compare-and-set is one single-document write:
  `insert_one` for version 0 (a duplicate `_id` means someone else won) or `replace_one` filtered
  on `{_id, version}`. Indexes: (kind, <field>, updated_at desc, key desc) for each index field,
  and (kind, updated_at desc, key desc) for retention.
- `memwise_messages`: one document per message (session_id, seq, batch_end, run_id, turn_start,
  created_at, body), never a growing session document. Unique index (session_id, seq); index
  (session_id, turn_start, seq) finds the start of the last N user turns.

Appending needs no counter document and no transaction: a writer reads the session's last
message, which records the last seq of its batch (`batch_end`), and inserts its whole batch from
`batch_end + 1` in ONE ordered insert command. The unique (session_id, seq) index lets exactly one
concurrent writer take that first seq; the others fail on their first document, so they insert
nothing, back off a little and retry. Since every writer starts after the end of the newest
batch, nobody targets a seq inside a batch being written, so batches never interleave. A writer
killed between its read and its insert has reserved nothing: no gap (a counter document would leave
one). Within one process, appends to a session queue on a local lock rather than race.

The session must exist: the read of the last message is an aggregate on the session's record that
looks the message up, so an append to a missing session costs that one round trip and writes
nothing. Without a transaction that check is not atomic with the insert, so a writer checks again
after inserting (and takes its batch back if the session is gone), and deleting a session's record
deletes its messages once more, after the record: either the writer finds the record gone or that
delete comes after its insert, so no message outlives its session (unless the writer dies between
its insert and its second check).

Sync calls run plans with `MongoClient`; async calls run the same plans with `AsyncMongoClient`
(one per event loop, as pymongo binds it to one, closed when that loop shuts down: see
`memwise.storage.loops`), so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from memwise.errors import ConfigurationError, InvalidInputError, StorageError, StorageUnavailableError
from memwise.storage.base import Storage
from memwise.storage.contract import INDEX_FIELDS, RawMessage, RawRecord, RecordQuery
from memwise.storage.loops import LoopClients
from memwise.storage.options import common_options
from memwise.storage.plan import Plan, T, adrive, drive

try:
    import pymongo
    from bson.errors import BSONError
    from pymongo import AsyncMongoClient, MongoClient
    from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError
    from pymongo.uri_parser import parse_uri
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "MongoStorage needs pymongo: pip install 'memwise[mongo]'"
    ) from exc

_DUPLICATE_KEY = 11000
_MAX_APPEND_ATTEMPTS = 10_000
_HINTS_MAX = 10_000
#: Messages per user turn assumed when looking for the last turns near a session's end.
_MESSAGES_PER_TURN_GUESS = 8
_BACKOFF_BASE = 0.0005
_BACKOFF_MAX = 0.02
_LOCK_STRIPES = 64


#: The pymongo collection methods MongoStorage's plans call.
Op = Literal[
    "find", "aggregate", "find_one", "insert_one", "insert_many", "replace_one", "delete_one", "delete_many",
    "create_indexes",
]


@dataclass(frozen=True, slots=True)
class Mongo:
    """One command: `collection.op(*args, **kwargs)`; "find" and "aggregate" return the list of documents."""

    collection: Literal["records", "messages"]
    op: Op
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Sleep:
    """Wait (time.sleep or asyncio.sleep)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class _Queue:
    """Take this process's local lock for `key` (a thread lock, or an asyncio lock of the running
    loop); the result is its release function, which never needs to be awaited."""

    key: str


#: A plan of MongoDB commands, local backoffs and local append locks.
MongoPlan = Generator[Mongo | _Sleep | _Queue, Any, T]


@dataclass(slots=True)
class _LoopState:
    """What async calls use on one event loop: its client (`owned`: made here, so closed here), the
    client's collections, local append locks."""

    client: AsyncMongoClient[dict[str, Any]]
    owned: bool
    collections: dict[str, Any]
    locks: list[asyncio.Lock]


def _records_indexes() -> list[pymongo.IndexModel]:
    newest = [("updated_at", pymongo.DESCENDING), ("key", pymongo.DESCENDING)]
    by_field = [
        pymongo.IndexModel([("kind", pymongo.ASCENDING), (name, pymongo.ASCENDING), *newest], name=f"kind_{name}_newest")
        for name in INDEX_FIELDS
    ]
    return [*by_field, pymongo.IndexModel([("kind", pymongo.ASCENDING), *newest], name="kind_newest")]


def _messages_indexes() -> list[pymongo.IndexModel]:
    return [
        pymongo.IndexModel([("session_id", pymongo.ASCENDING), ("seq", pymongo.ASCENDING)], name="session_seq", unique=True),
        pymongo.IndexModel(
            [("session_id", pymongo.ASCENDING), ("turn_start", pymongo.ASCENDING), ("seq", pymongo.ASCENDING)],
            name="session_turns",
        ),
    ]


class MongoStorage(Storage):
    """`MongoStorage(db_url="mongodb://localhost:27017", db_name="memwise")`.

    - `client` / `async_client`: an existing `MongoClient` / `AsyncMongoClient` to use instead of
      `db_url` (they are not closed by `close()`). With only `client`, async calls run the sync
      driver in worker threads; with only `async_client`, sync calls are refused.
    - `timeout`: seconds to wait for an unreachable server before `StorageUnavailableError`
      (serverSelectionTimeoutMS and connectTimeoutMS).
    - `client_options`: extra keyword arguments for the clients memwise creates.
    """

    def __init__(
        self,
        db_url: str | None = None,
        db_name: str | None = None,
        *,
        client: MongoClient[dict[str, Any]] | None = None,
        async_client: AsyncMongoClient[dict[str, Any]] | None = None,
        collection_prefix: str = "memwise",
        timeout: float = 10.0,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name (table names: no tables here)
        **client_options: Any,
    ) -> None:
        self.id = common_options(id, session_table, user_memory_table)
        if client is not None and not isinstance(client, MongoClient):
            raise ConfigurationError(f"client must be a pymongo MongoClient, not {type(client).__name__}")
        if async_client is not None and not isinstance(async_client, AsyncMongoClient):
            raise ConfigurationError(f"async_client must be a pymongo AsyncMongoClient, not {type(async_client).__name__}")
        if (client is not None or async_client is not None) and db_url is not None:
            raise ConfigurationError("give MongoStorage either db_url or an existing client, not both")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if not isinstance(collection_prefix, str) or not collection_prefix or "$" in collection_prefix:
            raise ConfigurationError(f"collection_prefix must be a non-empty name without '$', not {collection_prefix!r}")
        self._owns_clients = client is None and async_client is None
        url_db = None
        if self._owns_clients:
            db_url = db_url or "mongodb://localhost:27017/"
            try:
                parsed = parse_uri(db_url)
            except (PyMongoError, ValueError) as exc:
                raise ConfigurationError(f"db_url {db_url!r} is not a MongoDB URL: {exc}") from None
            self._where = ", ".join(f"{host}:{port}" for host, port in parsed["nodelist"]) or db_url
            url_db = parsed.get("database")
        else:
            self._where = _client_address(client or async_client)
        self.db_url = db_url
        self.db_name = db_name or url_db or "memwise"
        if not isinstance(self.db_name, str) or any(char in self.db_name for char in ' ./\\$"\x00'):
            raise ConfigurationError(f"db_name must be a MongoDB database name (no space, . / \\ $ \"), not {self.db_name!r}")
        self.timeout = float(timeout)
        self._client_options = {
            "serverSelectionTimeoutMS": int(self.timeout * 1000),
            "connectTimeoutMS": int(self.timeout * 1000),
            **client_options,
        }
        self._names = {name: f"{collection_prefix}_{name}" for name in ("records", "messages")}
        self._client = client
        self._client_closer: weakref.finalize[Any, Any] | None = None
        self._given_async_client = async_client
        self._sync_collections: dict[str, Any] = {}
        self._loops = LoopClients(repr(self), self._open_loop_state, _close_loop_state)  # a client per loop
        self._lock = threading.Lock()
        self._closed = False
        # session_id -> the last seq this storage appended: a hint that keeps the "last message"
        # lookup on a short index range. Only a hint: appends stay correct when it is stale.
        self._hints: dict[str, int] = {}
        self._thread_locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def __repr__(self) -> str:
        return f"MongoStorage({self._where}, db_name={self.db_name!r})"

    # ================================================================ clients and executors
    def _collections(self) -> dict[str, Any]:
        if self._sync_collections:
            return self._sync_collections
        with self._lock:
            self._check_open()
            if self._client is None:
                if not self._owns_clients:
                    raise ConfigurationError(
                        "this MongoStorage was given only an async_client: use its async methods, or also pass client="
                    )
                self._client = MongoClient(self.db_url, **self._client_options)
                # closed by close(), else when this storage goes away or at exit (pymongo warns otherwise)
                self._client_closer = weakref.finalize(self, self._client.close)
            db = self._client[self.db_name]
            self._sync_collections = {name: db[real] for name, real in self._names.items()}
        return self._sync_collections

    async def _open_loop_state(self) -> _LoopState:
        owned = self._owns_clients
        if owned:
            client = AsyncMongoClient(self.db_url, **self._client_options)
        elif self._given_async_client is None:
            raise ConfigurationError("this MongoStorage was given only a client: use its sync methods, or also pass async_client=")
        else:
            client = self._given_async_client
        db = client[self.db_name]
        return _LoopState(
            client, owned, {name: db[real] for name, real in self._names.items()},
            [asyncio.Lock() for _ in range(_LOCK_STRIPES)],
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"this {self!r} is closed")

    def _execute(self, command: Mongo | _Sleep | _Queue) -> Any:
        if isinstance(command, _Sleep):
            return time.sleep(command.seconds)
        if isinstance(command, _Queue):
            lock = self._thread_locks[hash(command.key) % _LOCK_STRIPES]
            lock.acquire()
            return lock.release
        collection = self._collections()[command.collection]
        with self._errors(command):
            if command.op in ("find", "aggregate"):
                return list(getattr(collection, command.op)(*command.args, **command.kwargs))
            return _result(command.op, getattr(collection, command.op)(*command.args, **command.kwargs))

    async def _aexecute(self, command: Mongo | _Sleep | _Queue) -> Any:
        if isinstance(command, _Sleep):
            return await asyncio.sleep(command.seconds)
        state = await self._loops.get()
        if isinstance(command, _Queue):
            lock = state.locks[hash(command.key) % _LOCK_STRIPES]
            await lock.acquire()
            return lock.release
        collection = state.collections[command.collection]
        with self._errors(command):
            if command.op == "find":
                return await collection.find(*command.args, **command.kwargs).to_list()
            if command.op == "aggregate":
                return await (await collection.aggregate(*command.args, **command.kwargs)).to_list()
            return _result(command.op, await getattr(collection, command.op)(*command.args, **command.kwargs))

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        if self._given_async_client is None and not self._owns_clients:  # only a sync client was given
            return await asyncio.to_thread(drive, plan, self._execute)
        return await adrive(plan, self._aexecute)

    @contextmanager
    def _errors(self, command: Mongo) -> Iterator[None]:
        try:
            yield
        except (DuplicateKeyError, BulkWriteError):
            raise  # the plan handles these
        except ConnectionFailure as exc:  # includes server selection timeouts
            reason = _first_line(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]
            raise StorageUnavailableError(
                f"MongoDB at {self._where} is unreachable (no answer within timeout={self.timeout:g}s: {reason}). "
                "Check that the server runs and listens there, and that db_url names the right host and port."
            ) from None
        except PyMongoError as exc:
            raise StorageError(
                f"MongoDB {command.op} on {self.db_name}.{self._names[command.collection]} failed: {_first_line(exc)}"
            ) from exc
        except (BSONError, UnicodeEncodeError) as exc:
            raise InvalidInputError(f"cannot store this text in MongoDB (invalid UTF-8?): {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            closer, self._client_closer = self._client_closer, None
            self._client, self._sync_collections = None, {}
        if closer is not None:
            closer()
        self._loops.close()

    async def aclose(self) -> None:
        await self._loops.aclose()
        self.close()

    # ================================================================ schema
    def _setup(self) -> MongoPlan[None]:
        yield Mongo("records", "create_indexes", (_records_indexes(),))
        yield Mongo("messages", "create_indexes", (_messages_indexes(),))

    # ================================================================ records
    def _get_record(self, kind: str, key: str) -> MongoPlan[RawRecord | None]:
        doc = yield Mongo("records", "find_one", ({"_id": _record_id(kind, key)},))
        return None if doc is None else _raw_record(doc)

    def _put_record(self, record: RawRecord, expected_version: int) -> MongoPlan[bool]:
        doc = _record_doc(record)
        if expected_version == 0:
            try:
                yield Mongo("records", "insert_one", (doc,))
            except DuplicateKeyError:
                return False
            return True
        matched: int = yield Mongo("records", "replace_one", ({"_id": doc["_id"], "version": expected_version}, doc))
        return matched == 1

    def _delete_record(self, kind: str, key: str) -> MongoPlan[bool]:
        count: int = yield Mongo("records", "delete_one", ({"_id": _record_id(kind, key)},))
        deleted = count == 1
        if kind == "session":  # again, after the record: an append that passed its check meanwhile
            yield from self._delete_messages(key)
        return deleted

    def _query_records(self, query: RecordQuery) -> MongoPlan[list[RawRecord]]:
        where: dict[str, Any] = {"kind": query.kind}
        for name in ("user_id", "agent_id", "session_id"):
            if getattr(query, name) is not None:
                where[name] = getattr(query, name)
        if query.statuses is not None:
            statuses = list(query.statuses)
            where["status"] = statuses[0] if len(statuses) == 1 else {"$in": statuses}
        stamps: dict[str, float] = {}
        if query.updated_before is not None:
            stamps["$lt"] = query.updated_before
        if query.after is not None:
            stamps["$lte"] = query.after[0]
        if stamps:
            where["updated_at"] = stamps
        # The keyset cursor (updated_at, key) < after is one index range, updated_at <= stamp, whose
        # first documents may tie on the stamp with key >= the cursor's: those are dropped here
        # (asking for a few more up front), which keeps every planner on the index (an $or for the
        # tie makes some of them scan the collection).
        spare = 0 if query.after is None else 8
        while True:
            docs = yield Mongo(
                "records", "find", (where,),
                {"sort": [("updated_at", pymongo.DESCENDING), ("key", pymongo.DESCENDING)], "limit": query.limit + spare},
            )
            seen = 0
            if query.after is not None:
                stamp, key = query.after
                while seen < len(docs) and docs[seen]["updated_at"] == stamp and docs[seen]["key"] >= key:
                    seen += 1
            if seen <= spare or len(docs) < query.limit + spare:
                return [_raw_record(doc) for doc in docs[seen : seen + query.limit]]
            spare = seen * 2  # many ties on one stamp: look further

    # ================================================================ messages
    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> MongoPlan[list[int] | None]:
        if not messages:
            return None if (yield from self._last_seq(session_id)) is None else []
        # Writers of this process queue on a local lock instead of racing on the server; other
        # processes and hosts are kept apart by the unique index alone (the lock is only a saving).
        release = yield _Queue(session_id)
        try:
            return (yield from self._append_batch(session_id, messages))
        finally:
            release()

    def _append_batch(self, session_id: str, messages: list[RawMessage]) -> MongoPlan[list[int] | None]:
        for attempt in range(_MAX_APPEND_ATTEMPTS):
            if attempt:  # lost a race: back off a little so the writers spread out
                yield _Sleep(random.uniform(0, min(_BACKOFF_MAX, _BACKOFF_BASE * 2 ** min(attempt, 16))))
            last = yield from self._last_seq(session_id)
            if last is None:
                return None
            first = last + 1
            end = first + len(messages) - 1
            docs = [_message_doc(session_id, seq, end, message) for seq, message in enumerate(messages, first)]
            try:
                yield Mongo("messages", "insert_many", (docs,), {"ordered": True})
            except (DuplicateKeyError, BulkWriteError) as exc:
                if not _is_duplicate(exc):
                    raise StorageError(f"MongoDB append to session {session_id!r} failed: {_first_line(exc)}") from exc
                inserted = exc.details.get("nInserted", 0) if isinstance(exc, BulkWriteError) else 0
                if inserted:  # cannot happen while every writer follows batch_end; never leave a part
                    yield from self._take_back(docs[:inserted])
                continue  # another writer took `first`: read the new end and try again
            if (yield Mongo("records", "find_one", ({"_id": _record_id("session", session_id)}, {"_id": 1}))) is None:
                yield from self._take_back(docs)  # the session was deleted since the check: no orphans
                return None
            self._remember(session_id, end)
            return list(range(first, end + 1))
        raise StorageError(f"could not append to session {session_id!r}: {_MAX_APPEND_ATTEMPTS} conflicting attempts")

    def _take_back(self, docs: list[dict[str, Any]]) -> MongoPlan[None]:
        yield Mongo("messages", "delete_many", ({"_id": {"$in": [doc["_id"] for doc in docs]}},))

    def _last_seq(self, session_id: str) -> MongoPlan[int | None]:
        """The end of the session's newest batch (0 when it has no messages), or None when the
        session's record does not exist. Two finds on indexes: a `$lookup` doing both in one
        round trip scanned the whole message collection on SecantusDB (200 ms at 2,000 messages)."""
        if (yield Mongo("records", "find_one", ({"_id": _record_id("session", session_id)}, {"_id": 1}))) is None:
            return None
        hint = self._hints.get(session_id, 0)
        while True:
            where: dict[str, Any] = {"session_id": session_id}
            if hint:
                where["seq"] = {"$gte": hint}
            docs = yield Mongo(
                "messages", "find", (where, {"_id": 0, "seq": 1, "batch_end": 1}),
                {"sort": [("seq", pymongo.DESCENDING)], "limit": 1},
            )
            if docs:
                last: int = max(docs[0]["seq"], docs[0].get("batch_end", 0))
                return last
            if not hint:
                return 0
            hint = 0  # the hinted message is gone (deleted): look at the whole session

    def _remember(self, session_id: str, seq: int) -> None:
        if len(self._hints) >= _HINTS_MAX:
            self._hints.clear()
        self._hints[session_id] = seq

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> MongoPlan[list[RawMessage]]:
        start = after_seq
        if last_turns is not None:
            # Near the session's known end first: a sort over all its turns is slow on servers
            # that sort in memory; the whole session only if the window reaches further back.
            hint = self._hints.get(session_id, 0)
            near = max(0, hint - _MESSAGES_PER_TURN_GUESS * last_turns)
            for lowest in dict.fromkeys((near, 0)):
                where_turns: dict[str, Any] = {"session_id": session_id, "turn_start": True}
                if lowest:
                    where_turns["seq"] = {"$gt": lowest}
                turns = yield Mongo(
                    "messages", "find", (where_turns, {"_id": 0, "seq": 1}),
                    {"sort": [("seq", pymongo.DESCENDING)], "skip": last_turns - 1, "limit": 1},
                )
                if turns:
                    start = max(start, turns[0]["seq"] - 1)
                    break
        options: dict[str, Any] = {"sort": [("seq", pymongo.ASCENDING)]}
        if limit is not None:
            options["limit"] = limit
        where = {"session_id": session_id, "seq": {"$gt": start}}
        docs = yield Mongo("messages", "find", (where, {"_id": 0, "session_id": 0}), options)
        return [
            RawMessage(doc["seq"], doc.get("run_id"), bool(doc.get("turn_start")), doc["created_at"], doc["body"])
            for doc in docs
        ]

    def _delete_messages(self, session_id: str) -> MongoPlan[int]:
        self._hints.pop(session_id, None)
        deleted: int = yield Mongo("messages", "delete_many", ({"session_id": session_id},))
        return deleted


async def _close_loop_state(state: _LoopState) -> None:
    if state.owned:
        await state.client.close()


# ==================================================================== documents
def _record_id(kind: str, key: str) -> str:
    return f"{kind}/{key}"  # kinds never contain "/", so this is unambiguous


def _record_doc(record: RawRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": _record_id(record.kind, record.key),
        "kind": record.kind,
        "key": record.key,
        "version": record.version,
        "updated_at": float(record.updated_at),
        "body": record.body,
    }
    for name in INDEX_FIELDS:
        value = getattr(record, name)
        if value is not None:
            doc[name] = value
    return doc


def _raw_record(doc: dict[str, Any]) -> RawRecord:
    return RawRecord(
        doc["kind"], doc["key"], doc["version"], doc["updated_at"], doc["body"],
        **{name: doc.get(name) for name in INDEX_FIELDS},
    )


def _message_doc(session_id: str, seq: int, batch_end: int, message: RawMessage) -> dict[str, Any]:
    doc = {
        "session_id": session_id,
        "seq": seq,
        "batch_end": batch_end,
        "turn_start": bool(message.turn_start),
        "created_at": float(message.created_at),
        "body": message.body,
    }
    if message.run_id is not None:
        doc["run_id"] = message.run_id
    return doc


# ==================================================================== driver results and errors
def _result(op: str, result: Any) -> Any:
    if op in ("delete_one", "delete_many"):
        return result.deleted_count
    if op == "replace_one":
        return result.matched_count
    if op in ("insert_one", "insert_many"):
        return None
    return result  # find_one, create_indexes


def _is_duplicate(exc: PyMongoError) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    errors = exc.details.get("writeErrors", []) if isinstance(exc, BulkWriteError) else []
    return bool(errors) and all(error.get("code") == _DUPLICATE_KEY for error in errors)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _client_address(client: Any) -> str:
    try:
        seeds = client._topology_settings.seeds  # the hosts the client was given
        return ", ".join(f"{host}:{port}" for host, port in sorted(seeds))
    except AttributeError:
        return repr(client)


#: Every storage serves sync and async callers; the name is kept for seed code that imports it.
AsyncMongoStorage = MongoStorage

__all__ = ["AsyncMongoStorage", "MongoStorage"]
