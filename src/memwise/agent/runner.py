"""Execute one run (fresh or resumed) step by step, and settle it: completed, paused or failed.

The run is driven node by node through pydantic-ai's `iter`, so between steps it can checkpoint
(before tools execute, and before a model request that follows tool results), notice a cancel or
a takeover, and stop. A run without tool calls writes no checkpoint at all: restarting it from
its prompt is the same thing.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai import Agent as _PAAgent
from pydantic_ai import CallToolsNode, ModelRequestNode
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults
from pydantic_ai.usage import RunUsage
from pydantic_graph import End

from memwise.agent.output import RunOutput
from memwise.errors import MemorySaveError
from memwise.hitl.checkpoint import Checkpoint
from memwise.hitl.errors import RunCancelledError, RunTakenOverError
from memwise.hitl.lease import RunLease
from memwise.hitl.requirements import requirements_from
from memwise.memory.memory import Memory
from memwise.memory.run import MemoryRun, stored_form
from memwise.memory.usage import UsageReport
from memwise.tools.decorator import ToolSpec

_STOPPED = (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)


@dataclass(slots=True)
class RunState:
    """One run as it executes: what pydantic-ai is given, and the records kept about it."""

    run_id: str
    checkpoint: Checkpoint  # prompt, tools, ...; once started: instructions, history, messages, usage
    output_type: Any
    specs: dict[str, ToolSpec]
    toolsets: list[Any] | None = None
    memory: Memory | None = None
    session_id: str | None = None
    lease: RunLease | None = None
    memory_run: MemoryRun | None = None
    results: DeferredToolResults | None = None  # decisions a resumed run applies first
    history_stored: bool = False  # a worker that died had stored this run's messages already
    forget_when_done: bool = False  # the run lives in an Agent's private store
    saved: int = 0  # how many of the run's messages the last checkpoint holds
    failed: bool = False
    task: Any = None

    @property
    def pausable(self) -> bool:
        return any(spec.options.pauses for spec in self.specs.values())

    def run_kwargs(self) -> dict[str, Any]:
        checkpoint = self.checkpoint
        kwargs: dict[str, Any] = {
            "message_history": [*checkpoint.history, *(checkpoint.messages or [])] or None,
            "instructions": checkpoint.instructions,
            "conversation_id": self.session_id,
        }
        if checkpoint.messages is None:
            kwargs["run_id"] = self.run_id
        else:  # pydantic-ai gives each resumed segment its own run id; ours stays on the record
            kwargs["usage"] = copy.deepcopy(checkpoint.usage)
            kwargs["deferred_tool_results"] = self.results
        if self.pausable:
            kwargs["output_type"] = [self.output_type, DeferredToolRequests]
        elif self.output_type is not str:
            kwargs["output_type"] = self.output_type
        if self.toolsets:
            kwargs["toolsets"] = self.toolsets
        return kwargs


async def drive(agent: _PAAgent[None, Any], state: RunState) -> tuple[Any, list[ModelMessage], RunUsage]:
    """Run to the end (an answer, or deferred tool calls); return output, the run's messages, usage."""
    done = list(state.checkpoint.messages or [])
    prompt = state.checkpoint.prompt if state.checkpoint.messages is None else None
    async with agent.iter(prompt, **state.run_kwargs()) as run:
        node = run.next_node
        while not isinstance(node, End):
            if state.lease is not None:
                await _step(state, state.lease, run, node, done)
            node = await run.next(node)
        result = run.result
    assert result is not None  # the graph reached its End
    return result.output, done + result.new_messages(), result.usage


async def _step(state: RunState, lease: RunLease, run: Any, node: Any, done: list[ModelMessage]) -> None:
    """Between two steps: stop if cancelled or taken over; checkpoint when there is progress."""
    lease.check()
    if isinstance(node, CallToolsNode) and any(c.tool_name in state.specs for c in node.model_response.tool_calls):
        messages = done + run.new_messages()  # tools execute next: a crash re-executes them
    elif isinstance(node, ModelRequestNode):
        messages = done + run.new_messages() + [node.request]
        if not any(isinstance(m, ModelResponse) for m in messages):
            return  # nothing answered yet: restarting from the prompt is the same
    else:
        return
    if len(messages) <= state.saved:
        return
    checkpoint = replace(state.checkpoint, messages=messages, usage=copy.deepcopy(run.usage), pending=[], decided=[])
    await lease.save(checkpoint=checkpoint.to_json())
    state.saved = len(messages)


async def pause(
    state: RunState, requests: DeferredToolRequests, messages: list[ModelMessage], usage: RunUsage
) -> RunOutput[Any]:
    """Persist the checkpoint with what the run waits for, and give the lease back."""
    requirements = requirements_from(requests, state.specs)
    checkpoint = replace(state.checkpoint, messages=messages, usage=usage, pending=requirements, decided=[])
    report = UsageReport(answer=usage)
    assert state.lease is not None  # a run that can pause always has a record
    await state.lease.finish("paused", checkpoint=checkpoint.to_json(), usage=report.as_dict())
    return RunOutput(
        output=None,
        run_id=state.run_id,
        session_id=state.session_id,
        status="paused",
        usage=report,
        messages=stored_form(messages),
        active_requirements=requirements,
    )


async def complete(state: RunState, output: Any, messages: Sequence[ModelMessage], usage: RunUsage) -> RunOutput[Any]:
    """Save memory, then mark the run completed; a failed save keeps the answer on the error."""
    result = RunOutput(
        output=output,
        run_id=state.run_id,
        session_id=state.session_id,
        usage=UsageReport(answer=usage),
        messages=stored_form(messages),
    )
    if state.task is not None:
        state.task.response = output
    lease = state.lease
    try:
        if lease is not None:
            lease.check()  # a cancel the heartbeat saw stops the run before memory's LLM calls
        if state.memory_run is not None:  # memory's writes and the run's completion: one plan
            result.usage = await state.memory_run.complete(
                result.messages, usage, history_stored=state.history_stored, lease=lease
            )
        elif lease is not None:
            await lease.complete(result.usage.as_dict())
        if lease is not None and state.forget_when_done:
            await lease.storage.adelete_run(state.run_id)
    except (RunCancelledError, RunTakenOverError):
        raise
    except Exception as exc:
        await fail(state, exc, result.usage)
        raise MemorySaveError(
            f"the run answered, but memory was not saved completely: {type(exc).__name__}: {exc}",
            output=result,
        ) from exc
    return result


async def fail(state: RunState, error: BaseException, report: UsageReport | None = None) -> None:
    """Record why the run stopped; never hide the original error behind a storage one."""
    lease = state.lease
    if lease is None or state.failed:
        return
    state.failed = True
    try:
        if isinstance(error, (RunCancelledError, RunTakenOverError)):
            await lease.release()  # the record already says cancelled, or belongs to the new owner
            return
        status = "cancelled" if isinstance(error, _STOPPED) else "error"
        usage = report.as_dict() if report is not None else None
        await lease.finish(status, error=f"{type(error).__name__}: {error}", usage=usage)
    except Exception:  # noqa: BLE001 - the run's own error is the one to raise
        pass


async def execute(agent: _PAAgent[None, Any], state: RunState) -> RunOutput[Any]:
    """Drive the run and settle it; the lease's heartbeat stops whatever happens."""
    try:
        output, messages, usage = await drive(agent, state)
        if isinstance(output, DeferredToolRequests):
            return await pause(state, output, messages, usage)
        return await complete(state, output, messages, usage)
    except MemorySaveError:
        raise
    except BaseException as exc:
        await fail(state, exc)
        raise
    finally:
        if state.lease is not None:
            await state.lease.stop()

