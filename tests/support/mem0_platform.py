"""A small fake of the hosted Mem0 platform API, for `MemoryClient` / `AsyncMemoryClient` tests.

It implements the endpoints Mem0Storage uses, with the platform's rules as documented: the token
header, the v2 filter grammar (root AND/OR/NOT or entity shorthand; entity fields user_id,
agent_id, app_id, run_id with eq/ne/in/"*"; `{"metadata": {key: value}}` with only eq/ne/contains;
any other top-level key is a 400; get_all needs an entity filter), page/page_size pagination, and
asynchronous adds: `POST /v3/memories/add/` queues an event whose memories become visible only
once `GET /v1/event/<id>/` reports SUCCEEDED. Served through `httpx.MockTransport` (no network)
or, for the one `requests` ping AsyncMemoryClient makes on construction, a loopback server.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

ENTITIES = ("user_id", "agent_id", "app_id", "run_id")


class BadRequest(Exception):
    pass


class FakeMem0Platform:
    def __init__(self, api_key: str = "test-key", polls_until_done: int = 0) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done  # PENDING answers before an add event succeeds
        self.memories: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}  # "METHOD /path-prefix" -> status to answer once
        self.lock = threading.Lock()

    # ------------------------------------------------------------ transports
    def transport(self, counter: list[int] | None = None) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if counter is not None:
                counter.append(1)
            body = json.loads(request.content) if request.content else None
            status, data = self.handle(request.method, request.url.path, dict(request.url.params),
                                       body, request.headers.get("authorization"))
            return httpx.Response(status, json=data)

        return httpx.MockTransport(handler)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """The same fake on a loopback port; yields its base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, data = fake.handle(self.command, url.path, params, body, self.headers.get("authorization"))
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------ the API
    def handle(self, method: str, path: str, params: dict[str, str], body: Any, auth: str | None) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path))
            for prefix, status in list(self.fail.items()):
                if f"{method} {path}".startswith(prefix):
                    del self.fail[prefix]
                    return status, {"detail": "injected failure"}
            if auth != f"Token {self.api_key}":
                return 401, {"detail": "Invalid API key"}
            try:
                return self._route(method, path, params, body or {})
            except BadRequest as exc:
                return 400, {"detail": str(exc)}

    def _route(self, method: str, path: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if (method, path) == ("GET", "/v1/ping/"):
            return 200, {"status": "ok", "org_id": "org", "project_id": "proj", "user_email": None}
        if (method, path) == ("POST", "/v3/memories/add/"):
            return 200, self._add(body)
        if method == "GET" and parts[:2] == ["v1", "event"] and len(parts) == 3:
            return self._event(parts[2])
        if (method, path) == ("POST", "/v3/memories/"):
            return 200, self._get_all(body, params)
        if (method, path) == ("POST", "/v3/memories/search/"):
            return 200, self._search(body)
        if (method, path) == ("DELETE", "/v1/batch/"):
            memories = body.get("memories") or []
            if len(memories) > 1000:
                raise BadRequest("at most 1000 memories per batch")
            for item in memories:
                self.memories.pop(item["memory_id"], None)
            return 200, {"message": f"{len(memories)} memories deleted"}
        if parts[:2] == ["v1", "memories"] and len(parts) == 3:
            memory = self.memories.get(parts[2])
            if memory is None:
                return 404, {"detail": "Memory not found"}
            if method == "GET":
                return 200, dict(memory)
            if method == "PUT":
                if "text" in body:
                    memory["memory"] = body["text"]
                if "metadata" in body:
                    memory["metadata"] = dict(body["metadata"])  # the platform replaces metadata
                memory["updated_at"] = _now()
                return 200, {"message": "Memory updated successfully!"}
            if method == "DELETE":
                del self.memories[parts[2]]
                return 200, {"message": "Memory deleted successfully!"}
        return 404, {"detail": f"no route {method} {path}"}

    def _add(self, body: dict[str, Any]) -> dict[str, Any]:
        if "filters" in body:
            raise BadRequest("entity ids go at the top level of an add")
        entities = {name: body[name] for name in ENTITIES if body.get(name) is not None}
        if not entities:
            raise BadRequest("at least one of user_id, agent_id, app_id, run_id is required")
        if body.get("infer") is not False:
            raise BadRequest("this fake stores raw messages only (infer=False)")
        created = []
        for message in body.get("messages") or []:
            if message.get("role") == "system":
                continue
            created.append({
                "id": str(uuid.uuid4()), "memory": message["content"], "role": message["role"],
                "metadata": dict(body.get("metadata") or {}), "created_at": _now(), "updated_at": _now(),
                **entities,
            })
        event_id = str(uuid.uuid4())
        self.events[event_id] = {"polls": 0, "memories": created}
        return {"message": "Memory processing has been queued", "status": "PENDING", "event_id": event_id}

    def _event(self, event_id: str) -> tuple[int, Any]:
        event = self.events.get(event_id)
        if event is None:
            return 404, {"detail": "Event not found"}
        event["polls"] += 1
        if event["polls"] <= self.polls_until_done:
            return 200, {"id": event_id, "status": "PENDING"}
        if not event.get("done"):
            for memory in event["memories"]:
                self.memories[memory["id"]] = memory
            event["done"] = True
        results = [{"id": m["id"], "event": "ADD", "data": {"memory": m["memory"]}} for m in event["memories"]]
        return 200, {"id": event_id, "status": "SUCCEEDED", "results": results}

    def _get_all(self, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        filters = body.get("filters")
        if not isinstance(filters, dict) or not _has_entity(filters):
            raise BadRequest("filters must contain at least one of user_id, agent_id, app_id, run_id")
        found = [m for m in self.memories.values() if _match(m, filters)]
        page, size = int(params.get("page", 1)), int(params.get("page_size", 100))
        chunk = found[(page - 1) * size : page * size]
        more = page * size < len(found)
        return {"count": len(found), "next": f"/v3/memories/?page={page + 1}" if more else None,
                "previous": None, "results": [dict(m) for m in chunk]}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        filters = body.get("filters")
        if not isinstance(filters, dict) or not _has_entity(filters):
            raise BadRequest("filters must contain an entity")
        words = set(str(body.get("query", "")).lower().split())
        scored = []
        for memory in self.memories.values():
            if _match(memory, filters):
                overlap = len(words & set(memory["memory"].lower().split()))
                if overlap:
                    scored.append((overlap, {**memory, "score": overlap / len(words)}))
        scored.sort(key=lambda pair: -pair[0])
        return {"results": [m for _, m in scored[: int(body.get("top_k") or 10)]]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _has_entity(cond: Any) -> bool:
    if isinstance(cond, list):
        return any(_has_entity(c) for c in cond)
    if not isinstance(cond, dict):
        return False
    return any(k in ENTITIES for k in cond) or any(_has_entity(cond[k]) for k in ("AND", "OR") if k in cond)


def _match(memory: dict[str, Any], cond: dict[str, Any]) -> bool:
    if not isinstance(cond, dict):
        raise BadRequest(f"a filter condition must be an object, not {cond!r}")
    for key, value in cond.items():
        if key in ("AND", "OR"):
            if not isinstance(value, list):
                raise BadRequest(f"{key} takes a list")
            results = [_match(memory, c) for c in value]
            if not (all(results) if key == "AND" else any(results)):
                return False
        elif key == "NOT":
            if _match(memory, value if isinstance(value, dict) else {"AND": value}):
                return False
        elif key in ENTITIES:
            stored = memory.get(key)
            if value == "*":
                ok = stored is not None
            elif isinstance(value, dict):
                (op, operand), = value.items()
                if op not in ("eq", "ne", "in"):
                    raise BadRequest(f"operator {op} is not valid for {key}")
                ok = {"eq": stored == operand, "ne": stored != operand, "in": stored in (operand or [])}[op]
            else:
                ok = stored == value
            if not ok:
                return False
        elif key == "metadata":
            if not isinstance(value, dict):
                raise BadRequest("metadata filter must be an object")
            meta = memory.get("metadata") or {}
            for name, wanted in value.items():
                if isinstance(wanted, dict):
                    (op, operand), = wanted.items()
                    if op not in ("eq", "ne", "contains"):
                        raise BadRequest(f"operator {op} is not valid for metadata")
                    ok = {"eq": meta.get(name) == operand, "ne": meta.get(name) != operand,
                          "contains": isinstance(meta.get(name), str) and operand in meta.get(name)}[op]
                else:
                    ok = meta.get(name) == wanted
                if not ok:
                    return False
        else:
            raise BadRequest(f"unsupported filter field {key!r}")
    return True
