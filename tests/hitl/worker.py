"""One step of a HITL run in its own process: `python -m tests.hitl.worker JOB DB ...`.

    start DB PROMPT                 run until it pauses; print the RunOutput as JSON
    resume DB RUN_ID DECISIONS      a new Agent decides and continues; print the result as JSON
    resume-bare DB RUN_ID DECISIONS the same with an Agent given no tools (this process imported them)
    hang DB PROMPT TTL              run until the `step` tool, which prints "started" and blocks
"""

from __future__ import annotations

import asyncio
import json
import sys

from memwise import Agent, Memory
from memwise.storage.sqlite import SqliteStorage
from tests.hitl import support


def agent_on(db: str, model: support.ScriptedModel, tools: list | None = support.TOOLS, **kwargs) -> Agent:
    memory = Memory(SqliteStorage(db_file=db), session_id="s1", user_id="u1", full_session_memory=True)
    return Agent(model.model, memory=memory, tools=tools, **kwargs)


def decide(requirements, decisions: dict) -> None:
    """decisions: tool name -> {"confirm": true} | {"reject": note} | {"result": value} | {"input": {...}}"""
    for requirement in requirements:
        choice = decisions[requirement.tool_execution.tool_name]
        if "reject" in choice:
            requirement.reject(note=choice["reject"])
        elif "confirm" in choice:
            requirement.confirm()
        elif "result" in choice:
            requirement.tool_execution.result = choice["result"]
        else:
            for field in requirement.user_input_schema:
                field.value = choice["input"][field.name]


def main(job: str, db: str, *args: str) -> None:
    model = support.ScriptedModel()
    if job == "start":
        print(json.dumps(agent_on(db, model).do(args[0], return_output=True).to_dict()))
    elif job in ("resume", "resume-bare"):
        agent = agent_on(db, model, tools=None if job == "resume-bare" else support.TOOLS)
        paused = agent.get_run_output(args[0])
        decide(paused.active_requirements, json.loads(args[1]))
        done = agent.continue_run(return_output=True, run_id=args[0], requirements=paused.active_requirements)
        print(json.dumps({**done.to_dict(), "results": model.last_results(), "effects": support.EFFECTS.calls}))
    elif job == "hang":
        async def block() -> None:
            print("started", flush=True)
            while True:  # a tool still working when the process is killed (the lease keeps renewing)
                await asyncio.sleep(0.05)

        support.EFFECTS.on_call = block
        agent_on(db, model, lease_ttl=float(args[1])).do(args[0])
    else:
        raise SystemExit(f"unknown job {job}")


if __name__ == "__main__":
    main(*sys.argv[1:])
