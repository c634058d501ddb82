"""`@tool` options, and the checkpoint's JSON form (nothing pickled; found by name on resume)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel
from pydantic_ai import Tool
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.usage import RunUsage

from memwise import Agent
from memwise.errors import InvalidInputError
from memwise.hitl import RunNotResumableError
from memwise.hitl.checkpoint import Checkpoint, find_type, type_name
from memwise.hitl.requirements import Requirement, ToolExecution, UserInputField
from memwise.tools import tool
from tests.hitl import support


class Verdict(BaseModel):
    ok: bool


def test_tool_keeps_the_function_callable_and_checks_its_options() -> None:
    assert support.delete_file("/x") == "deleted /x"  # still an ordinary function

    @tool
    def plain(a: int) -> int:
        return a

    assert plain(2) == 2
    with pytest.raises(InvalidInputError, match="one of"):
        tool(requires_confirmation=True, external_execution=True)
    with pytest.raises(InvalidInputError, match="needs requires_user_input"):
        tool(user_input_fields=["a"])
    with pytest.raises(InvalidInputError, match=r"\['b'\] are not parameters"):
        tool(requires_user_input=True, user_input_fields=["b"])(plain)
    with pytest.raises(InvalidInputError, match="unique"):
        Agent(support.ScriptedModel().model, tools=[support.lookup, support.lookup])


def test_a_pydantic_ai_tool_requiring_approval_pauses_like_a_confirmation(scripted) -> None:
    def wipe(path: str) -> str:
        return f"wiped {path}"

    agent = Agent(scripted.model, tools=[Tool(wipe, requires_approval=True)])
    paused = agent.do("call wipe path=/a")
    assert paused.pause_reason == "confirmation"
    paused.active_requirements[0].confirm()
    assert agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements).output == "wipe: wiped /a"


def test_the_checkpoint_is_json_and_round_trips() -> None:
    requirement = Requirement(
        "user_input",
        ToolExecution("send_email", {"subject": "hi"}, "c1"),
        [UserInputField("to_address", value="a@b.c")],
    )
    checkpoint = Checkpoint(
        "call send_email subject=hi", "context", type_name(Verdict), ["send_email"], "be brief",
        history=[ModelRequest(parts=[UserPromptPart("earlier")]), ModelResponse(parts=[TextPart("ok")])],
        messages=[
            ModelRequest(parts=[UserPromptPart("now")]),
            ModelResponse(parts=[ToolCallPart("send_email", {"subject": "hi"}, tool_call_id="c1")]),
        ],
        usage=RunUsage(requests=1, input_tokens=5), pending=[requirement],
    )
    data = json.loads(json.dumps(checkpoint.to_json()))
    back = Checkpoint.from_json(data, "r1")
    assert back.to_json() == data
    assert back.pending[0].user_input == {"to_address": "a@b.c"} and back.usage.input_tokens == 5
    assert find_type(back.output_type, {type_name(Verdict): Verdict}, "r1") is Verdict  # found among known types
    with pytest.raises(RunNotResumableError, match="does not know"):
        find_type(back.output_type, {}, "r1")  # never imported by name
    with pytest.raises(RunNotResumableError, match="format"):
        Checkpoint.from_json({**data, "format": 99}, "r1")
    with pytest.raises(RunNotResumableError, match="no checkpoint"):
        Checkpoint.from_json(None, "r1")
