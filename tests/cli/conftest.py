"""The CLI tests' model: a loopback fake OpenAI-compatible server (tests/agent/fake_openai.py).

No hook in memwise: the commands resolve their model exactly as for a user, from
`MEMWISE_MODEL=openai/gpt-4o` with `OPENAI_BASE_URL` pointing at the fake server on 127.0.0.1.
The fake *reads* what memory sent it, like `examples/_demo_model.py`: it answers from the history
and the memory block in the instructions, writes summaries by folding the new turns' facts into
the previous summary, and extracts traits from the user's sentences. So a memory that loses
something gives a visibly wrong answer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memwise.cli.app import app
from tests.agent.fake_openai import FakeOpenAI, fake_openai

NAME = re.compile(r"\bmy name is (\w+)", re.I)
ROLE = re.compile(r"\bI'?m an? (\w+) developer", re.I)
BULLET = re.compile(r"^- (\w+): (.+)$", re.M)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(item.get("text", "") for item in content if isinstance(item, dict))
    return ""


def facts(text: str) -> list[str]:
    found = [f"name: {m}" for m in NAME.findall(text)] + [f"expertise: {m}" for m in ROLE.findall(text)]
    return list(dict.fromkeys(found))


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(_text(m["content"]) for m in body["messages"] if m["role"] in ("system", "developer"))


def kind(body: dict[str, Any]) -> str:
    """"summary", "profile" (memory's own calls) or "answer"."""
    if "running summary" in system_text(body):
        return "summary"
    if body.get("tools") and body["tools"][0]["function"]["name"] == "final_result":
        return "profile"
    return "answer"


def reply(body: dict[str, Any]) -> str | dict[str, Any]:
    system = system_text(body)
    users = [_text(m["content"]) for m in body["messages"] if m["role"] == "user"]
    if kind(body) == "summary":  # memory's summary call: previous summary + the new turns
        previous, _, new = users[-1].partition("New conversation turns:")
        known = [f"{k}: {v}" for k, v in BULLET.findall(previous)]
        merged = list(dict.fromkeys(known + facts(new)))
        return "\n".join(f"- {fact}" for fact in merged) or "- nothing yet"
    if kind(body) == "profile":  # memory's trait extraction: each value with the user's words
        recent = users[-1].partition("Recent messages from the user:")[2]
        found: dict[str, Any] = {"evidence": []}
        for key, pattern in (("name", NAME), ("expertise", ROLE)):
            for match in pattern.finditer(recent):
                found[key] = [match.group(1)] if key == "expertise" else match.group(1)
                found["evidence"].append(match.group(0))
        return found
    remembered = facts("\n".join(users[:-1])) + [f"{k}: {v}" for k, v in BULLET.findall(system)]
    if not remembered:
        return "Noted."
    return "From memory: " + "; ".join(dict.fromkeys(remembered))


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The fake model, set up through the environment as a user would (also for subprocesses)."""
    with fake_openai(reply) as server:
        for name, value in model_env(server).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("MEMWISE_DB", raising=False)
        yield server


def model_env(server: FakeOpenAI) -> dict[str, str]:
    return {
        "MEMWISE_MODEL": "openai/gpt-4o",
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "test-key",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


class Cli:
    """`cli("sessions", "--db", db)` runs a command in-process; returns the Result (stdout and
    stderr apart)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, ok: bool | None = None) -> Any:
        result = self.runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if ok is True:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        elif ok is False:
            assert result.exit_code != 0, (result.stdout, result.stderr)
            assert "Traceback" not in result.output
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli()


def calls(server: FakeOpenAI, wanted: str) -> list[dict[str, Any]]:
    """The requests of one kind: "answer", "summary" or "profile"."""
    return [body for body in server.requests if kind(body) == wanted]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test in its own directory, so a default `memwise.db` never lands in the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMWISE_DB", raising=False)
    os.environ.pop("MEMWISE_DB", None)
