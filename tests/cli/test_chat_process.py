"""`memwise chat` as a real process: piped stdin, a pseudo-terminal, and the entry points."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memwise.storage.sqlite import SqliteStorage
from tests.cli.conftest import calls, model_env

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memwise.cli", *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=cwd, timeout=120,
    )


@pytest.fixture
def env(llm) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("MEMWISE_DB", "COLUMNS")}
    return {**keep, **model_env(llm), "PYTHONPATH": str(ROOT / "src")}


def test_piped_chat_prints_only_answers_and_remembers(llm, env, tmp_path) -> None:
    args = ["chat", "--session", "s1", "--user", "alice", "--db", "chat.db"]
    first = run(args, env, tmp_path, "My name is Alice and I'm a Python developer\n\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Noted.\n" and first.stderr == ""

    second = run(args, env, tmp_path, "What's my name and expertise?\n/summary\n/history 1\n")  # no newline at the end
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "From memory: name: Alice; expertise: Python",
        "- name: Alice",
        "- expertise: Python",
        "#3 user: What's my name and expertise?",
        "#4 assistant: From memory: name: Alice; expertise: Python",
    ]
    assert len(calls(llm, "answer")) == 2

    forget = run(args, env, tmp_path, "/forget\ny\n")
    assert re.fullmatch(r"Forgot user 'alice': 1 session, 4 messages, \d+ runs?, 1 profile\.\n", forget.stdout)
    with SqliteStorage(db_file=str(tmp_path / "chat.db")) as store:
        assert store.get_session("s1") is None


def test_piped_chat_reports_a_failed_turn_and_goes_on(llm, env, tmp_path) -> None:
    env = {**env, "MEMWISE_MODEL": "openai/gpt-4o", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}  # nothing listens
    done = run(["chat", "-s", "s", "-u", "u", "--db", "c.db", "--no-summary", "--no-profile"], env, tmp_path, "hi\n/help\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Error: " in done.stderr and "/history" in done.stdout  # the chat went on after the failure


def test_script_entry_point_and_missing_cli_extra(tmp_path) -> None:
    script = Path(sys.executable).with_name("memwise")
    if script.exists():  # installed (editable) in this environment
        assert subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60).returncode == 0
    code = "import sys; sys.modules['typer'] = None; from memwise.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1 and 'pip install "memwise[cli]"' in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_chat_on_a_terminal_shows_prompt_spinner_and_answer(llm, env, tmp_path) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: memwise chat on the terminal
        os.chdir(tmp_path)
        child_env = {k: v for k, v in env.items() if k not in ("PYTEST_VERSION", "CI")}  # as a user's shell
        os.execve(sys.executable, [sys.executable, "-m", "memwise.cli", "chat", "-s", "t", "-u", "alice", "--db", "t.db"],
                  {**child_env, "TERM": "xterm", "COLUMNS": "100", "LINES": "30"})
    output = b""

    def read_until(pattern: bytes, timeout: float = 60) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while not re.search(pattern, output):
            assert time.monotonic() < deadline, output
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            output += chunk

    try:
        read_until(rb"you>")
        assert b"memwise chat" in output and b"/help for commands" in output
        os.write(fd, b"My name is Alice and I'm a Python developer\r")
        read_until(rb"Noted\.")
        os.write(fd, b"What's my name?\r")
        read_until(rb"From memory: name: Alice")
        os.write(fd, b"/exit\r")
        read_until(rb"$")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    assert "⠋".encode() in output or b"thinking" in output  # the spinner ran
    assert b"Logfire" not in output  # no pydantic-ai first-run banner in the middle of the chat
    with SqliteStorage(db_file=str(tmp_path / "t.db")) as store:
        assert len(store.read_messages("t")) == 4
