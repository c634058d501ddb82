"""Fast tests (no model) of LocalModel's decoding plans, message mapping, and its use of the shared server.

The server tests swap the real `xllamacpp.Server` for a scripted stand-in with the same streaming
call (`handle_chat_completions(request, callback)`), so the worker thread, FIFO serialization,
cancellation and the pydantic-ai Agent loop run for real in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.output import OutputObjectDefinition
from pydantic_ai.tools import ToolDefinition

from memwise.models.local import model as model_module
from memwise.models.local import server as server_module
from memwise.models.local.convert import to_chat_messages
from memwise.models.local.protocol import make_plan
from memwise.models.local.server import LocalServer
from memwise.models.local.variants import get_variant

SECRET = {"type": "object", "properties": {}, "additionalProperties": False}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def tool(name: str, schema: dict[str, Any] = SECRET, kind: str = "function") -> ToolDefinition:
    return ToolDefinition(name=name, parameters_json_schema=schema, description=f"{name} tool", kind=kind)  # type: ignore[arg-type]


# --- decoding plans -------------------------------------------------------------------------------


def test_plain_request_is_free_text() -> None:
    plan = make_plan(ModelRequestParameters(), None)
    assert plan.mode == "text" and plan.response_format() is None and plan.streams == "text"
    assert [p.content for p in plan.parse("hello")] == ["hello"]  # type: ignore[union-attr]


def test_native_output_is_constrained_to_its_schema() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    params = ModelRequestParameters(
        output_mode="native", output_object=OutputObjectDefinition(json_schema=schema)
    )
    plan = make_plan(params, None)
    assert plan.mode == "json"
    assert plan.response_format() == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema},
    }


def test_single_output_tool_reply_is_that_tools_arguments() -> None:
    params = ModelRequestParameters(
        output_mode="tool", output_tools=[tool("final_result", CITY, "output")], allow_text_output=False
    )
    plan = make_plan(params, None)
    assert plan.mode == "tool_args" and plan.schema == CITY
    [call] = plan.parse('{"city": "Paris"}')
    assert (
        isinstance(call, ToolCallPart)
        and call.tool_name == "final_result"
        and call.args_as_dict() == {"city": "Paris"}
    )


def test_function_tools_use_the_envelope() -> None:
    params = ModelRequestParameters(function_tools=[tool("get_secret"), tool("weather", CITY)])
    plan = make_plan(params, None)
    assert plan.mode == "envelope" and plan.streams is None
    options = plan.schema["anyOf"]  # type: ignore[index]
    assert [o["properties"].get("tool", {}).get("const") for o in options] == ["get_secret", "weather", None]
    assert options[-1]["properties"]["answer"] == {"type": "string"}
    assert '"name": "weather"' in plan.instructions  # type: ignore[operator]

    [call] = plan.parse('{"tool": "weather", "arguments": {"city": "Oslo"}}')
    assert isinstance(call, ToolCallPart) and call.args_as_dict() == {"city": "Oslo"}
    [answer] = plan.parse('{"answer": "It rains."}')
    assert isinstance(answer, TextPart) and answer.content == "It rains."
    [cut] = plan.parse('{"answer": "It rai')  # cut short by max_tokens: still the answer so far
    assert isinstance(cut, TextPart) and cut.content == "It rai"


def test_envelope_without_text_output_has_no_answer_option() -> None:
    params = ModelRequestParameters(
        function_tools=[tool("get_secret")],
        output_tools=[tool("final_result", CITY, "output")],
        allow_text_output=False,
    )
    plan = make_plan(params, None)
    assert plan.mode == "envelope" and not plan.answer_allowed
    assert all("answer" not in o["properties"] for o in plan.schema["anyOf"])  # type: ignore[index]


def test_envelope_moves_nested_defs_to_its_root() -> None:
    nested = {
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "$ref": "#/$defs/P",
    }
    plan = make_plan(ModelRequestParameters(function_tools=[tool("a", nested), tool("b")]), None)
    assert plan.schema["$defs"] == nested["$defs"]  # type: ignore[index]
    assert "$defs" not in plan.schema["anyOf"][0]["properties"]["arguments"]  # type: ignore[index]


def test_tool_choice_none_gives_free_text() -> None:
    plan = make_plan(ModelRequestParameters(function_tools=[tool("get_secret")]), {"tool_choice": "none"})
    assert plan.mode == "text"


# --- message mapping ------------------------------------------------------------------------------


def test_history_maps_to_chat_messages() -> None:
    history = [
        ModelRequest(parts=[SystemPromptPart("You are terse."), UserPromptPart("Secret?")]),
        ModelResponse(parts=[ToolCallPart("get_secret", {}, "c1")]),
        ModelRequest(parts=[ToolReturnPart("get_secret", "marmalade", "c1")]),
        ModelResponse(parts=[TextPart("It is marmalade.")]),
        ModelRequest(parts=[UserPromptPart("Thanks")]),
    ]
    chat = to_chat_messages(history, instructions="Name: Alice.", protocol_instructions="# Tools ...")
    assert chat[0] == {"role": "system", "content": "You are terse.\n\nName: Alice.\n\n# Tools ..."}
    assert [m["role"] for m in chat[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert json.loads(chat[2]["content"]) == {"tool": "get_secret", "arguments": {}}
    assert chat[3]["content"] == '<tool_response name="get_secret">\nmarmalade\n</tool_response>'
    assert chat[4]["content"] == "It is marmalade."

    as_json = to_chat_messages(history, answers_as_json=True)
    assert json.loads(as_json[4]["content"]) == {"answer": "It is marmalade."}


# --- LocalModel on a scripted server --------------------------------------------------------------


class ScriptedLlama:
    """Stands in for `xllamacpp.Server`: streams `reply(request)` in small chunks, honouring stop requests."""

    def __init__(self, reply: Callable[[dict[str, Any]], str], delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0
        self.chunks_sent = 0
        self._lock = threading.Lock()

    def handle_chat_completions(
        self, request: dict[str, Any], callback: Callable[[dict[str, Any]], Any]
    ) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.requests.append(request)
            text = self.reply(request)
            pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
            for index, piece in enumerate(pieces):
                time.sleep(self.delay)
                self.chunks_sent += 1
                last = index == len(pieces) - 1
                chunk = {
                    "id": "r1",
                    "choices": [{"delta": {"content": piece}, "finish_reason": "stop" if last else None}],
                }
                if callback(chunk):
                    return
            callback(
                {"id": "r1", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(pieces)}}
            )
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedLlama]:
    """Install a scripted server as the default variant's shared server."""

    def install(reply: Callable[[dict[str, Any]], str], delay: float = 0.0) -> ScriptedLlama:
        llama = ScriptedLlama(reply, delay)
        shared = LocalServer(get_variant())
        shared._server = llama
        monkeypatch.setitem(server_module._servers, shared.variant.name, shared)
        return llama

    monkeypatch.setattr(model_module, "_check_installed", lambda variant: None)
    return install


def last_user(request: dict[str, Any]) -> str:
    return [m for m in request["messages"] if m["role"] == "user"][-1]["content"]


def test_agent_tool_round_trip(scripted: Callable[..., ScriptedLlama]) -> None:
    def reply(request: dict[str, Any]) -> str:
        if "<tool_response" in last_user(request):
            return '{"answer": "The secret word is marmalade."}'
        return '{"tool": "get_secret_word", "arguments": {}}'

    llama = scripted(reply)
    agent = Agent(model_module.LocalModel())

    @agent.tool_plain
    def get_secret_word() -> str:
        """Return the secret word."""
        return "marmalade"

    result = agent.run_sync("What is the secret word?")
    assert result.output == "The secret word is marmalade."
    assert len(llama.requests) == 2
    assert "get_secret_word" in llama.requests[0]["messages"][0]["content"]
    assert "anyOf" in llama.requests[0]["response_format"]["json_schema"]["schema"]
    assert result.usage.input_tokens == 22 and result.usage.requests == 2


def test_agent_structured_output_is_schema_constrained(scripted: Callable[..., ScriptedLlama]) -> None:
    class Person(BaseModel):
        name: str
        languages: list[str]

    llama = scripted(lambda request: '{"name": "Bob", "languages": ["Rust", "Go"]}')
    result = Agent(model_module.LocalModel(), output_type=Person).run_sync("I'm Bob; I write Rust and Go.")
    assert result.output == Person(name="Bob", languages=["Rust", "Go"])
    schema = llama.requests[0]["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"name", "languages"}


def test_retry_feedback_reaches_the_model(scripted: Callable[..., ScriptedLlama]) -> None:
    replies = iter(["first try", "second try"])
    llama = scripted(lambda request: next(replies))
    agent = Agent(model_module.LocalModel())

    @agent.output_validator
    def must_be_second(output: str) -> str:
        if output != "second try":
            raise ModelRetry('say "second try"')
        return output

    assert agent.run_sync("go").output == "second try"
    assert 'say "second try"' in last_user(llama.requests[1])


async def test_streaming_text_arrives_in_pieces(scripted: Callable[..., ScriptedLlama]) -> None:
    scripted(lambda request: "Hello from the local model.", delay=0.01)
    agent = Agent(model_module.LocalModel())
    async with agent.run_stream("hi") as result:
        pieces = [delta async for delta in result.stream_output(debounce_by=None)]
    assert len(pieces) > 3
    assert pieces[-1] == "Hello from the local model."


async def test_threads_and_tasks_share_one_serialized_server(scripted: Callable[..., ScriptedLlama]) -> None:
    llama = scripted(lambda request: f"echo {last_user(request)}", delay=0.005)
    model = model_module.LocalModel()
    agent = Agent(model)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    thread_results: list[str] = []

    def in_thread(i: int) -> None:
        # Each thread runs its own event loop (asyncio.run closes it; run_sync in a thread leaves one open).
        thread_results.append(asyncio.run(Agent(model_module.LocalModel()).run(f"thread {i}")).output)

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(4)]
    tick_task = asyncio.create_task(ticker())
    for t in threads:
        t.start()
    outputs = await asyncio.gather(*(agent.run(f"task {i}") for i in range(6)))
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    done.set()
    await tick_task

    assert sorted(o.output for o in outputs) == sorted(f"echo task {i}" for i in range(6))
    assert sorted(thread_results) == sorted(f"echo thread {i}" for i in range(4))
    assert llama.max_active == 1, "requests must not overlap on the model"
    assert ticks > 10, "the event loop must keep running while the model works"


async def test_cancelling_a_request_stops_generation(scripted: Callable[..., ScriptedLlama]) -> None:
    llama = scripted(lambda request: "x" * 4000, delay=0.01)  # 1000 chunks, ~10 s if not stopped
    task = asyncio.create_task(Agent(model_module.LocalModel()).run("long"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert llama.active == 0
    assert llama.chunks_sent < 100


def test_server_errors_become_model_api_errors(scripted: Callable[..., ScriptedLlama]) -> None:
    from pydantic_ai.exceptions import ModelContextWindowExceededError

    class Overflowing(ScriptedLlama):
        def handle_chat_completions(
            self, request: dict[str, Any], callback: Callable[[dict[str, Any]], Any]
        ) -> None:
            callback(
                {
                    "error": {
                        "code": 400,
                        "message": "request (9030 tokens) exceeds the available context size",
                        "type": "exceed_context_size_error",
                    }
                }
            )

    scripted(lambda request: "")
    server_module._servers[get_variant().name]._server = Overflowing(lambda request: "")
    with pytest.raises(ModelContextWindowExceededError, match="exceeds the available context"):
        Agent(model_module.LocalModel()).run_sync("hi")


def test_models_compare_by_variant_and_settings(scripted: Callable[..., ScriptedLlama]) -> None:
    assert model_module.LocalModel() == model_module.LocalModel("qwen2.5-coder-1.5b")
    assert model_module.LocalModel() != model_module.LocalModel(settings={"temperature": 0.9})
    assert model_module.LocalModel().model_name == "qwen2.5-coder-1.5b"
    assert model_module.LocalModel().system == "memwise-local"


def test_json_schema_requests_become_one_line_llguidance_grammars() -> None:
    shared = LocalServer(get_variant())
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = {
        "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
    }
    assert shared._compact_json(request) is request, "unchanged until llguidance is known to be available"
    shared._llguidance = True
    compacted = shared._compact_json(request)
    assert "response_format" not in compacted
    header, _, body = compacted["grammar"].partition("\nstart: %json ")
    assert header == "%llguidance {}"
    sent = json.loads(body)
    assert sent["properties"] == schema["properties"]
    assert sent["x-guidance"]["whitespace_flexible"] is False and sent["x-guidance"]["lenient"] is True
    assert "x-guidance" not in schema, "the caller schema must not be modified"


async def test_streamed_structured_output_arrives_as_partial_outputs(
    scripted: Callable[..., ScriptedLlama],
) -> None:
    class Person(BaseModel):
        name: str
        languages: list[str]

    scripted(lambda request: '{"name": "Bob", "languages": ["Rust", "Go", "Zig"]}', delay=0.01)
    agent = Agent(model_module.LocalModel(), output_type=Person)
    async with agent.run_stream("Bob writes Rust, Go and Zig.") as result:
        partials = [output async for output in result.stream_output(debounce_by=None)]
    assert len(partials) > 2
    assert partials[-1] == Person(name="Bob", languages=["Rust", "Go", "Zig"])


async def test_streamed_run_with_tools_delivers_the_call_whole(
    scripted: Callable[..., ScriptedLlama],
) -> None:
    def reply(request: dict[str, Any]) -> str:
        if "<tool_response" in last_user(request):
            return '{"answer": "It is marmalade."}'
        return '{"tool": "get_secret_word", "arguments": {}}'

    scripted(reply, delay=0.001)
    agent = Agent(model_module.LocalModel())

    @agent.tool_plain
    def get_secret_word() -> str:
        """Return the secret word."""
        return "marmalade"

    async with agent.run_stream("What is the secret word?") as result:
        output = await result.get_output()
    assert output == "It is marmalade."


def test_responses_carry_usage_and_server_timings(scripted: Callable[..., ScriptedLlama]) -> None:
    class Timed(ScriptedLlama):
        def handle_chat_completions(
            self, request: dict[str, Any], callback: Callable[[dict[str, Any]], Any]
        ) -> None:
            callback({"id": "r9", "choices": [{"delta": {"content": "hi"}, "finish_reason": "length"}]})
            callback(
                {
                    "id": "r9",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 40,
                        "completion_tokens": 1,
                        "prompt_tokens_details": {"cached_tokens": 32},
                    },
                    "timings": {"predicted_per_second": 9.5},
                }
            )

    scripted(lambda request: "")
    server_module._servers[get_variant().name]._server = Timed(lambda request: "")
    result = Agent(model_module.LocalModel()).run_sync("hi")
    response = result.all_messages()[-1]
    assert isinstance(response, ModelResponse)
    assert response.usage.input_tokens == 40 and response.usage.output_tokens == 1
    assert response.usage.cache_read_tokens == 32
    assert response.finish_reason == "length" and response.provider_response_id == "r9"
    assert response.provider_details == {"timings": {"predicted_per_second": 9.5}}
