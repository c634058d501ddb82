"""Append one message + read the last 20: memwise RedisStorage vs bare redis-py, same server, same run.

Usage: python bench/backends/redis_floor.py [ops] [--url URL]

The bare side is the floor quoted for these machines (~3,800-4,600 ops/s): RPUSH one JSON message
onto a list, LRANGE the last 20 and parse their JSON, on one `redis.Redis` client. memwise does
more for the same call: it checks that the session exists (HGETALL), appends through a Lua script
that also keeps the turn-start index (EVALSHA), then reads with LRANGE and parses the messages;
the async line runs the same plans on `redis.asyncio`. The sides alternate in rounds so that
machine load drifts hit both alike; every key is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import redis
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.redis import RedisStorage

ROUNDS = 4


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


def run(url: str, ops: int) -> dict[str, list[float]]:
    tag = uuid.uuid4().hex[:8]
    prefix, bare_key = f"mw_bench_{tag}", f"mw_bench_bare_{tag}"
    client = redis.Redis.from_url(url)
    storage = RedisStorage(db_url=url, db_prefix=prefix)
    storage.create_session("s")
    asyncio.run(storage.acreate_session("a"))
    batches = [messages(i) for i in range(ops)]
    bodies = [json.dumps({"i": i, "text": "x" * 200}) for i in range(ops)]
    times: dict[str, list[float]] = {"redis-py": [], "memwise": [], "memwise async": []}

    async def async_round(start: int, stop: int) -> None:
        for i in range(start, stop):
            t0 = time.perf_counter()
            await storage.aappend_messages("a", batches[i])
            await storage.aread_messages("a", after_seq=max(0, i + 1 - 20))
            times["memwise async"].append(time.perf_counter() - t0)

    try:
        per_round = ops // ROUNDS
        for r in range(ROUNDS):
            span = range(r * per_round, (r + 1) * per_round)
            for i in span:
                t0 = time.perf_counter()
                client.rpush(bare_key, bodies[i])
                [json.loads(body) for body in client.lrange(bare_key, -20, -1)]
                times["redis-py"].append(time.perf_counter() - t0)
            for i in span:
                t0 = time.perf_counter()
                storage.append_messages("s", batches[i])
                storage.read_messages("s", after_seq=max(0, i + 1 - 20))
                times["memwise"].append(time.perf_counter() - t0)
            asyncio.run(async_round(span.start, span.stop))
        done = per_round * ROUNDS
        assert [m.seq for m in storage.read_messages("s", after_seq=done - 20)] == list(range(done - 19, done + 1))
    finally:
        storage.close()
        keys = [bare_key, *client.scan_iter(match=f"{{{prefix}}}*"), *client.scan_iter(match=f"{{{prefix}:m:*")]
        client.delete(*keys)
        client.close()
    return times


def report(name: str, times: list[float]) -> float:
    ops = len(times) / sum(times)
    ordered = sorted(times)
    p50 = statistics.median(times) * 1e6
    p95 = ordered[int(len(ordered) * 0.95)] * 1e6
    print(f"{name:14} {ops:8.0f} ops/s   p50 {p50:6.0f} us   p95 {p95:6.0f} us")
    return ops


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ops", nargs="?", type=int, default=2000)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"{args.ops} ops per side, redis-py {redis.__version__}")
    results = run(args.url, args.ops)
    floor = report("redis-py", results["redis-py"])
    ours = report("memwise", results["memwise"])
    report("memwise async", results["memwise async"])
    print(f"memwise / floor: {ours / floor:.2f}")
