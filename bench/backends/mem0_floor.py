"""Append one message + read the last 20: memwise Mem0Storage vs the bare mem0 Memory doing the
same work (one memory per message with its metadata, `add(infer=False)`, then `get_all` with a
seq filter), same machine, same run. Both run offline: mem0's open-source Memory on a local
qdrant (`:memory:`), history in memory, and the tests' deterministic hashing embedder.

Usage: python bench/backends/mem0_floor.py [ops]     (from the repository root)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.support

from memwise.storage.mem0 import Mem0Storage  # noqa: E402  (first: turns mem0 telemetry off)
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart  # noqa: E402

from tests.support.mem0_backend import offline_memory  # noqa: E402

OPS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def messages(i: int) -> list:
    if i % 2 == 0:
        return [ModelRequest(parts=[UserPromptPart(f"question {i} " + "x" * 200)])]
    return [ModelResponse(parts=[TextPart(f"answer {i} " + "y" * 200)])]


class Bare:
    """The floor: mem0 Memory calls only, the same data per op."""

    def __init__(self) -> None:
        self.memory = offline_memory()
        self.bodies = [json.dumps({"i": i, "text": "x" * 200}) for i in range(OPS)]

    def op(self, i: int) -> None:
        self.memory.add(
            [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "x" * 200}],
            user_id="u", run_id="s", metadata={"session": "s", "seq": i + 1, "body": self.bodies[i]}, infer=False,
        )
        found = self.memory.get_all(filters={"seq": {"gt": i + 1 - 20}, "run_id": "s"}, top_k=20)["results"]
        [json.loads(item["metadata"]["body"]) for item in sorted(found, key=lambda item: item["metadata"]["seq"])]

    def close(self) -> None:
        self.memory.close()


class Memwise:
    def __init__(self) -> None:
        self.storage = Mem0Storage(memory_client=offline_memory(), close_client=True)
        self.storage.create_session("s", user_id="u")
        self.batches = [messages(i) for i in range(OPS)]

    def op(self, i: int) -> None:
        self.storage.append_messages("s", self.batches[i])
        self.storage.read_messages("s", after_seq=max(0, i + 1 - 20))

    def close(self) -> None:
        self.storage.close()


def measure() -> dict[str, tuple[list[float], float]]:
    """Alternate chunks of both, so both see the same machine load (the stores grow alike)."""
    runners = {"mem0": Bare(), "memwise": Memwise()}
    times: dict[str, list[float]] = {name: [] for name in runners}
    cpu = dict.fromkeys(runners, 0.0)
    chunk = max(1, OPS // 20)
    for first in range(0, OPS, chunk):
        for name, runner in runners.items():
            started_cpu = time.process_time()
            for i in range(first, min(OPS, first + chunk)):
                start = time.perf_counter()
                runner.op(i)
                times[name].append(time.perf_counter() - start)
            cpu[name] += time.process_time() - started_cpu
    for runner in runners.values():
        runner.close()
    return {name: (times[name], cpu[name]) for name in runners}


def report(name: str, times: list[float], cpu: float) -> float:
    ops = len(times) / sum(times)
    p50 = statistics.median(times) * 1e3
    p95 = sorted(times)[int(len(times) * 0.95)] * 1e3
    print(f"{name:10} {ops:8.1f} ops/s   p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   ({len(times) / cpu:7.1f} ops per CPU second)")
    return ops


if __name__ == "__main__":
    print(f"{OPS} x (append one message + read the last 20), mem0 Memory on local qdrant (:memory:)")
    results = measure()
    floor = report("mem0", *results["mem0"])
    ours = report("memwise", *results["memwise"])
    print(f"memwise / floor: {ours / floor:.2f}")
