"""Append one message + read the last 20: memwise MongoStorage vs bare pymongo, same server, same run.

Usage: python bench/backends/mongo_floor.py [ops] [--url URL]

Without --url, a SecantusDB server (the MongoDB wire-protocol server the tests use) is started in
a child process on 127.0.0.1 and a free port, so server and clients do not share one GIL; it is a
Python server, so absolute numbers are far below a real mongod's: compare the columns, not the
numbers with other backends. With --url the run uses that server (e.g. a real mongod).

The bare side does the textbook pymongo work: reserve the seq with a counter document
(find_one_and_update $inc, upsert), insert the message document, then read the last 20 messages
by an index range and parse their JSON. memwise does what it always does: check the session
exists, read the session's last seq, insert, then read the last 20 (`after_seq`, as the other
floors do); "memwise turns" reads them as `last_turns=10` instead (one more query). The sides
alternate in rounds so that load drifts hit all alike. Each side uses its own throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymongo
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.mongo import MongoStorage

ROUNDS = 4


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


class Bare:
    def __init__(self, url: str, db_name: str) -> None:
        self.client = pymongo.MongoClient(url)
        self.db = self.client[db_name]
        self.db.m.create_index([("session_id", 1), ("seq", 1)], unique=True)

    def op(self, body: str) -> None:
        head = self.db.c.find_one_and_update(
            {"_id": "s"}, {"$inc": {"seq": 1}}, upsert=True, return_document=pymongo.ReturnDocument.AFTER
        )
        seq = head["seq"]
        self.db.m.insert_one({"session_id": "s", "seq": seq, "turn_start": seq % 2 == 1, "created_at": time.time(), "body": body})
        docs = self.db.m.find({"session_id": "s", "seq": {"$gt": seq - 20}}, {"_id": 0}).sort("seq", 1)
        [json.loads(doc["body"]) for doc in docs]

    def close(self) -> None:
        self.client.drop_database(self.db.name)
        self.client.close()


def run(url: str, ops: int) -> dict[str, list[float]]:
    tag = uuid.uuid4().hex[:8]
    bare = Bare(url, f"mw_bench_bare_{tag}")
    storage = MongoStorage(url, f"mw_bench_{tag}")
    astorage = MongoStorage(url, f"mw_bench_{tag}")
    storage.create_session("s")
    storage.create_session("t")
    asyncio.run(astorage.acreate_session("a"))
    batches = [messages(i) for i in range(ops)]
    bodies = [json.dumps({"i": i, "text": "x" * 200}) for i in range(ops)]
    times: dict[str, list[float]] = {"pymongo": [], "memwise": [], "memwise turns": [], "memwise async": []}

    async def async_round(start: int, stop: int) -> None:
        for i in range(start, stop):
            t0 = time.perf_counter()
            await astorage.aappend_messages("a", batches[i])
            await astorage.aread_messages("a", after_seq=max(0, i + 1 - 20))
            times["memwise async"].append(time.perf_counter() - t0)

    try:
        per_round = ops // ROUNDS
        for r in range(ROUNDS):
            span = range(r * per_round, (r + 1) * per_round)
            for i in span:
                t0 = time.perf_counter()
                bare.op(bodies[i])
                times["pymongo"].append(time.perf_counter() - t0)
            for i in span:
                t0 = time.perf_counter()
                storage.append_messages("s", batches[i])
                storage.read_messages("s", after_seq=max(0, i + 1 - 20))
                times["memwise"].append(time.perf_counter() - t0)
            for i in span:
                t0 = time.perf_counter()
                storage.append_messages("t", batches[i])
                storage.read_messages("t", last_turns=10)
                times["memwise turns"].append(time.perf_counter() - t0)
            asyncio.run(async_round(span.start, span.stop))
        done = per_round * ROUNDS
        assert [m.seq for m in storage.read_messages("s", after_seq=done - 20)] == list(range(done - 19, done + 1))
        assert len(storage.read_messages("t", last_turns=10)) == 20
    finally:
        storage.close()
        astorage.close()
        bare.client.drop_database(f"mw_bench_{tag}")
        bare.close()
    return times


def report(name: str, times: list[float]) -> float:
    ops = len(times) / sum(times)
    ordered = sorted(times)
    p50 = statistics.median(times) * 1e6
    p95 = ordered[int(len(ordered) * 0.95)] * 1e6
    print(f"{name:14} {ops:8.0f} ops/s   p50 {p50:6.0f} us   p95 {p95:6.0f} us")
    return ops


def start_secantus() -> tuple[str, subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = tempfile.mkdtemp(prefix="memwise-bench-secantus-")
    daemon = Path(sys.executable).with_name("secantusd-py")
    command = [str(daemon)] if daemon.exists() else [sys.executable, "-m", "secantus"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--storage-path", data, "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"mongodb://127.0.0.1:{port}/"
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=30_000)
    try:
        client.admin.command("ping")
    finally:
        client.close()
    return url, server, data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ops", nargs="?", type=int, default=2000)
    parser.add_argument("--url", help="a running MongoDB server (default: start SecantusDB in a child process)")
    args = parser.parse_args()
    server = data = None
    url = args.url
    if url is None:
        url, server, data = start_secantus()
    try:
        print(f"{args.ops} ops per side, server {url}{' (SecantusDB, child process)' if server else ''}")
        results = run(url, args.ops)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            shutil.rmtree(data, ignore_errors=True)
    floor = report("pymongo", results["pymongo"])
    ours = report("memwise", results["memwise"])
    report("memwise turns", results["memwise turns"])
    report("memwise async", results["memwise async"])
    print(f"memwise / floor: {ours / floor:.2f}")
    os._exit(0)  # do not wait for pymongo's monitor threads at exit
