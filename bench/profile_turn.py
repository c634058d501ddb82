"""Profile memwise's per-turn path at 1,000 turns on SQLite with pyinstrument.

A session is prefilled to 1,000 turns through the storage API, then `TURNS` turns of
`Agent(FunctionModel, memory=Memory(full_session_memory=True, num_last_messages=10))` run under
the profiler. Writes <out>/profile.html (the full tree), <out>/profile.txt, and a hot-spot summary
(self time by function, time by package, the run phases) to bench/PROFILE.md.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.common import BENCH_DIR, Mode, Section, Unavailable, need
from bench.fake import memwise_models, turn_messages, user_prompt

LENGTH = 1000
TURNS = 300
#: (label, file suffix, function) -> inclusive time of the run's phases
PHASES = [
    ("memory: begin (start_turn plan: session, run record, last turns)", "memwise/memory/run.py", "begin"),
    ("memory: open (the history window, the context block)", "memwise/memory/run.py", "open"),
    ("memory: complete (finish_turn plan: append, session update, run completed)", "memwise/memory/run.py", "complete"),
    ("pydantic-ai Agent.run (the model call and its graph)", "pydantic_ai/agent/abstract.py", "run"),
    ("  of which: storage calls hopping to a worker thread (asyncio.to_thread)", "asyncio/threads.py", "to_thread"),
    ("  of which: decoding stored messages (pydantic)", "memwise/storage/codec.py", "decode_message"),
    ("  of which: encoding messages to store (pydantic)", "memwise/storage/codec.py", "encode_message"),
]
PACKAGES = [
    ("memwise.storage", "memwise/storage/"), ("memwise.memory", "memwise/memory/"), ("memwise.agent", "memwise/agent/"),
    ("memwise (other)", "memwise/"), ("pydantic_ai", "pydantic_ai/"), ("pydantic_graph", "pydantic_graph/"),
    ("pydantic / pydantic_core", "pydantic/"), ("pydantic / pydantic_core", "pydantic_core/"), ("sqlite3", "sqlite3"),
    ("asyncio", "asyncio/"), ("threading / concurrent", "threading.py"), ("threading / concurrent", "concurrent/"),
    ("anyio", "anyio/"), ("json", "json/"), ("opentelemetry / logfire", "opentelemetry"), ("opentelemetry / logfire", "logfire"),
]


def run(mode: Mode, section: Section, out_dir: Path, write_md: bool = True) -> None:
    pyinstrument = need("pyinstrument", "pip install pyinstrument (a bench-only dependency)")
    need("memwise.agent", "the Agent layer is not there yet")
    from memwise import Agent, Memory, Task
    from memwise.storage.sqlite import SqliteStorage

    turns = 100 if mode.quick else TURNS
    answer_model, _ = memwise_models()
    tmp = tempfile.mkdtemp(prefix="mwbench-profile-")
    try:
        storage = SqliteStorage(db_file=os.path.join(tmp, "profile.db"))
        storage.create_session("p", user_id="bench-user")
        lead = LENGTH - turns - 40
        for start in range(1, lead + 1, 250):
            storage.append_messages("p", [m for t in range(start, min(lead, start + 249) + 1) for m in turn_messages(t)])
        agent = Agent(answer_model, memory=Memory(storage, session_id="p", user_id="bench-user",
                                                  full_session_memory=True, num_last_messages=10))
        calls = _count_storage_calls(storage)
        bare = Agent(answer_model)
        with_mem, without = [], []
        for t in range(lead - 40, lead):  # unprofiled reference: the same turns with and without memory
            t0 = time.perf_counter()
            agent.do(Task(user_prompt(t)))
            t1 = time.perf_counter()
            bare.do(Task(user_prompt(t)))
            with_mem.append(t1 - t0)
            without.append(time.perf_counter() - t1)
        per_turn_calls = {k: v / 40 for k, v in sorted(calls.items())}
        calls.clear()
        # what pydantic-ai itself charges for a 10-turn history, with no memwise code at all
        from pydantic_ai import Agent as PlainAgent

        plain = PlainAgent(answer_model)
        history = [m for t in range(10) for m in turn_messages(t)]
        plain_with, plain_without = [], []
        for t in range(40):
            t0 = time.perf_counter()
            plain.run_sync(user_prompt(t), message_history=history)
            t1 = time.perf_counter()
            plain.run_sync(user_prompt(t))
            plain_with.append(t1 - t0)
            plain_without.append(time.perf_counter() - t1)
        profiler = pyinstrument.Profiler(interval=0.001, async_mode="enabled")
        started = time.perf_counter()
        profiler.start()
        for t in range(lead + 1, lead + turns + 1):
            agent.do(Task(user_prompt(t)))
        profiler.stop()
        wall = time.perf_counter() - started
        storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    session = profiler.last_session
    (out_dir / "profile.html").write_text(profiler.output_html())
    text = profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)
    (out_dir / "profile.txt").write_text(text)
    root = session.root_frame()
    if root is None:
        raise Unavailable("the profiler recorded no samples")
    selfs: dict[tuple[str, str, int], float] = defaultdict(float)
    phases: dict[str, float] = defaultdict(float)
    packages: dict[str, float] = defaultdict(float)

    def walk(frame, active: frozenset, parent: tuple[str, str, int] | None, parent_path: str) -> None:
        if frame.is_synthetic:  # pyinstrument puts self time and await time in synthetic children
            if frame.function == "[self]" and parent is not None:
                selfs[parent] += frame.time
                for label, marker in PACKAGES:
                    if marker in parent_path:
                        packages[label] += frame.time
                        break
                else:
                    packages["other"] += frame.time
            else:
                packages[f"waiting ({frame.function})"] += frame.time
            return
        path = (frame.file_path or "").replace("\\", "/")
        name = frame.function or ""
        now = set(active)
        for label, suffix, fn in PHASES:
            if label not in active and path.endswith(suffix) and name == fn:
                phases[label] += frame.time
                now.add(label)
        key = (name, _short(path), frame.line_no or 0)
        for child in frame.children:
            walk(child, frozenset(now), key, path)

    walk(root, frozenset(), None, "")
    total = root.time or 1e-9
    per_turn_us = wall / turns * 1e6
    top = sorted(selfs.items(), key=lambda kv: -kv[1])[:25]
    section.rows.append({"turns": turns, "wall_s": wall, "per_turn_us": per_turn_us, "samples_s": total})
    section.raw["top_self"] = [{"function": f, "where": f"{p}:{ln}", "seconds": s} for (f, p, ln), s in top]
    section.raw["phases"] = dict(phases)
    section.raw["packages"] = dict(packages)
    from bench.common import p50

    ref = {"with_memory_p50_us": p50(with_mem) * 1e6, "without_memory_p50_us": p50(without) * 1e6,
           "pydantic_ai_with_history_p50_us": p50(plain_with) * 1e6,
           "pydantic_ai_without_history_p50_us": p50(plain_without) * 1e6}
    section.raw["reference"] = ref
    section.raw["storage_calls_per_turn"] = per_turn_calls
    print(f"  [profile] {turns} turns at ~{LENGTH} turns on SQLite: {per_turn_us:,.0f} µs per turn (under the profiler)", flush=True)
    if not write_md:
        return
    lines = [
        "# Profile: memwise per-turn path at 1,000 turns on SQLite",
        "",
        f"Generated by `python -m bench --only profile` on {time.strftime('%Y-%m-%d %H:%M %Z')} "
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; the machine may have been busy). "
        f"pyinstrument {getattr(pyinstrument, '__version__', '?')}, interval 1 ms, async mode.",
        "",
        f"Workload: a session prefilled to {LENGTH - turns} turns, then {turns} turns of "
        "`Agent(FunctionModel, memory=Memory(SqliteStorage, full_session_memory=True, num_last_messages=10))` "
        f"under the profiler: {per_turn_us:,.0f} µs per whole turn (model call included; the profiler adds overhead). "
        f"Full tree: bench/out/profile.html and bench/out/profile.txt.",
        "",
        f"Unprofiled reference just before (40 turns, interleaved): turn with memory p50 "
        f"{ref['with_memory_p50_us']:,.0f} µs, the same agent without memory {ref['without_memory_p50_us']:,.0f} µs, "
        f"so memory costs about {ref['with_memory_p50_us'] - ref['without_memory_p50_us']:,.0f} µs per turn here. "
        f"Of that, pydantic-ai alone (no memwise code) takes {ref['pydantic_ai_with_history_p50_us'] - ref['pydantic_ai_without_history_p50_us']:,.0f} µs "
        f"more per run when handed the same 10-turn (20-message) history ({ref['pydantic_ai_with_history_p50_us']:,.0f} vs "
        f"{ref['pydantic_ai_without_history_p50_us']:,.0f} µs): that part is bound by pydantic-ai, not by memwise.",
        "",
        "Storage calls per turn (counted on the storage's async API during the reference turns): "
        + ", ".join(f"`{k}` {v:g}" for k, v in per_turn_calls.items())
        + f" — {sum(per_turn_calls.values()):g} in all; the floor makes 1 write and 1 read.",
        "",
        "## Phases of a turn (inclusive time, share of all samples)",
        "",
        "pydantic-ai runs parts of a run in tasks of their own, so the Agent.run line undercounts it; "
        "'waiting' rows below are time the event loop spent idle (epoll) or in awaits.",
        "",
        "| phase | per turn | share |",
        "|---|---:|---:|",
    ]
    for label, _, _ in PHASES:
        if phases.get(label):
            lines.append(f"| {label} | {phases[label] / turns * 1e6:,.0f} µs | {phases[label] / total:.0%} |")
    lines += ["", "## Self time by package", "", "| package | per turn | share |", "|---|---:|---:|"]
    for label, seconds in sorted(packages.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {seconds / turns * 1e6:,.0f} µs | {seconds / total:.0%} |")
    lines += ["", "## Top 25 functions by self time", "", "| function | where | per turn | share |", "|---|---|---:|---:|"]
    for (fn, path, line), seconds in top:
        lines.append(f"| `{fn}` | {path}:{line} | {seconds / turns * 1e6:,.0f} µs | {seconds / total:.0%} |")
    lines += ["", "## Call tree (pyinstrument, condensed)", "", "```", _condense(text), "```", ""]
    (BENCH_DIR / "PROFILE.md").write_text("\n".join(lines))
    (out_dir / "PROFILE.md").write_text("\n".join(lines))


def _count_storage_calls(storage) -> dict[str, int]:
    """Count calls of the storage's public async methods (what memory uses), per method name."""
    counts: dict[str, int] = defaultdict(int)
    for name in dir(type(storage)):
        if name.startswith("a") and name != "aclose" and inspect.iscoroutinefunction(getattr(storage, name)):
            original = getattr(storage, name)

            async def counted(*args, _name=name, _original=original, **kwargs):
                counts[_name] += 1
                return await _original(*args, **kwargs)

            setattr(storage, name, counted)
    return counts


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _condense(text: str, max_lines: int = 120) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[:max_lines]) + ("\n..." if len(lines) > max_lines else "")
