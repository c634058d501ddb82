"""Memory's own LLM calls (summaries, trait extraction) go through this one function, so every
call is counted the same way."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from pydantic_ai import Agent as _PAAgent
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

T = TypeVar("T")


@overload
async def ask(
    model: Model, *, instructions: str, prompt: str, max_tokens: int | None = None
) -> tuple[str, RunUsage]: ...
@overload
async def ask(
    model: Model, *, instructions: str, prompt: str, output_type: type[T], max_tokens: int | None = None
) -> tuple[T, RunUsage]: ...
async def ask(
    model: Model, *, instructions: str, prompt: str, output_type: Any = str, max_tokens: int | None = None
) -> tuple[Any, RunUsage]:
    """One memory sub-agent call: no tools, no history, at most `max_tokens` generated when given.
    Returns (output, usage of the call)."""
    agent = _PAAgent(model, instructions=instructions, output_type=output_type, name="memwise-memory")
    result = await agent.run(prompt, model_settings={"max_tokens": max_tokens} if max_tokens else None)
    return result.output, result.usage
