"""`LocalModel`: a pydantic-ai `Model` answering in-process with a GGUF model through llama.cpp.

Agents, memory and tools use it like any hosted model, with no network and no API key. It
renders the history with `convert.py`, picks a decoding plan with `protocol.py` (so tool calls
and structured outputs are schema-constrained and always parse), and runs the request on the
variant's shared server (`server.py`) without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelContextWindowExceededError,
    ModelRequestRejectedError,
)
from pydantic_ai.messages import (
    FinishReason,
    ModelMessage,
    ModelResponse,
    ModelResponseStreamEvent,
)
from pydantic_ai.models import (
    Model,
    ModelRequestParameters,
    StreamedResponse,
    check_allow_model_requests,
)
from pydantic_ai.profiles import InlineDefsJsonSchemaTransformer, ModelProfile
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from . import assets
from .convert import instructions_for, to_chat_messages
from .protocol import DecodingPlan, make_plan, new_tool_call_id
from .server import Completion, LocalServer, ServerError, get_server, require_runtime
from .variants import Variant, get_variant

SYSTEM = "memwise-local"
DEFAULT_SETTINGS = ModelSettings(temperature=0.2, max_tokens=1024)
"""Low temperature suits a small model doing memory work; `max_tokens` bounds a runaway generation."""

_FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_call"}


class LocalModel(Model):
    """A local GGUF model run in-process by llama.cpp (xllamacpp); `variant` picks it (default: Qwen2.5-Coder-1.5B).

    The model is loaded on the first request and shared by every `LocalModel` of the same variant in the
    process. Requests queue on one worker thread per variant, so any number of threads and tasks can use
    it at once. Settings honoured: `max_tokens`, `temperature`, `top_p`, `top_k`, `seed`, `stop_sequences`,
    `presence_penalty`, `frequency_penalty`, `tool_choice` and `extra_body` (merged into the llama.cpp
    request, e.g. `{"min_p": 0.1}`).

    Streaming: free text, JSON output and a single output tool's arguments stream token by token; a reply
    that may be a call to one of several tools is decoded whole and delivered as one final chunk.
    """

    unsupported_settings = frozenset(
        {"timeout", "max_retries", "extra_headers", "logit_bias", "service_tier"}
    )
    _unsupported_file_inputs = frozenset({"image", "document", "audio", "video"})

    def __init__(
        self,
        variant: str | None = None,
        *,
        settings: ModelSettings | None = None,
        profile: ModelProfile | None = None,
    ) -> None:
        """Check that the variant exists and is installed (cheap); loading waits for the first request."""
        self._variant: Variant = get_variant(variant)
        _check_installed(self._variant)
        merged_profile = ModelProfile(
            supports_tools=True,
            supports_json_schema_output=True,
            supports_json_object_output=True,
            default_structured_output_mode="tool",
            native_output_requires_schema_in_instructions=True,
            json_schema_transformer=InlineDefsJsonSchemaTransformer,
            # llama.cpp tokenizes chat-template tokens found in message text as control tokens.
            may_tokenize_special_tokens_in_content=True,
            supports_image_input=False,
            supports_audio_input=False,
            supports_document_input=False,
            supports_video_input=False,
            context_window=self._variant.n_ctx,
        )
        if profile:
            merged_profile = ModelProfile(**{**merged_profile, **profile})
        super().__init__(settings={**DEFAULT_SETTINGS, **(settings or {})}, profile=merged_profile)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, LocalModel)
        return (self._variant, self._settings, self._profile) == (
            other._variant,
            other._settings,
            other._profile,
        )

    def __hash__(self) -> int:
        return hash((self.__class__, self._variant.name))

    @property
    def variant(self) -> Variant:
        return self._variant

    @property
    def model_name(self) -> str:
        return self._variant.name

    @property
    def system(self) -> str:
        return SYSTEM

    @property
    def server(self) -> LocalServer:
        """The process-wide server this model runs on."""
        return get_server(self._variant)

    def load(self) -> None:
        """Load the model now (blocking) instead of on the first request, e.g. to warm up at startup."""
        self.server.load()

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        check_allow_model_requests()
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        plan = make_plan(model_request_parameters, model_settings)
        request = self._build_request(messages, model_settings, model_request_parameters, plan)
        completion = await self._run(request)
        return ModelResponse(
            parts=plan.parse(completion.text),
            usage=_usage(completion),
            model_name=self.model_name,
            provider_name=SYSTEM,
            provider_response_id=completion.response_id,
            provider_details=_details(completion),
            finish_reason=_finish_reason(completion, plan),
        )

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        check_allow_model_requests()
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        plan = make_plan(model_request_parameters, model_settings)
        request = self._build_request(messages, model_settings, model_request_parameters, plan)
        stream = LocalStreamedResponse(
            model_request_parameters=model_request_parameters,
            _model=self,
            _plan=plan,
            _request=request,
        )
        try:
            yield stream
        finally:
            await stream.close_stream()

    def _build_request(
        self,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
        plan: DecodingPlan,
    ) -> dict[str, Any]:
        given: dict[str, Any] = dict(settings or {})
        request: dict[str, Any] = {
            "messages": to_chat_messages(
                messages,
                instructions=instructions_for(messages, params),
                protocol_instructions=plan.instructions,
                answers_as_json=plan.renders_answers_as_json,
            ),
        }
        if (response_format := plan.response_format()) is not None:
            request["response_format"] = response_format
        for setting, key in _SETTING_KEYS.items():
            if setting in given:
                request[key] = given[setting]
        if isinstance(extra := given.get("extra_body"), dict):
            request.update(extra)
        return request

    async def _run(self, request: dict[str, Any]) -> Completion:
        """Run on the shared worker thread; a cancelled caller stops generation at the next token."""
        cancel = threading.Event()
        future = self.server.submit(request, cancel=cancel)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.set()
            future.cancel()
            raise
        except ServerError as e:
            raise _api_error(self.model_name, e) from e


_SETTING_KEYS = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "stop_sequences": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


@dataclass
class LocalStreamedResponse(StreamedResponse):
    """Streams text (and a lone output tool's arguments) as generated; replies that may be tool calls arrive whole."""

    _model: LocalModel = field(repr=False)
    _plan: DecodingPlan = field(repr=False)
    _request: dict[str, Any] = field(repr=False)
    _timestamp: datetime = field(default_factory=lambda: datetime.now().astimezone())
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _future: Any = field(default=None, repr=False)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def on_delta(text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, text)

        streams = self._plan.streams
        future = self._future = self._model.server.submit(
            self._request, on_delta if streams else None, self._cancel
        )
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(queue.put_nowait, None))
        call_id = new_tool_call_id()
        streamed = False
        try:
            while (delta := await queue.get()) is not None:
                if streams == "text":
                    events = self._parts_manager.handle_text_delta(vendor_part_id="content", content=delta)
                else:  # the output tool's arguments, which pydantic-ai validates as partial output
                    events = self._parts_manager.handle_tool_call_delta_events(
                        vendor_part_id="output",
                        tool_name=None if streamed else self._plan.output_tool,
                        args=delta,
                        tool_call_id=call_id,
                    )
                streamed = True
                for event in events:
                    yield event
            try:
                completion: Completion = future.result()
            except ServerError as e:
                raise _api_error(self._model.model_name, e, in_stream=True) from e
        except BaseException:
            self._cancel.set()
            future.cancel()
            raise
        if not streamed:  # a whole-reply plan (tool calls) or an empty reply
            for index, part in enumerate(self._plan.parse(completion.text)):
                yield self._parts_manager.handle_part(vendor_part_id=index, part=part)
        self._usage = _usage(completion)
        self.provider_response_id = completion.response_id
        self.provider_details = _details(completion)
        self.finish_reason = _finish_reason(completion, self._plan)

    async def close_stream(self) -> None:
        """Stop generation if it is still running (the server stops at the next token)."""
        self._cancel.set()
        if self._future is not None:
            self._future.cancel()

    @property
    def model_name(self) -> str:
        return self._model.model_name

    @property
    def provider_name(self) -> str:
        return SYSTEM

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp


def _usage(completion: Completion) -> RequestUsage:
    return RequestUsage(
        input_tokens=completion.prompt_tokens,
        output_tokens=completion.completion_tokens,
        cache_read_tokens=completion.cached_tokens,
    )


def _details(completion: Completion) -> dict[str, Any] | None:
    """llama.cpp's timings (prompt and generation ms and tokens/s), for whoever measures speed."""
    return {"timings": completion.timings} if completion.timings else None


def _finish_reason(completion: Completion, plan: DecodingPlan) -> FinishReason | None:
    reason = _FINISH_REASONS.get(completion.finish_reason or "")
    if reason == "stop" and plan.mode == "tool_args":
        return "tool_call"
    return reason


def _api_error(model_name: str, error: ServerError, *, in_stream: bool = False) -> ModelAPIError:
    kwargs: dict[str, Any] = dict(body=error.body, provider_error_type=error.type, in_stream=in_stream)
    if error.type == "exceed_context_size_error":
        return ModelContextWindowExceededError(model_name, error.message, **kwargs)
    if error.code == 400:
        return ModelRequestRejectedError(model_name, error.message, **kwargs)
    return ModelAPIError(model_name, error.message, **kwargs)


def _check_installed(variant: Variant) -> None:
    """Fail at construction, not mid-conversation, when the runtime or the weights are missing (cheap checks)."""
    require_runtime(variant)
    if not assets.is_cached(variant):
        assets.require_parts(variant)
