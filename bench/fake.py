"""The fake model's behaviour, written once (stdlib only, so peer runners can import it too).

Every workload answers with the same deterministic text, summaries with the same fixed-size text,
and structured requests (trait extraction, summary schemas) with a minimal valid instance of the
requested JSON schema. `memwise_models()` wraps this in pydantic-ai `FunctionModel`s; the loopback
OpenAI-compatible server (`fake_openai.py`) serves the same replies to frameworks that have no
FunctionModel (Upsonic, Agno).

Tokens are counted with one rule everywhere (`count_tokens`): words and punctuation marks, which
is close to what BPE tokenizers report for English text and needs no tokenizer download.
"""

from __future__ import annotations

import json
import re
from typing import Any

ANSWER = (
    "Understood. I noted what you said and will keep it in mind for the rest of our conversation; "
    "here is a short, deterministic answer of a typical chat length so every framework stores the "
    "same amount of text per turn."
)
SUMMARY = (
    "The user and the assistant have been chatting about benchmark topics: the user shares facts "
    "about projects, preferences and plans, and the assistant acknowledges each of them briefly. "
    "No decisions are pending."
)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text or ""))


def user_prompt(turn: int) -> str:
    """The user's message of turn `turn` (same in every framework)."""
    return (
        f"Turn {turn}: my name is Alice, I work as a Python developer in Berlin and today I am "
        f"looking at item {turn} of my project backlog. Please remember this."
    )


# ---------------------------------------------------------------- JSON schema -> minimal instance
def instance_of(schema: dict[str, Any], defs: dict[str, Any] | None = None, name: str = "") -> Any:
    """A small valid value for `schema` (objects get every property, texts are short)."""
    defs = {**(defs or {}), **schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return instance_of(defs.get(target, {}), defs, name)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance_of(options[0], defs, name)
    if "allOf" in schema and schema["allOf"]:
        return instance_of(schema["allOf"][0], defs, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties", {})
        return {key: instance_of(sub, defs, key) for key, sub in props.items()}
    if kind == "array":
        item = instance_of(schema.get("items", {"type": "string"}), defs, name)
        return [item]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _text_for(name)


def _text_for(name: str) -> str:
    lowered = name.lower()
    if "summary" in lowered:
        return SUMMARY
    if lowered == "evidence":  # trait extraction quotes the user (see user_prompt)
        return "my name is Alice, I work as a Python developer in Berlin"
    if lowered == "name":
        return "Alice"
    if "occupation" in lowered or "role" in lowered:
        return "Python developer"
    if "location" in lowered:
        return "Berlin"
    return "python"


# ---------------------------------------------------------------- pydantic-ai FunctionModel
def memwise_models(counter: TokenCounter | None = None):
    """(answer_model, memory_model) as pydantic-ai FunctionModels with the shared behaviour.

    `counter`, if given, counts the tokens of every request the *memory* model receives.
    """
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def reply(messages, info: AgentInfo, *, summary_text: bool) -> ModelResponse:
        if info.output_tools and not info.allow_text_output:
            tool = info.output_tools[0]
            return ModelResponse(parts=[ToolCallPart(tool.name, instance_of(tool.parameters_json_schema))])
        return ModelResponse(parts=[TextPart(SUMMARY if summary_text else ANSWER)])

    def answer(messages, info):
        return reply(messages, info, summary_text=False)

    def memory(messages, info):
        if counter is not None:
            counter.add(request_tokens(messages, info))
        return reply(messages, info, summary_text=True)

    return FunctionModel(answer, model_name="fake-answer"), FunctionModel(memory, model_name="fake-memory")


def request_tokens(messages, info) -> int:
    """Tokens of everything a pydantic-ai model request carries: instructions, every message part
    and the tool / output schemas."""
    total = 0
    for message in messages:
        total += count_tokens(getattr(message, "instructions", None) or "")
        for part in message.parts:
            content = getattr(part, "content", None)
            if content is None and hasattr(part, "args"):
                content = part.args if isinstance(part.args, str) else json.dumps(part.args)
            if isinstance(content, str):
                total += count_tokens(content)
            elif content is not None:
                total += count_tokens(json.dumps(content, default=str))
    for tool in list(info.function_tools) + list(info.output_tools):
        total += count_tokens(json.dumps({"name": tool.name, "description": tool.description,
                                          "parameters": tool.parameters_json_schema}))
    return total


class TokenCounter:
    """Tokens and calls received by the memory model, read per turn by the workload."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def add(self, tokens: int) -> None:
        self.calls.append(tokens)

    def take(self) -> list[int]:
        calls, self.calls = self.calls, []
        return calls


def turn_messages(turn: int) -> list:
    """One stored turn as the agent stores it: the user's request and the model's answer."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

    return [
        ModelRequest(parts=[UserPromptPart(user_prompt(turn))]),
        ModelResponse(parts=[TextPart(ANSWER)], model_name="fake-answer"),
    ]
