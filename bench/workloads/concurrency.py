"""Workload 3: 1, 10 and 100 sessions driven concurrently through the async API.

memwise: one storage, one `Agent(FunctionModel, memory=Memory(session i, full_session_memory=True,
num_last_messages=10))` per session, all sessions run `do_async` turn after turn as asyncio tasks
on one event loop. Throughput = turns / wall time; afterwards every session must hold exactly
2 messages per turn (lost messages must be 0). Compared with, at the same concurrency:
- the same agents without memory (the ceiling pydantic-ai + FunctionModel allow here);
- memory's path alone (bench.memory_path.memory_turn: what the agent does for memory, without
  pydantic-ai: the run record and the context in one read plan, the turn and the run's completion
  in one write plan), which separates memwise from the agent framework around it;
- the bare async driver doing the floor's work (append the turn's two messages in one write,
  read the last 20).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from bench.common import Mode, Section, guarded, need
from bench.fake import memwise_models, turn_messages, user_prompt
from bench.memory_path import memory_turn
from bench.stores import message_bodies, open_backend

HISTORY_TURNS = 10
BACKENDS = ("postgres", "redis")


def run(mode: Mode, section: Section) -> None:
    need("memwise.agent", "the Agent layer is not there yet")
    section.notes.append(
        f"{mode.concurrent_turns} turns per session; Memory(full_session_memory=True, num_last_messages={HISTORY_TURNS}); "
        "one asyncio event loop, one storage per backend (its default pool). 'agent w/o memory' = the same "
        "agents with memory=None (the ceiling pydantic-ai + FunctionModel allow on this machine)."
    )
    for name in BACKENDS:
        guarded(section, name, lambda name=name: asyncio.run(_backend(mode, section, name)))


async def _backend(mode: Mode, section: Section, name: str) -> None:
    from memwise import Agent, Memory, Task

    answer_model, _ = memwise_models()
    bodies = message_bodies()
    turns = mode.concurrent_turns
    with open_backend(name) as backend:
        storage = backend.storage()
        afloor = backend.afloor()
        await afloor.open()
        try:
            await storage.acreate_session("warm-up")  # schema + pools ready before timing
            for n in mode.concurrency:
                tag = uuid.uuid4().hex[:6]
                sids = [f"w3-{n}-{tag}-{i}" for i in range(n)]
                agents = [
                    Agent(answer_model, memory=Memory(storage, session_id=sid, user_id=f"u{i}",
                                                      full_session_memory=True, num_last_messages=HISTORY_TURNS))
                    for i, sid in enumerate(sids)
                ]
                bare_agents = [Agent(answer_model) for _ in sids]

                async def drive(agent, i):
                    for turn in range(1, turns + 1):
                        await agent.do_async(Task(user_prompt(turn)))

                t = time.perf_counter()
                results = await asyncio.gather(*(drive(a, i) for i, a in enumerate(agents)), return_exceptions=True)
                wall = time.perf_counter() - t
                errors = [r for r in results if isinstance(r, BaseException)]
                counts = [len(await storage.aread_messages(sid)) for sid in sids]
                lost = sum(max(0, 2 * turns - c) for c in counts)
                extra = sum(max(0, c - 2 * turns) for c in counts)

                t = time.perf_counter()
                await asyncio.gather(*(drive(a, i) for i, a in enumerate(bare_agents)))
                bare_agent_wall = time.perf_counter() - t

                # memory's own path, no agent: what the memwise agents above did for memory
                memories = [
                    Memory(storage, session_id=f"w3m-{n}-{tag}-{i}", user_id=f"u{i}", full_session_memory=True,
                           num_last_messages=HISTORY_TURNS)
                    for i in range(n)
                ]

                async def memory_session(memory):
                    for turn in range(1, turns + 1):
                        await memory_turn(memory, answer_model, turn_messages(turn))

                t = time.perf_counter()
                await asyncio.gather(*(memory_session(m) for m in memories))
                memory_wall = time.perf_counter() - t
                memory_lost = sum([2 * turns - len(await storage.aread_messages(m.session_id)) for m in memories])

                fsids = [f"floor-{n}-{tag}-{i}" for i in range(n)]

                async def floor_session(sid):
                    for k in range(turns):
                        await afloor.op(sid, 2 * k + 1, bodies)

                t = time.perf_counter()
                await asyncio.gather(*(floor_session(s) for s in fsids))
                floor_wall = time.perf_counter() - t
                floor_lost = sum([2 * turns - await afloor.count(s) for s in fsids])

                total = n * turns
                row = {
                    "backend": backend.label,
                    "key": name,
                    "sessions": n,
                    "turns": total,
                    "turns_per_s": total / wall,
                    "lost_messages": lost,
                    "unexpected_messages": extra,
                    "errors": len(errors),
                    "agent_without_memory_turns_per_s": total / bare_agent_wall,
                    "floor_turns_per_s": total / floor_wall,
                    "floor_lost": floor_lost,
                    "memory_turns_per_s": total / memory_wall,
                    "memory_lost": memory_lost,
                }
                row["memory_ratio_to_floor"] = row["memory_turns_per_s"] / row["floor_turns_per_s"]
                row["ratio_to_floor"] = row["turns_per_s"] / row["floor_turns_per_s"]
                section.rows.append(row)
                if errors:
                    section.raw.setdefault("errors", {})[f"{name}x{n}"] = [repr(e) for e in errors[:5]]
                print(
                    f"  [concurrency] {name:8} x{n:3}: {row['turns_per_s']:7.1f} turns/s, lost {lost}, errors {len(errors)} | "
                    f"agent w/o memory {row['agent_without_memory_turns_per_s']:7.1f} | floor {row['floor_turns_per_s']:7.1f} turns/s "
                    f"| ratio {row['ratio_to_floor']:.2f} | memory path alone {row['memory_turns_per_s']:7.1f} "
                    f"({row['memory_ratio_to_floor']:.0%} of the floor), lost {memory_lost}",
                    flush=True,
                )
        finally:
            await afloor.close()
            if hasattr(storage, "aclose"):
                await storage.aclose()
                backend._storage = None
