"""The backends of the benchmark: a memwise storage in a fresh namespace, and the bare driver
doing the floor's work ("append one turn, read the last 20 messages") on the same server, sync and
async. `python -m bench` uses BACKENDS; `python -m bench.backends.floor` uses every one in CLASSES
(also JSON files and mem0's local Memory).

Each backend is a context manager: entering checks that the driver, the memwise class and the
server are there (else `Unavailable` saying which), leaving drops everything it created.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
import uuid
from typing import Any

from bench.common import Unavailable, need

POSTGRES_URL = os.environ.get("MEMWISE_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEMWISE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ("sqlite", "postgres", "redis", "mongo")
#: The floor's unit of work, everywhere: append one turn (the user's request and the answer, in
#: one write) and read the last LAST messages back, decoding their JSON.
LAST = 20


def message_bodies() -> list[str]:
    """JSON of a stored user request and a stored answer (what a floor op appends: one turn)."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    from bench.fake import turn_messages

    return [ModelMessagesTypeAdapter.dump_json([m]).decode() for m in turn_messages(1)]


def _decode(bodies: list[Any]) -> None:
    for body in bodies:
        json.loads(body)


# ====================================================================== base
class Backend:
    name = "?"
    label = "?"
    floor_label = "?"

    def __init__(self) -> None:
        self.ns = f"mwbench_{uuid.uuid4().hex[:10]}"
        self._storage: Any = None

    def __enter__(self) -> Backend:
        self.check()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._storage is not None:
                self._storage.close()
        finally:
            self.cleanup()

    def check(self) -> None: ...

    def cleanup(self) -> None: ...

    def storage(self) -> Any:
        if self._storage is None:
            self._storage = self.make_storage()
        return self._storage

    def make_storage(self) -> Any:
        raise NotImplementedError

    # the sync floor: prefill(session, n) then op(session, seq) many times
    def floor(self) -> Any:
        raise NotImplementedError

    def afloor(self) -> Any:
        raise Unavailable(f"no async floor for {self.name}")


# ====================================================================== SQLite
class FileBackend(Backend):
    """A backend in local files, under a fresh temporary directory (BENCH_TMP, else the system's)."""

    module = "?"

    def check(self) -> None:
        need(self.module, f"memwise's {self.label} backend is missing")
        self.tmp = tempfile.mkdtemp(prefix=f"mwbench-{self.name}-", dir=os.environ.get("BENCH_TMP"))

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class SqliteBackend(FileBackend):
    name, label, floor_label = "sqlite", "SQLite", "sqlite3 (WAL, synchronous=NORMAL)"
    module = "memwise.storage.sqlite"

    def make_storage(self) -> Any:
        from memwise.storage.sqlite import SqliteStorage

        return SqliteStorage(db_file=os.path.join(self.tmp, "memwise.db"))

    def floor(self) -> Any:
        return SqliteFloor(os.path.join(self.tmp, "floor.db"))


class SqliteFloor:
    def __init__(self, path: str) -> None:
        import sqlite3

        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS m (session_id TEXT, seq INTEGER, body TEXT, PRIMARY KEY (session_id, seq))")

    def prefill(self, session: str, bodies: list[str]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT INTO m VALUES (?, ?, ?)", [(session, i + 1, b) for i, b in enumerate(bodies)])
        self.conn.execute("COMMIT")

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO m VALUES (?, ?, ?)", [(session, seq + i, b) for i, b in enumerate(bodies)])
        self.conn.execute("COMMIT")
        rows = self.conn.execute(
            "SELECT seq, body FROM m WHERE session_id = ? ORDER BY seq DESC LIMIT ?", (session, LAST)
        ).fetchall()
        _decode([r[1] for r in rows])

    def close(self) -> None:
        self.conn.close()


# ====================================================================== PostgreSQL
class PostgresBackend(Backend):
    name, label, floor_label = "postgres", "PostgreSQL", "psycopg 3 (autocommit, durable commits)"

    def check(self) -> None:
        psycopg = need("psycopg", "pip install 'memwise[postgres]'")
        need("memwise.storage.postgres", "memwise's PostgreSQL backend is not there yet")
        try:
            self.admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
        except psycopg.Error as exc:
            raise Unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {' '.join(str(exc).split())}") from None
        self.admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.ns}_floor"')
        self.admin.execute(
            f'CREATE TABLE "{self.ns}_floor".m (session_id TEXT, seq BIGINT, body TEXT, PRIMARY KEY (session_id, seq))'
        )

    def cleanup(self) -> None:
        for schema in (self.ns, f"{self.ns}_floor"):
            try:
                self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            except Exception:  # noqa: BLE001
                pass
        self.admin.close()

    def make_storage(self) -> Any:
        from memwise.storage.postgres import PostgresStorage

        return PostgresStorage(db_url=POSTGRES_URL, db_schema=self.ns)

    def floor(self) -> Any:
        return PostgresFloor(f'"{self.ns}_floor".m')

    def afloor(self) -> Any:
        return AsyncPostgresFloor(f'"{self.ns}_floor".m')


class PostgresFloor:
    def __init__(self, table: str) -> None:
        import psycopg

        self.table = table
        self.conn = psycopg.connect(POSTGRES_URL, autocommit=True)

    def prefill(self, session: str, bodies: list[str]) -> None:
        with self.conn.cursor() as cur, self.conn.transaction():
            cur.executemany(f"INSERT INTO {self.table} VALUES (%s, %s, %s)", [(session, i + 1, b) for i, b in enumerate(bodies)])

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        self.conn.execute(*_pg_insert(self.table, session, seq, bodies))
        rows = self.conn.execute(
            f"SELECT seq, body FROM {self.table} WHERE session_id = %s ORDER BY seq DESC LIMIT {LAST}", (session,)
        ).fetchall()
        _decode([r[1] for r in rows])

    def close(self) -> None:
        self.conn.close()


def _pg_insert(table: str, session: str, seq: int, bodies: list[str]) -> tuple[str, list]:
    """One INSERT of a turn's messages (one round trip)."""
    values = ", ".join(["(%s, %s, %s)"] * len(bodies))
    params = [x for i, b in enumerate(bodies) for x in (session, seq + i, b)]
    return f"INSERT INTO {table} VALUES {values}", params


class AsyncPostgresFloor:
    """psycopg's async pool (max 10 connections, as PostgresStorage's default pool)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.pool: Any = None

    async def open(self) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.pool = AsyncConnectionPool(POSTGRES_URL, min_size=1, max_size=10, kwargs={"autocommit": True}, open=False)
        await self.pool.open(wait=True)

    async def op(self, session: str, seq: int, bodies: list[str]) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(*_pg_insert(self.table, session, seq, bodies))
            cur = await conn.execute(
                f"SELECT seq, body FROM {self.table} WHERE session_id = %s ORDER BY seq DESC LIMIT {LAST}", (session,)
            )
            _decode([r[1] for r in await cur.fetchall()])

    async def count(self, session: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) FROM {self.table} WHERE session_id = %s", (session,))
            return (await cur.fetchone())[0]

    async def close(self) -> None:
        await self.pool.close()


# ====================================================================== Redis
class RedisBackend(Backend):
    name, label, floor_label = "redis", "Redis", "redis-py (RPUSH + LRANGE, one pipelined round trip)"

    def check(self) -> None:
        redis = need("redis", "pip install 'memwise[redis]'")
        need("memwise.storage.redis", "memwise's Redis backend is not there yet")
        self.client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise Unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}") from None

    def cleanup(self) -> None:
        keys = list(self.client.scan_iter(match=f"*{self.ns}*", count=1000))
        for i in range(0, len(keys), 500):
            self.client.delete(*keys[i : i + 500])
        self.client.close()

    def make_storage(self) -> Any:
        from memwise.storage.redis import RedisStorage

        return RedisStorage(db_url=REDIS_URL, db_prefix=self.ns)

    def floor(self) -> Any:
        return RedisFloor(self.client, f"{self.ns}:floor:")

    def afloor(self) -> Any:
        return AsyncRedisFloor(f"{self.ns}:floor:")


class RedisFloor:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.prefix = client, prefix

    def prefill(self, session: str, bodies: list[str]) -> None:
        for i in range(0, len(bodies), 1000):
            self.client.rpush(self.prefix + session, *bodies[i : i + 1000])

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        pipe = self.client.pipeline(transaction=False)  # one round trip
        pipe.rpush(self.prefix + session, *bodies)
        pipe.lrange(self.prefix + session, -LAST, -1)
        _decode(pipe.execute()[1])

    def close(self) -> None:
        pass


class AsyncRedisFloor:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.client: Any = None

    async def open(self) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(REDIS_URL)

    async def op(self, session: str, seq: int, bodies: list[str]) -> None:
        pipe = self.client.pipeline(transaction=False)  # one round trip
        pipe.rpush(self.prefix + session, *bodies)
        pipe.lrange(self.prefix + session, -LAST, -1)
        _decode((await pipe.execute())[1])

    async def count(self, session: str) -> int:
        return await self.client.llen(self.prefix + session)

    async def close(self) -> None:
        await self.client.aclose()


# ====================================================================== MongoDB wire protocol
_mongo_lock = threading.Lock()
_mongo_uri: str | None = None


def mongo_server() -> str:
    """A MongoDB wire-protocol server: MEMWISE_BENCH_MONGO_URL, else SecantusDB started in-process
    (as the test suite does) and stopped at exit."""
    global _mongo_uri
    with _mongo_lock:
        if _mongo_uri is None:
            url = os.environ.get("MEMWISE_BENCH_MONGO_URL")
            if not url:
                secantus = need("secantus", "pip install secantusdb==0.7.0b3 (or set MEMWISE_BENCH_MONGO_URL)")
                import atexit

                data = tempfile.mkdtemp(prefix="mwbench-secantus-")
                server = secantus.SecantusDBServer(host="127.0.0.1", port=0, storage_path=data)
                server.start()

                def stop() -> None:
                    try:
                        server.stop()
                    finally:
                        shutil.rmtree(data, ignore_errors=True)

                atexit.register(stop)
                url = server.uri
            _mongo_uri = url
        return _mongo_uri


class MongoBackend(Backend):
    name, label, floor_label = "mongo", "Mongo wire (SecantusDB)", "pymongo (insert_many + find on a seq range)"

    def check(self) -> None:
        pymongo = need("pymongo", "pip install 'memwise[mongo]'")
        need("memwise.storage.mongo", "memwise's MongoDB backend is not there yet")
        self.url = mongo_server()
        if os.environ.get("MEMWISE_BENCH_MONGO_URL"):
            self.label = "MongoDB"
        self.client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=5000)
        try:
            self.client.admin.command("ping")
        except pymongo.errors.PyMongoError as exc:
            raise Unavailable(f"the MongoDB wire-protocol server at {self.url} does not answer: {exc}") from None

    def cleanup(self) -> None:
        for db in (self.ns, f"{self.ns}_floor"):
            try:
                self.client.drop_database(db)
            except Exception:  # noqa: BLE001
                pass
        self.client.close()

    def make_storage(self) -> Any:
        from memwise.storage.mongo import MongoStorage

        return MongoStorage(db_url=self.url, db_name=self.ns)

    def floor(self) -> Any:
        return MongoFloor(self.client[f"{self.ns}_floor"]["m"])


class MongoFloor:
    def __init__(self, coll: Any) -> None:
        self.coll = coll
        coll.create_index([("session_id", 1), ("seq", 1)], unique=True)

    def prefill(self, session: str, bodies: list[str]) -> None:
        if bodies:
            self.coll.insert_many([{"session_id": session, "seq": i + 1, "body": b} for i, b in enumerate(bodies)])

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        self.coll.insert_many([{"session_id": session, "seq": seq + i, "body": b} for i, b in enumerate(bodies)])
        # an index range on the known seqs: a sort + limit is ~10x slower on SecantusDB
        last = seq + len(bodies) - 1
        docs = list(self.coll.find({"session_id": session, "seq": {"$gt": last - LAST}}, {"body": 1}).sort("seq", 1))
        _decode([d["body"] for d in docs])

    def close(self) -> None:
        pass


# ====================================================================== JSON files
class JsonBackend(FileBackend):
    name, label, floor_label = "json", "JSON files", "os.write + fdatasync, tail read (one JSON-lines file)"
    module = "memwise.storage.json"

    def make_storage(self) -> Any:
        from memwise.storage.json import JSONStorage

        return JSONStorage(db_path=os.path.join(self.tmp, "memwise"))  # fsync=True, its default

    def floor(self) -> Any:
        os.makedirs(folder := os.path.join(self.tmp, "floor"))
        return JsonFloor(folder)


class JsonFloor:
    """One JSON-lines file per session, opened O_APPEND: one write per turn, fdatasync'ed, and the
    last LAST lines read back from the file's tail. No lock, no seq bookkeeping, no recovery."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.fds: dict[str, int] = {}

    def _write(self, session: str, seq: int, bodies: list[str]) -> int:
        fd = self.fds.get(session)
        if fd is None:
            path = os.path.join(self.folder, f"{session}.jsonl")
            fd = self.fds[session] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, "".join(f'{{"seq": {seq + i}, "body": {b}}}\n' for i, b in enumerate(bodies)).encode())
        os.fdatasync(fd)
        return fd

    def prefill(self, session: str, bodies: list[str]) -> None:
        self._write(session, 1, bodies)

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        fd = self._write(session, seq, bodies)
        size, span = os.fstat(fd).st_size, 16384
        while True:  # widen the tail until it holds LAST whole lines (or is the whole file)
            lines = os.pread(fd, min(size, span), max(0, size - span)).split(b"\n")
            if len(lines) > LAST + 1 or span >= size:
                break
            span *= 2
        for line in lines[-LAST - 1 : -1]:
            json.loads(line)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


# ====================================================================== mem0 (local, offline)
class Mem0Backend(Backend):
    name, label, floor_label = "mem0", "mem0 (local qdrant)", "mem0 Memory (add infer=False + get_all seq filter)"

    def check(self) -> None:
        need("memwise.storage.mem0", "pip install 'memwise[mem0]'")  # first: turns mem0's telemetry off
        # mem0's open-source Memory on qdrant `:memory:` with the tests' hashing embedder: offline
        self.offline = need("tests.support.mem0_backend", "run from the repository root").offline_memory

    def make_storage(self) -> Any:
        from memwise.storage.mem0 import Mem0Storage

        return Mem0Storage(memory_client=self.offline(), close_client=True)

    def floor(self) -> Any:
        return Mem0Floor(self.offline())


@functools.lru_cache(maxsize=64)
def _text(body: str) -> tuple[str, str]:
    """(role, text) of a stored message, as Mem0Storage hands them to mem0."""
    message = json.loads(body)[0]
    return ("user" if message["kind"] == "request" else "assistant"), message["parts"][0]["content"]


class Mem0Floor:
    """mem0 Memory calls only: one memory per message (`add(infer=False)`, its seq and body in the
    metadata), then `get_all` filtered on seq, sorted by seq."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    def prefill(self, session: str, bodies: list[str]) -> None:
        self._add(session, 1, bodies)

    def _add(self, session: str, seq: int, bodies: list[str]) -> None:
        for i, body in enumerate(bodies):
            role, text = _text(body)
            self.memory.add([{"role": role, "content": text}], user_id="bench-user", run_id=session,
                            metadata={"seq": seq + i, "body": body}, infer=False)

    def op(self, session: str, seq: int, bodies: list[str]) -> None:
        self._add(session, seq, bodies)
        last = seq + len(bodies) - 1
        found = self.memory.get_all(filters={"seq": {"gt": last - LAST}, "run_id": session}, top_k=LAST)["results"]
        _decode([item["metadata"]["body"] for item in sorted(found, key=lambda item: item["metadata"]["seq"])])

    def close(self) -> None:
        self.memory.close()


CLASSES: dict[str, type[Backend]] = {
    "sqlite": SqliteBackend, "postgres": PostgresBackend, "redis": RedisBackend, "mongo": MongoBackend,
    "json": JsonBackend, "mem0": Mem0Backend,
}


def open_backend(name: str) -> Backend:
    return CLASSES[name]()
