"""One long-lived in-process llama.cpp server per model variant, loaded lazily and shared by the whole process.

Loading takes seconds and ~2 GB of RAM, so every `LocalModel` of a variant shares one
`xllamacpp.Server`. It is never deleted explicitly: destroying one hung in tests, while normal
process exit never did. Generation runs on one dedicated worker thread per variant (the model
serves one request at a time anyway, and xllamacpp releases the GIL while it works), so requests
from threads and asyncio tasks queue in FIFO order and never block an event loop. Every request is
streamed internally, which lets a cancelled caller stop generation at the next token.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .assets import ensure_model_file
from .errors import LocalModelRuntimeError, ModelNotInstalledError
from .variants import Variant

log = logging.getLogger("memwise.models.local")

VERBOSITY_ENV = "MEMWISE_LOCAL_VERBOSITY"
"""llama.cpp's own log level (stderr); 0 (default) keeps it quiet, 3 shows load and timing lines."""
N_CTX_ENV = "MEMWISE_LOCAL_N_CTX"
THREADS_ENV = "MEMWISE_LOCAL_THREADS"


class ServerError(Exception):
    """An error the llama.cpp server returned for one request (its OpenAI-shaped error object)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        type: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type
        self.body = body


@dataclass
class Completion:
    """The assembled result of one chat completion."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    response_id: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False


class LocalServer:
    """The shared server of one variant: lazy load, then serialized chat completions."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self._server: Any = None
        self._load_lock = threading.Lock()
        self._request_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"memwise-local-{variant.name}"
        )
        self.load_seconds: float | None = None
        self._llguidance = False

    @property
    def loaded(self) -> bool:
        return self._server is not None

    def load(self) -> None:
        """Assemble the weights if needed and start the server (idempotent, thread-safe)."""
        if self._server is not None:
            return
        with self._load_lock:
            if self._server is not None:
                return
            started = time.perf_counter()
            # llama.cpp's OpenMP threads spin between tokens by default; when another process wants the
            # CPU too (2 cores, tests running beside it) that made generation 5-7x slower here, while on
            # an idle machine passive waiting made no clear difference. libgomp reads this when
            # xllamacpp loads it; a value the user set wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            require_runtime(self.variant)
            import xllamacpp

            path = ensure_model_file(self.variant)
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.n_ctx = _env_int(N_CTX_ENV, self.variant.n_ctx)
            params.n_parallel = 1
            threads = _env_int(THREADS_ENV, _available_cpus())
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            # llama.cpp keeps earlier prompts' KV states in RAM to reuse them (default cap 8 GiB, ~28 KB a
            # token here); 512 MiB still covers the chat and memory prompts of a session.
            params.cache_ram_mib = 512
            params.verbosity = _env_int(VERBOSITY_ENV, 0)
            params.offline = True  # never reach a model hub
            params.ui = False
            params.hostnames = ["127.0.0.1"]
            # The server always listens on a loopback port; a random key keeps other local users out.
            params.api_keys = [secrets.token_urlsafe(24)]
            try:
                self._server = xllamacpp.Server(params)
            except Exception as e:  # xllamacpp raises plain RuntimeError/ValueError on a bad file
                raise LocalModelRuntimeError(
                    f"could not load the local model from {path}: {e}. If that file is damaged, delete it: "
                    "it is assembled again from the installed packages on the next use."
                ) from e
            self._llguidance = xllamacpp.json_schema_to_grammar({"type": "string"}).startswith("%llguidance")
            self.load_seconds = time.perf_counter() - started
            log.debug(
                "using local model %s (%s) in-process via llama.cpp: %s, n_ctx=%d, threads=%d, loaded in %.1f s",
                self.variant.name,
                self.variant.title,
                path,
                params.n_ctx,
                threads,
                self.load_seconds,
            )

    def submit(
        self,
        request: dict[str, Any],
        on_delta: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> concurrent.futures.Future[Completion]:
        """Queue a chat completion on the variant's worker thread; the future holds the Completion."""
        return self._executor.submit(self.complete, request, on_delta, cancel)

    def complete(
        self,
        request: dict[str, Any],
        on_delta: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """Run one chat completion (blocking); `on_delta` gets each text delta, `cancel` stops it early."""
        self.load()
        result = Completion()
        errors: list[BaseException] = []
        cancel = cancel or threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            # Exceptions raised here would be swallowed by xllamacpp: record them and stop instead.
            try:
                _apply_chunk(result, chunk)
                if on_delta is not None:
                    for choice in chunk.get("choices") or ():
                        if text := (choice.get("delta") or {}).get("content"):
                            on_delta(text)
            except BaseException as e:  # noqa: BLE001 - re-raised below, in the caller's thread
                errors.append(e)
                return True
            return cancel.is_set()

        with self._request_lock:
            if cancel.is_set():
                result.cancelled = True
                return result
            try:
                self._server.handle_chat_completions(
                    {
                        **self._compact_json(request),
                        "stream": True,
                        "stream_options": {"include_usage": True},
                    },
                    on_chunk,
                )
            except ValueError as e:
                raise ServerError(str(e), code=400) from e
        if errors:
            raise errors[0]
        result.cancelled = cancel.is_set()
        return result

    def _compact_json(self, request: dict[str, Any]) -> dict[str, Any]:
        """Turn a `json_schema` response format into the same llguidance grammar, minus optional whitespace.

        llama.cpp compiles `response_format` to `%json <schema>` for llguidance but drops the schema's
        `x-guidance` options, so the model may pretty-print (newlines and indentation cost tokens,
        at ~10-20 tokens/s). Passing the grammar directly keeps the schema constraint and forces one-line JSON.
        """
        response_format = request.get("response_format") or {}
        if not self._llguidance or response_format.get("type") != "json_schema":
            return request
        schema = dict(response_format["json_schema"]["schema"])
        schema.setdefault("x-guidance", COMPACT_JSON)
        compacted = {key: value for key, value in request.items() if key != "response_format"}
        compacted["grammar"] = "%llguidance {}\nstart: %json " + json.dumps(schema)
        return compacted


COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": ", "lenient": True}
"""llguidance JSON options: one line, the separators models write anyway, unknown keywords ignored."""


def _apply_chunk(result: Completion, chunk: dict[str, Any]) -> None:
    if error := chunk.get("error"):
        raise ServerError(
            str(error.get("message") or error), code=error.get("code"), type=error.get("type"), body=error
        )
    result.response_id = result.response_id or chunk.get("id")
    for choice in chunk.get("choices") or ():
        if text := (choice.get("delta") or {}).get("content"):
            result.text += text
        if reason := choice.get("finish_reason"):
            result.finish_reason = reason
    if usage := chunk.get("usage"):
        result.prompt_tokens = usage.get("prompt_tokens", 0)
        result.completion_tokens = usage.get("completion_tokens", 0)
        result.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    if timings := chunk.get("timings"):
        result.timings = timings


def require_runtime(variant: Variant) -> None:
    """Raise ModelNotInstalledError naming the install command unless xllamacpp is importable (without importing it)."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise ModelNotInstalledError(
            "the local model needs the xllamacpp runtime, which is not installed. "
            f"Install it with: {variant.install_hint}"
        )


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def get_server(variant: Variant) -> LocalServer:
    """The process-wide server of `variant` (created on first call, loaded on first request)."""
    with _servers_lock:
        server = _servers.get(variant.name)
        if server is None:
            server = _servers[variant.name] = LocalServer(variant)
        return server


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise LocalModelRuntimeError(f"{name} must be an integer, got {value!r}") from None
