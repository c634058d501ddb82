"""The seeds' four scenarios in examples/ run offline and show what memory delivered; the
human-in-the-loop example pauses in one process and completes in another; the knowledge-base
example answers from memory and a knowledge base in one file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = ["quick_start", "summary_standalone", "summary_with_history", "save_history_load_summary", "hitl_approval"]
RUNNER = (
    "import runpy, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "for name in sys.argv[2:]:\n"
    "    print(f'=== {name}', flush=True)\n"
    "    runpy.run_path(f'{sys.argv[1]}/{name}.py', run_name='__main__')\n"
)


def run_examples(cwd: Path, scripts: list[str] = SCRIPTS) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MEMWISE_MODEL"}  # the offline stand-in
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(EXAMPLES), *scripts],
        cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stderr
    chunks = done.stdout.split("=== ")[1:]
    return {chunk.split("\n", 1)[0]: chunk.split("\n", 1)[1] for chunk in chunks}


def test_seed_scenarios_run_and_recall(tmp_path: Path) -> None:
    out = run_examples(tmp_path)
    assert out["quick_start"].startswith("From memory: name: Alice; expertise: Python")
    assert "stored messages: 4" in out["quick_start"] and "'name': 'Alice'" in out["quick_start"]
    assert "project: Falcon" in out["summary_standalone"] and "stored messages: 0" in out["summary_standalone"]
    assert "database optimization" in out["summary_with_history"]
    last = out["save_history_load_summary"]
    assert "Python web frameworks" in last and "Django" in last and "Flask" in last
    assert "stored messages: 6" in last
    hitl = out["hitl_approval"]  # paused here, approved by a child process, completed there
    assert "status: paused | pause_reason: confirmation" in hitl
    assert "status: completed" in hitl and "Done: deleted 1204 rows from audit_log" in hitl
    starter, approver = (int(pid) for pid in re.findall(r"pid (\d+)\]", hitl)[:2])
    assert starter != approver and "stored messages: 4" in hitl
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["efficient.db", "hitl.db", "hybrid.db", "memory.db", "summaries.db"]

    again = run_examples(tmp_path)  # a second process: the same sessions continue
    assert "stored messages: 8" in again["quick_start"]


def test_knowledge_base_example_answers_from_memory_and_the_handbook(tmp_path: Path) -> None:
    out = run_examples(tmp_path, ["knowledge_base"])["knowledge_base"]
    assert out.startswith("ingested: 2 added, 0 updated, 0 unchanged, 0 removed\n")
    # the project comes from memory; the handbook line is Falcon's, not Osprey's, because of it
    assert "From memory: project: Falcon. From the knowledge base [deploys.md" in out
    assert "Falcon freezes deploys on Thursdays from 14:00" in out and "Osprey" not in out
    assert "knowledge bases: ['handbook'] | stored messages: 4" in out
    assert [p.name for p in tmp_path.glob("*.db")] == ["knowledge.db"]  # one file holds both

    again = run_examples(tmp_path, ["knowledge_base"])["knowledge_base"]  # another process, same file
    assert again.startswith("ingested: 0 added, 0 updated, 2 unchanged, 0 removed\n")
    assert "stored messages: 8" in again
