"""A seed-style script, run in a fresh interpreter by test_quiet_exit.py:

    python -W error -m tests.exit.scenario RECIPE_JSON PATTERN never|close

It builds the storage at module level as the seeds do, runs turns in one of the patterns below
through an Agent with memory (summary and profile on, a fake model reading its prompt), then
closes the storage or leaves it to the interpreter's exit. Anything it prints to stderr fails.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

from memwise import Agent, Memory, Task
from tests.memory.fakes import ReadingModel
from tests.support.recipe import Recipe

PATTERNS = ("once", "threads", "run_twice", "threads_then_run")
ENDINGS = ("never", "close")

storage: Any = None
model: Any = None


def agent(session_id: str) -> Agent:
    memory = Memory(
        storage=storage, session_id=session_id, user_id="u1", full_session_memory=True,
        summary_memory=True, user_analysis_memory=True, model=model,
    )
    return Agent(model, memory=memory)


def turn(session_id: str) -> None:
    agent(session_id).do(Task("My name is Alice and I'm a Python developer"))


async def aturn(session_id: str) -> None:
    await agent(session_id).do_async(Task("What is my name?"))


def from_threads(count: int = 8) -> None:
    threads = [threading.Thread(target=turn, args=(f"thread-{i}",)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":  # as a seed script: the storage and the model are module globals
    storage = Recipe(**json.loads(sys.argv[1])).build()
    model = ReadingModel().model
    pattern, ending = sys.argv[2], sys.argv[3]
    if pattern == "once":
        turn("once")
    elif pattern == "threads":
        from_threads()
    elif pattern == "run_twice":
        asyncio.run(aturn("run-1"))
        asyncio.run(aturn("run-2"))
    elif pattern == "threads_then_run":
        from_threads()
        asyncio.run(aturn("after-threads"))
    else:
        raise SystemExit(f"unknown pattern {pattern!r}; one of {PATTERNS}")

    stored = sum(len(storage.read_messages(s.session_id)) for s in storage.list_sessions(limit=100).items)
    if ending == "close":
        storage.close()
    print(f"stored {stored} messages")
