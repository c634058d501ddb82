"""Human in the loop, as the original's docs write it: a Task with a tool that needs confirmation
pauses; a person approves it in another process, where a new Agent (with no tools of its own)
continues the run. The paused run waits in storage (SQLite here), so the approver can be a
different process, machine or day.

    python examples/hitl_approval.py                     # both steps; the approval runs in a child process
    python examples/hitl_approval.py start               # step 1: run until it pauses; prints the run id
    python examples/hitl_approval.py approve RUN_ID      # step 2, from any process
    python examples/hitl_approval.py reject RUN_ID "not during business hours"

Offline by default (a tiny stand-in model); set MEMWISE_MODEL (e.g. "openai/gpt-4o") for a real one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise import Agent, Task
from memwise.storage import Memory, SqliteStorage
from memwise.tools import tool


@tool(requires_confirmation=True)
def delete_records(table: str, older_than_days: int) -> str:
    """Delete records older than `older_than_days` from `table`. Irreversible."""
    return f"deleted 1204 rows from {table} older than {older_than_days} days"


def _offline(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Calls the tool for a clean-up request; reports what the tool (or the approver) said."""
    returned = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
    if returned:
        part = returned[0]
        if part.outcome == "denied":
            return ModelResponse(parts=[TextPart(f"I did not delete anything. The approver said: {part.content}")])
        return ModelResponse(parts=[TextPart(f"Done: {part.content}.")])
    prompt = " ".join(p.content for p in messages[-1].parts if isinstance(p, UserPromptPart))
    found = re.search(r"(\w+) table.*?(\d+) days", prompt)
    if not found:
        return ModelResponse(parts=[TextPart("Nothing to clean up.")])
    args = {"table": found.group(1), "older_than_days": int(found.group(2))}
    return ModelResponse(parts=[ToolCallPart("delete_records", args)])


MODEL = os.environ.get("MEMWISE_MODEL") or FunctionModel(_offline, model_name="offline-demo")


def make_memory() -> Memory:
    return Memory(SqliteStorage(db_file="hitl.db"), session_id="ops", user_id="admin", full_session_memory=True)


def start() -> str:
    agent = Agent(MODEL, memory=make_memory())
    task = Task("Clean up the audit_log table: drop records older than 90 days.", tools=[delete_records])
    output = agent.do(task, return_output=True)
    print("status:", output.status, "| pause_reason:", output.pause_reason)
    for requirement in output.active_requirements:
        call = requirement.tool_execution
        print(f"waiting for approval: {call.tool_name}({call.tool_args})")
    print("run id:", output.run_id)
    return output.run_id


def decide(run_id: str, reject_note: str | None = None) -> None:
    # A new Agent, typically in another process: it finds delete_records because this process
    # imported it (a @tool function), never because the stored run names a module.
    agent = Agent(MODEL, memory=make_memory())
    paused = agent.get_run_output(run_id)
    for requirement in paused.active_requirements:
        if requirement.needs_confirmation:
            requirement.confirm() if reject_note is None else requirement.reject(note=reject_note)
    result = agent.continue_run(run_id=run_id, requirements=paused.requirements, return_output=True)
    print(f"[approver, pid {os.getpid()}] status:", result.status)
    print(f"[approver, pid {os.getpid()}] answer:", result.output)
    print("stored messages:", len(agent.memory.get_session().messages))


def main(args: list[str]) -> None:
    command = args[0] if args and args[0] in ("start", "approve", "reject") else None
    if command == "start":
        start()
    elif command is not None:
        if len(args) < 2:
            raise SystemExit(__doc__)
        decide(args[1], reject_note=(args[2] if len(args) > 2 else "rejected") if command == "reject" else None)
    else:  # the whole flow
        run_id = start()
        print(f"[starter, pid {os.getpid()}] approving in another process ...", flush=True)
        subprocess.run([sys.executable, __file__, "approve", run_id], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
