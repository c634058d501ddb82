"""Append one message + read the last 20: memwise JSONStorage vs bare file I/O, same machine, same run.

The floor appends one JSON line to an open file (fdatasync'ed when durable) and reads the last 20
lines back from the file's tail: no locking, no seq bookkeeping, no crash recovery, no message
validation. Both run durable (fsync, the JSONStorage default) and not (fsync=False). The two are
interleaved op by op, so a busy machine slows both alike.

Usage: python bench/backends/json_floor.py [ops]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.json import JSONStorage

OPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


class Bare:
    def __init__(self, path: Path, durable: bool) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.durable = durable
        self.lines = [
            (json.dumps({"seq": i + 1, "body": json.dumps({"i": i, "text": "x" * 200})}) + "\n").encode()
            for i in range(OPS)
        ]

    def op(self, i: int) -> None:
        os.write(self.fd, self.lines[i])
        if self.durable:
            os.fdatasync(self.fd)
        size = os.fstat(self.fd).st_size
        tail = os.pread(self.fd, min(size, 16384), max(0, size - 16384))
        [json.loads(line) for line in tail.split(b"\n")[-21:-1]]

    def close(self) -> None:
        os.close(self.fd)


class Memwise:
    def __init__(self, path: Path, durable: bool) -> None:
        self.storage = JSONStorage(db_path=path, fsync=durable)
        self.storage.create_session("s")
        self.batches = [messages(i) for i in range(OPS)]

    def op(self, i: int) -> None:
        self.storage.append_messages("s", self.batches[i])
        self.storage.read_messages("s", after_seq=max(0, i + 1 - 20))

    def close(self) -> None:
        self.storage.close()


def run(contenders: list) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in contenders]
    for i in range(OPS):
        for runner, spent in zip(contenders, times):
            start = time.perf_counter()
            runner.op(i)
            spent.append(time.perf_counter() - start)
    for runner in contenders:
        runner.close()
    return times


def report(name: str, times: list[float]) -> float:
    ops = len(times) / sum(times)
    p50 = statistics.median(times) * 1e6
    p95 = sorted(times)[int(len(times) * 0.95)] * 1e6
    print(f"{name:22} {ops:8.0f} ops/s   p50 {p50:6.0f} us   p95 {p95:6.0f} us")
    return ops


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        for durable in (True, False):
            label = "fsync" if durable else "no fsync"
            bare, ours = run([Bare(Path(tmp) / f"bare-{durable}.jsonl", durable), Memwise(Path(tmp) / f"mw-{durable}", durable)])
            floor = report(f"bare files ({label})", bare)
            mine = report(f"memwise ({label})", ours)
            print(f"memwise / floor ({label}): {mine / floor:.2f}   (p50 ratio {statistics.median(bare) / statistics.median(ours):.2f})")
