"""HITL as the original's docs write it (User Confirmation, External Tool Execution, User Input,
Durable Execution pages), with only the imports renamed and a scripted model: the task says
which tool to call ("call send_email subject=Hello")."""

from __future__ import annotations

import asyncio

import pytest

from memwise import Agent, Memory, Task
from memwise.errors import InvalidInputError
from memwise.hitl import RequirementError, RunNotResumableError
from memwise.tools import tool
from tests.hitl import support


@tool(requires_confirmation=True)
def sensitive_operation(data: str) -> str:
    """Perform a sensitive operation that requires user confirmation."""
    return f"Sensitive operation completed on: {data}"


@tool(external_execution=True)
def send_email(to: str, subject: str) -> str:
    """Send an email - requires external execution."""
    return f"Email sent successfully to {to} with subject '{subject}'"


@tool(requires_user_input=True, user_input_fields=["to_address"])
def send_email_to(subject: str, to_address: str) -> str:
    """Send an email. The agent provides the subject, the user provides the address."""
    return f"Email sent to {to_address} with subject '{subject}'"


def execute_tool_externally(requirement) -> str:
    tool_exec = requirement.tool_execution
    if tool_exec.tool_name == "send_email":
        return send_email(**tool_exec.tool_args)
    raise ValueError(f"Unknown tool: {tool_exec.tool_name}")


def fill_user_input(requirement) -> None:
    if not requirement.user_input_schema:
        return
    for field_dict in requirement.user_input_schema:
        if isinstance(field_dict, dict) and field_dict.get("value") is None:
            field_dict["value"] = "user@example.com"
    requirement.tool_execution.answered = True


CONFIRM = "call sensitive_operation data=user_records_2024"
EXTERNAL = "call send_email to=test@example.com subject=Hello"
USER_INPUT = "call send_email_to subject=Hello"


def test_user_confirmation_quick_start(scripted) -> None:
    async def main():
        agent = Agent(scripted.model, name="confirmation_agent")
        task = Task(description=CONFIRM, tools=[sensitive_operation])
        output = await agent.do_async(task, return_output=True)
        assert output.is_paused
        assert output.pause_reason == "confirmation"
        for requirement in output.active_requirements:
            if requirement.needs_confirmation:
                requirement.confirm()
        return await agent.continue_run_async(run_id=output.run_id, return_output=True)

    result = asyncio.run(main())
    assert result.is_complete and result.output == "sensitive_operation: Sensitive operation completed on: user_records_2024"


def test_resume_with_task_on_the_same_agent_and_a_rejection(scripted) -> None:
    agent = Agent(scripted.model, name="confirmation_agent")
    task = Task(description=CONFIRM, tools=[sensitive_operation])
    output = agent.do(task, return_output=True)
    for requirement in output.active_requirements:
        if requirement.needs_confirmation:
            requirement.reject(note="Not authorized to run this operation")
    result = agent.continue_run(task=task, return_output=True)
    assert result.output == "sensitive_operation: Not authorized to run this operation"
    assert task.response == result.output


@pytest.mark.parametrize("by", ["run_id", "task"])
def test_a_new_agent_resumes_with_the_requirements(store, scripted, by) -> None:
    memory = Memory(store, session_id="session_1", user_id="user_1", full_session_memory=True)
    agent = Agent(scripted.model, name="confirmation_agent", memory=memory)
    task = Task(description=CONFIRM, tools=[sensitive_operation])
    output = agent.do(task, return_output=True)
    for requirement in output.active_requirements:
        if requirement.needs_confirmation:
            requirement.confirm()

    new_memory = Memory(store, session_id="session_1", user_id="user_1", full_session_memory=True)
    new_agent = Agent(scripted.model, name="confirmation_agent", memory=new_memory)
    which = {"run_id": output.run_id} if by == "run_id" else {"task": task}
    result = asyncio.run(new_agent.continue_run_async(**which, requirements=output.requirements, return_output=True))
    assert result.output == "sensitive_operation: Sensitive operation completed on: user_records_2024"
    assert len(new_memory.get_session().messages) == 4


def test_external_tool_execution_loop(scripted) -> None:
    async def main():
        agent = Agent(scripted.model, name="email_agent")
        task = Task(description=EXTERNAL, tools=[send_email])
        output = await agent.do_async(task, return_output=True)
        assert output.pause_reason == "external_execution"
        while output.active_requirements:
            for requirement in output.active_requirements:
                if requirement.is_external_tool_execution:
                    requirement.tool_execution.result = execute_tool_externally(requirement)
            output = await agent.continue_run_async(task=task, return_output=True)
        return output

    assert asyncio.run(main()).output == "send_email: Email sent successfully to test@example.com with subject 'Hello'"


def test_set_external_execution_result_and_the_executor_callback(scripted) -> None:
    agent = Agent(scripted.model)
    task = Task(description=EXTERNAL, tools=[send_email])
    output = agent.do(task, return_output=True)
    [requirement] = output.active_requirements
    requirement.set_external_execution_result("queued")
    assert not requirement.is_external_tool_execution and requirement.is_resolved
    assert agent.continue_run(run_id=output.run_id) == "send_email: queued"  # the output itself

    second = agent.do(Task(description=EXTERNAL, tools=[send_email]), return_output=True)
    result = agent.continue_run(run_id=second.run_id, return_output=True, external_tool_executor=execute_tool_externally)
    assert result.output == "send_email: Email sent successfully to test@example.com with subject 'Hello'"


def test_user_input_filled_in_place(scripted) -> None:
    async def main():
        agent = Agent(scripted.model, name="user_input_agent")
        task = Task(description=USER_INPUT, tools=[send_email_to])
        output = await agent.do_async(task, return_output=True)
        assert output.pause_reason == "user_input"
        [requirement] = output.active_requirements
        assert requirement.user_input_schema == [
            {"name": "to_address", "type": "string", "description": None, "required": True, "value": None}
        ]
        for requirement in output.active_requirements:
            if requirement.needs_user_input:
                fill_user_input(requirement)
        return await agent.continue_run_async(run_id=output.run_id, return_output=True)

    result = asyncio.run(main())
    assert result.output == "send_email_to: Email sent to user@example.com with subject 'Hello'"


def test_hitl_handler_decides_every_later_pause(scripted) -> None:
    decided = []

    def hitl_handler(requirement) -> None:
        decided.append(requirement.tool_execution.tool_name)
        if requirement.needs_confirmation:
            requirement.confirm()
        elif requirement.needs_user_input:
            fill_user_input(requirement)

    agent = Agent(scripted.model)
    output = agent.do(Task(USER_INPUT, tools=[send_email_to]), return_output=True)
    result = agent.continue_run(run_id=output.run_id, return_output=True, hitl_handler=hitl_handler)
    assert result.is_complete and decided == ["send_email_to"]

    def undecided(requirement) -> None:
        pass  # leaves it as it is

    again = agent.do(Task(CONFIRM, tools=[sensitive_operation]), return_output=True)
    with pytest.raises(RequirementError, match="sensitive_operation.*not decided"):
        agent.continue_run(run_id=again.run_id, hitl_handler=undecided)


def test_continue_run_returns_the_output_unless_asked_and_keeps_positional_calls(store, scripted) -> None:
    agent = Agent(scripted.model, memory=Memory(store, session_id="s1", full_session_memory=True), tools=support.TOOLS)
    paused = agent.do("call delete_file path=/a")  # a pause comes back as the RunOutput
    assert paused.is_paused and not paused.is_complete
    paused.active_requirements[0].confirm()
    assert agent.continue_run(paused.run_id, paused.active_requirements) == "delete_file: deleted /a"

    with pytest.raises(InvalidInputError, match="needs run_id"):
        agent.continue_run()
    with pytest.raises(InvalidInputError, match="has not been run"):
        agent.continue_run(task=Task("never run"))
    with pytest.raises(RunNotResumableError, match="completed"):
        agent.continue_run(run_id=paused.run_id)


def test_requirements_decided_on_a_later_copy_are_found(store, scripted) -> None:
    memory = Memory(store, session_id="s1", full_session_memory=True)
    agent = Agent(scripted.model, memory=memory, tools=support.TOOLS)
    paused = agent.do("call delete_file path=/a")
    inspected = agent.get_run_output(paused.run_id)  # a second copy handed out: decide that one
    inspected.active_requirements[0].confirm()
    assert agent.continue_run(run_id=paused.run_id) == "delete_file: deleted /a"
