"""What is specific to Mem0Storage: how records and messages map onto mem0 memories, the hosted
platform client (through httpx.MockTransport, sync and native async), errors, constructor."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from memwise.errors import ConfigurationError, CorruptRecordError, StorageError, StorageUnavailableError

try:  # first: it turns mem0's telemetry off before mem0 is imported
    from memwise.storage.mem0 import AsyncMem0Storage, Mem0Storage
except ConfigurationError as exc:
    pytest.skip(f"the mem0 extra is not installed: {exc}", allow_module_level=True)

import httpx  # noqa: E402
from mem0 import AsyncMemoryClient, Memory, MemoryClient  # noqa: E402

from memwise.storage.contract import RawRecord  # noqa: E402
from tests.conformance import (  # noqa: E402
    test_bad_input,
    test_concurrency,
    test_messages,
    test_profiles_and_runs,
    test_retention,
    test_schema,
    test_sessions,
)
from tests.conformance.conftest import Api  # noqa: E402
from tests.conformance.messages import tool_turn, turn  # noqa: E402
from tests.support.mem0_backend import HashingEmbedder, memory_config, offline_memory, open_local  # noqa: E402
from tests.support.mem0_platform import FakeMem0Platform  # noqa: E402
from tests.support.recipe import Recipe  # noqa: E402

KEY = "test-key"


# ==================================================================== fixtures
@pytest.fixture
def memory() -> Iterator[Memory]:
    mem = offline_memory()
    yield mem
    mem.close()
    mem.vector_store.client.close()


@pytest.fixture
def local(memory: Memory) -> Mem0Storage:
    return Mem0Storage(memory_client=memory)


@pytest.fixture
def platform() -> Iterator[tuple[FakeMem0Platform, str]]:
    fake = FakeMem0Platform(KEY)
    with fake.serve() as url:  # only AsyncMemoryClient's construction-time `requests` ping uses it
        yield fake, url


def platform_storage(fake: FakeMem0Platform, url: str, *, native_async: bool = True,
                     sync_calls: list | None = None, async_calls: list | None = None) -> Mem0Storage:
    client = MemoryClient(api_key=KEY, host=url, client=httpx.Client(transport=fake.transport(sync_calls)))
    aclient = None
    if native_async:
        aclient = AsyncMemoryClient(api_key=KEY, host=url, client=httpx.AsyncClient(transport=fake.transport(async_calls)))
    return Mem0Storage(memory_client=client, async_memory_client=aclient)


# ==================================================================== the conformance suite on the platform
# The same specs every backend passes, run against the hosted-client path (sync: MemoryClient,
# async: AsyncMemoryClient), both talking to the fake platform through httpx.MockTransport.
for _module in (test_sessions, test_messages, test_profiles_and_runs, test_retention, test_concurrency,
                test_bad_input, test_schema):
    for _name in dir(_module):
        if _name.startswith("test_"):
            globals()[f"test_platform_{_module.__name__.rsplit('.', 1)[-1][5:]}__{_name[5:]}"] = getattr(_module, _name)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, platform: tuple[FakeMem0Platform, str]) -> Iterator[Api]:
    fake, url = platform
    storage = platform_storage(fake, url)
    yield Api(storage, request.param, Recipe("memwise.storage.mem0:Mem0Storage", shared=False))
    storage.close()


# ==================================================================== mapping onto mem0 memories
def test_each_message_is_one_mem0_memory_with_its_words_scope_and_exact_body(memory: Memory, local: Mem0Storage):
    local.create_session("s 1", user_id="alice", agent_id="helper")
    local.append_messages("s 1", turn("what is the weather in Paris") + tool_turn("book a table"))
    stored = local.read_messages("s 1")
    listed = memory.get_all(filters={"run_id": "s%201"}, top_k=100)["results"]
    messages = sorted((m for m in listed if m["metadata"]["mw_kind"] == "message"), key=lambda m: m["metadata"]["mw_seq"])
    assert [m["metadata"]["mw_seq"] for m in messages] == [1, 2, 3, 4, 5, 6]
    assert messages[0]["memory"] == "what is the weather in Paris" and messages[0]["role"] == "user"
    assert messages[1]["memory"] == "re: what is the weather in Paris" and messages[1]["role"] == "assistant"
    assert messages[3]["memory"].startswith("[calls lookup]") and "book a table" in messages[3]["memory"]
    assert {m["user_id"] for m in messages} == {"alice"}  # the session owner is the mem0 user
    assert [m["metadata"]["mw_turn"] for m in messages] == [True, False, True, False, False, False]
    for raw, message in zip(messages, stored, strict=True):
        assert json.loads(raw["metadata"]["mw_body"]) == message.data
    session = [m for m in listed if m["metadata"]["mw_kind"] == "session"]
    assert len(session) == 1 and session[0]["memory"] == "memwise session s 1 of user alice with agent helper"
    # mem0's own semantic search finds the conversation by its words, scoped to the user
    found = memory.search("weather in Paris", filters={"user_id": "alice"}, top_k=3)["results"]
    assert found and found[0]["memory"] == "what is the weather in Paris"


def test_semantic_search_uses_mem0_search(local: Mem0Storage):
    local.create_session("s1", user_id="alice")
    local.create_session("s2", user_id="bob")
    local.append_messages("s1", turn("my cat is called Miso") + turn("I like green tea"))
    local.append_messages("s2", turn("my cat is called Tom"))
    hits = local.semantic_search("what is my cat called", user_id="alice", limit=2)
    assert hits and hits[0].message.parts[0].content == "my cat is called Miso"
    assert {h.session_id for h in hits} == {"s1"}
    in_s2 = local.semantic_search("my cat", session_id="s2")
    assert in_s2 and {h.session_id for h in in_s2} == {"s2"}


async def test_semantic_search_async(local: Mem0Storage):
    await local.acreate_session("s1", user_id="alice")
    await local.aappend_messages("s1", turn("the deploy failed on friday"))
    hits = await local.asemantic_search("deploy friday", session_id="s1")
    assert hits[0].seq == 1


def test_record_body_round_trips_byte_for_byte(local: Mem0Storage):
    body = '{ "b":1,  "a": "é\\u00e9 ☃",\n"n": [1.50, 2e3] }'
    raw = RawRecord("session", "odd", 1, 12.5, body, user_id="u", agent_id=None)
    assert local._sync(local._put_record(raw, 0), write=True)
    got = local._sync(local._get_record("session", "odd"), write=False)
    assert got.body == body and (got.version, got.updated_at, got.user_id) == (1, 12.5, "u")


def test_odd_ids_are_valid_mem0_entities_and_stay_isolated(local: Mem0Storage):
    local.create_session("a session *", user_id="user with spaces")
    local.create_session("other", user_id="*")
    local.append_messages("a session *", turn("hello"))
    assert [s.session_id for s in local.list_sessions(user_id="*").items] == ["other"]
    assert [s.session_id for s in local.list_sessions(user_id="user with spaces").items] == ["a session *"]
    assert local.read_messages("a session *", user_id="*") == []
    assert len(local.read_messages("a session *", user_id="user with spaces")) == 2


def test_namespaces_separate_stores_on_one_memory_and_share_its_lock(memory: Memory):
    first, second = Mem0Storage(memory_client=memory), Mem0Storage(memory_client=memory, namespace="other")
    twin = Mem0Storage(memory_client=memory)
    first.create_session("s1")
    assert second.get_session("s1") is None and second.list_sessions().items == []
    second.create_session("s1", user_id="x")
    assert first.get_session("s1").user_id is None

    def writer(storage: Mem0Storage, name: str) -> None:
        for i in range(20):
            storage.append_messages("s1", turn(f"{name}{i}"))

    threads = [threading.Thread(target=writer, args=(s, n)) for s, n in ((first, "a"), (twin, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [m.seq for m in first.read_messages("s1")] == list(range(1, 81))
    assert second.read_messages("s1") == []


def test_a_failed_append_takes_back_what_it_wrote(memory: Memory, local: Mem0Storage, monkeypatch):
    local.create_session("s1")
    local.append_messages("s1", turn("kept"))
    real_add, calls = memory.add, []

    def flaky_add(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("vector store hiccup")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(memory, "add", flaky_add)
    with pytest.raises(StorageError, match="hiccup"):
        local.append_messages("s1", turn("one") + turn("two"))
    assert [m.seq for m in local.read_messages("s1")] == [1, 2]
    monkeypatch.setattr(memory, "add", real_add)
    assert local.append_messages("s1", turn("again")) == [3, 4]


def test_last_turns_window_is_exact_in_a_long_session_and_from_a_fresh_process(local: Mem0Storage, memory: Memory):
    local.create_session("s1")
    for i in range(30):
        local.append_messages("s1", (tool_turn if i % 3 == 0 else turn)(f"t{i}"))
    expect = local.read_messages("s1")
    starts = [m.seq for m in expect if m.turn_start]
    for n in (1, 5, 29, 30, 31):
        want = [m.seq for m in expect if m.seq >= starts[-min(n, 30)]]
        assert [m.seq for m in local.read_messages("s1", last_turns=n)] == want
    fresh = Mem0Storage(memory_client=memory, namespace="memwise")
    fresh._state = type(fresh._state)()  # as another process would: no cached seqs or ids
    assert [m.seq for m in fresh.read_messages("s1", last_turns=2)] == [m.seq for m in expect if m.seq >= starts[-2]]
    assert fresh.append_messages("s1", turn("next")) == [len(expect) + 1, len(expect) + 2]


def test_corrupted_memory_metadata_is_named(memory: Memory, local: Mem0Storage):
    local.create_session("s1")
    item = next(m for m in memory.get_all(filters={"run_id": "s1"}, top_k=10)["results"]
                if m["metadata"]["mw_kind"] == "session")
    memory.update(item["id"], metadata={"mw_version": "two"})
    local._state.ids.clear()
    with pytest.raises(CorruptRecordError, match=r"session 's1' \(mem0 memory .*\) is corrupted"):
        local.get_session("s1")


def test_on_disk_qdrant_keeps_everything_across_reopen(tmp_path):
    path, history = str(tmp_path / "qdrant"), str(tmp_path / "history.db")
    storage = open_local(path, history)
    storage.create_session("s1", user_id="u1", metadata={"k": "v"})
    storage.append_messages("s1", turn("persisted"))
    storage.close()
    reopened = open_local(path, history)
    try:
        assert reopened.get_session("s1", user_id="u1").metadata == {"k": "v"}
        assert [m.message.parts[0].content for m in reopened.read_messages("s1")] == ["persisted", "re: persisted"]
        assert reopened.append_messages("s1", turn("more")) == [3, 4]
    finally:
        reopened.close()


def test_qdrant_server_gets_payload_indexes_for_the_filtered_fields():
    from qdrant_client import QdrantClient

    class Recording(QdrantClient):
        made: list[tuple[str, Any]] = []

        def create_payload_index(self, collection_name: str, field_name: str, field_schema: Any = None, **kw: Any) -> Any:
            self.made.append((field_name, field_schema))

    config = memory_config(":memory:")
    config["vector_store"]["config"] = {"collection_name": "memwise", "embedding_model_dims": 64,
                                        "client": Recording(location=":memory:")}
    storage = Mem0Storage(config=config)  # a given qdrant client counts as a server: not is_local
    storage.client.embedding_model = HashingEmbedder()
    try:
        storage.create_session("s1")
        made = dict(Recording.made)
        assert made["mw_seq"] == "integer" and made["mw_updated_at"] == "float"
        assert {"mw_ns", "mw_kind", "mw_key", "mw_session", "mw_user"} <= set(made)
        assert made["user_id"] == "keyword"  # mem0's own entity indexes are there too
    finally:
        storage.close()


# ==================================================================== the hosted platform
def test_platform_uses_filters_and_event_polling(platform):
    fake, url = platform
    fake.polls_until_done = 2  # adds are queued: memwise must wait before the next read
    storage = platform_storage(fake, url)
    storage.create_session("s1", user_id="alice")
    assert storage.append_messages("s1", turn("hi there")) == [1, 2]
    assert [m.seq for m in storage.read_messages("s1")] == [1, 2]
    mine = [m for m in fake.memories.values() if m["metadata"]["mw_kind"] in ("session", "message")]
    assert len(mine) == 3 and {m["user_id"] for m in mine} == {"alice"} and {m["run_id"] for m in mine} == {"s1"}
    assert ("GET", next(p for m, p in fake.requests if p.startswith("/v1/event/"))) in fake.requests
    hits = storage.semantic_search("hi there", session_id="s1")
    assert [h.seq for h in hits][:1] == [1]


def test_platform_pages_through_large_listings(platform):
    fake, url = platform
    storage = platform_storage(fake, url)
    storage.create_session("s1")
    for i in range(60):
        storage.append_messages("s1", turn(f"m{i}"))  # 120 messages: two pages of 100
    assert [m.seq for m in storage.read_messages("s1")] == list(range(1, 121))
    assert storage.delete_session("s1") is True and fake.memories.keys() >= set()
    assert not [m for m in fake.memories.values() if m["metadata"].get("mw_kind") == "message"]


async def test_platform_async_api_uses_the_async_client(platform):
    fake, url = platform
    sync_calls, async_calls = [], []
    storage = platform_storage(fake, url, sync_calls=sync_calls, async_calls=async_calls)
    pings = len(sync_calls)  # the sync client pinged once when it was built
    await storage.acreate_session("s1")
    await storage.aappend_messages("s1", turn("x"))
    assert len(await storage.aread_messages("s1")) == 2
    assert len(sync_calls) == pings and len(async_calls) > 3
    await storage.aclose()


async def test_platform_without_async_client_uses_a_worker_thread(platform):
    fake, url = platform
    sync_calls: list = []
    storage = platform_storage(fake, url, native_async=False, sync_calls=sync_calls)
    await storage.acreate_session("s1")
    assert await storage.aappend_messages("s1", turn("x")) == [1, 2]
    assert len(sync_calls) > 3


def test_platform_errors_name_the_platform(platform):
    fake, url = platform
    storage = platform_storage(fake, url)
    storage.create_session("s1")
    host = url.removeprefix("http://")
    fake.fail["POST /v3/memories/"] = 500
    with pytest.raises(StorageError, match=f"Mem0 platform at {host}: get_all failed"):
        storage.list_sessions()
    fake.fail["POST /v3/memories/"] = 503
    with pytest.raises(StorageUnavailableError, match=f"Mem0 platform at {host} is unreachable"):
        storage.list_sessions()
    assert [s.session_id for s in storage.list_sessions().items] == ["s1"]


def test_platform_transport_failure_is_unavailable():
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ping/":
            return httpx.Response(200, json={"status": "ok", "org_id": "o", "project_id": "p"})
        raise httpx.ConnectError("connection refused", request=request)

    client = MemoryClient(api_key=KEY, host="https://mem0.example:8443", client=httpx.Client(transport=httpx.MockTransport(refuse)))
    storage = Mem0Storage(memory_client=client)
    with pytest.raises(StorageUnavailableError, match="mem0.example:8443 is unreachable"):
        storage.get_session("s1")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_platform_fails_at_construction_naming_host_and_port():
    port = _closed_port()
    with pytest.raises(StorageUnavailableError, match=f"127.0.0.1:{port}"):
        Mem0Storage(api_key=KEY, host=f"http://127.0.0.1:{port}", timeout=2)


def test_silent_platform_times_out_naming_host_and_port():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        with pytest.raises(StorageUnavailableError, match=rf"127.0.0.1:{port} did not answer within 0.3s"):
            Mem0Storage(api_key=KEY, host=f"http://127.0.0.1:{port}", timeout=0.3)


def test_api_key_builds_both_clients(platform):
    fake, url = platform
    storage = Mem0Storage(api_key=KEY, host=url, timeout=5)
    try:
        assert isinstance(storage.client, MemoryClient) and isinstance(storage._aclient, AsyncMemoryClient)
        storage.create_session("s1")
        assert storage.get_session("s1") is not None
    finally:
        storage.close()
    with pytest.raises(ConfigurationError, match="API key"):
        Mem0Storage(api_key="wrong", host=url, timeout=5)


# ==================================================================== constructor
def test_constructor_arguments(memory: Memory, monkeypatch):
    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    assert AsyncMem0Storage is Mem0Storage
    with pytest.raises(ConfigurationError, match="api_key=.*memory_client=.*config="):
        Mem0Storage()
    with pytest.raises(ConfigurationError, match="not api_key and memory_client"):
        Mem0Storage(api_key="k", memory_client=memory)
    with pytest.raises(ConfigurationError, match="mem0 Memory or MemoryClient, not dict"):
        Mem0Storage(memory_client={"not": "a client"})
    with pytest.raises(ConfigurationError, match="could not build a Memory"):
        Mem0Storage(config={"vector_store": {"provider": "no-such-store"}})
    with pytest.raises(Exception, match="namespace"):
        Mem0Storage(memory_client=memory, namespace="has space")


def test_config_builds_and_owns_a_memory(tmp_path):
    storage = Mem0Storage(config=memory_config(str(tmp_path / "q"), str(tmp_path / "h.db")))
    storage.client.embedding_model = HashingEmbedder()
    storage.create_session("s1")
    storage.close()  # releases the on-disk qdrant folder, so it can be opened again
    again = open_local(str(tmp_path / "q"), str(tmp_path / "h.db"))
    try:
        assert again.get_session("s1") is not None
    finally:
        again.close()


def test_telemetry_is_off_before_mem0_loads():
    import os

    from mem0.memory import telemetry

    assert os.environ["MEM0_TELEMETRY"] == "False" and telemetry.MEM0_TELEMETRY is False


async def test_local_async_runs_in_worker_threads_and_keeps_seqs(local: Mem0Storage):
    await local.acreate_session("s1")
    await asyncio.gather(*(local.aappend_messages("s1", turn(f"t{i}")) for i in range(10)))
    assert [m.seq for m in await local.aread_messages("s1")] == list(range(1, 21))
