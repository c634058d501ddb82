"""History windows by user turn.

A user turn is the user's message and every model and tool message up to the final answer. Windows
are cut only at turn starts, so a tool call always travels with its result; a final pairing pass
guards against stored histories that were cut elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    CapabilityLoadDeltaPart,
    InstructionBaselinePart,
    InstructionDeltaPart,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelSettingsDeltaPart,
    NativeToolCallPart,
    NativeToolReturnPart,
    RetryFeedbackPart,
    RetryPromptPart,
    SystemPromptPart,
    ToolAvailabilityDeltaPart,
    UserPromptPart,
)

Turn = list[ModelMessage]
_M = TypeVar("_M", bound="ModelRequest | ModelResponse")

#: Request parts that carry per-run configuration or injected context, never conversation.
_INJECTED_PARTS = (
    SystemPromptPart,
    InstructionBaselinePart,
    InstructionDeltaPart,
    ToolAvailabilityDeltaPart,
    CapabilityLoadDeltaPart,
    ModelSettingsDeltaPart,
)
#: Parts that exist only because of tool use (or a retry of it).
_TOOL_PARTS = (BaseToolCallPart, BaseToolReturnPart, RetryPromptPart, RetryFeedbackPart)


def is_turn_start(message: ModelMessage) -> bool:
    return isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts)


def split_turns(messages: Iterable[ModelMessage]) -> list[Turn]:
    """Group messages into user turns; messages before the first turn start are dropped."""
    turns: list[Turn] = []
    for message in messages:
        if is_turn_start(message):
            turns.append([message])
        elif turns:
            turns[-1].append(message)
    return turns


def flatten(turns: Iterable[Sequence[ModelMessage]]) -> list[ModelMessage]:
    return [m for turn in turns for m in turn]


def last_turns(messages: Iterable[ModelMessage], n: int | None) -> list[ModelMessage]:
    """Messages of the last `n` user turns (all turns when `n` is None)."""
    turns = split_turns(messages)
    if n is None:
        return flatten(turns)
    return flatten(turns[-n:]) if n > 0 else []


def _with_parts(message: _M, parts: list[Any]) -> _M | None:
    if not parts:
        return None
    if len(parts) == len(message.parts):
        return message
    return replace(message, parts=parts)  # type: ignore[arg-type]  # parts taken from this same message


def drop_tool_parts(messages: Iterable[ModelMessage]) -> list[ModelMessage]:
    """Remove tool calls, tool results and retries, keeping any text the model wrote beside them."""
    kept: list[ModelMessage] = []
    for message in messages:
        slim = _with_parts(message, [p for p in message.parts if not isinstance(p, _TOOL_PARTS)])
        if slim is not None:
            kept.append(slim)
    return kept


def pair_tool_calls(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """Drop any tool call without its result in `messages`, and any result without its call."""
    calls = {
        p.tool_call_id
        for m in messages
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, BaseToolCallPart) and not isinstance(p, NativeToolCallPart)
    }
    results = {
        p.tool_call_id
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, (BaseToolReturnPart, RetryPromptPart)) and not isinstance(p, NativeToolReturnPart)
    }
    paired = calls & results
    kept: list[ModelMessage] = []
    for message in messages:
        parts = [
            p
            for p in message.parts
            if not (
                isinstance(p, (BaseToolCallPart, BaseToolReturnPart, RetryPromptPart))
                and not isinstance(p, (NativeToolCallPart, NativeToolReturnPart))
                and p.tool_call_id not in paired
            )
        ]
        slim = _with_parts(message, parts)
        if slim is not None:
            kept.append(slim)
    return kept


def clean_turn(turn: Sequence[ModelMessage], *, feed_tool_call_results: bool) -> Turn:
    """A turn as it may be sent again: tool parts dropped or kept strictly paired."""
    if feed_tool_call_results:
        return pair_tool_calls(turn)
    return drop_tool_parts(turn)


def strip_injected(message: ModelMessage) -> ModelMessage | None:
    """The message as it should be stored: without the run's instructions (memory context lives
    there) or system/instruction bookkeeping parts. None when nothing conversational is left."""
    if not isinstance(message, ModelRequest):
        return message
    slim = _with_parts(message, [p for p in message.parts if not isinstance(p, _INJECTED_PARTS)])
    if slim is None:
        return None
    return replace(slim, instructions=None) if slim.instructions is not None else slim
