"""What the HITL tests share with their child processes: a scripted model, the tools, and a
compact view of messages for exact assertions.

The model calls the tools listed in the user's prompt ("call delete_file path=/tmp/a") on the
first request of a run, and answers with what the tools returned once it has results. It records
every request it receives, so a test can check what reached the model (a rejection note).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise.tools import tool


def parse_calls(prompt: str) -> list[ToolCallPart]:
    """"call a x=1 y=2; call b" -> tool calls (ids are stable so tests can name them)."""
    calls = []
    for n, chunk in enumerate(prompt.split("call ")[1:]):
        name, *pairs = chunk.strip(" ;").split()
        args = dict(pair.split("=", 1) for pair in pairs)
        calls.append(ToolCallPart(name, args, tool_call_id=f"call-{n}-{name}"))
    return calls


@dataclass
class ScriptedModel:
    requests: list[list[ModelMessage]] = field(default_factory=list)
    infos: list[AgentInfo] = field(default_factory=list)
    hook: Any = None  # called with the messages of every request (a test may act mid-run)

    def __post_init__(self) -> None:
        self.model = FunctionModel(self._respond, model_name="scripted")

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.requests.append(list(messages))
        self.infos.append(info)
        if self.hook is not None:
            self.hook(messages)
        turn = messages_since_prompt(messages)
        results = [p for m in turn for p in m.parts if isinstance(p, (ToolReturnPart, RetryPromptPart))]
        if results:
            return ModelResponse(parts=[TextPart("; ".join(f"{p.tool_name}: {p.content}" for p in results))])
        prompt = [p.content for p in messages[-1].parts if isinstance(p, UserPromptPart)]
        calls = parse_calls(prompt[-1]) if prompt else []
        return ModelResponse(parts=calls or [TextPart("nothing to do")])

    def last_results(self) -> dict[str, Any]:
        """The tool results in the newest request: tool name -> content."""
        last = self.requests[-1]
        turn = messages_since_prompt(last)
        return {p.tool_name: p.content for m in turn for p in m.parts if isinstance(p, ToolReturnPart)}


def messages_since_prompt(messages: list[ModelMessage]) -> list[ModelMessage]:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            return messages[index:]
    return messages


# ---------------------------------------------------------------- tools
class Effects:
    """What the tools did (per process): calls by tool name; gates and failures tests control."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str | None = None
        self.entered = threading.Event()
        self.gate: threading.Event | None = None  # set: delete_file waits for it
        self.on_call: Any = None  # extra behaviour of `step`

    def count(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)


EFFECTS = Effects()


@tool(requires_confirmation=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    EFFECTS.calls.append(("delete_file", {"path": path}))
    EFFECTS.entered.set()
    if EFFECTS.gate is not None:
        assert EFFECTS.gate.wait(timeout=120)
    if EFFECTS.fail_with:
        raise OSError(EFFECTS.fail_with)
    return f"deleted {path}"


@tool(external_execution=True)
def run_query(sql: str) -> str:
    """Run a query on the warehouse (done outside the agent)."""
    raise AssertionError("an externally executed tool never runs inside the agent")


@tool(requires_user_input=True, user_input_fields=["to_address"])
def send_email(subject: str, to_address: str) -> str:
    """Send an email."""
    EFFECTS.calls.append(("send_email", {"subject": subject, "to_address": to_address}))
    return f"sent {subject!r} to {to_address}"


def lookup(q: str) -> str:
    """An ordinary tool."""
    EFFECTS.calls.append(("lookup", {"q": q}))
    if EFFECTS.fail_with:
        raise OSError(EFFECTS.fail_with)
    return f"found {q}"


async def step(n: str) -> str:
    """An ordinary tool tests use to act in the middle of a run."""
    EFFECTS.calls.append(("step", {"n": n}))
    if EFFECTS.on_call is not None:
        await EFFECTS.on_call()
    return f"step {n}"


TOOLS = [delete_file, run_query, send_email, lookup, step]


# ---------------------------------------------------------------- exact message assertions
def shape(messages: list[ModelMessage]) -> list[tuple]:
    """Messages as comparable tuples: kind and the content of each part."""
    out = []
    for message in messages:
        parts = []
        for p in message.parts:
            if isinstance(p, UserPromptPart):
                parts.append(("user", p.content))
            elif isinstance(p, TextPart):
                parts.append(("text", p.content))
            elif isinstance(p, ToolCallPart):
                parts.append(("call", p.tool_name, p.args_as_dict()))
            elif isinstance(p, ToolReturnPart):
                parts.append(("return", p.tool_name, p.content))
            else:
                parts.append((type(p).__name__,))
        out.append(("request" if isinstance(message, ModelRequest) else "response", parts))
    return out
