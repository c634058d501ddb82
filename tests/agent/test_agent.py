"""Agent and Task: outputs, run output, structured output, tools, context, streaming, and the
sync entry points from scripts, threads and under a running event loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import ModelResponse, ToolCallPart

from memwise import Agent, Memory, RunOutput, Task
from memwise.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]


def test_do_returns_output_and_run_output(reader) -> None:
    agent = Agent(reader.model)
    assert agent.do(Task("hello")) == "I know nothing yet."
    assert agent.do("plain strings are tasks") == "I know nothing yet."
    result = agent.do(Task("hello"), return_output=True)
    assert isinstance(result, RunOutput)
    assert result.status == "completed" and result.run_id and str(result) == result.output
    assert [type(m).__name__ for m in result.messages] == ["ModelRequest", "ModelResponse"]
    assert result.messages[0].run_id == result.run_id
    assert result.usage.answer.requests == 1 and result.usage.memory.requests == 0


def test_response_format_returns_a_model_instance() -> None:
    class City(BaseModel):
        name: str
        population: int

    def fn(messages, info):
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"name": "Paris", "population": 2})])

    from pydantic_ai.models.function import FunctionModel

    task = Task("Biggest city?", response_format=City)
    city = Agent(FunctionModel(fn)).do(task)
    assert city == City(name="Paris", population=2) and task.response == city


def test_system_prompt_and_task_context_go_to_instructions(reader) -> None:
    earlier = Task("Pick a colour")
    earlier.response = "blue"
    Agent(reader.model, system_prompt="Be brief.").do(Task("Paint it", context=["Use oil paint.", earlier]))
    call = reader.of("answer")[0]
    assert call.user_prompts == ["Paint it"]
    for text in ("Be brief.", "Use oil paint.", "Earlier task: Pick a colour", "Result: blue"):
        assert text in call.instructions


def test_agent_tools_and_task_tools_are_python_functions(reader) -> None:
    def get_weather(city: str) -> str:
        """Current weather."""
        return f"rainy in {city}"

    assert Agent(reader.model, tools=[get_weather]).do("weather?") == "The weather is rainy in Paris."
    assert Agent(reader.model).do(Task("weather?", tools=[get_weather])) == "The weather is rainy in Paris."
    assert [t.name for t in reader.of("answer")[-2].info.function_tools] == ["get_weather"]
    Agent(reader.model).do("weather?")  # the task's tool belongs to that task only
    assert reader.of("answer")[-1].info.function_tools == []


def test_do_async(reader) -> None:
    async def main() -> list[str]:
        agent = Agent(reader.model)
        return list(await asyncio.gather(agent.do_async("a"), agent.do_async(Task("b"))))

    assert asyncio.run(main()) == ["I know nothing yet."] * 2


def test_stream_yields_text_as_it_arrives_and_saves_when_complete(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice")
    stored_during: list[int] = []
    stream = agent.stream("Who am I?")
    pieces = []
    for piece in stream:
        pieces.append(piece)
        stored_during.append(len(storage.read_messages("s1")))
    assert len(pieces) > 2 and "".join(pieces) == "I know: name=Alice"
    assert set(stored_during) == {2}  # nothing of this run stored until the stream completed
    assert len(storage.read_messages("s1")) == 4
    assert stream.result.output == "I know: name=Alice" and stream.output == stream.result.output


def test_astream(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True, summary_memory=True)
    agent = Agent(reader.model, memory=memory)

    async def main() -> tuple[list[str], object]:
        stream = agent.astream(Task("My name is Bob"))
        return [p async for p in stream], stream.result

    pieces, result = asyncio.run(main())
    assert "".join(pieces) == "I know nothing yet."
    assert "name=Bob" in memory.get_session().summary  # made after the answer (here: after its loop ended)
    assert result.usage.memory.requests == 1


def test_stopping_a_stream_early_saves_no_history(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice")
    for _ in agent.stream("Who am I?"):
        break
    assert len(storage.read_messages("s1")) == 2
    runs = storage.list_runs(session_id="s1").items
    assert sorted(r.status for r in runs) == ["cancelled", "completed"]


def test_sync_do_from_threads_and_under_a_running_loop(reader) -> None:
    agent = Agent(reader.model)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(agent.do("x"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["I know nothing yet."] * 4

    async def inside_a_loop() -> str:
        return agent.do("y")  # e.g. a notebook cell

    assert asyncio.run(inside_a_loop()) == "I know nothing yet."


def test_sync_do_from_a_plain_script(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "from memwise import Agent, Task\n"
        "from memwise.storage.memory import Memory\n"
        "from memwise.storage.sqlite import SqliteStorage\n"
        "from tests.memory.fakes import ReadingModel\n"
        f"storage = SqliteStorage(db_file={str(tmp_path / 'm.db')!r})\n"
        "memory = Memory(storage=storage, session_id='s', user_id='u', full_session_memory=True,"
        " summary_memory=True, user_analysis_memory=True)\n"
        "agent = Agent(ReadingModel().model, memory=memory)\n"
        "agent.do(Task(\"My name is Alice and I'm a Python developer\"))\n"
        "print(agent.do(Task(\"What's my name and expertise?\")))\n"
    )
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "name=Alice" in done.stdout and "role=Python" in done.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: Task(""), "Task description must be a non-empty string"),
        (lambda m: Task("x", tools="fn"), "Task tools must be a list"),
        (lambda m: Agent(m, memory="memory"), "memory must be a memwise Memory"),
        (lambda m: Agent(m).do(42), "expected a Task or a string"),
    ],
)
def test_bad_input_fails_clearly(reader, make, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make(reader.model)
