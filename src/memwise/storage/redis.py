"""RedisStorage: the contract on Redis, with redis-py's `redis.Redis` and `redis.asyncio.Redis`.

Keys (P = `db_prefix`). `{...}` is the Redis Cluster hash tag: keys with the same tag share a slot.

Catalog slot `{P}` -- every versioned record and every secondary index:

- `{P}:r:<kind>:<key>` HASH: `v` version, `u` updated_at, `b` body (the core's JSON text, stored
  as-is), plus the index fields that are set (`user_id`, `agent_id`, `session_id`, `status`).
- `{P}:i:<kind>` ZSET: the keys of every record of that kind, scored by updated_at.
- `{P}:i:<kind>:<field>:<value>` ZSET: the keys of the records with that field value (a user's
  sessions, a session's runs, ...), scored by updated_at.

Session slot `{P:m:<session_id>}` -- one per session, so message logs spread over a cluster:

- `{P:m:<sid>}:log` LIST, append-only: one element per message, seq = position + 1. An element is
  a one-line header `<turn start 0|1> <created_at> <run_id as JSON>`, a newline, then the body as-is.
- `{P:m:<sid>}:turns` LIST: the seqs of the messages that start a user turn, ascending.

Listing never scans the keyspace (no SCAN/KEYS anywhere): it walks ONE index -- session_id, else
user_id, else agent_id, else a single status, else the kind's -- with ZREVRANGEBYSCORE from the
cursor down; equal scores come back in descending member order, which is exactly the contract's
order (updated_at desc, then key desc). One script call returns a page of index entries together
with their record hashes; filters the index does not cover are checked in Python.

Atomicity: every operation that touches several keys is one Lua script (EVALSHA, with EVAL as the
fallback when the server lost its script cache), and every script touches keys of ONE slot only,
but for a session's record and log, which go together on a single server (see below):

- put: compare-and-set on the version + moving the record's index entries + its TTL (catalog slot);
- delete: the record and its index entries (catalog slot), and a session's log with its record;
- append: the session record must exist (else nothing is appended) + next seq (LLEN) + RPUSH
  messages + RPUSH turn starts + TTLs (session slot, and the record's TTL); readers never see half
  an append, a writer killed mid-call leaves all of it or none;
- read with `last_turns`: the turn index and the log read as one snapshot (session slot);
- delete messages (session slot).

On a single server the append script reads (and refreshes) the session record and the delete script
drops the log with it, across slots, so an append and a delete_session never interleave: no message
outlives its session. A Redis Cluster runs a script on one slot's node, so there an append checks
the record with EXISTS before its script and refreshes its TTL with PEXPIRE after, and deleting a
session record drops its log with a second script call: an append racing a delete_session can
leave its messages behind. Other multi-slot work is never one command, and only TTL or clean-up
is involved: a session write refreshes its log's TTL with a separate script call, and a listing
that meets index entries of records that expired removes them in a later script call that
re-checks each record first (so a record re-created meanwhile keeps its entry). Scripts compute
the index keys they touch from their arguments instead of declaring them all in KEYS; on a cluster
those keys always carry the same hash tag as KEYS[1], so it runs each script on one node without
cross-slot errors. A session id containing `}` ends its hash tag early, but both of its log keys
still share it (hence a slot). The price of atomic index updates on a cluster: all records and
indexes live in the one catalog slot (one shard); message logs, the bulk of the data and of the
traffic, spread over every shard.

A plan's batch (independent commands, see `plan.gather`) goes out as one non-transactional
pipeline: one round trip, each command still atomic on its own; a script the server no longer has
cached is sent again by its source.

`expire` (seconds) is a sliding TTL for sessions and their message logs, refreshed on every write
to either (a session update, an append). Profiles get it only with `expire_profiles=True`. Runs and
the format record never expire: a paused run waiting for a human must survive; `prune` removes
finished runs.

Clients: `db_url` (default redis://127.0.0.1:6379/0) builds both flavours. `redis_client` may be a
sync `redis.Redis` or an async `redis.asyncio.Redis`: it serves its own flavour and the other one
is built from its connection settings (host, port, db, credentials, timeouts, TLS,
decode_responses). A given client is never closed by the storage. Async calls use one
`redis.asyncio` client per event loop, so the event loop never blocks. Cluster clients
(`redis.cluster.RedisCluster`, `redis.asyncio.cluster.RedisCluster`) are accepted for their own
flavour only.

Clients built here do not retry: a command whose reply was lost may have run, and re-running an
append would store its messages twice. A server that cannot be reached raises
`StorageUnavailableError` naming host and port after `socket_connect_timeout` seconds; a server
that stops answering does so after `socket_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from memwise.errors import ConfigurationError, StorageError, StorageUnavailableError
from memwise.storage.base import Storage
from memwise.storage.contract import INDEX_FIELDS, RawMessage, RawRecord, RecordQuery
from memwise.storage.options import common_options
from memwise.storage.plan import Plan, T, adrive, drive, nothing

try:
    import redis
    import redis.asyncio
    import redis.asyncio.connection
    import redis.asyncio.retry
    import redis.connection
    import redis.retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("RedisStorage needs redis-py: pip install 'memwise[redis]'") from exc

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_MAX_INDEX = 2**40  # clamp for list offsets (Lua prints numbers with 14 significant digits)

# ---------------------------------------------------------------------------- Lua scripts
_INDEX_FIELDS_LUA = "{" + ", ".join(f"'{name}'" for name in INDEX_FIELDS) + "}"

_LUA_SOURCES = {
    # KEYS[1] record. ARGV: expected version, version, updated_at, body, ttl ms (0: none),
    # index prefix ({P}:i:<kind>), member (the record's key), then (field, value) pairs.
    "put": f"""
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur and tonumber(cur) or 0) ~= tonumber(ARGV[1]) then return 0 end
local prefix, member, at = ARGV[6], ARGV[7], ARGV[3]
if cur then
  local names = {_INDEX_FIELDS_LUA}
  local old = redis.call('HMGET', KEYS[1], unpack(names))
  for i = 1, #names do
    if old[i] then redis.call('ZREM', prefix .. ':' .. names[i] .. ':' .. old[i], member) end
  end
  redis.call('DEL', KEYS[1])
end
local fields = {{'v', ARGV[2], 'u', at, 'b', ARGV[4]}}
redis.call('ZADD', prefix, at, member)
for i = 8, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  redis.call('ZADD', prefix .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1], at, member)
end
redis.call('HSET', KEYS[1], unpack(fields))
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
""",
    # KEYS[1] record. ARGV: index prefix, member, then keys to delete with it (a session's log).
    "delete": f"""
local names = {_INDEX_FIELDS_LUA}
local old = redis.call('HMGET', KEYS[1], unpack(names))
for i = 1, #names do
  if old[i] then redis.call('ZREM', ARGV[1] .. ':' .. names[i] .. ':' .. old[i], ARGV[2]) end
end
redis.call('ZREM', ARGV[1], ARGV[2])
if #ARGV > 2 then redis.call('DEL', unpack(ARGV, 3)) end
return redis.call('DEL', KEYS[1])
""",
    # KEYS[1] index. ARGV: max score, min score, offset, count, record key prefix.
    # Returns member, score, record fields (empty when the record is gone), member, ...
    "page": """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
local out = {}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGETALL', ARGV[5] .. ids[i])
end
return out
""",
    # KEYS[1] index. ARGV: record key prefix, field ('' for a kind index), value, members...
    # Removes the members whose record is gone or no longer has that field value.
    "unindex": """
local removed = 0
for i = 4, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local stale
  if ARGV[2] == '' then stale = redis.call('EXISTS', key) == 0
  else stale = redis.call('HGET', key, ARGV[2]) ~= ARGV[3] end
  if stale then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
""",
    # KEYS[1] log, KEYS[2] turns. ARGV: ttl ms (0: none), the session's record key ('': not
    # checked here), then (turn start '1'/'0', entry) pairs.
    # Returns the first assigned seq, or 0 (appending nothing) when the session record is missing.
    "append": """
local function push(key, items)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', key, unpack(items, i, math.min(i + 999, #items)))
  end
end
if ARGV[2] ~= '' then
  if redis.call('EXISTS', ARGV[2]) == 0 then return 0 end
  if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', ARGV[2], ARGV[1]) end
end
local first = redis.call('LLEN', KEYS[1]) + 1
local entries, turns = {}, {}
for i = 3, #ARGV, 2 do
  if ARGV[i] == '1' then turns[#turns + 1] = first + (i - 3) / 2 end
  entries[#entries + 1] = ARGV[i + 1]
end
push(KEYS[1], entries)
push(KEYS[2], turns)
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return first
""",
    # KEYS[1] log, KEYS[2] turns. ARGV: after_seq, -last_turns, limit (0: no limit).
    # Returns {index of the first returned message, entries}.
    "read": """
local start = tonumber(ARGV[1])
local turn = redis.call('LINDEX', KEYS[2], ARGV[2])
if turn and tonumber(turn) - 1 > start then start = tonumber(turn) - 1 end
local stop = -1
if tonumber(ARGV[3]) > 0 then stop = start + tonumber(ARGV[3]) - 1 end
return {start, redis.call('LRANGE', KEYS[1], start, stop)}
""",
    # KEYS[1] log, KEYS[2] turns. Returns how many messages were deleted.
    "drop": """
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return n
""",
    # KEYS: keys whose TTL to refresh. ARGV[1]: ttl ms.
    "touch": """
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
""",
}
_LUA = {name: (src, hashlib.sha1(src.encode()).hexdigest()) for name, src in _LUA_SOURCES.items()}

# Connection settings that mean the same thing to the sync and the async driver.
_PORTABLE = {
    "host", "port", "path", "db", "username", "password", "credential_provider", "socket_timeout",
    "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options", "encoding",
    "encoding_errors", "decode_responses", "client_name", "protocol", "health_check_interval",
}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class RedisStorage(Storage):
    """`RedisStorage(db_url="redis://host:6379/0")` or `RedisStorage(redis_client=client)`.

    `db_prefix` namespaces every key; `expire` (seconds) is a sliding TTL for sessions and their
    messages (and for profiles with `expire_profiles=True`). `socket_connect_timeout` and
    `socket_timeout` bound how long an unreachable or silent server can stall a call; extra
    keyword arguments go to `redis.Redis.from_url` (e.g. `password`, `ssl_ca_certs`).
    """

    def __init__(
        self,
        db_url: str | None = None,
        *,
        redis_client: Any = None,
        db_prefix: str = "memwise",
        expire: float | None = None,
        expire_profiles: bool = False,
        socket_connect_timeout: float = 5.0,
        socket_timeout: float | None = 10.0,
        session_table: str | None = None,
        user_memory_table: str | None = None,
        id: str | None = None,  # noqa: A002 - the original's name (table names: no tables here)
        **redis_kwargs: Any,
    ) -> None:
        self.id = common_options(id, session_table, user_memory_table)
        if db_url is not None and redis_client is not None:
            raise ConfigurationError("give RedisStorage either db_url or redis_client, not both")
        if not isinstance(db_prefix, str) or not db_prefix or "{" in db_prefix or "}" in db_prefix:
            raise ConfigurationError(f"db_prefix must be a non-empty string without braces, not {db_prefix!r}")
        if expire is not None and (isinstance(expire, bool) or not isinstance(expire, (int, float)) or expire <= 0):
            raise ConfigurationError(f"expire must be a positive number of seconds or None, not {expire!r}")
        self.db_url = db_url if db_url is not None or redis_client is not None else DEFAULT_URL
        self.db_prefix = db_prefix
        self.expire = expire
        self.expire_profiles = bool(expire_profiles)
        self._ttl_ms = 0 if expire is None else max(1, int(expire * 1000))
        self._given = redis_client
        self._given_flavour = None if redis_client is None else _flavour(redis_client)
        # A cluster runs a script on one slot's node: there, the session record (catalog slot) is
        # checked, refreshed and deleted by separate commands from its log (session slot).
        self._cluster = redis_client is not None and _is_cluster(redis_client)
        self._options = {
            "socket_connect_timeout": socket_connect_timeout,
            "socket_timeout": socket_timeout,
            **redis_kwargs,
        }
        self._sync_client: Any = redis_client if self._given_flavour == "sync" else None
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._given_async_used = False
        self._owned: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._where = _where(redis_client) if redis_client is not None else _where_url(self.db_url or DEFAULT_URL)
        self._catalog = f"{{{db_prefix}}}"

    def __repr__(self) -> str:
        return f"RedisStorage({self._where}, db_prefix={self.db_prefix!r})"

    # ================================================================ keys
    def _record_key(self, kind: str, key: str) -> str:
        return f"{self._catalog}:r:{kind}:{key}"

    def _index_key(self, kind: str, field: str | None = None, value: str | None = None) -> str:
        base = f"{self._catalog}:i:{kind}"
        return base if field is None else f"{base}:{field}:{value}"

    def _log_keys(self, session_id: str) -> list[str]:
        tag = f"{{{self.db_prefix}:m:{session_id}}}"
        return [f"{tag}:log", f"{tag}:turns"]

    def _record_ttl(self, kind: str) -> int:
        if kind == "session" or (kind == "profile" and self.expire_profiles):
            return self._ttl_ms
        return 0

    # ================================================================ plans: records
    def _setup(self) -> Plan[None]:
        return nothing()  # nothing to create: keys appear on first write

    def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]:
        fields = yield ("hgetall", (self._record_key(kind, key),))
        return _record(kind, key, fields) if fields else None

    def _put_record(self, record: RawRecord, expected_version: int) -> Plan[bool]:
        ttl = self._record_ttl(record.kind)
        argv: list[Any] = [
            expected_version, record.version, repr(float(record.updated_at)), record.body, ttl,
            self._index_key(record.kind), record.key,
        ]
        for name in INDEX_FIELDS:
            value = getattr(record, name)
            if value is not None:
                argv += (name, value)
        written = yield ("put", ([self._record_key(record.kind, record.key)], argv))
        if written and ttl and record.kind == "session":  # the log slides with its session
            yield ("touch", (self._log_keys(record.key), [ttl]))
        return bool(written)

    def _delete_record(self, kind: str, key: str) -> Plan[bool]:
        # A session's log goes with its record, after the plan's `_delete_messages`: an append that
        # ran in between (its session still existed) leaves nothing behind.
        log = self._log_keys(key) if kind == "session" else []
        argv = [self._index_key(kind), key, *([] if self._cluster else log)]
        deleted = yield ("delete", ([self._record_key(kind, key)], argv))
        if log and self._cluster:
            yield ("drop", (log, []))
        return bool(deleted)

    def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]:
        if query.limit <= 0 or query.statuses == ():
            return []
        field, value = _driving_index(query)
        index = self._index_key(query.kind, field, value)
        prefix = self._record_key(query.kind, "")
        top, inclusive = _upper_bound(query)
        high = "+inf" if top is None else (repr(top) if inclusive else f"({top!r}")
        batch = min(max(query.limit, 16), 1000)
        offset = 0  # members at score `top` already seen (keyset paging with ties)
        found: list[RawRecord] = []
        stale: list[str] = []
        while True:
            rows = yield ("page", ([index], [high, "-inf", offset, batch, prefix]))
            for i in range(0, len(rows), 3):
                member, score, fields = _text(rows[i]), float(rows[i + 1]), rows[i + 2]
                if not fields:
                    stale.append(member)  # expired: its index entries linger
                    continue
                record = _record(query.kind, member, fields)
                if field is not None and getattr(record, field) != value:
                    stale.append(member)
                    continue
                if record.updated_at == score and query.matches(record):
                    found.append(record)
                    if len(found) == query.limit:
                        break
            if len(found) >= query.limit or len(rows) < 3 * batch:
                break
            last = float(rows[-2])
            ties = sum(1 for i in range(1, len(rows), 3) if float(rows[i]) == last)
            offset = offset + ties if (inclusive and last == top) else ties
            top, inclusive, high = last, True, repr(last)
        if stale:
            yield ("unindex", ([index], [prefix, field or "", value or "", *stale]))
        return found

    # ================================================================ plans: messages
    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> Plan[list[int] | None]:
        record = self._record_key("session", session_id)
        if self._cluster and not (yield ("exists", (record,))):  # another slot: checked beforehand
            return None
        argv: list[Any] = [self._ttl_ms, "" if self._cluster else record]
        for message in messages:
            turn = "1" if message.turn_start else "0"
            run_id = json.dumps(message.run_id, ensure_ascii=False)
            argv += (turn, f"{turn} {float(message.created_at)!r} {run_id}\n{message.body}")
        first = yield ("append", (self._log_keys(session_id), argv))
        if not first:
            return None
        if self._ttl_ms and self._cluster:  # the session slides with its log
            yield ("pexpire", (record, self._ttl_ms))
        return list(range(first, first + len(messages)))

    def _read_messages(
        self, session_id: str, after_seq: int, last_turns: int | None, limit: int | None
    ) -> Plan[list[RawMessage]]:
        log, turns = self._log_keys(session_id)
        start = min(after_seq, _MAX_INDEX)
        count = 0 if limit is None else min(limit, _MAX_INDEX)
        if last_turns is None:
            entries = yield ("lrange", (log, start, start + count - 1 if count else -1))
        else:
            start, entries = yield ("read", ([log, turns], [start, -min(last_turns, _MAX_INDEX), count]))
        return [_message(start + i + 1, entry) for i, entry in enumerate(entries)]

    def _delete_messages(self, session_id: str) -> Plan[int]:
        return int((yield ("drop", (self._log_keys(session_id), []))))

    # ================================================================ running plans
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        return drive(plan, self._execute, self._execute_batch)

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        return await adrive(plan, self._aexecute, self._aexecute_batch)

    def _execute(self, command: tuple[str, tuple[Any, ...]]) -> Any:
        client = self._client()
        try:
            try:
                return self._send(client, command)
            except NoScriptError:  # the server lost its script cache: send the script itself
                return self._send(client, command, by_sha=False)
        except RedisError as exc:
            raise self._failure(exc) from exc

    async def _aexecute(self, command: tuple[str, tuple[Any, ...]]) -> Any:
        client = await self._aclient_ready()
        try:
            try:
                return await self._send(client, command)
            except NoScriptError:
                return await self._send(client, command, by_sha=False)
        except RedisError as exc:
            raise self._failure(exc) from exc

    def _execute_batch(self, commands: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """A batch in one round trip: a non-transactional pipeline (the commands are independent)."""
        with self._client().pipeline(transaction=False) as pipe:
            for command in commands:
                self._send(pipe, command)
            try:
                replies = pipe.execute(raise_on_error=False)
            except RedisError as exc:
                raise self._failure(exc) from exc
        return [self._execute(c) if isinstance(r, NoScriptError) else self._reply(r) for c, r in zip(commands, replies, strict=True)]

    async def _aexecute_batch(self, commands: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """The asyncio twin of `_execute_batch`."""
        client = await self._aclient_ready()
        async with client.pipeline(transaction=False) as pipe:
            for command in commands:
                self._send(pipe, command)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except RedisError as exc:
                raise self._failure(exc) from exc
        return [
            (await self._aexecute(c)) if isinstance(r, NoScriptError) else self._reply(r)
            for c, r in zip(commands, replies, strict=True)
        ]

    @staticmethod
    def _send(client: Any, command: tuple[str, tuple[Any, ...]], by_sha: bool = True) -> Any:
        """Issue one command on a client or a pipeline (a script by its SHA1, or by its source)."""
        op, args = command
        if op not in _LUA:
            return getattr(client, op)(*args)
        (keys, argv), (source, sha) = args, _LUA[op]
        if by_sha:
            return client.evalsha(sha, len(keys), *keys, *argv)
        return client.eval(source, len(keys), *keys, *argv)

    def _reply(self, reply: Any) -> Any:
        """A pipeline's reply, its error turned into the storage's (handed to the plan that sent it)."""
        return self._failure(reply) if isinstance(reply, RedisError) else reply

    async def _aclient_ready(self) -> Any:
        client, closer = self._aclient()
        if closer is not None:  # a new client: start its closer on this loop (see _closer)
            await closer.asend(None)
        return client

    def _failure(self, exc: RedisError) -> StorageError:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            pool = getattr(self._given, "connection_pool", None)
            settings = self._options if pool is None else pool.connection_kwargs
            timeout = settings.get("orig_socket_connect_timeout", settings.get("socket_connect_timeout"))
            return StorageUnavailableError(
                f"Redis at {self._where} is unreachable or not answering ({exc}). Check that redis-server "
                f"runs there and accepts connections from this host (socket_connect_timeout={timeout}s)."
            )
        return StorageError(f"Redis at {self._where} failed: {exc}")

    # ================================================================ clients
    def _client(self) -> Any:
        client = self._sync_client
        if client is None:
            with self._lock:
                self._check_open()
                if self._sync_client is None:
                    self._sync_client = self._build(redis, redis.connection, redis.retry)
                client = self._sync_client
        elif self._closed:
            self._check_open()
        return client

    def _aclient(self) -> tuple[Any, Any]:
        """This loop's async client, and its closer when it was just made (the caller starts it)."""
        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(loop)
        if entry is not None and not self._closed:
            return entry[0], None
        with self._lock:
            self._check_open()
            entry = self._async_clients.get(loop)
            if entry is not None:
                return entry[0], None
            if self._given_flavour == "async" and not self._given_async_used:
                self._given_async_used = True
                self._async_clients[loop] = (self._given, None)
                return self._given, None
            client = self._build(redis.asyncio, redis.asyncio.connection, redis.asyncio.retry)
            closer = _closer(client)
            self._async_clients[loop] = (client, closer)
            return client, closer

    def _build(self, module: Any, connections: Any, retry: Any) -> Any:
        """A client of one flavour (a module pair), from db_url or from the given client's settings."""
        no_retry = retry.Retry(NoBackoff(), 0)
        if self._given is None:
            client = module.Redis.from_url(self.db_url, retry=no_retry, **self._options)
        else:
            pool = getattr(self._given, "connection_pool", None)
            if pool is None:
                raise ConfigurationError(
                    f"RedisStorage was given a {type(self._given).__name__}, which serves only its own "
                    f"({self._given_flavour}) API; pass a redis.Redis / redis.asyncio.Redis or db_url instead"
                )
            settings = dict(pool.connection_kwargs)
            for name in ("socket_timeout", "socket_connect_timeout"):  # undo temporarily relaxed timeouts
                if f"orig_{name}" in settings:
                    settings[name] = settings[f"orig_{name}"]
            kwargs = {k: v for k, v in settings.items() if k in _PORTABLE or k.startswith("ssl_")}
            cls = getattr(connections, pool.connection_class.__name__, connections.Connection)
            client = module.Redis(connection_pool=connections.ConnectionPool(connection_class=cls, retry=no_retry, **kwargs))
        self._owned.append(client)
        return client

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("this RedisStorage is closed")

    def close(self) -> None:
        """Close the clients this storage built (a given client stays open). An async client is
        closed on its own event loop: at once if that loop is idle, by a task if it is running,
        and by the loop's own shutdown (`asyncio.run`) if it has finished."""
        with self._lock:
            self._closed = True
            owned, self._owned = self._owned, []
            entries, self._async_clients = list(self._async_clients.items()), weakref.WeakKeyDictionary()
        for client in owned:
            if isinstance(client, redis.Redis):
                client.close()
        for loop, (_, closer) in entries:
            if closer is None or loop.is_closed():
                continue  # a given client, or closed already by the loop's shutdown
            if loop.is_running():
                _close_later(loop, closer.aclose)
            else:
                try:
                    loop.run_until_complete(closer.aclose())
                except RuntimeError:  # another loop runs in this thread: leave it to the GC
                    pass

    async def aclose(self) -> None:
        entry = self._async_clients.pop(asyncio.get_running_loop(), None)
        if entry is not None and entry[1] is not None:
            await entry[1].aclose()
        self.close()


AsyncRedisStorage = RedisStorage


# ==================================================================== helpers
def _flavour(client: Any) -> str:
    import redis.asyncio.cluster
    import redis.cluster

    if isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
        return "async"
    if isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
        return "sync"
    raise ConfigurationError(
        f"redis_client must be a redis.Redis or a redis.asyncio.Redis, not {type(client).__name__}"
    )


def _is_cluster(client: Any) -> bool:
    import redis.asyncio.cluster
    import redis.cluster

    return isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster))


def _where(client: Any) -> str:
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return "the Redis cluster"
    settings = pool.connection_kwargs
    if settings.get("path"):
        return f"unix socket {settings['path']}"
    return f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"


def _where_url(url: str) -> str:
    try:
        settings = redis.connection.parse_url(url)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"db_url {url!r} is not a redis:// URL ({exc})") from None
    if settings.get("path"):
        return f"unix socket {settings['path']}"
    return f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"


async def _closer(client: Any) -> Any:
    """Closes an async client when its event loop shuts down.

    Started once on the client's loop, this async generator is tracked by the loop, and
    `asyncio.run` (or `asyncio.Runner`) finalizes live async generators before it closes the loop,
    so the client's connections are closed on their own loop instead of leaking.
    """
    try:
        yield
    finally:
        await (client.aclose() if hasattr(client, "aclose") else client.close())  # redis-py < 5.0.1: close()


_CLOSING: set[Any] = set()  # close tasks in flight (the loop keeps only weak references)


def _close_later(loop: asyncio.AbstractEventLoop, close: Callable[[], Any]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(close())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
    else:
        asyncio.run_coroutine_threadsafe(close(), loop)


def _record(kind: str, key: str, fields: Any) -> RawRecord:
    if not isinstance(fields, dict):
        items = iter(fields)
        fields = dict(zip(items, items, strict=False))
    data = {_text(name): _text(value) for name, value in fields.items()}
    return RawRecord(
        kind, key, int(data["v"]), float(data["u"]), data["b"],
        data.get("user_id"), data.get("agent_id"), data.get("session_id"), data.get("status"),
    )


def _message(seq: int, entry: Any) -> RawMessage:
    """Parse a log element: `<turn start 0|1> <created_at> <run_id as JSON>` newline body."""
    head, _, body = _text(entry).partition("\n")
    turn, created_at, run_id = head.split(" ", 2)
    if run_id == "null":
        run_id = None
    elif "\\" in run_id:  # JSON escapes need a real parse; plain ids are just quoted
        run_id = json.loads(run_id)
    else:
        run_id = run_id[1:-1]
    return RawMessage(seq, run_id, turn == "1", float(created_at), body)


def _driving_index(query: RecordQuery) -> tuple[str | None, str | None]:
    """The one index a listing walks: the most selective filter given."""
    for name in ("session_id", "user_id", "agent_id"):
        value = getattr(query, name)
        if value is not None:
            return name, value
    if query.statuses is not None and len(query.statuses) == 1:
        return "status", query.statuses[0]
    return None, None


def _upper_bound(query: RecordQuery) -> tuple[float | None, bool]:
    """(highest score to read, inclusive?) from the cursor and `updated_before`."""
    bounds = []
    if query.after is not None:
        bounds.append((float(query.after[0]), 1))  # inclusive: ties are skipped by key
    if query.updated_before is not None:
        bounds.append((float(query.updated_before), 0))  # exclusive
    if not bounds:
        return None, True
    score, inclusive = min(bounds)
    return score, bool(inclusive)


__all__ = ["AsyncRedisStorage", "RedisStorage"]
