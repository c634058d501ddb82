"""Workload 5: turn latency when memory's model is slow, answer first (background updates) against
memory updated within the turn (`background_updates=False`).

`Agent(instant answer FunctionModel, memory=Memory(full_session_memory, summary_memory,
user_analysis_memory, model=<FunctionModel that takes 1 s per call (asyncio.sleep)>))` on SQLite,
sync `agent.do`. Two rhythms: the user pausing 2.5 s between turns (reading and typing), and turns
back to back. "Answer time" is the same agent with an instant memory model: loading memory, the
answer and storing the turn, measured in the same rhythm (also shown: history only). Target: with a
pause, p50 and p95 of `agent.do` with background updates within 10 ms of the answer time's. Back to back, the next turn waits for the
previous turn's updates (read-your-writes): the table shows where the wait went.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time

from bench.common import Mode, Section, need, p50, pct
from bench.fake import memwise_models, user_prompt

MEMORY_CALL_SECONDS = 1.0
PAUSE_SECONDS = 2.5
WARM_UP = 2  # turns not counted: the first one, and the first with history to load


def memory_model(seconds: float):
    """The shared fake memory model, each call taking `seconds` (without blocking the loop)."""
    from pydantic_ai.models.function import FunctionModel

    _, fast = memwise_models()

    async def slow(messages, info):
        await asyncio.sleep(seconds)
        return fast.function(messages, info)

    return FunctionModel(slow, model_name=f"fake-memory-{seconds:g}s")


CONFIGS = (  # label, summary and profile on, memory call seconds, background updates
    ("answer time (same memory, instant memory model)", True, 0.0, True),
    ("answer time (history only)", False, 0.0, True),
    ("background updates", True, MEMORY_CALL_SECONDS, True),
    ("background_updates=False", True, MEMORY_CALL_SECONDS, False),
)


def run(mode: Mode, section: Section) -> None:
    need("memwise.agent", "the Agent layer is not there yet")
    turns = 7 if mode.quick else 9
    section.notes.append(
        f"Memory(history, summary, profile on) on SQLite; answer model instant, memory model {MEMORY_CALL_SECONDS:.0f} s per "
        f"call (two calls per turn: summary, profile; they run side by side in the background); {turns} turns per row, the first {WARM_UP} not counted (warm-up). "
        f"'pause' = {PAUSE_SECONDS} s after every turn, the three agents taking turns round-robin so the machine's noise "
        "hits them alike; back to back, each agent alone. 'answer time' = the same agent with an instant memory model "
        "(what the answer itself costs: context, answer, storing the turn), and with history only; 'over the answer' "
        "compares each row with the first. 'caught up' = memory.flush() after the last turn (the wait left over)."
    )
    tmp = tempfile.mkdtemp(prefix="mwbench-answerfirst-")
    try:
        for pause in (PAUSE_SECONDS, 0.0):
            groups = [CONFIGS] if pause else [(config,) for config in CONFIGS]
            results = {}
            for group in groups:
                results.update(_measure(tmp, group, turns, pause))
            baseline = results[CONFIGS[0][0]]
            for label, *_ in CONFIGS:
                _row(section, label, pause, results[label], baseline)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(tmp: str, configs: tuple, turns: int, pause: float) -> dict[str, dict]:
    """Drive the configs' agents turn by turn, round-robin, pausing `pause` after every turn."""
    from memwise import Agent, Memory, Task
    from memwise.storage.sqlite import SqliteStorage

    answer_model, _ = memwise_models()
    agents = {}
    for label, summary, seconds, background in configs:
        tag = f"{len(os.listdir(tmp))}"
        storage = SqliteStorage(db_file=os.path.join(tmp, f"{tag}.db"))
        memory = Memory(
            storage, session_id=f"af-{tag}", user_id="bench-user", full_session_memory=True,
            summary_memory=summary, user_analysis_memory=summary, model=memory_model(seconds),
            background_updates=background,
        )
        agents[label] = Agent(answer_model, memory=memory)
    times: dict[str, list[float]] = {label: [] for label in agents}
    for turn in range(1, turns + 1):
        for label, agent in agents.items():
            t0 = time.perf_counter()
            agent.do(Task(user_prompt(turn)))
            if turn > WARM_UP:
                times[label].append((time.perf_counter() - t0) * 1000)
            if pause and turn < turns:
                time.sleep(pause)
    results = {}
    for label, agent in agents.items():
        t0 = time.perf_counter()
        agent.memory.flush()
        results[label] = {"times_ms": times[label], "caught_up_ms": (time.perf_counter() - t0) * 1000}
        agent.memory.storage.close()
    return results
def _row(section: Section, label: str, pause: float, result: dict, baseline: dict) -> None:
    times, base = result["times_ms"], baseline["times_ms"]
    row = {
        "config": label,
        "pause_s": pause,
        "p50_ms": p50(times),
        "p95_ms": pct(times, 0.95),
        "over_answer_p50_ms": p50(times) - p50(base),
        "over_answer_p95_ms": pct(times, 0.95) - pct(base, 0.95),
        "caught_up_ms": result["caught_up_ms"],
    }
    section.rows.append(row)
    section.raw.setdefault("times_ms", {})[f"{label} / pause {pause}"] = times
    print(f"  [answerfirst] {label:28} pause {pause:3.1f} s: do p50 {row['p50_ms']:8.1f} ms, p95 {row['p95_ms']:8.1f} ms "
          f"({row['over_answer_p50_ms']:+.1f} / {row['over_answer_p95_ms']:+.1f} ms against the answer), "
          f"caught up {row['caught_up_ms']:.0f} ms after the last turn", flush=True)
