"""Append one message + read the last 20: memwise SqliteStorage vs bare sqlite3, same machine, same run.

Usage: python bench/backends/sqlite_floor.py [ops]
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.sqlite import SqliteStorage

OPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


def bare(path: Path) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE m (session_id TEXT, seq INTEGER, body TEXT, PRIMARY KEY (session_id, seq))")
    bodies = [json.dumps({"i": i, "text": "x" * 200}) for i in range(OPS)]
    times = []
    for i in range(OPS):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO m VALUES ('s', ?, ?)", (i + 1, bodies[i]))
        conn.execute("COMMIT")
        rows = conn.execute("SELECT seq, body FROM m WHERE session_id='s' ORDER BY seq DESC LIMIT 20").fetchall()
        [json.loads(body) for _, body in rows]
        times.append(time.perf_counter() - start)
    return times


def memwise(path: Path) -> list[float]:
    storage = SqliteStorage(db_file=path)
    storage.create_session("s")
    batches = [messages(i) for i in range(OPS)]
    times = []
    for i in range(OPS):
        start = time.perf_counter()
        storage.append_messages("s", batches[i])
        storage.read_messages("s", after_seq=max(0, i + 1 - 20))
        times.append(time.perf_counter() - start)
    storage.close()
    return times


def report(name: str, times: list[float]) -> float:
    ops = len(times) / sum(times)
    p50 = statistics.median(times) * 1e6
    p95 = sorted(times)[int(len(times) * 0.95)] * 1e6
    print(f"{name:10} {ops:8.0f} ops/s   p50 {p50:6.0f} us   p95 {p95:6.0f} us")
    return ops


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        floor = report("sqlite3", bare(Path(tmp) / "bare.db"))
        ours = report("memwise", memwise(Path(tmp) / "memwise.db"))
        print(f"memwise / floor: {ours / floor:.2f}")
