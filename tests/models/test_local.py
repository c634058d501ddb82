"""End-to-end tests of the real in-process local model (Qwen2.5-Coder-1.5B via xllamacpp), loaded once per session.

Generations are kept short (temperature 0, small `max_tokens`) so the whole file runs in about a
minute on 2 cores. Run only these with `pytest -m local_model`, skip them with `-m "not local_model"`.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from pydantic_ai import Agent, NativeOutput

from memwise.models.local import LocalModel

pytestmark = pytest.mark.local_model

SHORT = {"temperature": 0.0, "max_tokens": 48}


def test_plain_answer(local_model: LocalModel) -> None:
    result = Agent(local_model).run_sync(
        "What is the capital of France? Answer in one word.", model_settings=SHORT
    )
    assert "paris" in result.output.lower()
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.all_messages()[-1].model_name == "qwen2.5-coder-1.5b"


def test_answer_uses_injected_memory(local_model: LocalModel) -> None:
    agent = Agent(local_model, instructions="The user's name is Alice, a Python developer.")
    answer = agent.run_sync("What's my name and expertise?", model_settings=SHORT).output.lower()
    assert "alice" in answer and "python" in answer


class UserTraits(BaseModel):
    name: str = Field(description="The user's name")
    expertise: list[str] = Field(description="Technologies or fields the user works in")


@pytest.mark.parametrize("mode", ["tool", "native"])
def test_structured_output_validates(local_model: LocalModel, mode: str) -> None:
    output_type = UserTraits if mode == "tool" else NativeOutput(UserTraits)
    agent = Agent(
        local_model, output_type=output_type, instructions="Extract what the user says about themselves."
    )
    result = agent.run_sync(
        "My name is Alice and I'm a Python developer.", model_settings={"temperature": 0, "max_tokens": 64}
    )
    traits = result.output
    assert isinstance(traits, UserTraits)
    assert "alice" in traits.name.lower()
    assert any("python" in item.lower() for item in traits.expertise)


def test_tool_call_round_trip(local_model: LocalModel) -> None:
    calls: list[str] = []
    agent = Agent(local_model)

    @agent.tool_plain
    def get_secret_word() -> str:
        """Return the secret word."""
        calls.append("get_secret_word")
        return "marmalade"

    result = agent.run_sync("What is the secret word?", model_settings=SHORT)
    assert calls == ["get_secret_word"]
    assert "marmalade" in result.output.lower()


async def test_streamed_answer(local_model: LocalModel) -> None:
    agent = Agent(local_model)
    async with agent.run_stream("Count from 1 to 5, separated by commas.", model_settings=SHORT) as result:
        pieces = [text async for text in result.stream_output(debounce_by=None)]
    assert len(pieces) > 2, "text must arrive in several pieces"
    assert "1" in pieces[-1] and "5" in pieces[-1]
