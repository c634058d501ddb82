"""A loopback OpenAI-compatible chat-completions server for tests (127.0.0.1, random port).

`reply(request_json) -> str | dict` decides the answer: a string is assistant text, a dict is
the arguments of a call to the request's first tool. Every request body is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], "str | dict[str, Any]"]


class FakeOpenAI:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""

    def completion(self, body: dict[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
        answer = self.reply(body)
        tool = body["tools"][0]["function"]["name"] if isinstance(answer, dict) else None
        message: dict[str, Any] = {"role": "assistant", "content": answer if tool is None else None}
        if tool is not None:
            message["tool_calls"] = [
                {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": json.dumps(answer)}}
            ]
        usage = {"prompt_tokens": len(json.dumps(body["messages"])) // 4, "completion_tokens": 7, "total_tokens": 0}
        return message, tool, usage


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            message, tool, usage = fake.completion(body)
            finish = "tool_calls" if tool else "stop"
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in _pieces(message["content"] or ""):
                    self._event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}}]})
                self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")
                return
            payload = {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage,
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _event(self, chunk: dict[str, Any]) -> None:
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m", **chunk}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

    return Handler


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


@contextmanager
def fake_openai(reply: Reply) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(reply)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
