"""Map pydantic-ai message history to the OpenAI-shaped chat messages the in-process server takes.

Tool traffic is rendered as text, because memwise runs its own tool protocol (see `protocol.py`):
a call is the JSON object the model itself would reply with (`{"tool": ..., "arguments": ...}`),
and its result comes back in a user turn as `<tool_response name="...">...</tool_response>`, the
shape Qwen models were trained on. Instructions, the leading system prompts and the protocol's
own instructions form the one system message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    BinaryContent,
    CachePoint,
    InstructionPart,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    RetryPromptPart,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters

log = logging.getLogger(__name__)

ChatMessage = dict[str, Any]


def instructions_for(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> str | None:
    """The instructions in force: the agent's resolved parts, else (direct calls) the latest request's."""
    if params.instruction_parts is not None:
        return InstructionPart.join(params.instruction_parts) if params.instruction_parts else None
    requests = [m for m in messages if isinstance(m, ModelRequest)]
    for request in reversed(requests):
        if request.instructions is not None:
            return request.instructions
    return None


def to_chat_messages(
    messages: Sequence[ModelMessage],
    *,
    instructions: str | None = None,
    protocol_instructions: str | None = None,
    answers_as_json: bool = False,
) -> list[ChatMessage]:
    """Render the history as chat messages, the system message first."""
    system: list[str] = []
    chat: list[ChatMessage] = []
    leading = True
    for message in messages:
        if isinstance(message, ModelRequest):
            tool_results: list[str] = []
            for part in message.parts:
                if leading and isinstance(part, SystemPromptPart):
                    system.append(part.content)
                    continue
                leading = False
                if isinstance(part, ToolReturnPart):
                    tool_results.append(_tool_response(part.tool_name, part.model_response_str()))
                    continue
                if isinstance(part, RetryPromptPart) and part.tool_name:  # legacy part, direct calls only
                    tool_results.append(_tool_response(part.tool_name, part.model_response()))
                    continue
                if tool_results:
                    chat.append({"role": "user", "content": "\n".join(tool_results)})
                    tool_results = []
                if (rendered := _request_part(part)) is not None:
                    chat.append(rendered)
            if tool_results:
                chat.append({"role": "user", "content": "\n".join(tool_results)})
        elif isinstance(message, ModelResponse):
            leading = False
            if content := _response_content(message, answers_as_json):
                chat.append({"role": "assistant", "content": content})
        else:  # pragma: no cover - ModelMessage is a closed union
            raise UserError(f"unexpected message type {type(message).__name__}")
    system.extend(text for text in (instructions, protocol_instructions) if text)
    if system:
        chat.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return chat


def _request_part(part: Any) -> ChatMessage | None:
    if isinstance(part, UserPromptPart):
        return {"role": "user", "content": _user_text(part)}
    if isinstance(part, SystemPromptPart):  # a non-leading one the agent left as a system prompt
        return {"role": "system", "content": part.content}
    if isinstance(
        part, (RetryPromptPart, RetryFeedbackPart)
    ):  # untranslated: a direct `Model.request()` call
        return {"role": "user", "content": part.model_response()}
    # Everything else (instruction/tool-availability/settings deltas, compaction, speech) is translated
    # away by `Model.prepare_messages`, which `Agent` and `pydantic_ai.direct` always run.
    raise UserError(
        f"`{type(part).__name__}` cannot be sent to the local model; "
        "call `model.prepare_messages(messages)` first (Agent does this for you)."
    )


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    texts: list[str] = []
    for item in part.content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, TextContent):  # includes StructuredContent, whose `content` is its rendering
            texts.append(item.content)
        elif isinstance(item, CachePoint):
            continue
        elif isinstance(item, BinaryContent) and _is_text(item.media_type):
            texts.append(item.data.decode("utf-8", errors="replace"))
        else:
            kind = getattr(item, "media_type", None) or type(item).__name__
            raise UserError(f"the local model reads text only; it cannot take {kind} input")
    return "\n".join(texts)


def _is_text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in ("application/json", "application/xml")


def _tool_response(tool_name: str, content: str) -> str:
    return f'<tool_response name="{tool_name}">\n{content}\n</tool_response>'


def _response_content(message: ModelResponse, answers_as_json: bool) -> str:
    texts: list[str] = []
    calls: list[str] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.content)
        elif isinstance(part, ToolCallPart):
            call = {"tool": part.tool_name, "arguments": part.args_as_dict()}
            calls.append(json.dumps(call, ensure_ascii=False))
        elif isinstance(part, ThinkingPart):
            continue  # another model's reasoning: not part of what this model said
        else:
            # Native (provider-side) tool traffic, files and compaction items of another provider
            # have no text form this model could use.
            log.debug("leaving %s out of the local model prompt", type(part).__name__)
    if calls:
        # In envelope mode a reply is exactly one JSON object; any text said before the calls is dropped.
        return "\n".join(calls) if answers_as_json else "\n".join([*texts, *calls])
    text = "".join(texts)
    if answers_as_json and text:
        return json.dumps({"answer": text}, ensure_ascii=False)
    return text
