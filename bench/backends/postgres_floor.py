"""Append one message + read the last 20: memwise PostgresStorage vs bare psycopg, same server, same run.

Usage: python bench/backends/postgres_floor.py [ops] [--durable] [--url URL]

By default both sides run with `synchronous_commit=off` (the commit does not wait for the WAL
fsync), which is the floor quoted for these machines (~2,900 ops/s); `--durable` keeps the
server's default (each commit waits for fsync). The bare side does the same work as memwise: in
one transaction, bump the session's seq head and insert the message; then read the last 20
messages and parse their JSON. The two sides alternate in rounds so that machine load drifts
hit both alike. Each side works in its own throwaway schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import psycopg
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.postgres import PostgresStorage

ROUNDS = 4


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


class Bare:
    def __init__(self, url: str, schema: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.q = f'"{schema}"'
        self.conn.execute(f"CREATE SCHEMA {self.q}")
        self.conn.execute(
            f"CREATE TABLE {self.q}.m (session_id TEXT, seq BIGINT, turn_start SMALLINT, created_at DOUBLE PRECISION,"
            " body TEXT, PRIMARY KEY (session_id, seq))"
        )
        self.conn.execute(f"CREATE TABLE {self.q}.h (session_id TEXT PRIMARY KEY, last_seq BIGINT NOT NULL)")
        self.i = 0

    def op(self, body: str) -> None:
        q = self.q
        with self.conn.transaction():
            seq = self.conn.execute(
                f"INSERT INTO {q}.h VALUES ('s', 1) ON CONFLICT (session_id) DO UPDATE SET last_seq = {q}.h.last_seq + 1"
                " RETURNING last_seq"
            ).fetchone()[0]
            self.conn.execute(f"INSERT INTO {q}.m VALUES ('s', %s, %s, %s, %s)", (seq, seq % 2, time.time(), body))
        rows = self.conn.execute(f"SELECT seq, body FROM {q}.m WHERE session_id = 's' ORDER BY seq DESC LIMIT 20").fetchall()
        [json.loads(body) for _, body in rows]


def run(url: str, ops: int) -> dict[str, tuple[list[float], float]]:
    tag = uuid.uuid4().hex[:8]
    bare = Bare(url, f"mw_bench_bare_{tag}")
    storage = PostgresStorage(db_url=url, db_schema=f"mw_bench_{tag}")
    astorage = PostgresStorage(db_url=url, db_schema=f"mw_bench_{tag}")
    storage.create_session("s")
    asyncio.run(astorage.acreate_session("a"))
    batches = [messages(i) for i in range(ops)]
    bodies = [json.dumps({"i": i, "text": "x" * 200}) for i in range(ops)]
    times: dict[str, list[float]] = {"psycopg": [], "memwise": [], "memwise async": []}
    cpu = dict.fromkeys(times, 0.0)  # this process's CPU seconds per side (robust to machine load)

    async def async_round(start: int, stop: int) -> None:
        c0 = time.process_time()
        for i in range(start, stop):
            t0 = time.perf_counter()
            await astorage.aappend_messages("a", batches[i])
            await astorage.aread_messages("a", after_seq=max(0, i + 1 - 20))
            times["memwise async"].append(time.perf_counter() - t0)
        cpu["memwise async"] += time.process_time() - c0

    try:
        per_round = ops // ROUNDS
        for r in range(ROUNDS):
            span = range(r * per_round, (r + 1) * per_round)
            c0 = time.process_time()
            for i in span:
                t0 = time.perf_counter()
                bare.op(bodies[i])
                times["psycopg"].append(time.perf_counter() - t0)
            cpu["psycopg"] += time.process_time() - c0
            c0 = time.process_time()
            for i in span:
                t0 = time.perf_counter()
                storage.append_messages("s", batches[i])
                storage.read_messages("s", after_seq=max(0, i + 1 - 20))
                times["memwise"].append(time.perf_counter() - t0)
            cpu["memwise"] += time.process_time() - c0
            asyncio.run(async_round(span.start, span.stop))
        assert [m.seq for m in storage.read_messages("s", after_seq=ops - 20)] == list(range(ops - 19, ops + 1))
    finally:
        storage.close()
        astorage.close()
        bare.conn.execute(f"DROP SCHEMA {bare.q} CASCADE")
        bare.conn.execute(f'DROP SCHEMA "mw_bench_{tag}" CASCADE')
        bare.conn.close()
    return {name: (times[name], cpu[name]) for name in times}


def report(name: str, result: tuple[list[float], float]) -> float:
    times, cpu = result
    ops = len(times) / sum(times)
    ordered = sorted(times)
    p50 = statistics.median(times) * 1e6
    p95 = ordered[int(len(ordered) * 0.95)] * 1e6
    print(f"{name:14} {ops:8.0f} ops/s   p50 {p50:6.0f} us   p95 {p95:6.0f} us   client CPU {cpu / len(times) * 1e6:5.0f} us/op")
    return ops


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ops", nargs="?", type=int, default=2000)
    parser.add_argument("--durable", action="store_true", help="wait for the WAL fsync on every commit")
    parser.add_argument("--url", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    url = args.url
    if not args.durable:
        url += ("&" if "?" in url else "?") + "options=-c%20synchronous_commit%3Doff"
    print(f"{args.ops} ops per side, synchronous_commit={'on' if args.durable else 'off'}")
    results = run(url, args.ops)
    floor = report("psycopg", results["psycopg"])
    ours = report("memwise", results["memwise"])
    report("memwise async", results["memwise async"])
    print(f"memwise / floor: {ours / floor:.2f}")
