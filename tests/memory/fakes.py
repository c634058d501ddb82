"""A fake LLM that behaves like a model reading its prompt, and records every call.

It answers from what it was sent (instructions + history), writes summaries by folding the new
turns' facts into the previous summary, and extracts traits by reading the user's sentences. So
tests can assert what was sent and what was stored, and a broken memory gives wrong answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise.memory.budget import estimate_tokens, part_text
from memwise.memory.profile import UserTraits

SUMMARY_MARK = "running summary"
NAME = re.compile(r"\bmy name is (\w+)", re.I)
ROLE = re.compile(r"\bI'?m an? (\w+) developer", re.I)
PROJECT = re.compile(r"\bproject (\w+)", re.I)
LIKE = re.compile(r"\bI like (\w+)", re.I)
LIVE = re.compile(r"\bI live in (\w+)", re.I)


def stated(text: str) -> list[tuple[str, str, str]]:
    """The facts a sentence states, as (key, value, the words that state it)."""
    found = []
    for key, pattern in (("name", NAME), ("role", ROLE), ("project", PROJECT), ("likes", LIKE), ("lives", LIVE)):
        found += [(key, m.group(1), m.group(0)) for m in pattern.finditer(text)]
    return found


def facts(text: str) -> list[str]:
    """The facts a sentence states, as 'key=value' strings."""
    return [f"{key}={value}" for key, value, _ in stated(text)]


#: What a small model stored in `memwise demo` that Alice never said.
INVENTED = {
    "goals": ["career growth", "technical skills development"],
    "preferences": ["efficient", "organized", "detail-oriented"],
    "interests": ["programming", "technology"],
    "communication_style": "concise",
}
ASSUMED = re.compile(r"\byou (?:love|like|prefer|use) (\w+)", re.I)


def inventing(prompt: str, info: AgentInfo) -> dict[str, Any]:
    """A trait extraction that invents on purpose (a `trait_overrides`): what the user stated, with
    the right quotes (a skill filed as an interest too, as the local model did), plus the demo's
    invented traits citing the user's first sentence and words nobody wrote, plus what the
    assistant assumed ("you love hiking") citing the assistant."""
    before, _, user = prompt.partition("Recent messages from the user:")
    first = next((line[2:] for line in user.splitlines() if line.startswith("- ")), "")
    fields = {"role": "expertise", "likes": "interests", "lives": "location"}
    claims = [(fields.get(key, key), value) for key, value, _ in stated(user)]
    claims += [("interests", value) for key, value, _ in stated(user) if key == "role"]  # smeared over fields
    quotes = [quote for _, _, quote in stated(user)] + [first]
    for field_name, values in INVENTED.items():
        claims += [(field_name, value) for value in (values if isinstance(values, list) else [values])]
        quotes += [f"I care about {value}" for value in (values if isinstance(values, list) else [values])]
    for match in ASSUMED.finditer(before):
        claims.append(("interests", match.group(1)))
        quotes.append(match.group(0))
    if "traits" in info.output_tools[0].parameters_json_schema.get("properties", {}):
        return {"evidence": quotes, "traits": [{"name": f"{k} {n}", "value": v} for n, (k, v) in enumerate(claims)]}
    out: dict[str, Any] = {"evidence": quotes}
    for field_name, value in claims:
        if "list" in str(UserTraits.model_fields[field_name].annotation):
            out.setdefault(field_name, []).append(value)
        else:
            out.setdefault(field_name, value)
    return out


@dataclass
class Call:
    kind: str  # "answer" | "summary" | "profile"
    messages: list[ModelMessage]
    instructions: str
    info: AgentInfo

    @property
    def request(self) -> ModelRequest:
        return self.messages[-1]

    @property
    def prompt(self) -> str:
        """The newest user prompt text."""
        return "\n".join(p.content for p in self.request.parts if isinstance(p, UserPromptPart))

    @property
    def user_prompts(self) -> list[str]:
        return [p.content for m in self.messages for p in m.parts if isinstance(p, UserPromptPart)]

    @property
    def sent_text(self) -> str:
        return "\n".join([self.instructions, *(part_text(p) for m in self.messages for p in m.parts)])

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.sent_text)


@dataclass
class ReadingModel:
    """`model` is the pydantic-ai FunctionModel; `calls` every request it received."""

    name: str = "reader"
    trait_overrides: Callable[[str, AgentInfo], dict[str, Any] | None] | None = None
    hook: Callable[[Call], Any] | None = None
    summary_fn: Callable[[str], str] | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.model = FunctionModel(self._respond, stream_function=self._stream, model_name=self.name)

    def of(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    # ------------------------------------------------------------------ dispatch
    def _record(self, messages: list[ModelMessage], info: AgentInfo) -> Call:
        instructions = info.instructions or ""
        kind = "summary" if SUMMARY_MARK in instructions else "profile" if info.output_tools and "traits" in instructions else "answer"
        call = Call(kind, list(messages), instructions, info)
        self.calls.append(call)
        if self.hook is not None:
            self.hook(call)
        return call

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        call = self._record(messages, info)
        if call.kind == "summary":
            return ModelResponse(parts=[TextPart((self.summary_fn or self.summarize)(call.prompt))])
        if call.kind == "profile":
            tool = info.output_tools[0]
            return ModelResponse(parts=[ToolCallPart(tool.name, self.traits(call.prompt, info))])
        return self.answer(call)

    async def _stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        response = self._respond(messages, info)
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        for word in re.findall(r"\S+\s*", text):
            yield word

    # ------------------------------------------------------------------ behaviours
    @staticmethod
    def summarize(prompt: str) -> str:
        """Previous summary's facts plus the facts of the new turns (a model that never forgets)."""
        previous, _, turns = prompt.partition("New conversation turns:")
        known = re.findall(r"\w+=\w+", previous)
        for line in turns.splitlines():
            if line.startswith("User:"):
                known += [f for f in facts(line) if f not in known]
        return "Facts: " + "; ".join(known) if known else "Facts: none"

    def traits(self, prompt: str, info: AgentInfo) -> dict[str, Any]:
        if self.trait_overrides is not None:
            override = self.trait_overrides(prompt, info)
            if override is not None:
                return override
        _, _, recent = prompt.partition("Recent messages from the user:")
        found = {key: value for key, value, _ in stated(recent)}
        quotes = [quote for _, _, quote in stated(recent)]  # the user's words, quoted first
        schema = info.output_tools[0].parameters_json_schema
        fields = set(schema.get("properties", {}))
        if "traits" in fields:  # dynamic profile
            return {"evidence": quotes, "traits": [{"name": k, "value": v} for k, v in found.items()]}
        out: dict[str, Any] = {"evidence": quotes}
        if "name" in fields and "name" in found:
            out["name"] = found["name"]
        if "expertise" in fields and "role" in found:
            out["expertise"] = [found["role"]]
        if "interests" in fields and "likes" in found:
            out["interests"] = [found["likes"]]
        if "location" in fields and "lives" in found:
            out["location"] = found["lives"]
        return out

    def answer(self, call: Call) -> ModelResponse:
        """Tool use when asked about weather; otherwise the facts it can read in what it was sent."""
        last = call.request
        returned = [p.content for p in last.parts if isinstance(p, ToolReturnPart)]
        if returned:
            return ModelResponse(parts=[TextPart(f"The weather is {returned[0]}.")])
        if call.info.function_tools and "weather" in call.prompt.lower():
            return ModelResponse(parts=[TextPart("Let me check."), ToolCallPart("get_weather", {"city": "Paris"})])
        context = "\n".join([call.instructions, *call.user_prompts[:-1]])
        profile = {f"{k}={v}" for k, v in re.findall(r"^- (\w+): (.+)$", call.instructions, re.M)}
        known = sorted(set(facts(context)) | set(re.findall(r"\w+=\w+", call.instructions)) | profile)
        return ModelResponse(parts=[TextPart("I know: " + ", ".join(known) if known else "I know nothing yet.")])


def dump(messages: list[ModelMessage]) -> str:
    """All stored text, for 'was X ever stored' assertions."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return json.dumps(ModelMessagesTypeAdapter.dump_python(messages, mode="json"))


def text_turn(text: str, answer: str = "ok") -> list[ModelMessage]:
    return [ModelRequest(parts=[UserPromptPart(text)]), ModelResponse(parts=[TextPart(answer)])]


def tool_turn(text: str, call_id: str, *, aside: str = "Let me check.") -> list[ModelMessage]:
    """A user turn with a tool round trip: two model responses, the first with text beside the call."""
    return [
        ModelRequest(parts=[UserPromptPart(text)]),
        ModelResponse(parts=[TextPart(aside), ToolCallPart("lookup", {"q": text}, tool_call_id=call_id)]),
        ModelRequest(parts=[ToolReturnPart("lookup", f"result for {text}", tool_call_id=call_id)]),
        ModelResponse(parts=[TextPart(f"answer to {text}")]),
    ]


def tool_ids(messages: list[ModelMessage]) -> tuple[set[str], set[str]]:
    """(ids of tool calls, ids of tool results) in `messages`."""
    calls = {p.tool_call_id for m in messages for p in m.parts if isinstance(p, ToolCallPart)}
    results = {p.tool_call_id for m in messages for p in m.parts if isinstance(p, ToolReturnPart)}
    return calls, results


class Gate:
    """A memory model whose calls wait at the gate until it opens (cancellable while they wait,
    as a call over the network is); `entered` is set when the first arrives."""

    def __init__(self, reader: ReadingModel | None = None) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()
        self.reader = reader or ReadingModel()

        async def respond(messages, info):
            self.entered.set()
            if not await asyncio.to_thread(self.opened.wait, 30):
                raise RuntimeError("the gate never opened")
            return self.reader._respond(messages, info)

        self.model = FunctionModel(respond)
