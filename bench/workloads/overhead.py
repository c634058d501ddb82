"""Workload 1: per-turn memory overhead (load the context + persist the turn) by session length.

For each backend and session length L: a session is brought to L − (warm-up + window) turns by
appending stored turns through the storage API (`--drive` drives every turn through the agent
instead), then the last turns up to L run through `Agent(FunctionModel, memory=Memory(...,
full_session_memory=True, num_last_messages=10))`. Two measures per turn:
- memory's overhead: the time the turn spends in memory's own steps (bench.memory_path: the read
  plan with the run record, the history window, the write plan that completes the run);
- the agent's overhead: the turn's time − the median turn of the same agent *without* memory,
  run interleaved (so machine noise hits both alike). It also holds pydantic-ai's own cost of
  handling the 20 history messages memory hands it, which is not memwise's code.

Floor: the bare driver appending one turn (request + answer, one write) and reading the last 20
messages, on a session of the same length, in the same run. Ratio = memory's overhead p50 / floor p50.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import Mode, Section, Unavailable, guarded, need, p50, pct, us
from bench.fake import memwise_models, turn_messages, user_prompt
from bench.memory_path import clocked_memory_runs
from bench.stores import BACKENDS, message_bodies, open_backend

HISTORY_TURNS = 10
WARM = 3
MIN_SAMPLES = 30  # turns measured at least, per length (several sessions for short lengths)
USER = "bench-user"


def run(mode: Mode, section: Section, backends: tuple[str, ...] = BACKENDS, deadline_s: float | None = None) -> None:
    need("memwise.agent", "the Agent layer is not there yet")
    need("memwise.memory", "the Memory layer is not there yet")
    section.notes.append(
        f"Memory(full_session_memory=True, num_last_messages={HISTORY_TURNS}); answer model: FunctionModel; "
        f"memory overhead = time in memory's own steps of the agent turn (read plan with the run record, window, "
        f"write plan completing the run); agent overhead = turn time with memory − median turn time of the same "
        f"agent without memory (interleaved), which adds pydantic-ai's handling of the longer history. "
        f"Turns measured per length: {', '.join(f'{L}: {mode.window(L)}' + (f' x {-(-MIN_SAMPLES // mode.window(L))} sessions' if L <= 100 and mode.window(L) < MIN_SAMPLES else '') for L in mode.lengths)} "
        f"(the turns just before the length, after {WARM} warm-up turns). "
        + ("Every turn driven through the agent." if mode.drive_all else
           "Turns before the window are prefilled through the storage API (append_messages).")
    )
    budget = deadline_s or (15.0 if mode.quick else 120.0)
    for name in backends:
        guarded(section, name, lambda name=name: _backend(mode, section, name, budget))


def _backend(mode: Mode, section: Section, name: str, budget: float) -> None:
    from memwise import Agent, Memory, Task

    answer_model, _ = memwise_models()
    started = time.perf_counter()
    with open_backend(name) as backend, clocked_memory_runs() as clock:
        storage = backend.storage()
        floor = backend.floor()
        bodies = message_bodies()
        for length in mode.lengths:
            if time.perf_counter() - started > budget:
                section.skip(f"{name} @ {length}", f"time budget of {budget:.0f} s for this backend spent")
                continue
            window = mode.window(length)
            lead = max(0, length - window - WARM)
            # short sessions give few turns each: measure several sessions to get enough samples
            reps = max(1, -(-MIN_SAMPLES // window)) if length <= 100 else 1
            with_mem: list[float] = []
            without: list[float] = []
            in_memory: list[float] = []
            prefill_s = 0.0
            # a slow backend gets fewer samples rather than blowing the run's time limit
            share = max(5.0, (budget - (time.perf_counter() - started)) / 2)
            measure_until = time.perf_counter() + share
            for _ in range(reps):
                if with_mem and time.perf_counter() > measure_until:
                    break
                sid = f"w1-{length}-{uuid.uuid4().hex[:8]}"
                t0 = time.perf_counter()
                bare = Agent(answer_model)
                memory = Memory(storage, session_id=sid, user_id=USER, full_session_memory=True,
                                num_last_messages=HISTORY_TURNS)
                agent = Agent(answer_model, memory=memory)
                if mode.drive_all:
                    for turn in range(1, lead + 1):
                        agent.do(Task(user_prompt(turn)))
                else:
                    storage.create_session(sid, user_id=USER)
                    for start in range(1, lead + 1, 250):
                        batch = [m for turn in range(start, min(lead, start + 249) + 1) for m in turn_messages(turn)]
                        storage.append_messages(sid, batch)
                prefill_s += time.perf_counter() - t0
                measured = 0
                for i in range(WARM + window):
                    if i >= WARM + 5 and time.perf_counter() > measure_until:
                        section.notes.append(f"{name} @ {length}: only {len(with_mem)} turns measured (time cap)")
                        break
                    turn = lead + i + 1
                    clock.take()
                    t = time.perf_counter()
                    agent.do(Task(user_prompt(turn)))
                    t_mem = time.perf_counter() - t
                    t_memory = clock.take()
                    t = time.perf_counter()
                    bare.do(Task(user_prompt(turn)))
                    t_bare = time.perf_counter() - t
                    if i >= WARM:
                        with_mem.append(t_mem)
                        without.append(t_bare)
                        in_memory.append(t_memory)
                        measured += 1
                done = lead + WARM + measured
                stored = storage.read_messages(sid, last_turns=1)
                last_seq = stored[-1].seq if stored else 0
                if last_seq != 2 * done:
                    raise Unavailable(f"session of {done} turns holds {last_seq} messages, expected {2 * done}")
            # the floor, on a session of the same length
            fsid = f"floor-{length}-{uuid.uuid4().hex[:8]}"
            floor.prefill(fsid, [bodies[i % 2] for i in range(2 * length)])
            ftimes = []
            floor_until = time.perf_counter() + (5.0 if mode.quick else 15.0)
            for k in range(WARM + mode.floor_ops):
                if k >= WARM + 20 and time.perf_counter() > floor_until:
                    break
                t = time.perf_counter()
                floor.op(fsid, 2 * (length + k) + 1, bodies)
                if k >= WARM:
                    ftimes.append(time.perf_counter() - t)
            base = p50(without)
            over = [x - base for x in with_mem]
            row: dict[str, Any] = {
                "backend": backend.label,
                "key": name,
                "length": length,
                "turns_measured": len(with_mem),
                "memory_p50_us": us(p50(in_memory)),
                "memory_p95_us": us(pct(in_memory, 0.95)),
                "overhead_p50_us": us(p50(over)),
                "overhead_p95_us": us(pct(over, 0.95)),
                "turn_with_memory_p50_us": us(p50(with_mem)),
                "turn_without_memory_p50_us": us(base),
                "floor_p50_us": us(p50(ftimes)),
                "floor_p95_us": us(pct(ftimes, 0.95)),
                "floor_ops": len(ftimes),
                "floor": backend.floor_label,
                "prefill_s": round(prefill_s, 2),
            }
            row["ratio_to_floor"] = row["memory_p50_us"] / row["floor_p50_us"]
            section.rows.append(row)
            section.raw.setdefault("samples", {})[f"{name}@{length}"] = {
                "with_memory_s": with_mem, "without_memory_s": without, "memory_steps_s": in_memory, "floor_s": ftimes,
            }
            print(
                f"  [overhead] {name:8} L={length:5}: memory p50 {row['memory_p50_us']:7.0f} µs "
                f"p95 {row['memory_p95_us']:7.0f} µs | agent overhead p50 {row['overhead_p50_us']:7.0f} µs "
                f"| floor p50 {row['floor_p50_us']:6.0f} µs "
                f"| ratio {row['ratio_to_floor']:.2f}",
                flush=True,
            )
        floor.close()
