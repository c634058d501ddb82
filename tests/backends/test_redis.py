"""What is specific to RedisStorage: key layout and hash slots, indexes that listings really use,
sliding TTL, clients (given or built, sync or async), and a clear error for an unreachable server.

The contract itself is covered by the conformance suite (tests/conformance, `-k redis`)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

redis_py = pytest.importorskip("redis")
import redis.asyncio  # noqa: E402
from redis.crc import key_slot  # noqa: E402

from memwise.errors import ConfigurationError, StorageError, StorageUnavailableError  # noqa: E402
from memwise.storage.contract import RawRecord, RecordQuery  # noqa: E402
from memwise.storage.records import Run, UserProfile  # noqa: E402
from memwise.storage.redis import AsyncRedisStorage, RedisStorage  # noqa: E402
from memwise.storage.turns import RunUpdate, TurnWrite  # noqa: E402
from tests.conformance.messages import tool_turn, turn  # noqa: E402
from tests.support.recipe import BackendUnavailable, in_ci  # noqa: E402
from tests.support.redis_backend import REDIS_URL, connect, delete_prefix  # noqa: E402
from tests.support.turns import afull_turn, full_turn  # noqa: E402


@pytest.fixture
def client() -> Iterator[Any]:
    try:
        made = connect()
    except BackendUnavailable as exc:
        if in_ci():
            pytest.fail(f"backend redis unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"backend redis unavailable: {exc}")
    yield made
    made.close()


@pytest.fixture
def prefix(client: Any) -> Iterator[str]:
    name = f"mwtest-{uuid.uuid4().hex[:12]}"
    yield name
    delete_prefix(client, name)


@pytest.fixture
def store(prefix: str) -> Iterator[RedisStorage]:
    made = RedisStorage(db_url=REDIS_URL, db_prefix=prefix)
    yield made
    made.close()


def _keys(client: Any, prefix: str) -> set[str]:
    found = set(client.scan_iter(match=f"{{{prefix}}}*")) | set(client.scan_iter(match=f"{{{prefix}:m:*"))
    return {key.decode() for key in found}


class Recording(redis_py.Redis):
    """A sync client that remembers the name of every command it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return super().execute_command(*args, **options)


# ==================================================================== layout and hash slots
def test_key_layout_and_hash_slots(store, client, prefix):
    store.create_session("s1", user_id="alice", agent_id="bot")
    store.create_session("odd}id{", user_id="alice")
    store.append_messages("s1", turn("hi") + tool_turn("tool"))
    store.append_messages("odd}id{", turn("x"))
    store.create_run(Run("r1", "s1", user_id="alice", status="paused"))
    store.put_profile(UserProfile("alice", {"name": "Alice"}), expected_version=0)
    keys = _keys(client, prefix)
    catalog = {key for key in keys if key.startswith(f"{{{prefix}}}")}
    assert {
        f"{{{prefix}}}:r:session:s1", f"{{{prefix}}}:r:run:r1", f"{{{prefix}}}:r:profile:alice",
        f"{{{prefix}}}:r:meta:format", f"{{{prefix}}}:i:session", f"{{{prefix}}}:i:session:user_id:alice",
        f"{{{prefix}}}:i:session:agent_id:bot", f"{{{prefix}}}:i:run:session_id:s1",
        f"{{{prefix}}}:i:run:status:paused", f"{{{prefix}}}:i:run:user_id:alice",
    } <= catalog
    assert len({key_slot(key.encode()) for key in catalog}) == 1  # records + indexes: one slot
    logs = keys - catalog
    assert logs == {
        f"{{{prefix}:m:s1}}:log", f"{{{prefix}:m:s1}}:turns",
        f"{{{prefix}:m:odd}}id{{}}:log", f"{{{prefix}:m:odd}}id{{}}:turns",
    }
    for session_id in ("s1", "odd}id{"):  # a session's log keys share a slot, whatever its id
        mine = [key for key in logs if key.startswith(f"{{{prefix}:m:{session_id}}}")]
        assert len(mine) == 2 and len({key_slot(key.encode()) for key in mine}) == 1
    assert client.type(f"{{{prefix}:m:s1}}:log") == b"list"
    assert client.lrange(f"{{{prefix}:m:s1}}:turns", 0, -1) == [b"1", b"3"]  # turn-start index


def test_bodies_are_stored_as_given_json_text(store, client, prefix):
    store.create_session("s1", metadata={"topic": "caf\u00e9"})
    store._sync(store._put_record(RawRecord("run", "raw", 1, 123.5, '{"exact":  "text" }', session_id="s1"), 0), write=True)
    assert client.hget(f"{{{prefix}}}:r:run:raw", "b") == b'{"exact":  "text" }'
    body = client.hget(f"{{{prefix}}}:r:session:s1", "b").decode()
    assert '"topic":"caf\u00e9"' in body
    store.append_messages("s1", turn("hello"))
    entry = client.lindex(f"{{{prefix}:m:s1}}:log", 0).decode()
    head, _, stored = entry.partition("\n")
    assert stored == store._sync(store._read_messages("s1", 0, None, 1), write=False)[0].body
    assert stored.startswith("{") and '"hello"' in stored


# ==================================================================== indexes
def test_listings_walk_the_indexes_without_scanning(prefix):
    recording = Recording.from_url(REDIS_URL)
    store = RedisStorage(redis_client=recording, db_prefix=prefix)
    try:
        for i in range(5):
            store.create_session(f"a{i}", user_id="alice")
            store.create_session(f"b{i}", user_id="bob", agent_id="helper")
            store.append_messages(f"a{i}", turn("hi"))
            store.create_run(Run(f"run-a{i}", f"a{i}", user_id="alice", status="completed"))
        recording.sent.clear()
        assert [s.session_id for s in store.list_sessions(user_id="alice").items] == [f"a{i}" for i in reversed(range(5))]
        assert len(store.list_sessions(agent_id="helper").items) == 5
        assert len(store.list_runs(session_id="a1").items) == 1
        assert len(store.list_runs(status=["completed", "error"]).items) == 5
        assert store.forget_user("bob")["sessions"] == 5
        assert store.prune(time.time() + 10)["sessions"] == 5
        assert not {"SCAN", "KEYS", "HSCAN", "ZSCAN", "SSCAN"} & set(recording.sent)
        assert "EVALSHA" in recording.sent
    finally:
        store.close()
        recording.close()


def test_listing_reads_the_index_not_the_records(store, client, prefix):
    store.create_session("s1", user_id="alice")
    store.create_session("s2", user_id="alice")
    index = f"{{{prefix}}}:i:session:user_id:alice"
    assert [m.decode() for m in client.zrevrange(index, 0, -1)] == ["s2", "s1"]
    scores = dict(client.zrange(index, 0, -1, withscores=True))
    assert scores[b"s1"] == store.get_session("s1").updated_at  # scored by updated_at, exactly
    client.zrem(index, "s1")  # an entry missing from the index is invisible to the listing
    assert [s.session_id for s in store.list_sessions(user_id="alice").items] == ["s2"]
    assert store.get_session("s1") is not None


def test_updates_move_index_entries_atomically(store, client, prefix):
    store.create_run(Run("r1", "s1", user_id="u", status="running"))
    store.update_run("r1", expected_version=1, status="paused")
    assert client.zrange(f"{{{prefix}}}:i:run:status:running", 0, -1) == []
    assert client.zrange(f"{{{prefix}}}:i:run:status:paused", 0, -1) == [b"r1"]
    assert store.delete_run("r1") is True
    assert not [key for key in _keys(client, prefix) if ":run" in key]  # record and every index entry


def test_ties_on_updated_at_page_in_key_order(store):
    """More equal timestamps than one index batch: the keyset cursor must not skip or repeat."""
    for i in range(45):
        raw = RawRecord("run", f"r{i:02d}", 1, 1000.0, "{}", session_id="s", status="completed" if i % 3 else "paused")
        assert store._sync(store._put_record(raw, 0), write=True)
    assert store._sync(store._put_record(RawRecord("run", "newer", 1, 2000.0, "{}", session_id="s"), 0), write=True)
    seen, cursor = [], None
    while True:
        page = store.list_runs(session_id="s", limit=4, cursor=cursor)
        seen += [run.run_id for run in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["newer"] + [f"r{i:02d}" for i in reversed(range(45))]
    done = store._sync(store._query_records(RecordQuery("run", statuses=("completed", "error"), limit=7)), write=False)
    assert [raw.key for raw in done] == [f"r{i:02d}" for i in reversed(range(45)) if i % 3][:7]
    after = store._sync(store._query_records(RecordQuery("run", after=(1000.0, "r30"), limit=100)), write=False)
    assert [raw.key for raw in after] == [f"r{i:02d}" for i in reversed(range(30))]


def test_expired_records_leave_listings_and_their_index_entries(store, client, prefix):
    store.create_session("gone", user_id="alice")
    store.create_session("kept", user_id="alice")
    client.delete(f"{{{prefix}}}:r:session:gone")  # what a TTL expiry does: the hash goes, the index stays
    assert [s.session_id for s in store.list_sessions(user_id="alice").items] == ["kept"]
    assert client.zrange(f"{{{prefix}}}:i:session:user_id:alice", 0, -1) == [b"kept"]  # cleaned on the way
    assert [s.session_id for s in store.list_sessions().items] == ["kept"]
    assert client.zrange(f"{{{prefix}}}:i:session", 0, -1) == [b"kept"]


def test_index_cleanup_rechecks_records(store, client, prefix):
    """A record re-created between a listing and its clean-up keeps its index entry."""
    store.create_session("back", user_id="alice")
    index, records = f"{{{prefix}}}:i:session:user_id:alice", f"{{{prefix}}}:r:session:"
    client.zadd(index, {"ghost": 1.0, "moved": 2.0})
    store.create_session("moved", user_id="bob")
    removed = store._sync(_unindex(index, [records, "user_id", "alice", "back", "ghost", "moved"]), write=True)
    assert removed == 2  # the missing record and the one that now belongs to bob
    assert client.zrange(index, 0, -1) == [b"back"]


def _unindex(index, argv):
    return (yield ("unindex", ([index], argv)))


# ==================================================================== sliding TTL
def test_expire_slides_for_sessions_and_their_messages(client, prefix):
    store = RedisStorage(db_url=REDIS_URL, db_prefix=prefix, expire=600)
    try:
        record, log, turns = f"{{{prefix}}}:r:session:s1", f"{{{prefix}:m:s1}}:log", f"{{{prefix}:m:s1}}:turns"
        store.create_session("s1", user_id="u")
        assert 0 < client.pttl(record) <= 600_000
        store.append_messages("s1", turn("hi"))
        for key in (record, log, turns):
            client.pexpire(key, 5_000)
        store.append_messages("s1", turn("again"))  # an append refreshes the session too
        assert all(client.pttl(key) > 5_000 for key in (record, log, turns))
        for key in (record, log, turns):
            client.pexpire(key, 5_000)
        store.update_session("s1", expected_version=1, summary="short")  # a session write refreshes its log
        assert all(client.pttl(key) > 5_000 for key in (record, log, turns))
        store.create_run(Run("r1", "s1"))
        store.put_profile(UserProfile("u", {"a": 1}), expected_version=0)
        assert client.pttl(f"{{{prefix}}}:r:run:r1") == -1  # runs never expire
        assert client.pttl(f"{{{prefix}}}:r:profile:u") == -1  # profiles only when asked
        assert client.pttl(f"{{{prefix}}}:r:meta:format") == -1
        assert all(client.pttl(key) == -1 for key in _keys(client, prefix) if ":i:" in key)  # indexes never
    finally:
        store.close()


def test_expire_profiles_when_asked(client, prefix):
    store = RedisStorage(db_url=REDIS_URL, db_prefix=prefix, expire=600, expire_profiles=True)
    try:
        store.put_profile(UserProfile("u", {"a": 1}), expected_version=0)
        assert 0 < client.pttl(f"{{{prefix}}}:r:profile:u") <= 600_000
    finally:
        store.close()


def test_without_expire_nothing_expires(store, client, prefix):
    store.create_session("s1")
    store.append_messages("s1", turn("hi"))
    assert {client.pttl(key) for key in _keys(client, prefix)} == {-1}


# ==================================================================== constructor and clients
def test_seed_constructor_arguments(prefix):
    store = RedisStorage(db_url=REDIS_URL, db_prefix=prefix, expire=None)
    try:
        assert AsyncRedisStorage is RedisStorage
        assert (store.db_url, store.db_prefix, store.expire) == (REDIS_URL, prefix, None)
        assert store.create_session("s1").session_id == "s1"
        assert "127.0.0.1:6379" in repr(store)
    finally:
        store.close()
    assert RedisStorage().db_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"db_url": REDIS_URL, "redis_client": object()}, "not both"),
        ({"redis_client": object()}, "redis_client must be"),
        ({"db_prefix": "a{b}"}, "db_prefix"),
        ({"db_prefix": ""}, "db_prefix"),
        ({"expire": 0}, "expire"),
        ({"expire": "1h"}, "expire"),
        ({"db_url": "http://nope"}, "db_url"),
    ],
)
def test_bad_configuration_is_named(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        RedisStorage(**kwargs)


def test_given_sync_client_serves_both_flavours_and_stays_open(prefix):
    given = redis_py.Redis.from_url(REDIS_URL, decode_responses=True)
    store = RedisStorage(redis_client=given, db_prefix=prefix)
    store.create_session("s1", user_id="u")
    store.append_messages("s1", turn("sync"))

    async def use() -> list[int]:
        await store.aappend_messages("s1", turn("async"))
        return [m.seq for m in await store.aread_messages("s1", last_turns=1)]

    assert asyncio.run(use()) == [3, 4]
    assert [m.turn_start for m in store.read_messages("s1")] == [True, False, True, False]
    store.close()
    assert given.ping() is True  # the caller's client is the caller's to close
    given.close()


def test_given_async_client_serves_both_flavours(prefix):
    async def scenario() -> None:
        given = redis.asyncio.Redis.from_url(REDIS_URL)
        store = RedisStorage(redis_client=given, db_prefix=prefix)
        await store.acreate_session("s1", user_id="u")
        await store.aappend_messages("s1", turn("async"))
        seqs = await asyncio.to_thread(store.append_messages, "s1", turn("sync"))  # a sync client is built
        assert seqs == [3, 4]
        assert [m.seq for m in await store.aread_messages("s1")] == [1, 2, 3, 4]
        await store.aclose()
        assert await given.ping() is True
        await given.aclose()

    asyncio.run(scenario())


def test_one_storage_across_event_loops(store):
    """Each event loop gets its own asyncio client; each is closed when its loop shuts down."""
    store.create_session("s1")

    async def append(text: str) -> list[int]:
        return await store.aappend_messages("s1", turn(text))

    assert asyncio.run(append("one")) == [1, 2]
    assert asyncio.run(append("two")) == [3, 4]
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(append("three"))))
    thread.start()
    thread.join()
    assert results == [[5, 6]]
    assert len(store.read_messages("s1")) == 6


def test_closed_storage_refuses_calls(prefix):
    store = RedisStorage(db_url=REDIS_URL, db_prefix=prefix)
    store.create_session("s1")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get_session("s1")
    with pytest.raises(StorageError, match="closed"):
        asyncio.run(store.aget_session("s1"))


# ==================================================================== unreachable server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(60)
def test_refused_connection_names_host_and_port():
    port = _free_port()
    store = RedisStorage(db_url=f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}.*redis-server"):
        store.get_session("s1")
    with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}"):
        asyncio.run(store.aget_session("s1"))
    store.close()


@pytest.mark.timeout(60)
def test_silent_server_fails_within_the_timeouts():
    """A port that accepts connections but never answers: the call fails instead of hanging."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        store = RedisStorage(db_url=f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5, socket_timeout=0.5)
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}"):
            store.create_session("s1")
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}"):
            asyncio.run(store.acreate_session("s1"))
        store.close()


@pytest.mark.parametrize("run_id", [None, "r1", "with space", 'quo"te', "new\nline", "back\\slash", "caf\u00e9 \u2603", "null"])
def test_message_headers_round_trip_any_run_id(store, run_id):
    store.create_session("s1")
    store.append_messages("s1", turn("hi"), run_id=run_id)
    stored = store.read_messages("s1")
    assert [(m.seq, m.run_id, m.turn_start) for m in stored] == [(1, run_id, True), (2, run_id, False)]
    assert stored[0].created_at == stored[1].created_at > 0


# ==================================================================== batches: one round trip each
def test_a_turn_is_five_round_trips_sync_and_async(store, monkeypatch):
    """start_turn reads in one pipeline then creates the run; finish_turn reads, appends, writes."""
    sent: list[int] = []
    sync_send = redis_py.connection.AbstractConnection.send_packed_command
    async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(1)
        return sync_send(self, command, check_health)

    async def acounting(self, command, check_health=True):
        sent.append(1)
        return await async_send(self, command, check_health)

    monkeypatch.setattr(redis_py.connection.AbstractConnection, "send_packed_command", counting)
    monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", acounting)
    full_turn(store, "s1", "r0")  # creates the session: one round trip more
    store.put_profile(UserProfile("u1", {"name": "Ann"}), expected_version=0)
    sent.clear()
    full_turn(store, "s1", "r1")
    assert len(sent) == 5

    async def warm_then_count() -> int:
        await afull_turn(store, "s1", "r-warm")  # connects this loop's async client
        sent.clear()
        await afull_turn(store, "s1", "r2")
        return len(sent)

    assert asyncio.run(warm_then_count()) == 5
    assert [m.run_id for m in store.read_messages("s1")][-2:] == ["r2", "r2"]
    assert store.get_session("s1").metadata == {"last": 8}


def test_batches_resend_scripts_the_server_forgot(store, client):
    for flavour in ("sync", "async"):
        client.script_flush()
        if flavour == "sync":
            full_turn(store, f"s-{flavour}", "r1")
        else:
            asyncio.run(afull_turn(store, f"s-{flavour}", "r1"))
        assert store.get_run("r1").status == "completed"
        assert store.get_session(f"s-{flavour}").metadata == {"last": 2}
        store.delete_run("r1")


def test_an_error_in_a_batch_reaches_the_plan_that_sent_it(store, client, prefix):
    store.create_session("s1")
    client.set(f"{{{prefix}}}:r:run:r1", "not a hash")  # the run read in finish_turn's first batch fails
    with pytest.raises(StorageError, match="WRONGTYPE"):
        store.finish_turn(TurnWrite("s1", turn("hi"), run_id="r1", update_session=lambda s, seqs: {"metadata": {"x": 1}},
                                    update_run=RunUpdate(1, {"status": "completed"})))
    assert store.read_messages("s1") == [] and store.get_session("s1").metadata == {}


# ==================================================================== Lua scripts
def test_lua_scripts_ship_as_files_naming_the_contracts_index_fields():
    from importlib.resources import files

    from memwise.storage.redis import scripts

    folder = files("memwise.storage.redis").joinpath("lua")
    assert sorted(entry.name for entry in folder.iterdir()) == sorted(f"{name}.lua" for name in scripts.NAMES)
    for name in ("put", "delete"):  # the scripts that clean up a record's index entries
        assert scripts.INDEX_FIELDS_LUA in scripts.SCRIPTS[name].source
    outdated = scripts.SCRIPTS["put"].source.replace("'status'}", "}")
    with pytest.raises(RuntimeError, match=r"lua/put\.lua lists other index fields"):
        scripts.load("put", outdated)
