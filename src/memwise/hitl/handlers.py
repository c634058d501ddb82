"""Callbacks that decide a paused run's requirements as it goes (`continue_run(hitl_handler=...,
external_tool_executor=...)`), so a run that pauses again is decided and continued again."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from memwise.errors import InvalidInputError
from memwise.hitl.requirements import Requirement

Handler = Callable[[Requirement], Any]


def check_handlers(*handlers: Handler | None) -> bool:
    """True when a callback is given; a value that cannot be called is an error."""
    for handler in handlers:
        if handler is not None and not callable(handler):
            raise InvalidInputError(f"hitl_handler and external_tool_executor must be functions, got {handler!r}")
    return any(handler is not None for handler in handlers)


async def decide(
    requirements: Iterable[Requirement], hitl_handler: Handler | None, external_tool_executor: Handler | None
) -> bool:
    """Let the callbacks decide each undecided requirement (sync or async callbacks): the
    executor's return value becomes an external call's result; `hitl_handler` confirms, rejects
    or fills in place. True when every requirement is decided afterwards."""
    pending = [r for r in requirements if not r.is_resolved]
    for requirement in pending:
        if external_tool_executor is not None and requirement.needs_external_execution:
            requirement.set_result(await _call(external_tool_executor, requirement))
        elif hitl_handler is not None:
            await _call(hitl_handler, requirement)
    return all(r.is_resolved for r in pending)


async def _call(handler: Handler, requirement: Requirement) -> Any:
    value = handler(requirement)
    return await value if inspect.isawaitable(value) else value
