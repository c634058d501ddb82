"""Several processes on one store, and a writer killed with SIGKILL mid-write."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _spawn(recipe, *args: str, **popen) -> subprocess.Popen:
    spec = json.dumps(dataclasses.asdict(recipe))
    return subprocess.Popen([sys.executable, "-m", "tests.support.workers", *args[:1], spec, *args[1:]], cwd=ROOT, **popen)


@pytest.fixture
def shared(recipe, storage):
    if not recipe.shared:
        pytest.skip("this backend keeps its store inside one process")
    return storage


def test_4_processes_appending_lose_nothing(recipe, shared):
    shared.create_session("hot")
    children = [_spawn(recipe, "append", "hot", f"p{n}", "50") for n in range(4)]
    assert [child.wait(timeout=240) for child in children] == [0, 0, 0, 0]
    stored = shared.read_messages("hot")
    assert [m.seq for m in stored] == list(range(1, 401))
    prompts = sorted(m.message.parts[0].content for m in stored if m.turn_start)
    assert prompts == sorted(f"p{n}-{i}" for n in range(4) for i in range(50))


def test_history_survives_the_process_that_wrote_it(recipe, shared):
    shared.create_session("s1", user_id="u1")
    assert _spawn(recipe, "append", "s1", "child", "3").wait(timeout=120) == 0
    reopened = recipe.build()
    try:
        assert [m.seq for m in reopened.read_messages("s1", user_id="u1")] == [1, 2, 3, 4, 5, 6]
    finally:
        reopened.close()


def test_sigkill_mid_write_leaves_only_whole_messages(recipe, shared):
    shared.create_session("s1")
    child = _spawn(recipe, "append_forever", "s1", stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.3)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    reopened = recipe.build()
    try:
        stored = reopened.read_messages("s1")
        assert len(stored) >= 2 and len(stored) % 2 == 0  # appends are all or nothing
        assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
        assert all(len(m.message.parts[0].content) for m in stored)  # every message decodes whole
        reopened.append_messages("s1", stored[-2:] and [stored[0].message, stored[1].message])
        assert reopened.read_messages("s1", after_seq=len(stored))[0].seq == len(stored) + 1
    finally:
        reopened.close()
