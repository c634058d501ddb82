"""Message builders shared by the conformance specs."""

from __future__ import annotations

from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)


def turn(text: str, answer: str | None = None) -> list:
    """One user turn: the prompt and the model's answer."""
    return [ModelRequest(parts=[UserPromptPart(text)]), ModelResponse(parts=[TextPart(answer or f"re: {text}")])]


def tool_turn(text: str) -> list:
    """A user turn with a tool round trip inside it (4 messages, one turn start)."""
    return [
        ModelRequest(parts=[UserPromptPart(text)]),
        ModelResponse(parts=[ToolCallPart("lookup", {"q": text}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("lookup", "found", tool_call_id="c1")]),
        ModelResponse(parts=[TextPart("done")]),
    ]


def prompt_of(stored) -> str:
    return stored.message.parts[0].content
