"""Pause and resume in one process: each kind of requirement, the run record from the start, the
checkpoint, and what memory stores (once, when the run completes)."""

from __future__ import annotations

import json

import pytest
from pydantic_ai.messages import ToolReturnPart, UserPromptPart

from memwise import Agent, Memory, Task
from memwise.errors import InvalidInputError
from memwise.hitl import Requirement, RequirementError, RunNotResumableError, UserInputField
from memwise.hitl.requirements import DEFAULT_REJECTION
from memwise.memory.errors import SessionAccessError
from tests.hitl import support
from tests.hitl.conftest import make_agent
from tests.hitl.support import shape
from tests.memory.fakes import ReadingModel

DELETE = "call delete_file path=/tmp/a"


def test_a_run_is_recorded_from_its_start_and_pauses_with_a_checkpoint(store, scripted, effects) -> None:
    seen = []
    scripted.hook = lambda messages: seen.extend(store.list_runs(session_id="s1").items)
    paused = make_agent(store, scripted).do(DELETE)  # a paused run returns its RunOutput

    assert [(r.status, r.lease_owner is not None) for r in seen] == [("running", True)]
    assert paused.is_paused and paused.status == "paused" and paused.output is None
    assert paused.pause_reason == "confirmation"
    [req] = paused.active_requirements
    assert req.needs_confirmation and not req.needs_external_execution and not req.needs_user_input
    assert (req.tool_execution.tool_name, req.tool_execution.tool_args) == ("delete_file", {"path": "/tmp/a"})

    record = store.get_run(paused.run_id)
    assert record.run_id == seen[0].run_id and record.status == "paused"
    assert record.lease_owner is None  # given back: a resumer need not wait for it to expire
    checkpoint = json.loads(json.dumps(record.checkpoint))  # plain JSON
    assert checkpoint["pending"][0]["tool_execution"]["tool_name"] == "delete_file"
    assert shape(paused.messages) == [
        ("request", [("user", DELETE)]),
        ("response", [("call", "delete_file", {"path": "/tmp/a"})]),
    ]
    assert store.read_messages("s1") == []  # memory saves the run when it completes
    assert effects.calls == []


def test_confirm_runs_the_tool_and_the_run_completes(store, scripted, effects) -> None:
    paused = make_agent(store, scripted).do(DELETE)
    paused.active_requirements[0].confirm()
    resumer = make_agent(store, support.ScriptedModel())  # a new Agent with the same tools
    done = resumer.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)

    assert done.status == "completed" and done.output == "delete_file: deleted /tmp/a"
    assert effects.count("delete_file") == 1
    assert store.get_run(paused.run_id).checkpoint is None  # nothing left to resume from
    with pytest.raises(RunNotResumableError, match="completed"):
        resumer.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)


@pytest.mark.parametrize("note", ["not on Fridays", None])
def test_reject_sends_the_note_to_the_model(store, scripted, effects, note) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do(DELETE)
    paused.active_requirements[0].reject(note=note)
    done = agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)

    expected = note or DEFAULT_REJECTION
    sent = [p for p in scripted.requests[-1][-1].parts if isinstance(p, ToolReturnPart)]
    assert [(p.tool_name, p.content, p.tool_call_id) for p in sent] == [("delete_file", expected, "call-0-delete_file")]
    assert done.output == f"delete_file: {expected}"
    assert effects.calls == []  # a rejected call never runs


def test_external_execution_takes_the_result_from_the_caller(store, scripted) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do("call run_query sql=select")
    [req] = paused.active_requirements
    assert paused.pause_reason == "external_execution" and req.needs_external_execution
    assert req.tool_execution.tool_args == {"sql": "select"} and req.tool_execution.result is None
    req.tool_execution.result = "42 rows"
    assert not req.needs_external_execution
    done = agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert scripted.last_results() == {"run_query": "42 rows"} and done.output == "run_query: 42 rows"


def test_user_input_fills_arguments_the_model_never_sees(store, scripted, effects) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do("call send_email subject=hello")
    [req] = paused.active_requirements
    assert paused.pause_reason == "user_input" and req.needs_user_input
    assert req.user_input_schema == [UserInputField("to_address", "string", None, True, None)]
    [tool] = [t for t in scripted.infos[0].function_tools if t.name == "send_email"]
    assert set(tool.parameters_json_schema["properties"]) == {"subject"}

    with pytest.raises(InvalidInputError, match="to_address"):
        req.set_user_input(cc="x")
    with pytest.raises(RequirementError, match="not decided"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    req.user_input_schema[0].value = 123
    with pytest.raises(RequirementError, match="to_address: Input should be a valid string"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    req.user_input_schema[0].value = "ann@example.com"
    done = agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert effects.calls == [("send_email", {"subject": "hello", "to_address": "ann@example.com"})]
    assert done.output == "send_email: sent 'hello' to ann@example.com"


def test_every_kind_at_once_and_the_history_is_stored_exactly_once(store, scripted, effects) -> None:
    prompt = "call lookup q=x; call delete_file path=/a; call run_query sql=s; call send_email subject=hi"
    agent = make_agent(store, scripted)
    paused = agent.do(Task(prompt), return_output=True)
    assert paused.pause_reason == "confirmation, user_input, external_execution"
    assert effects.calls == [("lookup", {"q": "x"})]  # the ordinary tool ran before the pause
    by_tool = {r.tool_execution.tool_name: r for r in paused.active_requirements}
    by_tool["delete_file"].confirm()
    by_tool["run_query"].set_result("3 rows")
    by_tool["send_email"].set_user_input({"to_address": "b@c.d"})
    resumed = make_agent(store, support.ScriptedModel())
    done = resumed.continue_run(return_output=True, run_id=paused.run_id, requirements=list(by_tool.values()))

    assert effects.count("lookup") == 1  # not run again on resume
    calls = [
        ("call", "lookup", {"q": "x"}),
        ("call", "delete_file", {"path": "/a"}),
        ("call", "run_query", {"sql": "s"}),
        ("call", "send_email", {"subject": "hi"}),
    ]
    expected = [
        ("request", [("user", prompt)]),
        ("response", calls),
        ("request", [("return", "lookup", "found x")]),
        ("request", [
            ("return", "delete_file", "deleted /a"),
            ("return", "run_query", "3 rows"),
            ("return", "send_email", "sent 'hi' to b@c.d"),
        ]),
        ("response", [("text", done.output)]),
    ]
    assert shape([m.message for m in store.read_messages("s1")]) == expected
    assert shape(done.messages) == expected
    assert {m.run_id for m in store.read_messages("s1")} == {paused.run_id}


def test_decisions_must_answer_what_the_run_waits_for(store, scripted) -> None:
    agent = make_agent(store, scripted)
    paused = agent.do(DELETE)
    other = agent.do("call delete_file path=/b")
    with pytest.raises(RequirementError, match="pass them decided"):  # a new Agent has none handed out
        make_agent(store, scripted).continue_run(return_output=True, run_id=paused.run_id)
    with pytest.raises(RequirementError, match="not decided"):
        agent.continue_run(run_id=paused.run_id)  # this Agent's are undecided still
    with pytest.raises(RequirementError, match="not decided"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    other.active_requirements[0].confirm()
    stale = Requirement.from_dict({**other.active_requirements[0].to_dict()})
    stale.tool_execution.tool_call_id = "call-9-delete_file"
    with pytest.raises(RequirementError, match="not what this run waits for"):
        agent.continue_run(return_output=True, run_id=paused.run_id, requirements=[stale])
    with pytest.raises(InvalidInputError, match="only an external execution"):
        paused.active_requirements[0].set_result("x")
    # none of that touched the run: it is still paused, and resumes
    assert store.get_run(paused.run_id).status == "paused" and store.get_run(paused.run_id).lease_owner is None
    paused.active_requirements[0].confirm()
    assert agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements).status == "completed"


def test_memory_is_saved_once_when_the_run_completes(store, scripted) -> None:
    reader = ReadingModel()
    memory = Memory(
        store, session_id="s1", user_id="u1", model=reader.model,
        full_session_memory=True, summary_memory=True, user_analysis_memory=True,
    )
    agent = Agent(scripted.model, memory=memory, tools=support.TOOLS)
    first = "My name is Alice. call delete_file path=/a"
    paused = agent.do(first)
    assert store.read_messages("s1") == [] and store.get_session("s1").summary is None
    assert store.get_profile("u1") is None and reader.calls == []

    paused.active_requirements[0].confirm()
    done = agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    memory.flush()  # memory's updates follow the answer
    assert len(reader.of("summary")) == 1 and len(reader.of("profile")) == 1
    assert "name=Alice" in store.get_session("s1").summary
    assert store.get_profile("u1").data["name"] == "Alice"
    assert store.get_profile("u1").provenance["name"]["run_id"] == paused.run_id
    assert len(store.read_messages("s1")) == 4
    assert store.get_run(paused.run_id).usage == done.usage.as_dict()
    assert done.usage.answer.requests == 2 and done.usage.memory.requests == 2

    agent.do("What do you know?")  # the next run sees the paused turn once, whole
    sent = scripted.requests[-1]
    assert [p.content for m in sent for p in m.parts if isinstance(p, UserPromptPart)] == [first, "What do you know?"]


def test_an_agent_without_memory_resumes_its_own_runs(scripted, effects) -> None:
    agent = Agent(scripted.model, tools=support.TOOLS)
    paused = agent.do(DELETE)
    assert [r.run_id for r in agent.list_paused_runs()] == [paused.run_id]
    paused.active_requirements[0].confirm()
    assert agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements).status == "completed"
    assert agent.get_run_output(paused.run_id) is None and agent.list_paused_runs() == []


def test_per_task_tools_are_found_by_name(store, scripted) -> None:
    def undecorated(path: str) -> str:
        return f"checked {path}"

    memory = Memory(store, session_id="s1", full_session_memory=True)
    agent = Agent(scripted.model, memory=memory)
    paused = agent.do(Task(DELETE, tools=[support.delete_file, undecorated]))
    paused.active_requirements[0].confirm()
    stranger = Agent(scripted.model, memory=Memory(store, session_id="s1"))
    # the @tool function is found in this process; a plain function given to the Task is not
    with pytest.raises(RunNotResumableError, match=r"tools \['undecorated'\].*pass task=Task"):
        stranger.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert store.get_run(paused.run_id).status == "paused"  # a refused resume changes nothing
    done = agent.continue_run(return_output=True, run_id=paused.run_id, requirements=paused.active_requirements)
    assert done.output == "delete_file: deleted /tmp/a"


def test_paused_runs_are_listed_by_session_and_user(store, scripted) -> None:
    agent = make_agent(store, scripted)
    one, two = agent.do(DELETE), agent.do("call run_query sql=x")
    memory = Memory(store, session_id="s2", user_id="u2", full_session_memory=True)
    other = Agent(scripted.model, memory=memory, tools=support.TOOLS)
    third = other.do(DELETE)
    assert {r.run_id for r in agent.list_paused_runs()} == {one.run_id, two.run_id}
    assert agent.get_run_output(one.run_id).active_requirements == one.active_requirements
    with pytest.raises(SessionAccessError):  # an Agent of user u1 sees only u1's runs
        agent.list_paused_runs(user_id="u2")
    with pytest.raises(SessionAccessError):
        agent.get_run_output(third.run_id)
    assert agent.list_paused_runs(session_id="s2") == []

    approver = Agent(scripted.model, memory=Memory(store), tools=support.TOOLS)  # a worker of no user
    assert [r.run_id for r in approver.list_paused_runs(user_id="u2")] == [third.run_id]
    listed = approver.list_paused_runs(session_id="s2")[0]
    assert listed.pause_reason == "confirmation" and listed.active_requirements[0].needs_confirmation
