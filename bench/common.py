"""Shared helpers: statistics, the result record, "not available" handling, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


class Unavailable(Exception):
    """A workload (or one cell of it) cannot run here; the message says why."""


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def us(seconds: float) -> float:
    return seconds * 1e6


@dataclass
class Mode:
    """Sizes of one run: `--quick` or full."""

    quick: bool
    lengths: tuple[int, ...]
    floor_ops: int
    token_turns: tuple[int, ...]
    concurrency: tuple[int, ...]
    concurrent_turns: int
    peer_lengths: tuple[int, ...]
    peer_budget_s: float
    drive_all: bool  # drive every turn through the agent instead of prefilling storage
    local_model: bool = False  # traits: also measure the real local model (slow)

    @classmethod
    def make(cls, quick: bool) -> Mode:
        if quick:
            return cls(True, (10, 100, 1000, 5000), 200, (20, 200), (1, 10, 100), 2, (10, 100), 12.0, False)
        return cls(False, (10, 100, 1000, 5000), 1000, (20, 200, 1000), (1, 10, 100), 20, (10, 100, 1000, 5000), 150.0, False)

    def window(self, length: int) -> int:
        """Turns measured at one session length (the turns just before it)."""
        if self.quick:
            return max(5, min(30, length // 2))
        return max(5, min(100, length // 2))


@dataclass
class Section:
    """One workload's results: rows for the table, plus raw data for the JSON file."""

    name: str
    title: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    when: str = ""

    def skip(self, what: str, why: str) -> None:
        self.unavailable.append(f"{what}: not available: {why}")
        print(f"  [{self.name}] {what}: not available: {why}", flush=True)


def guarded(section: Section, what: str, fn: Callable[[], Any]) -> Any:
    """Run one cell; an Unavailable or an error is recorded on the section, never raised."""
    try:
        return fn()
    except Unavailable as exc:
        section.skip(what, str(exc))
    except Exception as exc:  # a crash in one cell must not lose the others
        detail = traceback.format_exc(limit=6)
        section.skip(what, f"{type(exc).__name__}: {exc}")
        section.raw.setdefault("errors", {})[what] = detail
    return None


def need(module: str, hint: str) -> Any:
    """Import `module` or raise Unavailable naming what is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} cannot be imported ({exc}); {hint}") from None


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        facts["memory_gib"] = round(int(mem) / 1024 / 1024, 1)
        facts["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        facts["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip() + (" (dirty)" if subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for package in ("memwise", "pydantic-ai-slim", "psycopg", "redis", "pymongo", "secantusdb"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    facts["versions"] = versions
    return facts


def fmt_us(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    if abs(value) >= 100_000:
        return f"{value / 1000:,.0f} ms"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.1f} ms"
    return f"{value:,.0f} µs"


def fmt_x(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:,.2f}x" if value < 100 else f"{value:,.0f}x"
