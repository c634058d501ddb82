"""A loopback fake OpenAI-compatible chat-completions server (stdlib only).

Used for the peers workload, where Upsonic and Agno have no pydantic-ai FunctionModel: every
framework (memwise included) then talks to the same server over the same HTTP path, and gets the
same replies as the FunctionModels of the other workloads (`fake.py`).

    python bench/fake_openai.py [--port 0]   # prints "READY <port>" once listening

Endpoints: POST /v1/chat/completions (also /chat/completions, streaming supported), GET /log
(the requests seen: tokens sent and kind, "answer" or "memory"), POST /reset.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake import ANSWER, SUMMARY, count_tokens, instance_of  # noqa: E402

_LOG: list[dict] = []
_LOCK = threading.Lock()
_DUMP = os.environ.get("FAKE_OPENAI_DUMP")  # a file to append every request body to (debugging)


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return json.dumps(content)


def _is_answer_request(messages: list[dict]) -> bool:
    """The agent's own answer call has the benchmark's user prompt ("Turn N: ...", see
    `fake.user_prompt`) at the start of its last user message (a framework may append context to
    it); memory's calls (summaries, traits) send their own prompts."""
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        return False
    return _text(users[-1].get("content")).lstrip().startswith("Turn ")


def respond(body: dict) -> tuple[dict, str, int]:
    """(assistant message, kind, prompt tokens) for one chat-completions request body."""
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    tokens = sum(count_tokens(_text(m.get("content"))) for m in messages)
    tokens += sum(count_tokens(json.dumps(m.get("tool_calls"))) for m in messages if m.get("tool_calls"))
    tokens += count_tokens(json.dumps(tools)) if tools else 0
    fmt = body.get("response_format") or {}
    if fmt:
        tokens += count_tokens(json.dumps(fmt))
    answer = _is_answer_request(messages)
    kind = "answer" if answer else "memory"
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
    elif tools and (choice == "required" or any(t["function"]["name"].startswith("final_result") for t in tools)):
        named = [t for t in tools if t["function"]["name"].startswith("final_result")]
        forced = (named or tools)[0]["function"]["name"]
    if forced:
        tool = next((t for t in tools if t["function"]["name"] == forced), tools[0])
        args = instance_of(tool["function"].get("parameters") or {"type": "object", "properties": {}})
        call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                "function": {"name": tool["function"]["name"], "arguments": json.dumps(args)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}, kind, tokens
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return {"role": "assistant", "content": json.dumps(instance_of(schema))}, kind, tokens
    if fmt.get("type") == "json_object":
        return {"role": "assistant", "content": json.dumps({"summary": SUMMARY, "topics": ["python"]})}, kind, tokens
    return {"role": "assistant", "content": ANSWER if answer else SUMMARY}, kind, tokens


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/log"):
            since = int(self.path.partition("since=")[2] or 0)
            with _LOCK:
                self._send(200, {"count": len(_LOG), "items": _LOG[since:]})
        elif self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "bench"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        if self.path.startswith("/reset"):
            with _LOCK:
                _LOG.clear()
            self._send(200, {"ok": True})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"unsupported path {self.path}"}})
            return
        body = json.loads(raw or b"{}")
        message, kind, tokens = respond(body)
        if _DUMP:
            with open(_DUMP, "a") as fh:
                fh.write(json.dumps({"kind": kind, "tokens": tokens, "body": body}) + "\n")
        completion = count_tokens(message.get("content") or json.dumps(message.get("tool_calls")))
        with _LOCK:
            _LOG.append({"kind": kind, "tokens": tokens})
        usage = {"prompt_tokens": tokens, "completion_tokens": completion, "total_tokens": tokens + completion}
        ident, created, model = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time()), body.get("model", "fake")
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        if not body.get("stream"):
            self._send(200, {"id": ident, "object": "chat.completion", "created": created, "model": model,
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                             "usage": usage})
            return
        delta = dict(message)
        if delta.get("tool_calls"):
            delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(delta["tool_calls"])]
        chunks = [
            {"index": 0, "delta": delta, "finish_reason": None},
            {"index": 0, "delta": {}, "finish_reason": finish},
        ]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [{"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [c]} for c in chunks]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage})
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")


def serve(port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = serve(args.port)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
