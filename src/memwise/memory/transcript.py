"""Plain-text renderings of messages for memory's own prompts (summaries, trait extraction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelResponse,
    TextPart,
    UserPromptPart,
)

from memwise.memory.budget import cut_to_tokens, part_text

#: Tool arguments and results are shortened in transcripts: the summary needs the gist only.
TOOL_TEXT_TOKENS = 100


def prompt_text(part: UserPromptPart) -> str:
    """The text of a user prompt; non-text content (images, files) becomes a short placeholder."""
    if isinstance(part.content, str):
        return part.content
    pieces = []
    for item in part.content:
        pieces.append(item if isinstance(item, str) else f"[{type(item).__name__}]")
    return " ".join(pieces)


def render_turn(turn: Sequence[ModelMessage]) -> str:
    """One user turn as 'User: / Assistant: / Tool' lines."""
    lines: list[str] = []
    for message in turn:
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                lines.append(f"User: {prompt_text(part)}")
            elif isinstance(part, TextPart) and isinstance(message, ModelResponse):
                if part.content.strip():
                    lines.append(f"Assistant: {part.content}")
            elif isinstance(part, BaseToolCallPart):
                lines.append(f"Assistant called tool {cut_to_tokens(part_text(part), TOOL_TEXT_TOKENS)}")
            elif isinstance(part, BaseToolReturnPart):
                result = cut_to_tokens(part_text(part), TOOL_TEXT_TOKENS)
                lines.append(f"Tool {part.tool_name} returned: {result}")
    return "\n".join(lines)


def user_texts(messages: Iterable[ModelMessage]) -> list[str]:
    """What the user typed, in order."""
    return [
        prompt_text(part)
        for message in messages
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


def assistant_texts(messages: Iterable[ModelMessage]) -> list[str]:
    """What the assistant wrote (text, not tool calls), in order."""
    return [
        part.content
        for message in messages
        if isinstance(message, ModelResponse)
        for part in message.parts
        if isinstance(part, TextPart) and part.content.strip()
    ]
