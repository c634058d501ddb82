"""Background updates across processes: a process killed between its answer and its memory
updates loses nothing, two processes finishing turns of one session at once end with one summary
covering both, and a process that exits normally stores its pending updates first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memwise.storage.sqlite import SqliteStorage

ROOT = Path(__file__).resolve().parents[2]
FIRST = "My name is Alice and I work on project Falcon"
SECOND = "What project am I working on?"


def start(db: Path, prompt: str, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.memory.turn_worker", str(db), "s1", prompt, *flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(worker: subprocess.Popen[str]) -> list[dict]:
    out, err = worker.communicate(timeout=180)
    assert worker.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(("kept", "catch_up"), [("history", "next_run"), ("summary_only", "flush")])
def test_a_process_killed_after_answering_loses_no_update(tmp_path: Path, kept: str, catch_up: str) -> None:
    db = tmp_path / "m.db"
    mode = ["--summary-only"] if kept == "summary_only" else []
    worker = start(db, FIRST, *mode, "--memory", "hang")
    answered = json.loads(worker.stdout.readline())  # the answer is back; memory's calls hang
    assert "answered" in answered
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=60)

    with SqliteStorage(db_file=str(db)) as store:
        session = store.get_session("s1")
        assert session.summary is None and store.get_profile("u1") is None  # killed before its updates
        [pending] = session.pending_turns  # ... which are kept, with the turn itself
        assert pending["needs"] == ["summary", "profile"]
        assert (FIRST in json.dumps(pending)) == (kept == "summary_only")  # the turn is in the log otherwise

    if catch_up == "next_run":
        sent = finish(start(db, SECOND, *mode))[-1]
        assert "project=Falcon" in sent["instructions"] and "- name: Alice" in sent["instructions"]
        assert sent["user_prompts"] == [SECOND]  # caught up by the run; no raw history injected
    else:
        assert finish(start(db, "", *mode, "--flush-only")) == [{"flushed": True}]

    with SqliteStorage(db_file=str(db)) as store:
        session = store.get_session("s1")
        assert "project=Falcon" in session.summary and store.get_profile("u1").data["name"] == "Alice"
        if catch_up == "flush":
            assert session.pending_turns == []


@pytest.mark.parametrize("kept", ["history", "summary_only"])
def test_two_processes_finishing_turns_at_once_end_with_one_summary(tmp_path: Path, kept: str) -> None:
    db, race = tmp_path / "m.db", tmp_path / "race"
    race.mkdir()
    mode = ["--summary-only"] if kept == "summary_only" else []
    SqliteStorage(db_file=str(db)).create_session("s1", user_id="u1")  # neither process creates it
    workers = [start(db, text, *mode, "--memory", f"race:{race}") for text in ("My name is Alice", "I like chess")]
    for worker in workers:
        finish(worker)
    assert len(list(race.glob("summary-*"))) == 2  # both summarised from the same version

    with SqliteStorage(db_file=str(db)) as store:
        session = store.get_session("s1")
        assert "name=Alice" in session.summary and "likes=chess" in session.summary
        assert session.pending_turns == []
        assert session.summarized_through == (4 if kept == "history" else 0)
        assert store.get_profile("u1").data == {"name": "Alice", "interests": ["chess"]}
        runs = store.list_runs(session_id="s1").items
        charged = sum(run.usage.get("memory_requests", 0) for run in runs)
        assert session.usage["requests"] == 2 and session.usage["memory_requests"] == charged >= 3


def test_a_normal_exit_stores_pending_updates_first(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    lines = finish(start(db, FIRST, "--memory", "slow", "--exit-at-once"))  # no flush, no close
    assert lines == [{"answered": "I know nothing yet."}]
    with SqliteStorage(db_file=str(db)) as store:
        session = store.get_session("s1")
        assert "project=Falcon" in session.summary and session.pending_turns == []
        assert store.get_profile("u1").data["name"] == "Alice"
