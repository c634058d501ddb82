"""Workload 2: tokens sent to memory's own LLM calls per turn (summary + user analysis on).

One session driven turn by turn through `Agent(answer FunctionModel, memory=Memory(
full_session_memory=True, summary_memory=True, user_analysis_memory=True, model=<counting
FunctionModel>))` on SQLite. The memory model counts every token it receives (instructions,
messages, output-tool schemas; `bench.fake.count_tokens`). Reported at turn N: the mean per turn
over the turns just before N, and pydantic-ai's own count (`RunOutput.usage.memory.input_tokens`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from bench.common import Mode, Section, Unavailable, need
from bench.fake import TokenCounter, memwise_models, user_prompt

WINDOW = 10


def run(mode: Mode, section: Section) -> None:
    need("memwise.agent", "the Agent layer is not there yet")
    from memwise import Agent, Memory, Task
    from memwise.storage.sqlite import SqliteStorage

    counter = TokenCounter()
    answer_model, memory_model = memwise_models(counter)
    tmp = tempfile.mkdtemp(prefix="mwbench-tokens-")
    section.notes.append(
        "Memory(full_session_memory, summary_memory, user_analysis_memory on; model = counting FunctionModel), "
        f"SQLite. Tokens per turn = mean over the {WINDOW} turns up to N; 'counted' = every token the memory "
        "model received (words and punctuation), 'pydantic-ai' = RunOutput.usage.memory.input_tokens."
    )
    try:
        storage = SqliteStorage(db_file=os.path.join(tmp, "tokens.db"))
        memory = Memory(
            storage, session_id="w2", user_id="bench-user", full_session_memory=True, summary_memory=True,
            user_analysis_memory=True, model=memory_model,
        )
        agent = Agent(answer_model, memory=memory)
        counted: list[int] = []
        calls: list[int] = []
        reported: list[int] = []
        largest: list[int] = []
        started = time.perf_counter()
        last = max(mode.token_turns)
        for turn in range(1, last + 1):
            out = agent.do(Task(user_prompt(turn)), return_output=True)
            memory.flush()  # memory's calls follow the answer; its usage lands on `out` when made
            got = counter.take()
            counted.append(sum(got))
            largest.append(max(got, default=0))
            calls.append(len(got))
            reported.append(int(out.usage.memory.input_tokens))
        elapsed = time.perf_counter() - started
        if not any(calls):
            raise Unavailable("memory made no LLM call at all (summary/user analysis did not run)")
        for n in mode.token_turns:
            win = slice(max(0, n - WINDOW), n)
            section.rows.append({
                "turn": n,
                "tokens_per_turn": sum(counted[win]) / len(counted[win]),
                "max_call_tokens": max(largest[win]),
                "calls_per_turn": sum(calls[win]) / len(calls[win]),
                "pydantic_ai_tokens_per_turn": sum(reported[win]) / len(reported[win]),
            })
            r = section.rows[-1]
            print(f"  [tokens] turn {n:5}: {r['tokens_per_turn']:8.0f} tokens/turn "
                  f"({r['calls_per_turn']:.1f} calls; pydantic-ai says {r['pydantic_ai_tokens_per_turn']:.0f})", flush=True)
        section.raw.update({"counted": counted, "largest_call": largest, "calls": calls, "pydantic_ai": reported, "seconds": elapsed})
        storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
