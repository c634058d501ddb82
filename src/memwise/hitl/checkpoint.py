"""A run's checkpoint: what another process needs to continue it, as JSON (nothing pickled).

Messages use pydantic-ai's own JSON form; tools and a structured output type are kept by name
and found again in the resuming process, only among those it declared: a name read from storage
never chooses a module to import (whoever can write the store would choose code to run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.usage import RunUsage

from memwise.errors import InvalidInputError
from memwise.hitl.errors import RunNotResumableError
from memwise.hitl.requirements import Requirement

FORMAT = 1
_USAGE = TypeAdapter(RunUsage)
#: Output types registered with `register_output_type`, by checkpoint name (this process only).
_REGISTERED: dict[str, Any] = {}


@dataclass(slots=True)
class Checkpoint:
    """`messages` is None until the run's first step: such a run restarts from its prompt."""

    prompt: str
    task_context: str | None = None
    output_type: str | None = None  # "module:QualName" of a structured response_format
    tools: list[str] = field(default_factory=list)
    instructions: str | None = None
    history: list[ModelMessage] = field(default_factory=list)  # memory's history sent with the run
    messages: list[ModelMessage] | None = None  # the run's own messages so far
    usage: RunUsage = field(default_factory=RunUsage)
    pending: list[Requirement] = field(default_factory=list)  # what a paused run waits for
    decided: list[Requirement] = field(default_factory=list)  # decisions being applied (a takeover replays them)
    tool_refs: dict[str, str] = field(default_factory=dict)  # function tools: name -> "module:qualname"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "prompt": self.prompt,
            "task_context": self.task_context,
            "output_type": self.output_type,
            "tools": list(self.tools),
        }
        if self.tool_refs:
            data["tool_refs"] = dict(self.tool_refs)
        if self.messages is not None:
            data |= {
                "instructions": self.instructions,
                "history": _dump(self.history),
                "messages": _dump(self.messages),
                "usage": _USAGE.dump_python(self.usage, mode="json"),
                "pending": [r.to_dict() for r in self.pending],
                "decided": [r.to_dict() for r in self.decided],
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, run_id: str) -> Checkpoint:
        if not data:
            raise RunNotResumableError(f"run {run_id!r} has no checkpoint to resume from")
        if data.get("format") != FORMAT:
            raise RunNotResumableError(f"run {run_id!r} has a checkpoint of format {data.get('format')!r}, not {FORMAT}")
        try:
            checkpoint = cls(
                prompt=data["prompt"],
                task_context=data.get("task_context"),
                output_type=data.get("output_type"),
                tools=list(data.get("tools", [])),
                tool_refs={str(k): str(v) for k, v in (data.get("tool_refs") or {}).items()},
            )
            if "messages" in data:
                checkpoint.instructions = data.get("instructions")
                checkpoint.history = ModelMessagesTypeAdapter.validate_python(data.get("history", []))
                checkpoint.messages = ModelMessagesTypeAdapter.validate_python(data["messages"])
                checkpoint.usage = _USAGE.validate_python(data.get("usage", {}))
                checkpoint.pending = [Requirement.from_dict(r) for r in data.get("pending", [])]
                checkpoint.decided = [Requirement.from_dict(r) for r in data.get("decided", [])]
        except (AttributeError, KeyError, TypeError, ValidationError, ValueError) as exc:
            raise RunNotResumableError(f"run {run_id!r} has a checkpoint that cannot be read: {exc}") from exc
        return checkpoint


def _dump(messages: list[ModelMessage]) -> list[Any]:
    return ModelMessagesTypeAdapter.dump_python(messages, mode="json")


def type_name(output_type: Any) -> str | None:
    """How a structured output type is named in a checkpoint (None for plain text)."""
    if output_type is str or output_type is None:
        return None
    return f"{output_type.__module__}:{output_type.__qualname__}"


def register_output_type(output_type: Any) -> Any:
    """Let any Agent of this process resume runs answering with `output_type` (a pydantic model),
    without the Task at hand. Returns the type, so it also works as a class decorator."""
    name = type_name(output_type) if isinstance(output_type, type) else None
    if name is None:
        raise InvalidInputError(f"register_output_type takes a class such as a pydantic model, got {output_type!r}")
    _REGISTERED[name] = output_type
    return output_type


def find_type(name: str | None, known: dict[str, Any], run_id: str) -> Any:
    """The output type a checkpoint names, among `known` (the Task's, or types this Agent has
    used) and the registered ones. Nothing is imported: an unknown name is refused."""
    if name is None:
        return str
    found = known.get(name, _REGISTERED.get(name))
    if found is None:
        short = name.rpartition(":")[2] or name
        raise RunNotResumableError(
            f"run {run_id!r} answers with {name!r}, a type this Agent does not know; pass "
            f"task=Task(..., response_format={short}) to continue_run, resume with the Agent that started the run, "
            f"or call memwise.hitl.register_output_type({short}) first (types named by stored data are never imported)"
        )
    return found
