"""Plans: storage logic written once as generators, run by a sync or an async driver.

A plan yields backend commands (an SQL statement, a Redis command, a thunk...) and receives their
results; it returns the operation's result. The same plan therefore runs on a blocking driver
and on an asyncio driver, which is how memwise avoids a sync and an async copy of every method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")
Plan = Generator[Any, Any, T]


def drive(plan: Plan[T], execute: Callable[[Any], Any]) -> T:
    """Run a plan with a blocking executor; an executor error is thrown into the plan."""
    try:
        command = next(plan)
        while True:
            try:
                result = execute(command)
            except Exception as exc:  # the plan may handle it (e.g. a unique violation)
                command = plan.throw(exc)
            else:
                command = plan.send(result)
    except StopIteration as done:
        return done.value


async def adrive(plan: Plan[T], execute: Callable[[Any], Awaitable[Any]]) -> T:
    """The asyncio twin of `drive`."""
    try:
        command = next(plan)
        while True:
            try:
                result = await execute(command)
            except Exception as exc:
                command = plan.throw(exc)
            else:
                command = plan.send(result)
    except StopIteration as done:
        return done.value


def call(fn: Callable[..., T], *args: Any) -> Plan[T]:
    """A plan step for backends whose commands are plain Python calls (in-memory, JSON files)."""
    return (yield (fn, args))


def execute_call(command: tuple[Callable[..., Any], tuple[Any, ...]]) -> Any:
    fn, args = command
    return fn(*args)
