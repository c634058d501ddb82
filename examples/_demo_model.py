"""The model the examples use: `MEMWISE_MODEL` when set (e.g. "anthropic/claude-sonnet-4-5",
"openai/gpt-4o", "local"), else a tiny offline stand-in so every example runs anywhere.

The stand-in is a pydantic-ai FunctionModel that only knows what memory sent it: it answers from
the instructions (summary, profile) and the message history, writes summaries by collecting the
facts of the new turns, and extracts traits from the user's sentences. If memory did not deliver
something, the stand-in cannot know it. Given a knowledge base's passages (`Task(context=[kb])`),
it quotes the line that best fits the question and what it remembers, with its [source].
"""

from __future__ import annotations

import os
import re

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

PATTERNS = {
    "name": re.compile(r"\bmy name is (\w+)", re.I),
    "expertise": re.compile(r"\bI'?m an? (\w+) developer", re.I),
    "project": re.compile(r"\bproject ([A-Z]\w+)"),
    "topic": re.compile(r"\b(?:discuss|about) ([\w ]+?)\s*(?:[?.!,]|$)|\b([A-Z]\w+) compare to ([A-Z]\w+)", re.I | re.M),
}


def _facts(text: str) -> list[str]:
    found = []
    for key, rx in PATTERNS.items():
        for match in rx.findall(text):
            for value in match if isinstance(match, tuple) else (match,):
                if value.strip():
                    found.append(f"{key}: {value.strip()}")
    return list(dict.fromkeys(found))


KB_BLOCK = re.compile(r'^## From the knowledge base "[^"]+".*$', re.M)
PASSAGE = re.compile(r"^\[([^\]\n]+)\]\n(.*?)(?=\n\n\[[^\]\n]+\]\n|\Z)", re.M | re.S)  # to the next [source]


def _stems(text: str) -> set[str]:
    return {word[:5] for word in re.findall(r"\w{3,}", text.lower())}


def _from_knowledge(instructions: str, question: str, remembered: list[str]) -> str | None:
    """The knowledge block's line sharing most words with the question, a line naming something
    remembered first (so "my project" finds the user's project), quoted with its [source]."""
    block = KB_BLOCK.search(instructions)
    if block is None:
        return None
    values = [fact.split(": ", 1)[1] for fact in remembered]
    wanted = _stems(question)
    lines = [(source, line.strip()) for source, text in PASSAGE.findall(instructions[block.end():])
             for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    source, line = max(lines, key=lambda item: (any(v in item[1] for v in values), len(wanted & _stems(item[1])),
                                                len(item[1])))  # a sentence over its heading
    return f"From the knowledge base [{source}]: {line}"


def _user_texts(messages: list[ModelMessage]) -> list[str]:
    return [p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart) and isinstance(p.content, str)]


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    instructions = info.instructions or ""
    texts = _user_texts(messages)
    if "running summary" in instructions:  # memory's summary call: previous summary + new turns
        known = re.findall(r"^- (.+)$", texts[-1], re.M)
        new = [f for f in _facts(texts[-1].partition("New conversation turns:")[2]) if f not in known]
        return ModelResponse(parts=[TextPart("\n".join(f"- {f}" for f in known + new) or "- nothing yet")])
    if info.output_tools:  # memory's trait extraction: each value with the user's words
        recent = texts[-1].partition("Recent messages from the user:")[2]
        found: dict = {"evidence": []}
        for key in ("name", "expertise"):
            for match in PATTERNS[key].finditer(recent):
                found[key] = [match.group(1)] if key == "expertise" else match.group(1)
                found["evidence"].append(match.group(0))
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, found)])
    remembered = _facts("\n".join(texts[:-1])) + re.findall(r"^- (\w+: .+)$", instructions, re.M)
    unique = list(dict.fromkeys(remembered))
    known = _from_knowledge(instructions, texts[-1] if texts else "", unique)
    if not remembered:
        return ModelResponse(parts=[TextPart(known or "Noted! (I remember nothing from before.)")])
    answer = "From memory: " + "; ".join(unique)
    return ModelResponse(parts=[TextPart(answer + (f". {known}" if known else ""))])


def pick_model() -> FunctionModel | str:
    return os.environ.get("MEMWISE_MODEL") or FunctionModel(_respond, model_name="offline-demo")
