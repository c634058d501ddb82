"""What every peer runner shares (stdlib only: it runs under each peer's own virtual environment).

A runner is called as `python <runner>.py '<json config>'` and prints one JSON line prefixed with
`RESULT ` at the end. Config keys:

- `base_url`: the loopback fake OpenAI-compatible server (`.../v1`)
- `workdir`: a fresh directory for the runner's SQLite files
- `max_turns`: drive one memory session up to this many turns
- `windows`: [first, last] turn ranges measured; each of their turns is followed by one turn of the
  same agent without memory (the framework's own cost, under the same load)
- `budget_s`: stop the memory session when this much time is spent (reported as reached)
- `history_turns`: user turns of history loaded per run; `summary`: session summaries on

Per-turn results: wall seconds of `agent.do(task)` for every turn (`bare`: turn -> seconds of the
memory-less turn that followed it), and the tokens the fake server
saw in memory's own LLM calls (requests that are not the agent's answer call) during that turn.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fake import user_prompt  # noqa: E402,F401  (re-exported for runners)

os.environ.setdefault("OPENAI_API_KEY", "sk-fake-loopback")
os.environ.setdefault("AGNO_TELEMETRY", "false")
os.environ.setdefault("UPSONIC_TELEMETRY", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")


class ServerLog:
    """Reads the fake server's request log over one keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        url = urlparse(base_url)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.seen = self._get(0)["count"]

    def _get(self, since: int) -> dict:
        self.conn.request("GET", f"/log?since={since}")
        return json.loads(self.conn.getresponse().read())

    def take(self) -> list[dict]:
        data = self._get(self.seen)
        self.seen = data["count"]
        return data["items"]


def drive(config: dict, make_memory_agent, make_bare_agent, do_turn) -> dict:
    """Drive one memory session up to `max_turns` (or the time budget). Inside the measurement
    windows, each memory turn is followed by one turn of the same agent without memory, so the
    framework's own per-turn cost is measured under the same machine load."""
    log = ServerLog(config["base_url"])
    windows = [tuple(w) for w in config.get("windows", [])]
    result: dict = {"turns": [], "bare": {}, "memory_tokens": [], "memory_calls": [], "error": None}
    try:
        bare = make_bare_agent(config)
        for turn in range(1, config.get("warmup_turns", 3) + 1):
            do_turn(bare, turn)
        agent = make_memory_agent(config)
        log.take()
        deadline = time.perf_counter() + config["budget_s"]
        for turn in range(1, config["max_turns"] + 1):
            start = time.perf_counter()
            do_turn(agent, turn)
            result["turns"].append(time.perf_counter() - start)
            calls = [item["tokens"] for item in log.take() if item["kind"] == "memory"]
            result["memory_tokens"].append(sum(calls))
            result["memory_calls"].append(len(calls))
            if any(lo <= turn <= hi for lo, hi in windows):
                start = time.perf_counter()
                do_turn(bare, turn)
                result["bare"][turn] = time.perf_counter() - start
                log.take()
            if time.perf_counter() > deadline and turn < config["max_turns"]:
                result["stopped"] = f"time budget of {config['budget_s']:.0f} s spent at turn {turn}"
                break
    except Exception as exc:  # reported, never hidden
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()[-3000:]
    return result


def main(make_memory_agent, make_bare_agent, do_turn, version: str) -> None:
    config = json.loads(sys.argv[1])
    Path(config["workdir"]).mkdir(parents=True, exist_ok=True)
    result = drive(config, make_memory_agent, make_bare_agent, do_turn)
    result["version"] = version
    print("RESULT " + json.dumps(result), flush=True)
