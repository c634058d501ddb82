"""Memory overhead per turn: load (before the model call) + save (after it), on SQLite.

The answer is simulated (no model call is timed); memory's own LLM calls (summary, traits) go
to an instant fake model, so their pydantic-ai overhead is included in "save" for the configs
that use them. Sessions are pre-filled to 10 and 1,000 turns; then TURNS turns are timed.

    .venv/bin/python bench/memory_overhead.py [--turns 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.usage import RunUsage

from memwise import Memory
from memwise.memory.run import MemoryRun
from memwise.storage.sqlite import SqliteStorage

SENTENCE = "I am working on the ingestion service and would like advice on batching and retries. "


def fake_llm(messages, info) -> ModelResponse:
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"interests": ["batching"]})])
    return ModelResponse(parts=[TextPart("Summary: the user works on ingestion, batching and retries.")])


def turn(i: int) -> list:
    return [
        ModelRequest(parts=[UserPromptPart(f"Turn {i}. {SENTENCE * 2}")]),
        ModelResponse(parts=[TextPart(f"Answer {i}. " + "Use bounded queues and exponential backoff. " * 4)]),
    ]


CONFIGS = {
    "history (num_last_messages=10)": dict(full_session_memory=True, num_last_messages=10),
    "history (token budget only)": dict(full_session_memory=True),
    "history+summary+profile": dict(full_session_memory=True, summary_memory=True, user_analysis_memory=True,
                                    num_last_messages=10),
}


async def measure(db: Path, prefill: int, flags: dict, turns: int) -> tuple[list[float], list[float]]:
    storage = SqliteStorage(db_file=str(db))
    model = FunctionModel(fake_llm)
    memory = Memory(storage, session_id=f"s-{uuid.uuid4().hex[:8]}", user_id="bench-user", model=model, **flags)
    await storage.acreate_session(memory.session_id, user_id=memory.user_id)
    for start in range(0, prefill, 100):  # pre-fill in batches of 100 turns
        await storage.aappend_messages(memory.session_id, [m for i in range(start, min(prefill, start + 100)) for m in turn(i)])
    session = await storage.aget_session(memory.session_id)
    last = (await storage.aread_messages(memory.session_id, last_turns=1))[-1].seq
    await storage.aupdate_session(memory.session_id, expected_version=session.version, summarized_through=last)
    loads, saves = [], []
    for i in range(prefill, prefill + turns + 3):  # the first 3 warm up
        run = MemoryRun(memory, run_id=str(uuid.uuid4()), agent_id=None, model=model)
        t0 = time.perf_counter()
        await run.begin()
        await run.open()
        t1 = time.perf_counter()
        await run.complete(turn(i), RunUsage(requests=1, input_tokens=100, output_tokens=20))
        t2 = time.perf_counter()
        if i >= prefill + 3:
            loads.append((t1 - t0) * 1e6)
            saves.append((t2 - t1) * 1e6)
    storage.close()
    return loads, saves


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=50)
    args = parser.parse_args()
    print(f"{'config':34} {'turns':>6} {'load p50':>9} {'load p95':>9} {'save p50':>9} {'save p95':>9} {'total p50':>10} {'total p95':>10}  (µs)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in CONFIGS.items():
            for prefill in (10, 1_000):
                loads, saves = asyncio.run(measure(Path(tmp) / "bench.db", prefill, flags, args.turns))
                totals = [a + b for a, b in zip(loads, saves, strict=True)]
                print(
                    f"{name:34} {prefill:>6} {pct(loads, 50):>9.0f} {pct(loads, 95):>9.0f} {pct(saves, 50):>9.0f} "
                    f"{pct(saves, 95):>9.0f} {pct(totals, 50):>10.0f} {pct(totals, 95):>10.0f}"
                )


if __name__ == "__main__":
    main()
