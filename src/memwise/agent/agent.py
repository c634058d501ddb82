"""`Agent`: a pydantic-ai agent with memory around each run.

A run is: memory opens (loads context, records the run), the model answers with memory's context
in its instructions and memory's history as message history, memory completes (stores the new
messages, refreshes the summary and profile, adds usage). `do`, `do_async`, `stream` and
`astream` all go through `_open` and `_complete`, so the logic exists once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from pydantic_ai import Agent as _PAAgent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.usage import RunUsage

from memwise.agent.output import RunOutput
from memwise.agent.stream import StreamedRun
from memwise.agent.task import Task, as_task
from memwise.errors import InvalidInputError
from memwise.memory._sync import run_sync
from memwise.memory.context import join_instructions
from memwise.memory.errors import MemorySaveError
from memwise.memory.memory import Memory
from memwise.memory.run import MemoryRun, stored_form
from memwise.memory.usage import UsageReport
from memwise.models import resolve_model


class Agent:
    """`Agent(model=None, memory=None, tools=None, system_prompt=None, name=None, metadata=None)`.

    `model`: a pydantic-ai Model, "provider/model", "provider:model" or "local"; None means the
    `MEMWISE_MODEL` environment variable, else "local". Tools are plain Python functions (or
    pydantic-ai Tools). `system_prompt` is sent as instructions on every run.
    """

    def __init__(
        self,
        model: Model | str | None = None,
        memory: Memory | None = None,
        tools: Sequence[Callable[..., Any] | Any] | None = None,
        system_prompt: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        model_settings: dict[str, Any] | None = None,
        retries: int | None = None,
    ) -> None:
        if memory is not None and not isinstance(memory, Memory):
            raise InvalidInputError(f"memory must be a memwise Memory, got {type(memory).__name__}")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise InvalidInputError("system_prompt must be a string")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInputError("metadata must be a dict")
        self.model: Model = resolve_model(model)
        self.memory = memory
        self.tools = list(tools or [])
        self.system_prompt = system_prompt
        self.name = name
        self.metadata = dict(metadata or {})
        self._agent: _PAAgent[None, Any] = _PAAgent(
            self.model,
            tools=self.tools,
            name=name or "memwise-agent",
            metadata=self.metadata or None,
            model_settings=model_settings,
            retries=retries,
        )

    # ------------------------------------------------------------------ public API
    async def do_async(self, task: Task | str, *, return_output: bool = False) -> Any:
        """Run `task`; return its output (or the RunOutput with `return_output=True`)."""
        task = as_task(task)
        mrun, kwargs = await self._open(task)
        try:
            result = await self._agent.run(task.description, **kwargs)
        except BaseException as exc:
            await _mark_failed(mrun, exc)
            raise
        output = await self._complete(task, mrun, kwargs["run_id"], result.output, result.new_messages(), result.usage)
        return output if return_output else output.output

    def do(self, task: Task | str, *, return_output: bool = False) -> Any:
        """Blocking `do_async`; works in scripts, threads and under a running event loop."""
        return run_sync(self.do_async(task, return_output=return_output))

    def astream(self, task: Task | str) -> StreamedRun:
        """Stream the answer: `async for text in agent.astream(task)`; `.result` afterwards.
        Memory is saved when the stream completes."""
        return StreamedRun(lambda: self._stream(as_task(task)))

    def stream(self, task: Task | str) -> StreamedRun:
        """Stream the answer from sync code: `for text in agent.stream(task)`."""
        return self.astream(task)

    # ------------------------------------------------------------------ run lifecycle
    async def _open(self, task: Task) -> tuple[MemoryRun | None, dict[str, Any]]:
        """Open memory's side of the run and build pydantic-ai's run arguments."""
        run_id = str(uuid.uuid4())
        mrun = None
        history: list[ModelMessage] = []
        context = None
        if self.memory is not None:
            mrun = MemoryRun(self.memory, run_id=run_id, agent_id=self.name, model=self.model)
            try:
                loaded = await mrun.open()
            except BaseException as exc:
                await _mark_failed(mrun, exc)
                raise
            history, context = loaded.history, loaded.context
        kwargs: dict[str, Any] = {
            "message_history": history or None,
            "instructions": join_instructions(self.system_prompt, context, task.context_text()),
            "run_id": run_id,
            "conversation_id": self.memory.session_id if self.memory is not None else None,
        }
        if task.response_format is not str:
            kwargs["output_type"] = task.response_format
        if task.tools:
            kwargs["toolsets"] = [FunctionToolset(task.tools)]
        return mrun, kwargs

    async def _complete(
        self,
        task: Task,
        mrun: MemoryRun | None,
        run_id: str,
        output: Any,
        new_messages: Sequence[ModelMessage],
        usage: RunUsage,
    ) -> RunOutput[Any]:
        """Save memory and build the RunOutput; a failed save keeps the answer on the error."""
        result = RunOutput(
            output=output,
            run_id=run_id,
            session_id=self.memory.session_id if self.memory is not None else None,
            usage=UsageReport(answer=usage),
            messages=stored_form(new_messages),
        )
        task.response = output
        if mrun is not None:
            try:
                result.usage = await mrun.complete(result.messages, usage)
            except Exception as exc:
                await _mark_failed(mrun, exc, result.usage)
                raise MemorySaveError(
                    f"the run answered, but memory was not saved completely: {type(exc).__name__}: {exc}",
                    output=result,
                ) from exc
        return result

    async def _stream(self, task: Task) -> AsyncIterator[Any]:
        """Yield text deltas (or partial structured outputs); the RunOutput is returned last."""
        mrun, kwargs = await self._open(task)
        try:
            async with self._agent.run_stream(task.description, **kwargs) as stream:
                if task.response_format is str:
                    async for delta in stream.stream_text(delta=True, debounce_by=None):
                        yield delta
                else:
                    async for partial in stream.stream_output(debounce_by=None):
                        yield partial
                output = await stream.get_output()
                new_messages, usage = stream.new_messages(), stream.usage
        except BaseException as exc:
            await _mark_failed(mrun, exc)
            raise
        yield await self._complete(task, mrun, kwargs["run_id"], output, new_messages, usage)

    def __repr__(self) -> str:
        return f"Agent(model={getattr(self.model, 'model_name', self.model)!r}, memory={self.memory!r})"


async def _mark_failed(mrun: MemoryRun | None, exc: BaseException, report: UsageReport | None = None) -> None:
    """Record the failure on the run record; never hide the original error behind a storage one."""
    if mrun is None:
        return
    try:
        await mrun.fail(exc, report)
    except Exception:  # noqa: BLE001 - the run's own error is the one to raise
        pass
