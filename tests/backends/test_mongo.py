"""What is specific to MongoStorage: constructor, unreachable servers, documents and indexes,
seq allocation races, existing clients, event loops.

The contract itself is covered by the conformance suite (tests/conformance, `-k mongo`), against a
real wire-protocol server (SecantusDB, started in-process by tests/support/mongo_backend.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memwise.errors import ConfigurationError, InvalidInputError, StorageUnavailableError
from memwise.storage.contract import RawMessage, RecordQuery
from memwise.storage.plan import drive
from tests.conformance.messages import prompt_of, turn
from tests.support import mongo_backend
from tests.support.recipe import BackendUnavailable, Recipe, in_ci

pymongo = pytest.importorskip("pymongo")

from memwise.storage import mongo as mongo_module  # noqa: E402
from memwise.storage.mongo import AsyncMongoStorage, MongoStorage  # noqa: E402


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def recipe(tmp_path: Path) -> Iterator[Recipe]:
    try:
        with mongo_backend.mongo(tmp_path) as made:
            yield made
    except BackendUnavailable as exc:
        if in_ci():
            pytest.fail(f"MongoDB test server unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"MongoDB test server unavailable: {exc}")


@pytest.fixture
def url(recipe: Recipe) -> str:
    return recipe.kwargs["db_url"]


@pytest.fixture
def db_name(recipe: Recipe) -> str:
    return recipe.kwargs["db_name"]


@pytest.fixture
def storage(recipe: Recipe) -> Iterator[MongoStorage]:
    built = recipe.build()
    yield built
    built.close()


@pytest.fixture
def db(url: str, db_name: str) -> Iterator[Any]:
    """The test's database through a bare pymongo client, to look at what memwise stored."""
    client = pymongo.MongoClient(url)
    yield client[db_name]
    client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rows(*prompts: str) -> list[RawMessage]:
    return [RawMessage(0, None, True, time.time(), json.dumps({"p": p})) for p in prompts]


# ---------------------------------------------------------------------- constructor (seed API)
def test_seed_constructor_and_async_name(url: str, db_name: str) -> None:
    assert AsyncMongoStorage is MongoStorage
    storage = MongoStorage(url, db_name)  # positional order of the seeds
    try:
        assert (storage.db_url, storage.db_name) == (url, db_name)
        storage.create_session("s1", user_id="u1")
        assert storage.get_session("s1").user_id == "u1"
    finally:
        storage.close()


def test_db_name_defaults_to_the_url_database_then_memwise() -> None:
    assert MongoStorage("mongodb://127.0.0.1:27017/agents").db_name == "agents"
    assert MongoStorage("mongodb://127.0.0.1:27017/agents", "other").db_name == "other"
    assert MongoStorage("mongodb://127.0.0.1:27017").db_name == "memwise"
    assert MongoStorage().db_url == "mongodb://localhost:27017/"  # nothing connects before first use


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"db_url": "postgresql://localhost/x"}, "not a MongoDB URL"),
        ({"db_url": "mongodb://localhost", "db_name": "a.b"}, "db_name must be"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"collection_prefix": ""}, "collection_prefix"),
        ({"client": object()}, "client must be a pymongo MongoClient"),
        ({"async_client": object()}, "async_client must be"),
    ],
)
def test_bad_configuration_is_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MongoStorage(**kwargs)


def test_db_url_and_client_together_are_refused(url: str) -> None:
    client = pymongo.MongoClient(url, connect=False)
    try:
        with pytest.raises(ConfigurationError, match="either db_url or an existing client"):
            MongoStorage(url, client=client)
    finally:
        client.close()


# ---------------------------------------------------------------------- unreachable server
@pytest.mark.timeout(60)
def test_unreachable_server_names_host_and_port_sync() -> None:
    port = _free_port()
    storage = MongoStorage(f"mongodb://127.0.0.1:{port}", "x", timeout=0.5)
    try:
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port} is unreachable.*timeout=0\.5s"):
            storage.create_session("s1")
    finally:
        storage.close()


@pytest.mark.timeout(60)
async def test_unreachable_server_names_host_and_port_async() -> None:
    port = _free_port()
    storage = MongoStorage(f"mongodb://127.0.0.1:{port}", "x", timeout=0.5)
    try:
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port} is unreachable"):
            await storage.aget_session("s1")
    finally:
        await storage.aclose()


# ---------------------------------------------------------------------- documents and indexes
def test_one_document_per_message_and_bodies_kept_as_is(storage: MongoStorage, db: Any) -> None:
    storage.create_session("s1", user_id="u1", metadata={"note": "é 😀"})
    storage.append_messages("s1", turn("one"), run_id="r1")
    storage.append_messages("s1", turn("two"))
    docs = list(db.memwise_messages.find({"session_id": "s1"}).sort("seq", 1))
    assert [d["seq"] for d in docs] == [1, 2, 3, 4]
    assert [d["batch_end"] for d in docs] == [2, 2, 4, 4]
    assert [d["turn_start"] for d in docs] == [True, False, True, False]
    assert [d.get("run_id") for d in docs] == ["r1", "r1", None, None]
    assert all(isinstance(d["body"], str) for d in docs)  # JSON text, not a BSON object
    assert [json.loads(d["body"])["kind"] for d in docs] == ["request", "response"] * 2
    session = db.memwise_records.find_one({"_id": "session/s1"})
    assert (session["kind"], session["key"], session["user_id"], session["version"]) == ("session", "s1", "u1", 1)
    assert "agent_id" not in session  # unset index fields are left out
    assert json.loads(session["body"])["metadata"] == {"note": "é 😀"}
    assert "one" not in session["body"]  # history never goes into the session document
    assert db.memwise_records.count_documents({"kind": "session"}) == 1


def test_body_text_is_stored_byte_for_byte(storage: MongoStorage, db: Any) -> None:
    storage.create_session("s1")
    body = '{"a":"é 😀 \\u0000","b":[1,2.5,null]}'
    assert storage._sync(storage._append_messages("s1", [RawMessage(0, None, True, 1.5, body)]), write=True) == [1]
    assert db.memwise_messages.find_one({"session_id": "s1"})["body"] == body
    assert storage._sync(storage._read_messages("s1", 0, None, None), write=False)[0].body == body


def test_indexes_are_created(storage: MongoStorage, db: Any) -> None:
    storage.create_session("s1")
    messages = db.memwise_messages.index_information()
    assert messages["session_seq"]["key"] == [("session_id", 1), ("seq", 1)]
    assert messages["session_seq"]["unique"] is True
    assert messages["session_turns"]["key"] == [("session_id", 1), ("turn_start", 1), ("seq", 1)]
    records = db.memwise_records.index_information()
    for name in ("user_id", "agent_id", "session_id", "status"):
        assert records[f"kind_{name}_newest"]["key"] == [("kind", 1), (name, 1), ("updated_at", -1), ("key", -1)]
    assert records["kind_newest"]["key"] == [("kind", 1), ("updated_at", -1), ("key", -1)]


def test_collection_prefix(recipe: Recipe, db: Any) -> None:
    storage = MongoStorage(**recipe.kwargs, collection_prefix="agent7")
    try:
        storage.create_session("s1")
        storage.append_messages("s1", turn("hi"))
    finally:
        storage.close()
    assert {"agent7_records", "agent7_messages"} <= set(db.list_collection_names())
    assert db.agent7_messages.count_documents({}) == 2


def _index_names(plan: Any) -> set[str]:
    """Every index a query plan (explain output) scans."""
    names: set[str] = set()
    if isinstance(plan, dict):
        if plan.get("stage") in ("IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN"):
            names.add(plan.get("indexName", "_id_"))
        for value in plan.values():
            names |= _index_names(value)
    elif isinstance(plan, list):
        for value in plan:
            names |= _index_names(value)
    return names


def _reads(storage: MongoStorage, plan: Any) -> list[Any]:
    """Run a plan and return the find and aggregate commands it sent."""
    seen: list[Any] = []

    def execute(command: Any) -> Any:
        if isinstance(command, mongo_module.Mongo) and command.op in ("find", "aggregate"):
            seen.append(command)
        return storage._execute(command)

    drive(plan, execute)
    return seen


def _winning_plans(db: Any, collection: str, command: Any) -> list[Any]:
    """The winning query plans of a find, or of an aggregate and of the pipelines its $lookups run."""
    if command.op == "find":
        options = dict(command.kwargs)
        cursor = db[collection].find(*command.args, sort=options.pop("sort", None), **options)
        return [cursor.explain()["queryPlanner"]["winningPlan"]]
    pipeline = command.args[0]
    lookups = [stage["$lookup"] for stage in pipeline if "$lookup" in stage]
    runs = [(collection, pipeline), *((lookup["from"], lookup["pipeline"]) for lookup in lookups)]
    plans = []
    for name, stages in runs:
        explained = db.command("explain", {"aggregate": name, "pipeline": stages, "cursor": {}}, verbosity="queryPlanner")
        planner = explained["stages"][0]["$cursor"]["queryPlanner"] if "stages" in explained else explained["queryPlanner"]
        plans.append(planner["winningPlan"])
    return plans


def test_hot_paths_use_their_indexes(storage: MongoStorage, db: Any) -> None:
    storage.create_session("s1", user_id="u1", agent_id="a1")
    for i in range(3):
        storage.append_messages("s1", turn(f"t{i}"))
    expected = [
        (storage._append_messages("s1", _rows("x")), {"session_seq"}),  # the session's last message
        (storage._read_messages("s1", 0, 2, None), {"session_turns", "session_seq"}),  # last N turns
        (storage._read_messages("s1", 3, None, 2), {"session_seq"}),  # after a seq
        (storage._query_records(RecordQuery("session", user_id="u1")), {"kind_user_id_newest"}),
        (storage._query_records(RecordQuery("session", agent_id="a1")), {"kind_agent_id_newest"}),
        (storage._query_records(RecordQuery("run", session_id="s1", after=(time.time(), "k"))), {"kind_session_id_newest"}),
        (storage._query_records(RecordQuery("run", statuses=("completed",), updated_before=time.time())), {"kind_status_newest"}),
        (storage._query_records(RecordQuery("session", updated_before=time.time())), {"kind_newest"}),
    ]
    for plan, indexes in expected:
        reads = _reads(storage, plan)
        used = set()
        for command in reads:
            used |= _index_names(_winning_plans(db, storage._names[command.collection], command))
        assert indexes <= used, (reads, used)


def test_pages_through_many_records_tied_on_one_timestamp(storage: MongoStorage) -> None:
    """The keyset cursor settles ties on updated_at by key, even when more tie than it fetches
    beyond the page."""
    from memwise.storage.contract import RawRecord

    storage._sync(storage._setup(), write=True)
    keys = [f"k{i:02d}" for i in range(30)]
    for key in keys:
        assert storage._sync(storage._put_record(RawRecord("run", key, 1, 100.0, "{}", session_id="s"), 0), write=True)
    assert storage._sync(storage._put_record(RawRecord("run", "older", 1, 99.0, "{}", session_id="s"), 0), write=True)
    seen: list[str] = []
    after = None
    while True:
        page = storage._sync(storage._query_records(RecordQuery("run", session_id="s", after=after, limit=4)), write=False)
        seen += [raw.key for raw in page]
        if len(page) < 4:
            break
        after = (page[-1].updated_at, page[-1].key)
    assert seen == sorted(keys, reverse=True) + ["older"]


# ---------------------------------------------------------------------- seq allocation
def test_writers_on_separate_storages_race_on_the_unique_index(recipe: Recipe) -> None:
    """Two storage objects share no local lock: their appends really race on the server."""
    storages = [recipe.build() for _ in range(3)]
    storages[0].create_session("hot")
    errors: list[BaseException] = []

    def writer(storage: MongoStorage, name: str) -> None:
        try:
            for i in range(15):
                storage.append_messages("hot", turn(f"{name}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, f"w{n}")) for n, s in enumerate(storages)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        stored = storages[0].read_messages("hot")
        assert [m.seq for m in stored] == list(range(1, 91))
        for request, response in zip(stored[::2], stored[1::2], strict=True):  # batches never interleave
            assert response.message.parts[0].content == "re: " + prompt_of(request)
    finally:
        for storage in storages:
            storage.close()


def test_a_writer_dying_before_its_insert_leaves_no_gap(recipe: Recipe) -> None:
    """Unlike a counter document, reading the last seq reserves nothing: a writer that dies
    between its read and its insert leaves the next seq free."""
    dying, other = recipe.build(), recipe.build()
    try:
        dying.create_session("s1")
        dying.append_messages("s1", turn("a"))

        def execute(command: Any) -> Any:
            if isinstance(command, mongo_module.Mongo) and command.op == "insert_many":
                raise KeyboardInterrupt  # the process goes away right before inserting
            return dying._execute(command)

        with pytest.raises(KeyboardInterrupt):
            drive(dying._append_messages("s1", _rows("lost", "lost")), execute)
        assert other.append_messages("s1", turn("b")) == [3, 4]
        assert dying.append_messages("s1", turn("c")) == [5, 6]  # its local lock was released
    finally:
        dying.close()
        other.close()


def test_stale_seq_hint_after_the_session_was_recreated_elsewhere(recipe: Recipe) -> None:
    first, second = recipe.build(), recipe.build()
    try:
        first.create_session("s1")
        for i in range(3):
            first.append_messages("s1", turn(f"old{i}"))  # first now remembers seq 6
        assert second.delete_session("s1")
        second.create_session("s1")
        assert second.append_messages("s1", turn("new")) == [1, 2]
        assert first.append_messages("s1", turn("next")) == [3, 4]
        assert [prompt_of(m) for m in first.read_messages("s1") if m.turn_start] == ["new", "next"]
    finally:
        first.close()
        second.close()


def test_a_batch_is_never_left_in_part(storage: MongoStorage, db: Any) -> None:
    """A foreign document taking a seq inside our batch mid-insert: our part is removed, we retry."""
    storage.create_session("s1")
    storage.append_messages("s1", turn("a"))  # seqs 1, 2

    def execute(command: Any) -> Any:
        if isinstance(command, mongo_module.Mongo) and command.op == "insert_many" and not execute.done:
            execute.done = True
            db.memwise_messages.insert_one({"session_id": "s1", "seq": 4, "batch_end": 4, "turn_start": True,
                                            "created_at": 0.0, "body": '{"foreign":1}'})
        return storage._execute(command)

    execute.done = False
    assert drive(storage._append_messages("s1", _rows("x", "y")), execute) == [5, 6]
    assert [d["seq"] for d in db.memwise_messages.find({"session_id": "s1"}).sort("seq", 1)] == [1, 2, 4, 5, 6]


# ---------------------------------------------------------------------- existing clients, loops
def test_existing_sync_client_is_used_and_left_open(url: str, db_name: str) -> None:
    client = pymongo.MongoClient(url)
    try:
        storage = MongoStorage(client=client, db_name=db_name)
        storage.create_session("s1")
        assert asyncio.run(storage.aget_session("s1")).session_id == "s1"  # async runs it in threads
        storage.close()
        assert client[db_name].memwise_records.count_documents({"kind": "session"}) == 1  # still open
    finally:
        client.close()


async def test_existing_async_client_is_used_and_left_open(url: str, db_name: str) -> None:
    client = pymongo.AsyncMongoClient(url)
    try:
        storage = MongoStorage(async_client=client, db_name=db_name)
        await storage.acreate_session("s1")
        assert (await storage.aget_session("s1")).session_id == "s1"
        with pytest.raises(ConfigurationError, match="only an async_client"):
            storage.get_session("s1")
        await storage.aclose()
        assert await client[db_name].memwise_records.count_documents({"kind": "session"}) == 1
    finally:
        await client.close()


def test_async_calls_from_several_event_loops(storage: MongoStorage) -> None:
    """An AsyncMongoClient is bound to one loop; the storage keeps one per loop."""
    asyncio.run(storage.acreate_session("s1"))
    assert asyncio.run(storage.aappend_messages("s1", turn("a"))) == [1, 2]

    def other_thread() -> list[int]:
        return asyncio.run(storage.aappend_messages("s1", turn("b")))

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(other_thread()))
    thread.start()
    thread.join()
    assert result == [[3, 4]]
    assert len(storage.read_messages("s1")) == 4


def test_closed_storage_refuses_work(storage: MongoStorage) -> None:
    storage.create_session("s1")
    storage.close()
    with pytest.raises(Exception, match="closed"):
        storage.get_session("s1")


def test_text_mongodb_cannot_store_is_a_clear_input_error(storage: MongoStorage) -> None:
    storage.create_session("s1")
    with pytest.raises(InvalidInputError, match="cannot store this text"):
        storage.create_session("s2", metadata={"x": "\ud800"})
    assert storage.get_session("s2") is None and storage.get_session("s1") is not None


def test_last_turns_longer_than_the_guess_near_the_end_are_read_whole(storage: MongoStorage) -> None:
    """The last-turns read first looks near the session's known end; turns of many messages
    (here 30 each, tool calls for instance) make it widen the search to the whole session."""
    storage.create_session("s1")
    for turn_no in range(3):
        rows = [RawMessage(0, None, i == 0, time.time(), json.dumps({"t": turn_no, "i": i})) for i in range(30)]
        storage._sync(storage._append_messages("s1", rows), write=True)
    assert [m.seq for m in storage.read_messages("s1", last_turns=2)] == list(range(31, 91))
    assert [m.seq for m in storage.read_messages("s1", last_turns=1)] == list(range(61, 91))
