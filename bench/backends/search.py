"""Storage search, backend by backend: search latency at 10k messages per user, what indexing adds
to an append, and how many LoCoMo evidence turns the first stage finds.

    python -m bench.backends.search [sqlite|postgres|redis|mongo|json|in_memory ...]
        [--messages 10000] [--ops 300] [--locomo PATH]

Data: LoCoMo's development conversations (`--locomo`, default ../shared/data/locomo/locomo-dev.json;
CC BY-NC 4.0, so never copied into the project: get it from snap-research/LoCoMo). Each session of
a conversation becomes a memwise session, each turn a message ("{speaker}: {text}", dated with the
session's date). Per backend:

- search: one user holding `--messages` messages (the conversations repeated under new session
  ids), `search_messages(question, user_id=..., limit=50 and 200)` for LoCoMo's questions, p50 and
  p95 after one untimed search (which catches a memwise-side index up: its cost is printed too);
- append: one turn (2 messages) per op into two sessions of that user, alternating op by op:
  with indexing, and without (the same code with `search_text` forced to "", so no index entry
  is written); p50 of each and their ratio;
- recall: per conversation (user = conversation), the share of evidence turns of the questions of
  categories 1-4 found in the top 50 / 200 hits of `search_messages(question, user_id=...)`;
- vectors (`--dim`, default 384): one vector per message of that user, put per session, then
  `read_vectors(model, user_id=...)` of all of them, p50 of 5 reads.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.common import REPO, Unavailable, fmt_us, fmt_x, p50, pct, us
from bench.stores import open_backend

DEFAULT_LOCOMO = REPO.parent / "shared" / "data" / "locomo" / "locomo-dev.json"
NAMES = ("sqlite", "postgres", "redis", "mongo", "json", "in_memory")


def conversations(path: Path) -> list[dict[str, Any]]:
    """Per conversation: its id, sessions [(n, [(speaker index, text, timestamp)])] and questions."""
    found = []
    for sample in json.loads(path.read_text()):
        talk = sample["conversation"]
        sessions = []
        for key, turns in talk.items():
            if not key.startswith("session_") or key.endswith("date_time") or not turns:
                continue
            when = datetime.strptime(talk[f"{key}_date_time"], "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)
            lines = []
            for turn in turns:
                text = f"{turn['speaker']}: {turn['text']}"
                if turn.get("blip_caption"):
                    text += f" [shares {turn['blip_caption']}]"
                lines.append((0 if turn["speaker"] == talk["speaker_a"] else 1, text, when, turn["dia_id"]))
            sessions.append((int(key.split("_")[1]), lines))
        questions = [(qa["question"], qa["evidence"]) for qa in sample["qa"] if qa.get("category") in (1, 2, 3, 4)]
        found.append({"id": sample["sample_id"], "sessions": sessions, "questions": questions})
    return found


def messages_of(lines: list[tuple[int, str, datetime, str]]) -> list[Any]:
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

    return [
        ModelRequest(parts=[UserPromptPart(text, timestamp=when)]) if who == 0
        else ModelResponse(parts=[TextPart(text)], timestamp=when)
        for who, text, when, _ in lines
    ]


@contextmanager
def store(name: str) -> Iterator[Any]:
    if name == "in_memory":
        from memwise.storage.in_memory import InMemoryStorage

        yield InMemoryStorage()
        return
    with open_backend(name) as backend:
        yield backend.storage()


@contextmanager
def without_indexing() -> Iterator[None]:
    """Appends store search_text "" (no index entry), everything else unchanged."""
    import memwise.storage.checks as checks

    original = checks.search_text
    checks.search_text = lambda message: ""
    try:
        yield
    finally:
        checks.search_text = original


def measure(name: str, data: list[dict[str, Any]], total: int, ops: int, dim: int) -> list[str]:
    rng = random.Random(7)
    questions = [q for conv in data for q, _ in conv["questions"]]
    rng.shuffle(questions)
    report = []
    with store(name) as storage:
        # ---- one user with `total` messages
        loaded, copy = 0, 0
        started = time.perf_counter()
        while loaded < total:
            for conv in data:
                for n, lines in conv["sessions"]:
                    if loaded >= total:
                        break
                    sid = f"big-{copy}-{conv['id']}-s{n}"
                    storage.create_session(sid, user_id="big")
                    batch = messages_of(lines)[: total - loaded]
                    storage.append_messages(sid, batch)
                    loaded += len(batch)
            copy += 1
        report.append(f"loaded {loaded:,} messages for one user in {time.perf_counter() - started:.1f} s")
        if name == "postgres":  # the column statistics search reads, as autovacuum makes them within a minute
            storage._sync(storage._sql("ANALYZE {messages}", (), "rowcount"), write=True)
            storage._sync(storage._sql("ANALYZE {records}", (), "rowcount"), write=True)
        started = time.perf_counter()
        storage.search_messages(questions[0], user_id="big", limit=50)
        report.append(f"first search (memwise-side index: catch-up of every session) {fmt_us(us(time.perf_counter() - started))}")
        stats = storage.__dict__.get("_lexeme_stats")
        if stats is not None:
            report.append(f"PostgreSQL statistics: {len(stats.lexemes)} lexemes listed")
        for limit in (50, 200):
            times, cpu = [], []
            for k in range(ops):
                start, start_cpu = time.perf_counter(), time.thread_time()
                storage.search_messages(questions[k % len(questions)], user_id="big", limit=limit)
                times.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
            report.append(f"search limit {limit:3}: p50 {fmt_us(us(p50(times))):>9}  p95 {fmt_us(us(pct(times, 0.95))):>9}"
                          f"  this process's CPU p50 {fmt_us(us(p50(cpu)))}  ({ops} questions, user scope, {loaded:,} messages)")
        # ---- append with and without indexing, alternating
        lines = [line for conv in data for _, session in conv["sessions"] for line in session]
        for sid in ("append-indexed", "append-plain"):
            storage.create_session(sid, user_id="big")
        times_on: list[float] = []
        times_off: list[float] = []
        cpu_on: list[float] = []
        cpu_off: list[float] = []
        for k in range(ops + 5):
            turn = messages_of(lines[(2 * k) % (len(lines) - 1):][:2])
            for indexed in (True, False) if k % 2 == 0 else (False, True):
                start, start_cpu = time.perf_counter(), time.thread_time()
                if indexed:
                    storage.append_messages("append-indexed", turn)
                else:
                    with without_indexing():
                        storage.append_messages("append-plain", turn)
                if k >= 5:
                    (times_on if indexed else times_off).append(time.perf_counter() - start)
                    (cpu_on if indexed else cpu_off).append(time.thread_time() - start_cpu)
        report.append(f"append one turn: indexed p50 {fmt_us(us(p50(times_on)))}, not indexed p50 "
                      f"{fmt_us(us(p50(times_off)))}, ratio {fmt_x(p50(times_on) / p50(times_off))}; this process's CPU "
                      f"{fmt_us(us(p50(cpu_on)))} / {fmt_us(us(p50(cpu_off)))}")
        # ---- dense vectors of every message of the user
        if dim:
            started = time.perf_counter()
            for session in storage.list_sessions(user_id="big", limit=1000).items:
                seqs = [m.seq for m in storage.read_messages(session.session_id)]
                storage.put_vectors(session.session_id, "bench", [(seq, [rng.random() for _ in range(dim)]) for seq in seqs])
            put = time.perf_counter() - started
            times = []
            for _ in range(5):
                start = time.perf_counter()
                count = len(storage.read_vectors("bench", user_id="big"))
                times.append(time.perf_counter() - start)
            report.append(f"vectors: put {count:,} x {dim} in {put:.1f} s; read_vectors(user) p50 {fmt_us(us(p50(times)))}")
        # ---- first-stage recall of evidence turns, one user per conversation
        found = {50: 0, 200: 0}
        wanted = 0
        for conv in data:
            seq_of = {}
            for n, session in conv["sessions"]:
                sid = f"{conv['id']}-s{n}"
                storage.create_session(sid, user_id=conv["id"])
                storage.append_messages(sid, messages_of(session))
                seq_of.update({dia: (sid, i + 1) for i, (_, _, _, dia) in enumerate(session)})
            for question, evidence in conv["questions"]:
                hits = storage.search_messages(question, user_id=conv["id"], limit=200)
                ranks = {(hit.session_id, hit.seq): rank for rank, hit in enumerate(hits)}
                for dia in evidence:
                    if dia not in seq_of:
                        continue
                    wanted += 1
                    rank = ranks.get(seq_of[dia])
                    for k in found:
                        found[k] += rank is not None and rank < k
        report.append(f"evidence turns in the top 50: {found[50] / wanted:.3f}, top 200: {found[200] / wanted:.3f}"
                      f" ({wanted} evidence turns, LoCoMo categories 1-4)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backends.search", description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", metavar="backend", help=f"any of {', '.join(NAMES)} (default: sqlite postgres)")
    parser.add_argument("--messages", type=int, default=10_000, help="messages of the searched user (default 10000)")
    parser.add_argument("--ops", type=int, default=300, help="timed searches and appends per measure (default 300)")
    parser.add_argument("--dim", type=int, default=384, help="vector dimensions (0: skip vectors)")
    parser.add_argument("--common-share", type=float, help="PostgreSQL: override sql.search.COMMON_SHARE")
    parser.add_argument("--locomo", type=Path, default=DEFAULT_LOCOMO, help="LoCoMo JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.backends) - set(NAMES)):
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if not args.locomo.is_file():
        parser.error(f"no LoCoMo file at {args.locomo}: get locomo10.json from github.com/snap-research/LoCoMo")
    data = conversations(args.locomo)
    if args.common_share is not None:
        import memwise.storage.sql.search as sql_search

        sql_search.COMMON_SHARE = args.common_share
    failed = False
    for name in args.backends or ("sqlite", "postgres"):
        print(f"== {name}", flush=True)
        try:
            lines = measure(name, data, args.messages, args.ops, args.dim)
        except Unavailable as exc:
            lines = [f"not available: {exc}"]
        except Exception as exc:  # one backend's crash must not hide the others
            failed, lines = True, [f"error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"]
        for line in lines:
            print(f"   {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
