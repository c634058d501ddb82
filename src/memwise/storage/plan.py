"""Plans: storage logic written once as generators, run by a sync or an async driver.

A plan yields backend commands (an SQL statement, a Redis command, a thunk...) and receives their
results; it returns the operation's result. The same plan therefore runs on a blocking driver
and on an asyncio driver, which is how memwise avoids a sync and an async copy of every method.

Independent plans can run side by side (`gather`): each round yields one `Batch` of their next
commands. A driver given a batch executor sends a batch in one round trip (a Redis pipeline);
any other runs its commands one by one, so every backend understands batches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

T = TypeVar("T")
C = TypeVar("C")
#: A plan of the core (`Storage`), which runs on every backend: it yields whatever the backend's
#: primitives yield, and `Batch`es. A backend names its own vocabulary (`SqlPlan`, `RedisPlan`,
#: `MongoPlan`, `Mem0Plan`, `CallPlan`); those plans are `Plan`s too.
Plan = Generator[Any, Any, T]
#: A plain Python call, `(fn, args)`: the command of backends without a server (in-memory, JSON).
FnCall = tuple[Callable[..., Any], tuple[Any, ...]]
CallPlan = Generator[FnCall, Any, T]


@dataclass(slots=True, frozen=True)
class Batch:
    """Independent commands a driver may send together. Its result is one reply per command, in
    order; a command that failed has its exception as its reply (and the others still ran)."""

    commands: tuple[Any, ...]


def gather(*plans: Plan[Any]) -> Plan[list[Any]]:
    """Run independent plans side by side and return their results, in order.

    Each round yields the pending plans' next commands together (one command alone, several as a
    `Batch`). A plan that raises stops the others (closed, their pending commands not sent).
    Plans given here must not gather themselves: batches do not nest.
    """
    results: list[Any] = [None] * len(plans)
    pending: dict[int, Any] = {}
    try:
        for i, plan in enumerate(plans):
            try:
                pending[i] = next(plan)
            except StopIteration as done:
                results[i] = done.value
        while pending:
            order = list(pending)
            if any(isinstance(pending[i], Batch) for i in order):
                raise TypeError("gather() cannot run a plan that gathers: batches do not nest")
            if len(order) == 1:
                try:
                    replies = [(yield pending[order[0]])]
                except Exception as exc:  # noqa: BLE001 - handed to the plan that sent it
                    replies = [exc]
            else:
                replies = yield Batch(tuple(pending[i] for i in order))
            for i, reply in zip(order, replies, strict=True):
                plan = plans[i]
                try:
                    pending[i] = plan.throw(reply) if isinstance(reply, Exception) else plan.send(reply)
                except StopIteration as done:
                    del pending[i]
                    results[i] = done.value
    finally:
        for plan in plans:
            plan.close()
    return results


def nothing() -> Plan[None]:
    """The empty plan: sends no command, returns None (a placeholder among `gather`'s plans, the
    body of a primitive a backend does not need, such as `_setup`)."""
    return None
    yield  # unreachable: only makes this function a generator


def run_each(commands: Sequence[C], execute: Callable[[C], Any]) -> list[Any]:
    """A batch run command by command: the fallback for drivers without a batch executor."""
    replies: list[Any] = []
    for command in commands:
        try:
            replies.append(execute(command))
        except Exception as exc:  # noqa: BLE001 - the reply of the command that failed
            replies.append(exc)
    return replies


async def arun_each(commands: Sequence[C], execute: Callable[[C], Awaitable[Any]]) -> list[Any]:
    """The asyncio twin of `run_each`."""
    replies: list[Any] = []
    for command in commands:
        try:
            replies.append(await execute(command))
        except Exception as exc:  # noqa: BLE001
            replies.append(exc)
    return replies


def drive(
    plan: Generator[C, Any, T],
    execute: Callable[[C], Any],
    execute_batch: Callable[[Sequence[C]], list[Any]] | None = None,
) -> T:
    """Run a plan of commands `C` (and `Batch`es of them) with a blocking executor; an executor
    error is thrown into the plan."""
    try:
        command = next(plan)
        while True:
            try:
                if not isinstance(command, Batch):
                    result: Any = execute(command)
                elif execute_batch is None:
                    result = run_each(command.commands, execute)
                else:
                    result = execute_batch(command.commands)
            except Exception as exc:  # the plan may handle it (e.g. a unique violation)
                command = plan.throw(exc)
            else:
                command = plan.send(result)
    except StopIteration as done:
        return cast(T, done.value)  # the plan's return value (StopIteration does not type it)


async def adrive(
    plan: Generator[C, Any, T],
    execute: Callable[[C], Awaitable[Any]],
    execute_batch: Callable[[Sequence[C]], Awaitable[list[Any]]] | None = None,
) -> T:
    """The asyncio twin of `drive`."""
    try:
        command = next(plan)
        while True:
            try:
                if not isinstance(command, Batch):
                    result: Any = await execute(command)
                elif execute_batch is None:
                    result = await arun_each(command.commands, execute)
                else:
                    result = await execute_batch(command.commands)
            except Exception as exc:
                command = plan.throw(exc)
            else:
                command = plan.send(result)
    except StopIteration as done:
        return cast(T, done.value)


def call(fn: Callable[..., T], *args: Any) -> CallPlan[T]:
    """A plan step for backends whose commands are plain Python calls (in-memory, JSON files)."""
    result: T = yield (fn, args)
    return result


def execute_call(command: FnCall) -> Any:
    fn, args = command
    return fn(*args)
