"""A checkpoint is data someone else may have written: the names in it never choose code to load.

Output types are found only among those the resuming Agent or Task declares (or the process
registered); a tampered name is refused before the model is asked, and nothing is imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise import Agent, Memory, Task
from memwise.hitl import RunNotResumableError, register_output_type
from tests.hitl import support


class Verdict(BaseModel):
    ok: bool


def _shell_model(marker: Path) -> FunctionModel:
    """Calls delete_file; once it has the result, answers through the first output tool with a
    shell command that creates `marker` (what an attacker's model reply would do)."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            output = info.output_tools[0]
            first_arg = next(iter(output.parameters_json_schema["properties"]))
            return ModelResponse(parts=[ToolCallPart(output.name, {first_arg: f"touch {marker}"})])
        return ModelResponse(parts=[ToolCallPart("delete_file", {"path": "/a"})])

    return FunctionModel(respond)


def _ok_model() -> FunctionModel:
    """Calls delete_file; once it has the result, answers through the output tool with ok=True."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"ok": True})])
        return ModelResponse(parts=[ToolCallPart("delete_file", {"path": "/a"})])

    return FunctionModel(respond)


def _paused_with_output_type(store, model: FunctionModel, output_type_name: str) -> str:
    """A run paused on a confirmation whose stored checkpoint was rewritten to name `output_type_name`."""
    agent = Agent(model, memory=Memory(store, session_id="s1", full_session_memory=True), tools=support.TOOLS)
    paused = agent.do(Task("delete /a", response_format=Verdict))
    assert paused.is_paused
    run = store.get_run(paused.run_id)
    store.update_run(run.run_id, expected_version=run.version, checkpoint={**run.checkpoint, "output_type": output_type_name})
    return paused.run_id


def _resume_with_new_agent(store, model: FunctionModel, run_id: str):
    agent = Agent(model, memory=Memory(store, session_id="s1", full_session_memory=True), tools=support.TOOLS)
    requirements = agent.get_run_output(run_id).active_requirements
    requirements[0].confirm()
    return agent.continue_run(return_output=True, run_id=run_id, requirements=requirements)


def test_a_checkpoint_naming_a_shell_function_is_refused_and_runs_nothing(store, tmp_path, effects) -> None:
    marker = tmp_path / "the-command-ran"
    model = _shell_model(marker)
    run_id = _paused_with_output_type(store, model, "subprocess:getoutput")

    with pytest.raises(RunNotResumableError, match=r"'subprocess:getoutput'.*does not know.*register_output_type"):
        _resume_with_new_agent(store, model, run_id)

    assert not marker.exists()
    assert effects.count("delete_file") == 0  # refused before any step ran
    assert store.get_run(run_id).status == "paused"  # and the run is untouched


def test_a_checkpoint_naming_an_importable_module_does_not_import_it(store, tmp_path, monkeypatch) -> None:
    imported = tmp_path / "the-module-was-imported"
    (tmp_path / "memwise_planted_module.py").write_text(
        f"import pathlib\npathlib.Path({str(imported)!r}).touch()\nclass Thing:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = _shell_model(tmp_path / "unused")
    run_id = _paused_with_output_type(store, model, "memwise_planted_module:Thing")

    with pytest.raises(RunNotResumableError, match="does not know"):
        _resume_with_new_agent(store, model, run_id)

    assert "memwise_planted_module" not in sys.modules
    assert not imported.exists()


def test_an_unknown_module_is_refused_with_the_fix(store, tmp_path) -> None:
    model = _shell_model(tmp_path / "unused")
    run_id = _paused_with_output_type(store, model, "no_such_memwise_module.deep:Thing")
    with pytest.raises(RunNotResumableError, match=r"resume with the Agent that started the run"):
        _resume_with_new_agent(store, model, run_id)
    assert not any(name.startswith("no_such_memwise_module") for name in sys.modules)


def test_a_registered_type_resumes_in_a_new_agent(store, tmp_path) -> None:
    class Registered(BaseModel):
        ok: bool

    model = _ok_model()
    first = Agent(model, memory=Memory(store, session_id="s1", full_session_memory=True), tools=support.TOOLS)
    paused = first.do(Task("delete /a", response_format=Registered))
    with pytest.raises(RunNotResumableError, match="does not know"):
        _resume_with_new_agent(store, model, paused.run_id)

    assert register_output_type(Registered) is Registered
    done = _resume_with_new_agent(store, model, paused.run_id)
    assert done.output == Registered(ok=True)


def test_a_task_hands_its_output_type_to_a_new_agent(store) -> None:
    class Handed(BaseModel):
        ok: bool

    model = _ok_model()
    task = Task("delete /a", tools=[support.delete_file], response_format=Handed)
    paused = Agent(model, memory=Memory(store, session_id="s1", full_session_memory=True)).do(task)
    paused.active_requirements[0].confirm()
    fresh = Agent(model, memory=Memory(store, session_id="s1", full_session_memory=True))
    assert fresh.continue_run(task=task, requirements=paused.requirements) == Handed(ok=True)


def test_a_checkpoint_naming_a_tool_the_process_lacks_is_refused_and_imports_nothing(store, tmp_path, monkeypatch) -> None:
    imported = tmp_path / "the-tool-module-was-imported"
    (tmp_path / "memwise_planted_tools.py").write_text(
        f"import pathlib\npathlib.Path({str(imported)!r}).touch()\ndef system(command):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = Agent(support.ScriptedModel().model, memory=Memory(store, session_id="s1"), tools=support.TOOLS)
    paused = agent.do("call delete_file path=/a")
    run = store.get_run(paused.run_id)
    forged = {**run.checkpoint, "tools": [*run.checkpoint["tools"], "system"],
              "tool_refs": {"system": "memwise_planted_tools:system"}}
    store.update_run(run.run_id, expected_version=run.version, checkpoint=forged)
    paused.active_requirements[0].confirm()
    with pytest.raises(RunNotResumableError, match=r"tools \['system'\]"):
        agent.continue_run(run_id=paused.run_id)
    assert "memwise_planted_tools" not in sys.modules and not imported.exists()
