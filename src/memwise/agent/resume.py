"""Rebuild a run from its record so any process can continue it: tools and the output type are
found by name among those this process declared (never imported), decisions are checked against
what the run waits for."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic_ai.toolsets import FunctionToolset

from memwise.agent.output import RunOutput, usage_from_counts
from memwise.agent.runner import RunState
from memwise.hitl.checkpoint import Checkpoint, find_type, type_name
from memwise.hitl.errors import RequirementError, RunNotResumableError
from memwise.hitl.lease import RunLease, is_interrupted
from memwise.hitl.requirements import Requirement, resolve, to_results
from memwise.memory.errors import SessionAccessError
from memwise.memory.memory import Memory
from memwise.memory.run import stored_form
from memwise.storage.records import Run
from memwise.tools.build import build_tools, tool_name
from memwise.tools.decorator import registered_tool

if TYPE_CHECKING:
    from memwise.agent.agent import Agent
    from memwise.agent.task import Task


def check_resumable(run: Run) -> None:
    if run.status in ("completed", "cancelled"):
        raise RunNotResumableError(f"run {run.run_id!r} is {run.status}; a {run.status} run cannot be resumed")


def resume_state(
    agent: Agent, lease: RunLease, requirements: Sequence[Requirement] | None, task: Task | None = None
) -> RunState:
    """The state to continue a leased run with; raises before anything is written if it cannot.
    `task` hands over the run's per-task tools and output type explicitly."""
    run = lease.run
    check_resumable(run)  # re-read under the lease: another worker may have finished it
    checkpoint = Checkpoint.from_json(run.checkpoint, run.run_id)
    known = dict(agent._output_types)
    if task is not None and (name := type_name(task.response_format)) is not None:
        known[name] = task.response_format
    output_type = find_type(checkpoint.output_type, known, run.run_id)
    specs, toolsets = _tools(agent, checkpoint, run.run_id, task)
    if run.status == "paused":
        decided = resolve(checkpoint.pending, requirements, specs)
    elif requirements:
        raise RequirementError(f"run {run.run_id!r} is {run.status}, not paused: it waits for no decisions")
    else:
        decided = checkpoint.decided  # a takeover replays the decisions the dead worker was applying
    checkpoint.pending, checkpoint.decided = [], decided
    memory = memory_for(agent.memory, run)
    return RunState(
        run_id=run.run_id,
        checkpoint=checkpoint,
        output_type=output_type,
        specs=specs,
        toolsets=toolsets,
        memory=memory,
        session_id=memory.session_id if memory is not None else None,
        lease=lease,
        results=to_results(decided) if decided and checkpoint.messages is not None else None,
        forget_when_done=agent.memory is None,
        saved=len(checkpoint.messages or []),
        task=task,
    )


def memory_for(memory: Memory | None, run: Run) -> Memory | None:
    """The Agent's memory, pointed at the run's session (a resumer need not know the session)."""
    if memory is None or run.session_id == memory.session_id:
        return memory
    if memory.user_id is not None and run.user_id != memory.user_id:
        raise SessionAccessError(f"run {run.run_id!r} belongs to another user")
    moved = copy.copy(memory)
    moved.session_id, moved.user_id = run.session_id, run.user_id
    return moved


def _tools(agent: Agent, checkpoint: Checkpoint, run_id: str, task: Task | None) -> tuple[dict[str, Any], list[Any] | None]:
    """The run's tools by name: the Agent's own; then per-task tools handed over with `task`,
    run by this Agent before, or `@tool` functions this process defined (matched by the name and
    "module:qualname" the checkpoint holds; nothing is imported)."""
    handed = {tool_name(item): item for item in (task.tools if task is not None else [])}
    found: dict[str, Any] = {}
    missing: list[str] = []
    for name in checkpoint.tools:
        if name in agent._specs:
            continue
        item = handed.get(name) or agent._task_tools.get(name) or registered_tool(name, checkpoint.tool_refs.get(name))
        if item is None:
            missing.append(name)
        else:
            found[name] = item
    if missing:
        raise RunNotResumableError(
            f"run {run_id!r} used tools {missing} that this Agent does not have; create it with the same tools, "
            "pass task=Task(..., tools=[...]) to continue_run, or import the module that defines those @tool functions"
        )
    if not found:
        return dict(agent._specs), None
    agent._task_tools |= found
    tools, specs = build_tools(found.values())
    return {**agent._specs, **specs}, [FunctionToolset(tools)]


def output_of(run: Run) -> RunOutput[Any]:
    """A stored run as a RunOutput: its status, usage, messages so far and what it waits for."""
    checkpoint = None
    if run.checkpoint:
        try:
            checkpoint = Checkpoint.from_json(run.checkpoint, run.run_id)
        except RunNotResumableError:
            checkpoint = None
    return RunOutput(
        output=None,
        run_id=run.run_id,
        session_id=run.session_id,
        status="interrupted" if is_interrupted(run) else run.status,
        usage=usage_from_counts(run.usage),
        messages=stored_form(checkpoint.messages or []) if checkpoint is not None else [],
        active_requirements=checkpoint.pending if checkpoint is not None and run.status == "paused" else [],
        error=run.error,
    )
