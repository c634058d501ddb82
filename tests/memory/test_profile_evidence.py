"""Profiles hold only what the user said (issue 16): an extraction model that invents, or that
takes the assistant's words for the user's, cannot get a trait stored; what the user said is
stored with the user's words as evidence."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

from memwise import Agent, Memory
from tests.memory.fakes import INVENTED, ReadingModel, inventing

DEMO = ("My name is Alice and I'm a Python developer", "What's my name and expertise?")


def remembered(storage, memory_model, *, answers=None, texts=DEMO, **flags) -> Memory:
    memory = Memory(storage, session_id="s1", user_id="u1", user_analysis_memory=True, model=memory_model, **flags)
    replies = iter(answers or [])
    agent = Agent(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart(next(replies, "Noted."))])), memory=memory)
    for text in texts:
        agent.do(text)
    memory.get_user_profile()  # reading the profile waits for memory's background updates
    return memory


@pytest.mark.parametrize("dynamic", [False, True])
def test_the_demo_profile_holds_only_what_alice_said(storage, dynamic) -> None:
    inventor = ReadingModel(trait_overrides=inventing)
    memory = remembered(storage, inventor.model, dynamic_user_profile=dynamic)
    profile = memory.get_user_profile()
    if dynamic:
        assert sorted(profile.data.values()) == ["Alice", "Python"]
    else:
        assert profile.data == {"name": "Alice", "expertise": ["Python"]}
    # the stand-in did invent: every extraction call returned the demo's invented traits
    sent = inventing(inventor.of("profile")[0].prompt, inventor.of("profile")[0].info)
    claimed = str(sent)
    assert all(value in claimed for values in INVENTED.values() for value in ([values] if isinstance(values, str) else values))


def test_the_assistants_words_never_become_traits(storage) -> None:
    inventor = ReadingModel(trait_overrides=inventing)
    memory = remembered(
        storage, inventor.model,
        texts=["Can you help me plan a trip? I live in Munich."],
        answers=["Sure! Since you love hiking, how about the Alps?"],
    )
    prompt = inventor.of("profile")[0].prompt
    assert "What the assistant replied (context only: never a source of traits):\n- Sure! Since you love hiking" in prompt
    assert prompt.index("context only") < prompt.index("Recent messages from the user:\n- Can you help me plan a trip?")
    assert "hiking" in str(inventing(prompt, inventor.of("profile")[0].info))  # it was claimed ...
    assert memory.get_user_profile().data == {"location": "Munich"}  # ... and not stored


def test_supported_values_are_kept_with_the_users_words(storage) -> None:
    def quoting_loosely(prompt, info):  # lower case, contraction spelled out, one item unsupported
        return {
            "evidence": ["my name is alice", "i am a python developer", "I run Kubernetes clusters"],
            "name": "Alice",
            "expertise": ["Python", "Kubernetes"],
        }

    memory = remembered(storage, ReadingModel(trait_overrides=quoting_loosely).model, texts=DEMO[:1])
    profile = memory.get_user_profile()
    assert profile.data == {"name": "Alice", "expertise": ["Python"]}
    assert profile.provenance["name"]["evidence"] == ["My name is Alice"]
    assert profile.provenance["expertise"]["evidence"] == ["I'm a Python developer"]
