"""How a request is decoded: free text, schema-constrained JSON, or a constrained choice between tools and an answer.

A 1.5B model does not reliably follow its chat template's `<tool_call>` convention (Qwen2.5-Coder
answers with a fenced JSON block, and repeats the call after the result arrives), and xllamacpp
does not recognise a tool-call format for its template. So memwise does tool calling itself:
the tools are described in the system prompt and the reply is decoded under a JSON schema
(llama.cpp's `response_format`), which makes every tool call and every structured output
parse and validate by construction:

- `text`: no tools and no structured output -> free text, streamed as it comes.
- `json`: native or prompted structured output without tools -> the output schema constrains the reply.
- `tool_args`: exactly one output tool and nothing else allowed -> its parameter schema constrains the reply,
  which becomes that tool's call.
- `envelope`: tools the model may call -> the reply is one of `{"tool": <name>, "arguments": {...}}` per tool,
  or `{"answer": ...}` when a final answer is allowed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic_core
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelResponsePart, TextPart, ToolCallPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

Mode = Literal["text", "json", "tool_args", "envelope"]

ENVELOPE_RULES = (
    "Call a tool whenever it can give you information you need: never guess what a tool can tell you. "
    "When a tool result arrives, use it, copying its values exactly."
)


@dataclass(frozen=True)
class DecodingPlan:
    """What to ask the server for, and how to turn its reply into pydantic-ai response parts."""

    mode: Mode
    schema: dict[str, Any] | None = None
    """The JSON schema the reply is constrained to (None in `text` mode)."""
    instructions: str | None = None
    """Text appended to the system prompt (tool descriptions and the reply format)."""
    output_tool: str | None = None
    """In `tool_args` mode: the output tool the reply is the arguments of."""
    tool_names: frozenset[str] = field(default_factory=frozenset)
    """In `envelope` mode: the tools the model may call."""
    answer_allowed: bool = True
    """Whether a final answer (text, or JSON in structured output modes) is allowed besides tool calls."""

    @property
    def renders_answers_as_json(self) -> bool:
        """In envelope mode earlier answers are shown as `{"answer": ...}`, the format the model must reply in."""
        return self.mode == "envelope"

    @property
    def streams(self) -> Literal["text", "tool_args"] | None:
        """How deltas are forwarded while generating: as text, as the output tool's arguments, or not at all."""
        if self.mode in ("text", "json"):
            return "text"
        return "tool_args" if self.mode == "tool_args" else None

    def response_format(self) -> dict[str, Any] | None:
        if self.schema is None:
            return None
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": self.schema}}

    def parse(self, text: str) -> list[ModelResponsePart]:
        """Turn the model's complete reply into response parts."""
        if self.mode in ("text", "json"):
            return [TextPart(text)] if text else []
        if self.mode == "tool_args":
            assert self.output_tool is not None
            return [ToolCallPart(self.output_tool, text or "{}", new_tool_call_id())]
        return self._parse_envelope(text)

    def _parse_envelope(self, text: str) -> list[ModelResponsePart]:
        try:
            # Partial parsing keeps a reply cut short by `max_tokens` usable: a truncated answer
            # stays a (truncated) answer, truncated tool arguments fail validation and are retried.
            value = pydantic_core.from_json(text, allow_partial="trailing-strings") if text.strip() else None
        except ValueError:
            value = None
        if isinstance(value, dict):
            if isinstance(tool := value.get("tool"), str):
                arguments = value.get("arguments")
                return [
                    ToolCallPart(tool, arguments if isinstance(arguments, dict) else {}, new_tool_call_id())
                ]
            if "answer" in value:
                answer = value["answer"]
                content = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
                return [TextPart(content)] if content else []
        # Constrained decoding makes this unreachable unless the reply was empty or cut off very early.
        return [TextPart(text)] if text.strip() else []


def new_tool_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def make_plan(params: ModelRequestParameters, settings: ModelSettings | None) -> DecodingPlan:
    """Choose how to decode a request from its tools, output mode and `tool_choice`."""
    if params.output_mode == "image" or params.allow_image_output:
        raise UserError("the local model cannot produce images")
    allowed, direct = _resolve_tool_choice(params, settings)
    function_tools = [t for t in params.function_tools if t.name in allowed]
    output_tools = [t for t in params.output_tools if t.name in allowed]
    direct = direct and params.allow_text_output
    structured_schema = (
        params.output_object.json_schema
        if params.output_mode in ("native", "prompted") and params.output_object is not None
        else None
    )
    tools = [*function_tools, *output_tools]

    if not tools:
        if structured_schema is not None:
            return DecodingPlan("json", schema=structured_schema)
        if not direct:
            raise UserError("the request allows neither a final answer nor any tool call")
        return DecodingPlan("text")

    if not function_tools and len(output_tools) == 1 and not direct:
        tool = output_tools[0]
        return DecodingPlan(
            "tool_args",
            schema=tool.parameters_json_schema,
            instructions=_tool_args_instructions(tool),
            output_tool=tool.name,
            answer_allowed=False,
        )

    answer_schema = (structured_schema or {"type": "string"}) if direct else None
    return DecodingPlan(
        "envelope",
        schema=_envelope_schema(tools, answer_schema),
        instructions=_envelope_instructions(tools, answer_schema),
        tool_names=frozenset(t.name for t in tools),
        answer_allowed=direct,
    )


def _resolve_tool_choice(
    params: ModelRequestParameters, settings: ModelSettings | None
) -> tuple[set[str], bool]:
    """The tools the model may call and whether it may answer directly, per pydantic-ai's `tool_choice` rules."""
    every = {t.name for t in (*params.function_tools, *params.output_tools)}
    try:
        from pydantic_ai.models._tool_choice import resolve_tool_choice
    except ImportError:  # pragma: no cover - older/newer pydantic-ai without the resolver
        return every, params.allow_text_output
    choice = resolve_tool_choice(settings, params)
    if choice == "none":
        return set(), True
    if choice == "auto":
        return every, True
    if choice == "required":
        if (settings or {}).get("tool_choice") == "required":
            return {t.name for t in params.function_tools}, False
        return every, False
    mode, names = choice
    return set(names), mode == "auto"


def _tool_line(tool: ToolDefinition) -> str:
    spec = {
        "name": tool.name,
        "description": tool.description or "",
        "parameters": tool.parameters_json_schema,
    }
    return json.dumps(spec, ensure_ascii=False)


def _tool_args_instructions(tool: ToolDefinition) -> str:
    about = f" ({tool.description})" if tool.description else ""
    return (
        f"Reply with a JSON object{about} that matches this JSON schema:\n"
        f"{json.dumps(tool.parameters_json_schema, ensure_ascii=False)}"
    )


def _envelope_instructions(tools: Sequence[ToolDefinition], answer_schema: dict[str, Any] | None) -> str:
    lines = ["# Tools", "", *(_tool_line(t) for t in tools), "", "Reply with exactly one JSON object:"]
    lines.append('- to call a tool: {"tool": "<tool name>", "arguments": {<arguments>}}')
    if answer_schema is None:
        lines.append("You must call one of the tools.")
    elif answer_schema.get("type") == "string":
        lines.append('- to give your final answer: {"answer": "<your answer>"}')
    else:
        schema = json.dumps(answer_schema, ensure_ascii=False)
        lines.append(
            f'- to give your final answer: {{"answer": <a JSON value matching this schema: {schema}>}}'
        )
    lines.append(ENVELOPE_RULES)
    return "\n".join(lines)


def _envelope_schema(tools: Sequence[ToolDefinition], answer_schema: dict[str, Any] | None) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "tool": {"const": t.name},
                "arguments": _hoist_defs(t.parameters_json_schema, defs),
            },
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    if answer_schema is not None:
        options.append(
            {
                "type": "object",
                "properties": {"answer": _hoist_defs(answer_schema, defs)},
                "required": ["answer"],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    if defs:
        schema = {**schema, "$defs": defs}
    return schema


def _hoist_defs(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Move a nested schema's `$defs` to the envelope's root, where its `#/$defs/...` references point."""
    if "$defs" not in schema:
        return schema
    schema = dict(schema)
    defs.update(schema.pop("$defs"))
    return schema
