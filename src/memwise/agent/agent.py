"""`Agent`: a pydantic-ai agent with memory around each run, and runs that can pause and resume.

A run is: its record is created (leased to this worker), memory opens (loads context), the model
answers step by step (see runner.py), and the run settles: completed (memory saves the whole
run once), paused (a JSON checkpoint waits for a person), or failed. `do`, `stream` and
`continue_run` share `_open`/`runner.execute`, so the logic exists once.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from pydantic_ai import Agent as _PAAgent
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.toolsets import FunctionToolset

from memwise._sync import run_sync, sync_twin
from memwise.agent import runner
from memwise.agent.output import RunOutput
from memwise.agent.resume import check_resumable, output_of, resume_state
from memwise.agent.stream import StreamedRun
from memwise.agent.task import Task, as_task
from memwise.errors import InvalidInputError, NotFoundError
from memwise.hitl.checkpoint import Checkpoint, type_name
from memwise.hitl.handlers import Handler, check_handlers, decide
from memwise.hitl.lease import DEFAULT_TTL, RunLease, cancel_run, is_interrupted
from memwise.hitl.requirements import Requirement
from memwise.memory.context import join_instructions
from memwise.memory.errors import SessionAccessError
from memwise.memory.memory import Memory, enable_debug_logging
from memwise.memory.recall import tools as recall_tools
from memwise.memory.run import MemoryRun
from memwise.memory.save import history_stored
from memwise.models import resolve_model
from memwise.storage.base import Storage
from memwise.storage.records import Run
from memwise.tools.build import build_tools

#: Paused runs whose requirement objects an Agent remembers (so `continue_run(run_id=...)` after
#: `confirm()` on them needs no `requirements=`).
_REMEMBERED_PAUSES = 256
_REMEMBERED_PER_RUN = 64


class Agent:
    """`Agent(model=None, memory=None, tools=None, system_prompt=None, name=None, metadata=None)`.

    `model`: a pydantic-ai Model, "provider/model", "provider:model" or "local"; None means the
    `MEMWISE_MODEL` environment variable, else "local". Tools are plain Python functions,
    `@tool(...)` functions that pause the run for a person, or pydantic-ai Tools.
    `system_prompt` is sent as instructions on every run. `lease_ttl`: seconds after which a
    run whose worker died can be taken over by `continue_run`. `feed_tool_call_results` and
    `debug` / `debug_level`, when given, set those options of `memory`.
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
        model_settings: ModelSettings | None = None,
        retries: int | None = None,
        lease_ttl: float = DEFAULT_TTL,
        feed_tool_call_results: bool | None = None,
        debug: bool = False,
        debug_level: int = 1,
    ) -> None:
        if memory is not None and not isinstance(memory, Memory):
            raise InvalidInputError(f"memory must be a memwise Memory, got {type(memory).__name__}")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise InvalidInputError("system_prompt must be a string")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInputError("metadata must be a dict")
        if isinstance(lease_ttl, bool) or not isinstance(lease_ttl, (int, float)) or lease_ttl <= 0:
            raise InvalidInputError(f"lease_ttl must be a positive number of seconds, got {lease_ttl!r}")
        _configure_memory(memory, feed_tool_call_results, debug, debug_level)
        self.debug = debug
        self.model: Model = resolve_model(model)
        self.memory = memory
        self.tools = list(tools or [])
        self.system_prompt = system_prompt
        self.name = name
        self.metadata = dict(metadata or {})
        self.lease_ttl = float(lease_ttl)
        pa_tools, self._specs = build_tools([*self.tools, *recall_tools(memory)])
        self._task_tools: dict[str, Any] = {}  # per-task tools by name, so this Agent can resume their runs
        self._output_types: dict[str, Any] = {}
        self._pending: OrderedDict[str, list[Requirement]] = OrderedDict()  # run id -> requirements handed out
        self._pending_lock = threading.Lock()
        self._own_store: Storage | None = None  # runs of an Agent without memory (resumable in this process only)
        self._own_session = f"agent-{uuid.uuid4().hex}"
        self._agent: _PAAgent[None, Any] = _PAAgent(
            self.model,
            tools=pa_tools,
            name=name or "memwise-agent",
            metadata=self.metadata or None,
            model_settings=model_settings,
            retries=retries,
        )

    # ------------------------------------------------------------------ runs
    async def do_async(self, task: Task | str, *, return_output: bool = False) -> Any:
        """Run `task`; return its output (or the RunOutput with `return_output=True`).
        A run that pauses for a person always returns its RunOutput (`is_paused`)."""
        state = await self._open(as_task(task))
        output = self._remember(await runner.execute(self._agent, state), fresh=True)
        return output if return_output or output.is_paused else output.output

    def do(self, task: Task | str, *, return_output: bool = False) -> Any:
        """Blocking `do_async`; works in scripts, threads and under a running event loop."""
        return run_sync(self.do_async(task, return_output=return_output), shared_loop=self._updates_later)

    async def print_do_async(self, task: Task | str, *, return_output: bool = False) -> Any:
        """`do_async`, printing the answer (or what a paused run waits for) before returning it."""
        result = await self.do_async(task, return_output=return_output)
        print(result)
        return result

    def print_do(self, task: Task | str, *, return_output: bool = False) -> Any:
        """Blocking `print_do_async`."""
        return run_sync(self.print_do_async(task, return_output=return_output), shared_loop=self._updates_later)

    def astream(self, task: Task | str) -> StreamedRun:
        """Stream the answer: `async for text in agent.astream(task)`; `.result` afterwards.
        Memory is saved when the stream completes."""
        return StreamedRun(lambda: self._stream(as_task(task)))

    def stream(self, task: Task | str) -> StreamedRun:
        """Stream the answer from sync code: `for text in agent.stream(task)`."""
        return self.astream(task)

    async def continue_run_async(
        self,
        task: Task | None = None,
        run_id: str | RunOutput[Any] | None = None,
        requirements: Sequence[Requirement] | None = None,
        *,
        return_output: bool = False,
        hitl_handler: Handler | None = None,
        external_tool_executor: Handler | None = None,
    ) -> Any:
        """Resume a paused run with its decided `requirements`, or take over a failed or
        interrupted run, from its stored checkpoint, in any process. Returns the output (the
        RunOutput with `return_output=True`, or when the run pauses again), as `do` does.

        The run is `run_id`, else the last run of `task`. Without `requirements`, the ones this
        Agent handed out for the run (decided in place) are used. `task` also hands over the
        run's per-task tools and output type; `@tool` functions this process defined are found
        by name. `hitl_handler(requirement)` decides requirements, `external_tool_executor(requirement)`
        returns an external call's result; with either, later pauses are decided and continued
        too. Exactly once: a run another worker is resuming raises LeaseHeldError, a completed
        or cancelled one RunNotResumableError."""
        task, run_id, requirements = _continue_args(task, run_id, requirements)
        handlers = check_handlers(hitl_handler, external_tool_executor)
        key = _run_id(run_id if run_id is not None else _task_run_id(task))
        if requirements is None and handlers:
            requirements = self._handed_out(key)
        while True:
            if handlers and requirements:
                await decide(requirements, hitl_handler, external_tool_executor)
            output = self._remember(await self._continue(key, requirements, task), fresh=True)
            if not (handlers and output.is_paused):
                break
            requirements = output.active_requirements
            if not await decide(requirements, hitl_handler, external_tool_executor):
                break  # the callbacks left something undecided: hand the pause back
        return output if return_output or output.is_paused else output.output

    async def _continue(
        self, run_id: str, requirements: Sequence[Requirement] | None, task: Task | None
    ) -> RunOutput[Any]:
        store = self._runs_store()
        run = await store.aget_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        check_resumable(run)
        if requirements is None and run.status == "paused":
            requirements = self._handed_out(run_id)
        lease = await RunLease.take(store, run.run_id, self.lease_ttl)
        try:
            state = resume_state(self, lease, requirements, task)
        except BaseException:
            await lease.release()
            raise
        recovering = lease.run.status != "paused"
        try:
            await lease.save(status="running", error=None, checkpoint=state.checkpoint.to_json())
            lease.start()
            if state.memory is not None:  # memory's reads as of now (the session, profile, turns)
                state.memory_run = MemoryRun(state.memory, run_id=state.run_id, agent_id=self.name, model=self.model)
                await state.memory_run.begin()
            if state.checkpoint.messages is None:  # it died before its first step: start from its prompt
                await self._compose(state)
            if recovering and state.memory is not None:
                state.history_stored = await history_stored(state.memory, state.run_id, lease.run.created_at)
        except BaseException as exc:
            await runner.fail(state, exc)
            await lease.stop()
            raise
        return await runner.execute(self._agent, state)

    continue_run = sync_twin(continue_run_async, shared_loop=lambda self: self._updates_later)

    @property
    def _updates_later(self) -> bool:
        """Memory's updates follow the answer: sync runs go to the shared loop, where they run."""
        return self.memory is not None and self.memory.updates_later

    async def cancel_run_async(self, run_id: str) -> bool:
        """Mark a run cancelled; if it is executing, it stops at its next step. Returns False
        when it had completed or been cancelled already."""
        store = self._runs_store()
        run = await store.aget_run(_run_id(run_id))
        if run is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        return await cancel_run(store, self._own(run).run_id)

    cancel_run = sync_twin(cancel_run_async)

    async def get_run_output_async(self, run_id: str) -> RunOutput[Any] | None:
        """A stored run's state: status (or "interrupted"), usage, messages so far and, when
        paused, the `active_requirements` to decide. None if there is no such run."""
        store = self._runs_store()
        run = await store.aget_run(_run_id(run_id))
        return self._remember(output_of(self._own(run))) if run is not None else None

    get_run_output = sync_twin(get_run_output_async)

    async def list_paused_runs_async(
        self, session_id: str | None = None, user_id: str | None = None, *, limit: int = 50
    ) -> list[RunOutput[Any]]:
        """Paused runs of a session or a user (default: this memory's session), newest first."""
        return [self._remember(output_of(r)) for r in await self._list_runs(session_id, user_id, "paused", limit)]

    list_paused_runs = sync_twin(list_paused_runs_async)

    async def list_interrupted_runs_async(
        self, session_id: str | None = None, user_id: str | None = None, *, limit: int = 50
    ) -> list[RunOutput[Any]]:
        """Runs marked running whose worker is gone (lease expired): `continue_run` takes them over."""
        runs = await self._list_runs(session_id, user_id, "running", limit)
        return [output_of(r) for r in runs if is_interrupted(r)]

    list_interrupted_runs = sync_twin(list_interrupted_runs_async)

    # ------------------------------------------------------------------ run lifecycle
    async def _open(self, task: Task, *, streaming: bool = False) -> runner.RunState:
        """Record the run (leased to this worker) and open memory's side of it."""
        specs, toolsets = dict(self._specs), None
        if task.tools:
            tools, task_specs = build_tools(task.tools)
            specs |= task_specs
            toolsets = [FunctionToolset(tools)]
            self._task_tools |= {spec.name: item for spec, item in zip(task_specs.values(), task.tools, strict=True)}
        output_name = type_name(task.response_format)
        if output_name is not None:
            self._output_types[output_name] = task.response_format
        checkpoint = Checkpoint(task.description, task.context_text(), output_name, sorted(specs))
        checkpoint.tool_refs = {name: spec.ref for name, spec in specs.items() if spec.ref is not None}
        state = runner.RunState(
            run_id=str(uuid.uuid4()), checkpoint=checkpoint, output_type=task.response_format, specs=specs,
            toolsets=toolsets, memory=self.memory, task=task,
        )
        if streaming and state.pausable:
            raise InvalidInputError("a run with tools that pause cannot be streamed; use do() / do_async()")
        task.run_id = state.run_id
        store, session_id = self._run_store(state.pausable)
        memory = self.memory
        state.session_id = memory.session_id if memory is not None else None
        record = None
        if store is not None:
            user_id = memory.user_id if memory is not None else None
            agent_id = (memory.agent_id if memory is not None else None) or self.name
            run = Run(state.run_id, session_id, user_id=user_id, agent_id=agent_id, checkpoint=checkpoint.to_json())
            record = RunLease.leased(run, self.lease_ttl)
        in_memory_store = memory is not None and store is memory.storage
        created: Run | None = None
        if memory is not None:  # memory's reads and the run record: one plan
            state.memory_run = MemoryRun(memory, run_id=state.run_id, agent_id=self.name, model=self.model)
            created = await state.memory_run.begin(record if in_memory_store else None)
        if store is not None and record is not None:
            if created is None:  # not recorded by memory's plan (no memory, or another store)
                created = await store.acreate_run(record)
            state.lease = RunLease(store, created, self.lease_ttl)
            state.forget_when_done = memory is None
            state.lease.start()
        try:
            await self._compose(state)
        except BaseException as exc:
            await runner.fail(state, exc)
            if state.lease is not None:
                await state.lease.stop()
            raise
        return state

    async def _compose(self, state: runner.RunState) -> None:
        """Fit what memory read into the context, and compose the run's instructions."""
        context = None
        if state.memory_run is not None:
            loaded = await state.memory_run.open(state.checkpoint.prompt)
            state.checkpoint.history, context = loaded.history, loaded.context
        kbs = state.task.knowledge_bases() if state.task is not None else []
        knowledge = await asyncio.gather(*(kb.context_async(state.checkpoint.prompt) for kb in kbs))
        if knowledge:  # kept in the checkpoint: a resumed run sees the same passages
            state.checkpoint.task_context = join_instructions(state.checkpoint.task_context, *knowledge)
        state.checkpoint.instructions = join_instructions(self.system_prompt, context, state.checkpoint.task_context)

    async def _stream(self, task: Task) -> AsyncGenerator[Any, None]:
        """Yield text deltas (or partial structured outputs); the RunOutput is returned last."""
        state = await self._open(task, streaming=True)
        try:
            async with self._agent.run_stream(task.description, **state.run_kwargs()) as stream:
                if task.response_format is str:
                    async for delta in stream.stream_text(delta=True, debounce_by=None):
                        yield delta
                else:
                    async for partial in stream.stream_output(debounce_by=None):
                        yield partial
                output = await stream.get_output()
                new_messages, usage = stream.new_messages(), stream.usage
        except BaseException as exc:
            await runner.fail(state, exc)
            raise
        finally:
            if state.lease is not None:
                await state.lease.stop()
        yield await runner.complete(state, output, new_messages, usage)

    def _run_store(self, pausable: bool) -> tuple[Storage | None, str]:
        """Where this Agent's runs are recorded, and under which session id: memory's storage
        when it saves (or the run can pause), else a private in-memory store for pausable runs."""
        if self.memory is not None:
            records = self.memory.saves_anything or pausable
            return (self.memory.storage if records else None), self.memory.session_id
        return (self._runs_store() if pausable else None), self._own_session

    def _runs_store(self) -> Storage:
        """Where runs that can pause are recorded: what continue_run, cancel_run and the lists read."""
        if self.memory is not None:
            return self.memory.storage
        if self._own_store is None:
            from memwise.storage.in_memory import InMemoryStorage

            self._own_store = InMemoryStorage()
        return self._own_store

    async def _list_runs(self, session_id: str | None, user_id: str | None, status: str, limit: int) -> list[Run]:
        store = self._runs_store()
        if session_id is None and user_id is None:
            session_id = self.memory.session_id if self.memory is not None else self._own_session
        mine = self.memory.user_id if self.memory is not None else None
        if mine is not None and user_id not in (None, mine):
            raise SessionAccessError(f"this Agent's memory belongs to user {mine!r}; it lists only their runs")
        page = await store.alist_runs(session_id=session_id, user_id=user_id or mine, status=status, limit=limit)
        return list(page.items)

    def _remember(self, output: RunOutput[Any], *, fresh: bool = False) -> RunOutput[Any]:
        """Keep the requirement objects of the paused outputs this Agent hands out: decided in
        place, they need not be passed back to `continue_run`. `fresh`: the run paused anew, so
        what was handed out before no longer applies. Forgotten once the run is not paused."""
        with self._pending_lock:
            if not output.is_paused:
                self._pending.pop(output.run_id, None)
                return output
            kept = [] if fresh else self._pending.get(output.run_id, [])
            self._pending[output.run_id] = [*kept, *output.active_requirements][-_REMEMBERED_PER_RUN:]
            self._pending.move_to_end(output.run_id)
            while len(self._pending) > _REMEMBERED_PAUSES:
                self._pending.popitem(last=False)
        return output

    def _handed_out(self, run_id: str) -> list[Requirement] | None:
        """The requirements this Agent handed out for `run_id`, one per call: a decided copy
        wins (the caller may have decided the one from `do` or the one from `get_run_output`)."""
        with self._pending_lock:
            handed = list(self._pending.get(run_id, []))
        by_call: dict[str, Requirement] = {}
        for requirement in handed:
            call = requirement.tool_execution.tool_call_id
            if call not in by_call or requirement.is_resolved:
                by_call[call] = requirement
        return list(by_call.values()) or None

    def _own(self, run: Run) -> Run:
        """Refuse a run of another user when this Agent's memory belongs to a user."""
        mine = self.memory.user_id if self.memory is not None else None
        if mine is not None and run.user_id != mine:
            raise SessionAccessError(f"run {run.run_id!r} belongs to another user")
        return run

    def __repr__(self) -> str:
        return f"Agent(model={getattr(self.model, 'model_name', self.model)!r}, memory={self.memory!r})"


def _configure_memory(memory: Memory | None, feed_tool_call_results: bool | None, debug: bool, debug_level: int) -> None:
    """Agent-level `feed_tool_call_results` / `debug` set the memory's options (as the original's Agent does)."""
    if feed_tool_call_results is not None and not isinstance(feed_tool_call_results, bool):
        raise InvalidInputError(f"feed_tool_call_results must be True, False or None, got {feed_tool_call_results!r}")
    if not isinstance(debug, bool) or isinstance(debug_level, bool) or debug_level not in (1, 2):
        raise InvalidInputError(f"debug must be True or False and debug_level 1 or 2, got {debug!r}, {debug_level!r}")
    if memory is None:
        return
    if feed_tool_call_results is not None:
        memory.feed_tool_call_results = feed_tool_call_results
    if debug:
        memory.debug, memory.debug_level = True, debug_level
        enable_debug_logging()


def _continue_args(task: Any, run_id: Any, requirements: Any) -> tuple[Task | None, Any, Any]:
    """`continue_run(task=..., run_id=..., requirements=...)`, also called as `continue_run(run_id, requirements)`."""
    if isinstance(task, (str, RunOutput)):  # a run id given first, positionally
        if requirements is None and isinstance(run_id, (list, tuple)):
            run_id, requirements = None, run_id
        if run_id is not None:
            raise InvalidInputError("continue_run got two run ids; pass task=Task(...) or run_id=...")
        task, run_id = None, task
    if task is not None and not isinstance(task, Task):
        raise InvalidInputError(f"task must be a Task, got {type(task).__name__}")
    return task, run_id, requirements


def _task_run_id(task: Task | None) -> str:
    if task is None:
        raise InvalidInputError("continue_run needs run_id=... or task=... (a Task an Agent has run)")
    if task.run_id is None:
        raise InvalidInputError(f"{task!r} has not been run; pass run_id=... to continue another run")
    return task.run_id


def _run_id(value: Any) -> str:
    if isinstance(value, RunOutput):
        return value.run_id
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"run_id must be a run id string, got {value!r}")
    return value
