"""Run 1 and run 2 in two Python processes share memory through one SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_in_process(db: Path, prompt: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.memory.worker", str(db), "session_001", "user_123", prompt],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_second_process_sees_first_process_memory(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    first = run_in_process(db, "My name is Alice and I'm a Python developer")
    assert first["user_prompts"] == ["My name is Alice and I'm a Python developer"]
    assert first["instructions"] == ""  # nothing remembered yet

    second = run_in_process(db, "What's my name and expertise?")
    assert second["user_prompts"] == ["My name is Alice and I'm a Python developer", "What's my name and expertise?"]
    assert "name=Alice" in second["instructions"]  # the summary written by process 1
    assert "- name: Alice" in second["instructions"]  # the profile written by process 1
    assert "Alice" in second["output"] and "Python" in second["output"]
