"""A script using memwise exits silently on every backend (issue 16, item 3).

Each case runs `scenario.py` in a fresh interpreter with `-W error` (so a ResourceWarning for an
unclosed loop, socket or client is printed too): a sync `do` once, sync `do` from 8 threads,
`asyncio.run` twice with one storage, threads then `asyncio.run`; each with the storage left
open until exit and with it closed. The interpreter's exit must print nothing: no "Task was
destroyed but it is pending!", no "Event loop is closed", no unclosed resource.

The eight scripts of a backend run side by side, each on its own fresh store; every case then
checks its own result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

import memwise
from tests.conformance.registry import BACKENDS
from tests.exit.scenario import ENDINGS, PATTERNS
from tests.support.recipe import BackendUnavailable, in_ci

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(memwise.__file__).resolve().parents[1]

CASES = [(pattern, ending) for pattern in PATTERNS for ending in ENDINGS]
_results: dict[str, dict[tuple[str, str], subprocess.CompletedProcess[str]] | str] = {}


def _run(recipe: Any, pattern: str, ending: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SOURCE), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-W", "error", "-m", "tests.exit.scenario", json.dumps(asdict(recipe)), pattern, ending]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _results_of(backend: str, temp: pytest.TempPathFactory) -> dict[tuple[str, str], subprocess.CompletedProcess[str]] | str:
    """Run every case of `backend` once, side by side, each on a fresh store (for a backend whose
    server is missing: the reason, as a string)."""
    if backend not in _results:
        try:
            with ExitStack() as stack:
                tmp = temp.mktemp(f"exit-{backend}")
                recipes = [stack.enter_context(BACKENDS[backend](_folder(tmp, number))) for number in range(len(CASES))]
                with ThreadPoolExecutor(len(CASES)) as pool:
                    done = list(pool.map(lambda case, recipe: _run(recipe, *case), CASES, recipes))
            _results[backend] = dict(zip(CASES, done, strict=True))
        except BackendUnavailable as exc:
            _results[backend] = str(exc)
    return _results[backend]


def _folder(tmp: Path, number: int) -> Path:
    folder = tmp / str(number)
    folder.mkdir(parents=True)
    return folder


@pytest.mark.timeout(900)
@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_script_exits_silently(backend: str, pattern: str, ending: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    results = _results_of(backend, tmp_path_factory)
    if isinstance(results, str):
        if in_ci():
            pytest.fail(f"backend {backend} unavailable in CI: {results}", pytrace=False)
        pytest.skip(f"backend {backend} unavailable: {results}")
    done = results[(pattern, ending)]
    assert (done.returncode, done.stderr) == (0, ""), f"{backend} {pattern} {ending}:\n{done.stdout}{done.stderr}"
    stored = int(done.stdout.split("stored ")[1].split()[0])
    assert stored >= 2  # the turns really ran and were saved
