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

Atomicity: every operation that touches several keys is one Lua script (`lua/*.lua`; EVALSHA, with
EVAL as the fallback when the server lost its script cache), and every script touches keys of ONE
slot only,
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
`redis.asyncio` client per event loop (closed when that loop shuts down), so the event loop never
blocks. Cluster clients
(`redis.cluster.RedisCluster`, `redis.asyncio.cluster.RedisCluster`) are accepted for their own
flavour only.

Clients built here do not retry: a command whose reply was lost may have run, and re-running an
append would store its messages twice. A server that cannot be reached raises
`StorageUnavailableError` naming host and port after `socket_connect_timeout` seconds; a server
that stops answering does so after `socket_timeout` seconds.

Modules: `backend.py` the storage and its plans, `commands.py` the executors that send a plan's
commands and batches, `clients.py` the sync and per-loop async clients, `scripts.py` the Lua
scripts of `lua/`.
"""

from __future__ import annotations

from memwise.errors import ConfigurationError

try:
    import redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("RedisStorage needs redis-py: pip install 'memwise[redis]'") from exc

from memwise.storage.redis.backend import DEFAULT_URL, RedisStorage  # noqa: E402

AsyncRedisStorage = RedisStorage

__all__ = ["DEFAULT_URL", "AsyncRedisStorage", "RedisStorage"]
