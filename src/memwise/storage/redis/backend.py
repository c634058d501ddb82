"""RedisStorage: the constructor, the key layout and the eight primitives as plans of Redis
commands (see the package notes for the layout and why it is atomic)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from memwise.errors import ConfigurationError
from memwise.storage.base import Storage
from memwise.storage.contract import INDEX_FIELDS, RawMessage, RawRecord, RecordQuery
from memwise.storage.options import common_options
from memwise.storage.plan import Plan, T, adrive, drive, nothing
from memwise.storage.redis.clients import RedisClients
from memwise.storage.redis.commands import (
    RedisPlan,
    aexecute,
    aexecute_batch,
    execute,
    execute_batch,
)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_MAX_INDEX = 2**40  # clamp for list offsets (Lua prints numbers with 14 significant digits)


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
        options = {"socket_connect_timeout": socket_connect_timeout, "socket_timeout": socket_timeout, **redis_kwargs}
        self._clients = RedisClients(None if redis_client is not None else self.db_url, redis_client, options, db_prefix)
        # A cluster runs a script on one slot's node: there, the session record (catalog slot) is
        # checked, refreshed and deleted by separate commands from its log (session slot).
        self._cluster = self._clients.cluster
        self._catalog = f"{{{db_prefix}}}"

    def __repr__(self) -> str:
        return self._clients.owner

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
    def _setup(self) -> RedisPlan[None]:
        return nothing()  # nothing to create: keys appear on first write

    def _get_record(self, kind: str, key: str) -> RedisPlan[RawRecord | None]:
        fields = yield ("hgetall", (self._record_key(kind, key),))
        return _record(kind, key, fields) if fields else None

    def _put_record(self, record: RawRecord, expected_version: int) -> RedisPlan[bool]:
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

    def _delete_record(self, kind: str, key: str) -> RedisPlan[bool]:
        # A session's log goes with its record, after the plan's `_delete_messages`: an append that
        # ran in between (its session still existed) leaves nothing behind.
        log = self._log_keys(key) if kind == "session" else []
        argv = [self._index_key(kind), key, *([] if self._cluster else log)]
        deleted = yield ("delete", ([self._record_key(kind, key)], argv))
        if log and self._cluster:
            yield ("drop", (log, []))
        return bool(deleted)

    def _query_records(self, query: RecordQuery) -> RedisPlan[list[RawRecord]]:
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
    def _append_messages(self, session_id: str, messages: list[RawMessage]) -> RedisPlan[list[int] | None]:
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
    ) -> RedisPlan[list[RawMessage]]:
        log, turns = self._log_keys(session_id)
        start = min(after_seq, _MAX_INDEX)
        count = 0 if limit is None else min(limit, _MAX_INDEX)
        if last_turns is None:
            entries = yield ("lrange", (log, start, start + count - 1 if count else -1))
        else:
            start, entries = yield ("read", ([log, turns], [start, -min(last_turns, _MAX_INDEX), count]))
        return [_message(start + i + 1, entry) for i, entry in enumerate(entries)]

    def _delete_messages(self, session_id: str) -> RedisPlan[int]:
        return int((yield ("drop", (self._log_keys(session_id), []))))

    # ================================================================ running plans
    def _run(self, plan: Plan[T], *, write: bool) -> T:
        client, failure = self._clients.sync(), self._clients.failure
        return drive(plan, partial(execute, client, failure), partial(execute_batch, client, failure))

    async def _arun(self, plan: Plan[T], *, write: bool) -> T:
        client, failure = await self._clients.aget(), self._clients.failure
        return await adrive(plan, partial(aexecute, client, failure), partial(aexecute_batch, client, failure))

    def close(self) -> None:
        """Close the clients this storage built (a given client stays open). An async client is
        closed on its own event loop: at once if that loop is idle, by a task if it is running,
        and by the loop's own shutdown (`asyncio.run`) if it has finished."""
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()


# ==================================================================== replies
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


__all__ = ["RedisStorage"]
