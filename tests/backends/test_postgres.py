"""What is specific to PostgresStorage: connection errors, schemas, setup races, pools, indexes.

The contract itself is covered by the conformance suite (tests/conformance, `-k postgres`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from memwise.errors import ConfigurationError, StorageError, StorageUnavailableError
from memwise.storage.contract import RawMessage, RecordQuery
from memwise.storage.plan import drive
from memwise.storage.sql.schema import MIGRATIONS
from tests.conformance.messages import turn
from tests.support import postgres_backend
from tests.support.recipe import BackendUnavailable, in_ci
from tests.support.turns import afull_turn, full_turn

psycopg = pytest.importorskip("psycopg")

from memwise.storage.postgres import AsyncPostgresStorage, PostgresStorage, _pg_text  # noqa: E402


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def admin() -> Iterator[Any]:
    try:
        conn = postgres_backend.admin_connection()
    except BackendUnavailable as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def schema(admin: Any) -> Iterator[str]:
    with postgres_backend.fresh_schema("mw_pgtest") as name:
        yield name


@pytest.fixture
def url() -> str:
    return postgres_backend.server_url()


def _tagged(url: str) -> tuple[str, str]:
    """The URL with a unique application_name, to count this storage's server connections."""
    tag = f"mw-{uuid.uuid4().hex[:10]}"
    return f"{url}{'&' if '?' in url else '?'}application_name={tag}", tag


def _connections(admin: Any, tag: str) -> int:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)).fetchone()[0]


def _connections_left(admin: Any, tag: str) -> int:
    """Connections still open after a close. The server reaps a closed connection's backend
    asynchronously, so give it a moment (a liveness wait, not a speed assertion)."""
    for _ in range(300):
        count = _connections(admin, tag)
        if count == 0:
            return 0
        time.sleep(0.05)
    return count


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------- constructor (seed API)
def test_seed_constructor_and_async_name(url: str, schema: str) -> None:
    assert AsyncPostgresStorage is PostgresStorage
    storage = PostgresStorage(url, schema, True)  # positional order of the seeds
    try:
        assert (storage.db_url, storage.db_schema, storage.create_schema) == (url, schema, True)
        storage.create_session("s1", user_id="u1")
        assert storage.get_session("s1").user_id == "u1"
    finally:
        storage.close()


@pytest.mark.parametrize("bad", ["", "1abc", 'x"; DROP SCHEMA public; --', "a?b", "a%b", "a{b}", "s" * 64, None, 5])
def test_invalid_schema_names_are_rejected(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="db_schema"):
        PostgresStorage(db_url=postgres_backend.DEFAULT_URL, db_schema=bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "db_url"),
        ({"db_url": ""}, "db_url"),
        ({"db_url": "postgresql://h:notaport/db x=="}, "db_url"),
        ({"db_url": postgres_backend.DEFAULT_URL, "pool_max_size": 0}, "pool_max_size"),
        ({"db_url": postgres_backend.DEFAULT_URL, "pool_min_size": 5, "pool_max_size": 2}, "pool_max_size"),
        ({"db_url": postgres_backend.DEFAULT_URL, "connect_timeout": 0}, "connect_timeout"),
        ({"db_url": postgres_backend.DEFAULT_URL, "pool_timeout": -1}, "pool_timeout"),
    ],
)
def test_bad_configuration_is_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        PostgresStorage(**kwargs)


def test_constructor_does_not_connect() -> None:
    storage = PostgresStorage(db_url=f"postgresql://root@127.0.0.1:{_free_port()}/test")
    storage.close()  # nothing was opened, nothing fails


# ------------------------------------------------------------------------ unreachable servers
@pytest.mark.timeout(60)
def test_refused_port_raises_unavailable_naming_host_and_port() -> None:
    port = _free_port()
    storage = PostgresStorage(db_url=f"postgresql://root@127.0.0.1:{port}/test", connect_timeout=2)
    try:
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}.*Check that the server is running"):
            storage.get_session("s1")
    finally:
        storage.close()


@pytest.mark.timeout(60)
async def test_refused_port_raises_unavailable_async() -> None:
    port = _free_port()
    storage = PostgresStorage(db_url=f"postgresql://root@127.0.0.1:{port}/test", connect_timeout=2)
    try:
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{port}"):
            await storage.aget_session("s1")
    finally:
        await storage.aclose()


def test_recipe_reports_an_unreachable_test_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    port = _free_port()
    monkeypatch.setenv("MEMWISE_TEST_POSTGRES_URL", f"postgresql://root@127.0.0.1:{port}/test")
    with pytest.raises(BackendUnavailable, match=rf"PostgreSQL server at 127\.0\.0\.1:{port}"):
        with postgres_backend.postgres(tmp_path):
            pass


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never answers (a hung PostgreSQL)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.timeout(60)  # the connect timeout (2 s) must end the wait, not this guard
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_silent_server_fails_within_the_connect_timeout(silent_server: int, mode: str) -> None:
    storage = PostgresStorage(db_url=f"postgresql://root@127.0.0.1:{silent_server}/test", connect_timeout=2)
    try:
        with pytest.raises(StorageUnavailableError, match=rf"127\.0\.0\.1:{silent_server}.*within 2s"):
            if mode == "sync":
                await asyncio.to_thread(storage.create_session, "s1")
            else:
                await storage.acreate_session("s1")
    finally:
        await storage.aclose()


# ---------------------------------------------------------------------------------- schemas
def test_create_schema_false_refuses_a_missing_schema(admin: Any, url: str, schema: str) -> None:
    storage = PostgresStorage(db_url=url, db_schema=schema, create_schema=False)
    try:
        with pytest.raises(ConfigurationError, match=rf"schema '{schema}' does not exist.*create_schema=True"):
            storage.create_session("s1")
    finally:
        storage.close()
    assert admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


def test_create_schema_false_uses_an_existing_schema(admin: Any, url: str, schema: str) -> None:
    admin.execute(f'CREATE SCHEMA "{schema}"')
    with PostgresStorage(db_url=url, db_schema=schema, create_schema=False) as storage:
        storage.create_session("s1")
        assert storage.get_session("s1") is not None


def test_tables_live_in_the_schema_and_schemas_are_isolated(admin: Any, url: str, schema: str) -> None:
    with postgres_backend.fresh_schema("mw_pgtest") as other:
        one = PostgresStorage(db_url=url, db_schema=schema)
        two = PostgresStorage(db_url=url, db_schema=other)
        try:
            one.create_session("same", user_id="alice")
            one.append_messages("same", turn("hello"))
            two.create_session("same", user_id="bob")
            assert two.get_session("same").user_id == "bob"
            assert two.read_messages("same") == []
            assert [m.seq for m in one.read_messages("same")] == [1, 2]
        finally:
            one.close()
            two.close()
        tables = admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
        ).fetchall()
        assert [t[0] for t in tables] == ["memwise_heads", "memwise_messages", "memwise_migrations", "memwise_records"]


def test_mixed_case_schema_is_quoted_not_folded(admin: Any, url: str) -> None:
    with postgres_backend.fresh_schema("Mw_PgTest") as schema:
        with PostgresStorage(db_url=url, db_schema=schema) as storage:
            storage.create_session("s1")
        assert admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


@pytest.mark.timeout(120)
def test_concurrent_setup_of_a_new_schema_does_not_collide(admin: Any, url: str, schema: str) -> None:
    """Many storages (own connections, like separate processes) create the same schema at once."""
    count = 8
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    storages = [PostgresStorage(db_url=url, db_schema=schema) for _ in range(count)]

    def open_store(i: int) -> None:
        try:
            storages[i]._sync_pool()  # connect first, so the setups really start together
            barrier.wait()
            storages[i].create_session(f"s{i}")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for storage in storages:
        storage.close()
    assert errors == []
    assert admin.execute(f'SELECT count(*) FROM "{schema}".memwise_migrations').fetchone()[0] == len(MIGRATIONS)
    assert admin.execute(f'SELECT count(*) FROM "{schema}".memwise_records WHERE kind = %s', ("session",)).fetchone()[0] == count


# ------------------------------------------------------------------- transactions and errors
def test_a_failing_plan_rolls_back_everything_it_wrote(url: str, schema: str) -> None:
    with PostgresStorage(db_url=url, db_schema=schema) as storage:
        storage.create_session("s1")
        storage.append_messages("s1", turn("one"))

        def half_append():
            yield from storage._sql("UPDATE {heads} SET last_seq = last_seq + 100", (), "rowcount")
            raise RuntimeError("crash between the two statements of an append")

        with pytest.raises(RuntimeError):
            storage._sync(half_append(), write=True)
        assert storage.append_messages("s1", turn("two")) == [3, 4]  # the head did not move


@pytest.mark.timeout(120)
def test_deleting_a_session_during_an_append_leaves_no_orphan_messages(admin: Any, url: str, schema: str) -> None:
    """An append holds its transaction open when delete_session starts: the delete must wait for it
    and remove its messages too, or they would outlive the session and clash with reused seqs."""
    tagged, tag = _tagged(url)
    with PostgresStorage(db_url=tagged, db_schema=schema) as storage:
        storage.create_session("s1")
        storage.append_messages("s1", turn("before"))
        appended, release = threading.Event(), threading.Event()

        def held_append():
            seqs = yield from storage._append_messages("s1", [RawMessage(0, None, True, 0.0, '{"late": 1}')])
            appended.set()
            release.wait(60)  # the transaction stays open here
            return seqs

        writer = threading.Thread(target=storage._sync, args=(held_append(),), kwargs={"write": True})
        writer.start()
        assert appended.wait(60)
        deleter = threading.Thread(target=storage.delete_session, args=("s1",))
        deleter.start()
        for _ in range(600):  # until the delete is blocked by the open append
            waiting = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'", (tag,)
            ).fetchone()[0]
            if waiting or not deleter.is_alive():
                break
            time.sleep(0.05)
        release.set()
        writer.join()
        deleter.join()
        assert storage.get_session("s1") is None
        left = admin.execute(f'SELECT count(*) FROM "{schema}".memwise_messages WHERE session_id = %s', ("s1",))
        assert left.fetchone()[0] == 0
        storage.create_session("s1")  # the id is reused: seqs start over and nothing old shows up
        assert [storage.append_messages("s1", turn(f"t{i}")) for i in range(3)] == [[1, 2], [3, 4], [5, 6]]
        assert [m.message.parts[0].content for m in storage.read_messages("s1") if m.turn_start] == ["t0", "t1", "t2"]


def test_server_errors_are_wrapped_and_the_pool_recovers(admin: Any, url: str, schema: str) -> None:
    with PostgresStorage(db_url=url, db_schema=schema) as storage:
        storage.create_session("s1")
        admin.execute(f'ALTER TABLE "{schema}".memwise_messages RENAME TO moved')
        with pytest.raises(StorageError, match=r"PostgreSQL error on SELECT \[42P01\].*memwise_messages") as info:
            storage.read_messages("s1")
        assert not isinstance(info.value, psycopg.Error)
        with pytest.raises(StorageError, match=r"\[42P01\]"):
            storage.append_messages("s1", turn("lost"))
        admin.execute(f'ALTER TABLE "{schema}".moved RENAME TO memwise_messages')
        assert storage.append_messages("s1", turn("kept")) == [1, 2]  # the failed append left nothing


def test_a_turns_independent_statements_go_in_one_pipeline(url: str, schema: str, monkeypatch: Any) -> None:
    """start_turn reads session, profile and last turns in one pipeline; finish_turn reads the run
    and the session in one, and writes both in one: sync and async alike."""
    from memwise.storage import postgres
    from memwise.storage.records import UserProfile

    batches: list[int] = []
    sync_batch, async_batch = postgres._execute_batch, postgres._aexecute_batch

    def counted(conn: Any, commands: Any) -> Any:
        batches.append(len(commands))
        return sync_batch(conn, commands)

    async def acounted(conn: Any, commands: Any) -> Any:
        batches.append(len(commands))
        return await async_batch(conn, commands)

    monkeypatch.setattr(postgres, "_execute_batch", counted)
    monkeypatch.setattr(postgres, "_aexecute_batch", acounted)
    with PostgresStorage(db_url=url, db_schema=schema) as storage:
        storage.create_session("s1", user_id="u1")
        storage.put_profile(UserProfile("u1", {"name": "Ann"}), expected_version=0)

        batches.clear()
        start = full_turn(storage, "s1", "r1")
        assert batches == [3, 2, 2] and start.profile.data == {"name": "Ann"}
        batches.clear()
        asyncio.run(afull_turn(storage, "s1", "r2"))
        assert batches == [3, 2, 2]
        assert storage.get_session("s1").metadata == {"last": 4} and storage.get_run("r2").status == "completed"


def test_a_failing_batch_fails_its_plan_and_writes_nothing(admin: Any, url: str, schema: str) -> None:
    from memwise.storage.records import Run

    with PostgresStorage(db_url=url, db_schema=schema) as storage:
        storage.create_session("s1")
        admin.execute(f'ALTER TABLE "{schema}".memwise_messages RENAME TO moved')
        for start in (storage.start_turn, lambda *a, **k: asyncio.run(storage.astart_turn(*a, **k))):
            with pytest.raises(StorageError, match=r"\[42P01\].*memwise_messages"):
                start("s1", run=Run("r1", "s1"), last_turns=2)  # the last-turns read is in the batch
            assert storage.get_run("r1") is None
        admin.execute(f'ALTER TABLE "{schema}".moved RENAME TO memwise_messages')
        assert storage.start_turn("s1", run=Run("r1", "s1"), last_turns=2).run.status == "running"


def test_a_killed_connection_gives_unavailable_then_recovers(admin: Any, url: str, schema: str) -> None:
    tagged, tag = _tagged(url)
    with PostgresStorage(db_url=tagged, db_schema=schema, pool_min_size=1, pool_max_size=1) as storage:
        storage.create_session("s1")
        admin.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = %s", (tag,))
        with pytest.raises(StorageUnavailableError, match="lost the connection to PostgreSQL"):
            storage.get_session("s1")
        assert storage.get_session("s1") is not None  # the pool replaced the dead connection


# --------------------------------------------------------------------------------- pools
def test_close_releases_every_connection_and_refuses_use(admin: Any, url: str, schema: str) -> None:
    tagged, tag = _tagged(url)
    storage = PostgresStorage(db_url=tagged, db_schema=schema, pool_min_size=2, pool_max_size=4)
    storage.create_session("s1")
    assert _connections(admin, tag) >= 1
    storage.close()
    assert _connections_left(admin, tag) == 0
    with pytest.raises(StorageError, match="closed"):
        storage.get_session("s1")


def test_pool_max_size_bounds_the_connections(admin: Any, url: str, schema: str) -> None:
    tagged, tag = _tagged(url)
    seen: list[int] = []
    done = threading.Event()

    def monitor() -> None:
        with postgres_backend.admin_connection() as conn:
            while not done.is_set():
                seen.append(_connections(conn, tag))
                done.wait(0.01)

    with PostgresStorage(db_url=tagged, db_schema=schema, pool_min_size=0, pool_max_size=2) as storage:
        storage.create_session("hot")

        def writer(w: int) -> None:
            for i in range(20):
                storage.append_messages("hot", turn(f"{w}-{i}"))

        threads = [threading.Thread(target=monitor)] + [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads[1:]:
            thread.join()
        done.set()
        threads[0].join()
        assert [m.seq for m in storage.read_messages("hot")] == list(range(1, 241))
    assert seen and max(seen) <= 2


async def test_async_pool_is_made_in_the_running_loop_and_closed_by_aclose(admin: Any, url: str, schema: str) -> None:
    tagged, tag = _tagged(url)
    storage = PostgresStorage(db_url=tagged, db_schema=schema)
    await storage.acreate_session("s1")
    await asyncio.gather(*(storage.aappend_messages("s1", turn(f"t{i}")) for i in range(10)))
    assert len(await storage.aread_messages("s1")) == 20
    assert storage._apools.opened_on(asyncio.get_running_loop()) and storage._pool is None  # no sync pool used
    await storage.aclose()
    assert _connections_left(admin, tag) == 0


def test_one_storage_serves_successive_event_loops_and_sync_code(admin: Any, url: str, schema: str) -> None:
    tagged, tag = _tagged(url)
    storage = PostgresStorage(db_url=tagged, db_schema=schema)
    asyncio.run(storage.acreate_session("s1"))
    asyncio.run(storage.aappend_messages("s1", turn("from loop 2")))  # loop 1 is closed by now
    storage.append_messages("s1", turn("from sync code"))
    assert len(asyncio.run(storage.aread_messages("s1"))) == 4
    storage.close()  # also closes pools whose loops are gone
    assert _connections_left(admin, tag) == 0


# --------------------------------------------------------------------------------- indexes
def _statement(storage: PostgresStorage, plan: Any) -> tuple[str, tuple[Any, ...]]:
    """The one SQL statement a read plan sends, captured without running it."""
    sent = []

    def capture(command: Any) -> Any:
        sent.append(command)
        return [] if command.fetch == "all" else None

    drive(plan, capture)
    assert len(sent) == 1
    return _pg_text(sent[0].text), tuple(sent[0].params)


def _explain(admin: Any, text: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    plan = admin.execute("EXPLAIN (FORMAT JSON) " + text, params).fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


@pytest.fixture
def big_store(admin: Any, url: str, schema: str) -> Iterator[PostgresStorage]:
    """200 users x 25 sessions, 3 runs per session, 100 sessions x 200 messages; analyzed."""
    storage = PostgresStorage(db_url=url, db_schema=schema)
    storage.create_session("warm-up")  # creates the schema
    q = f'"{schema}"'
    admin.execute(
        f"INSERT INTO {q}.memwise_records (kind, key, version, updated_at, user_id, agent_id, session_id, status, body)"
        " SELECT 'session', 's' || g, 1, 1.7e9 + g, 'u' || (g % 200), 'a' || (g % 7), NULL, NULL, '{}'"
        " FROM generate_series(1, 5000) g"
    )
    admin.execute(
        f"INSERT INTO {q}.memwise_records (kind, key, version, updated_at, user_id, agent_id, session_id, status, body)"
        " SELECT 'run', 'r' || g, 1, 1.7e9 + g, 'u' || (g % 200), NULL, 's' || (g % 5000), 'completed', '{}'"
        " FROM generate_series(1, 15000) g"
    )
    admin.execute(
        f"INSERT INTO {q}.memwise_messages (session_id, seq, run_id, turn_start, created_at, body)"
        " SELECT 's' || (g / 200), g % 200 + 1, NULL, (g % 2 = 0)::int, 1.7e9, '{\"m\":' || g || '}'"
        " FROM generate_series(0, 19999) g"
    )
    admin.execute(f"ANALYZE {q}.memwise_records")
    admin.execute(f"ANALYZE {q}.memwise_messages")
    yield storage
    storage.close()


def test_last_n_turns_of_a_session_uses_the_indexes(admin: Any, big_store: PostgresStorage) -> None:
    text, params = _statement(big_store, big_store._read_messages("s42", 0, 5, None))
    nodes = _explain(admin, text, params)
    on_messages = [n for n in nodes if n.get("Relation Name") == "memwise_messages"]
    assert len(on_messages) == 2, nodes  # the turn-start lookup and the range read
    assert all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in on_messages), nodes
    assert {n["Index Name"] for n in on_messages} == {"memwise_messages_turns", "memwise_messages_pkey"}, nodes
    assert not any(n["Node Type"] == "Sort" for n in nodes), nodes  # rows come out in seq order
    assert len(big_store.read_messages("s42", last_turns=5)) == 10  # and the statement is right


def test_a_users_sessions_by_time_use_the_user_index(admin: Any, big_store: PostgresStorage) -> None:
    query = RecordQuery("session", user_id="u17", limit=11)
    text, params = _statement(big_store, big_store._query_records(query))
    nodes = _explain(admin, text, params)
    scans = [n for n in nodes if n.get("Relation Name") == "memwise_records"]
    assert [(n["Node Type"], n["Index Name"], n["Scan Direction"]) for n in scans] == [
        ("Index Scan", "memwise_records_user", "Backward")
    ], nodes
    assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for n in nodes), nodes  # no sort: index order
    page = big_store.list_sessions(user_id="u17", limit=10)
    assert [s.session_id for s in page.items] == [f"s{g}" for g in range(4817, 0, -200)][:10]


def test_close_ends_the_pool_guard_of_a_loop_that_stays_open(url: str, schema: str) -> None:
    """A sync caller's long-lived event loop (what `agent.do()` keeps per thread) is not shut
    down when the storage closes: close() closes the loop's pool there, so no pending task is
    left to be destroyed later ("Task was destroyed but it is pending")."""
    storage = PostgresStorage(url, schema, True)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(storage.acreate_session("s1"))
        assert storage._apools.opened_on(loop)
        assert any(task.get_name().endswith("-scheduler") for task in asyncio.all_tasks(loop))
        storage.close()
        assert not storage._apools.opened_on(loop)
        assert not asyncio.all_tasks(loop)  # the guard, the pool's scheduler and workers: all done
    finally:
        loop.close()


# ------------------------------------------------------------------------------------ search
def test_search_words_common_in_the_table_rank_but_select_no_message_alone(admin: Any, url: str, schema: str):
    storage = PostgresStorage(db_url=url, db_schema=schema)
    try:
        storage.create_session("s1", user_id="u1")
        for i in range(60):
            storage.append_messages("s1", turn(f"caroline said line {i}", "ok"))
        storage.append_messages("s1", turn("caroline adopted a greyhound", "ok"))
        storage.append_messages("s1", turn("a greyhound race", "ok"))
        admin.execute(f'ANALYZE "{schema}".memwise_messages')  # the statistics the search reads
        hits = storage.search_messages("did caroline adopt a greyhound", user_id="u1", limit=10)
        assert [hit.seq for hit in hits] == [121, 123]  # the common word only adds to the score
        assert len(storage.search_messages("caroline", user_id="u1", limit=100)) == 61  # common words alone
        stats = storage._lexeme_stats
        common = [lexeme for lexeme, share in zip(stats.lexemes, stats.shares, strict=True) if share > 0.2]
        assert "carolin" in common and "greyhound" not in common and "adopt" not in common
    finally:
        storage.close()
