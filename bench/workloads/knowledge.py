"""Workload 8: the KnowledgeBase on a real documentation set (issue 14, "Measured (bench)").

The HTML pages of Debian's `python3-doc` (the Python 3 documentation, ~530 pages, ~50 MB of
HTML) are ingested by `KnowledgeBase(pages, storage=...)` into a fresh store, on SQLite and
PostgreSQL, lexical only and with `embedder="local"` (full mode; on PostgreSQL with `--local` only: the
embedder's cost is the model's, alike on every backend). Measured per store and configuration: the
first `setup()` (MB of HTML/s, chunks/s), `setup()` again on the unchanged pages (target: <= 5% of
the first), and one `kb.query(question, limit=5)` per question of `bench/knowledge_questions.json`
(50 questions in our own words, each naming the page(s) that answer it): p50 / p95 latency, and
hit@1 / hit@5 = the share of questions whose first / first five chunks include one from an
expected page. The documentation is the PSF's and is not part of memwise: install it with
`apt-get install python3-doc`, or pass `--kb-docs PATH` (the folder holding `index.html`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, Mode, Section, Unavailable, guarded, p50, pct

QUESTIONS = BENCH_DIR / "knowledge_questions.json"
#: Where Debian's python3-doc puts the HTML (symlinks to /usr/share/doc/python3.X/html).
ROOTS = ("/usr/share/doc/python3-doc/html", "/usr/share/doc/python3/html")
ROOT_GLOB = "python3.*/html"
LIMIT = 5
#: Quick mode: QUICK_PAGES pages, half of them pages some question names; no page above QUICK_MAX_BYTES.
QUICK_PAGES = 60
QUICK_MAX_BYTES = 150_000
#: (label, embedder): the table's configurations. "local" needs memwise[embed].
CONFIGS = (("lexical (no model)", None), ("MiniLM int8 (embedder='local')", "local"))
RESETUP_TARGET = 0.05


@dataclass(frozen=True)
class Question:
    text: str
    pages: tuple[str, ...]  # relative to the HTML root: any of them answers the question


@dataclass(frozen=True)
class Corpus:
    root: Path
    files: tuple[Path, ...]
    questions: tuple[Question, ...]

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def html_root(path: str | None) -> Path:
    """The documentation's HTML folder: `path`, else python3-doc's; Unavailable if neither is there."""
    if path:
        candidates = [Path(path)]
    else:
        candidates = [Path(p) for p in ROOTS] + sorted(Path("/usr/share/doc").glob(ROOT_GLOB), reverse=True)
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate.resolve()
    if path:
        raise Unavailable(f"no index.html in {path} (--kb-docs wants the HTML root of the Python documentation)")
    raise Unavailable("install python3-doc (apt-get install python3-doc) or pass --kb-docs PATH")


def read_questions(path: Path = QUESTIONS) -> list[Question]:
    return [Question(q["question"], tuple(q["pages"])) for q in json.loads(path.read_text())]


def corpus(root: Path, questions: Sequence[Question], quick: bool) -> Corpus:
    """Every HTML page under `root` (full), or a fixed subset and the questions it can answer (quick)."""
    files = sorted(p for p in root.rglob("*.html") if not _build_folder(p.relative_to(root)))
    asked = [q for q in questions if any((root / page).is_file() for page in q.pages)]
    if not quick:
        return Corpus(root, tuple(files), tuple(asked))
    small = [f for f in files if f.stat().st_size <= QUICK_MAX_BYTES]
    chosen: dict[Path, None] = {}
    for q in asked:  # first the pages some questions name, in the questions' order
        for page in q.pages:
            if (root / page) in small and len(chosen) < QUICK_PAGES // 2:
                chosen[root / page] = None
    others = [f for f in small if f not in chosen]
    step = max(1, len(others) // max(1, QUICK_PAGES - len(chosen)))
    for f in others[::step][: QUICK_PAGES - len(chosen)]:
        chosen[f] = None
    pages = {page_of(str(f), root) for f in chosen}
    return Corpus(root, tuple(sorted(chosen)), tuple(q for q in asked if pages & set(q.pages)))


def _build_folder(page: Path) -> bool:
    """Whether a page sits in one of Sphinx's build folders (_static, _sources, ...), not a page of
    the documentation (library/_thread.html is one)."""
    return any(part.startswith("_") for part in page.parts[:-1])


def page_of(source: str, root: Path) -> str:
    """A chunk's source as a page path relative to the HTML root ("library/os.html"); the source
    itself when it is not under the root."""
    for base in (str(root), str(root.resolve())):
        prefix = base.rstrip("/") + "/"
        if source.startswith(prefix):
            return source[len(prefix):]
    try:
        return Path(source).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return source


def hit_at(returned: Sequence[str], expected: Sequence[str], k: int) -> bool:
    """Whether one of the first `k` returned pages is an expected page."""
    return any(page in expected for page in returned[:k])


def measure(make_kb: Callable[[list[str]], Any], data: Corpus,
            progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Ingest `data` with a fresh knowledge base, set it up again unchanged, ask every question.
    `make_kb(sources)` builds the knowledge base on a fresh, empty store."""
    kb = make_kb([str(f) for f in data.files])
    started = time.perf_counter()
    first = kb.setup(progress=progress) if progress else kb.setup()
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = kb.setup()
    second_s = time.perf_counter() - started
    chunks = sum(getattr(d, "chunk_count", 0) for d in kb.documents())
    kb.query("warm up: how do I open a file", limit=LIMIT)
    seconds, ranked = [], []
    for q in data.questions:
        t = time.perf_counter()
        found = kb.query(q.text, limit=LIMIT)
        seconds.append(time.perf_counter() - t)
        ranked.append([page_of(c.source, data.root) for c in found])
    hits1 = [hit_at(r, q.pages, 1) for r, q in zip(ranked, data.questions, strict=True)]
    hits5 = [hit_at(r, q.pages, LIMIT) for r, q in zip(ranked, data.questions, strict=True)]
    mb = data.bytes / 1e6
    asked = max(1, len(data.questions))
    return {
        "pages": len(data.files), "mb": mb, "chunks": chunks,
        "first_s": first_s, "mb_per_s": mb / first_s, "chunks_per_s": chunks / first_s,
        "second_s": second_s, "resetup_ratio": second_s / first_s,
        "added": first.added, "failed": len(first.failed), "failed_examples": [list(f) for f in first.failed[:5]],
        "second_unchanged": second.unchanged, "second_changed": second.added + second.updated + second.removed,
        "questions": len(data.questions), "hit1": sum(hits1) / asked, "hit5": sum(hits5) / asked,
        "query_p50_ms": p50(seconds) * 1e3 if seconds else float("nan"),
        "query_p95_ms": pct(seconds, 0.95) * 1e3,
        "misses_at_5": [q.text for q, ok in zip(data.questions, hits5, strict=True) if not ok],
        "ranked": ranked,
    }


def run(mode: Mode, section: Section, docs: str | None = None) -> None:
    from bench.stores import PostgresBackend, SqliteBackend
    from bench.workloads.recall import _local_ready

    root = html_root(docs)
    try:
        from memwise import KnowledgeBase
    except ImportError as exc:
        raise Unavailable(f"memwise.KnowledgeBase cannot be imported ({exc})") from None
    data = corpus(root, read_questions(), mode.quick)
    section.notes.append(
        f"{len(data.files)} HTML pages ({data.bytes / 1e6:.1f} MB) of the Python documentation (python3-doc, {root})"
        + (", a fixed quick subset" if mode.quick else "")
        + f"; {len(data.questions)} questions in our own words, each naming the page(s) that answer it "
        f"(bench/knowledge_questions.json). KnowledgeBase(pages, chunk_tokens=400, chunk_overlap=50) on a fresh store; "
        f"MB/s counts the HTML read; re-setup = setup() again on the unchanged pages; query = kb.query(question, "
        f"limit={LIMIT}); hit@k = a chunk of an expected page among the first k.")
    configs = [c for c in CONFIGS if c[1] is None or (not mode.quick and _local_ready(section))]
    backends = {"sqlite": SqliteBackend, "postgres": PostgresBackend}

    def one(backend_name: str, label: str, embedder: Any) -> None:
        with backends[backend_name]() as backend:
            def make(sources: list[str]) -> Any:
                return KnowledgeBase(sources, storage=backend.storage(), name="pydocs", embedder=embedder)

            row = measure(make, data, _progress(f"{backend.label} {label}"))
            ranked = row.pop("ranked")
            section.raw.setdefault("ranked", {})[f"{backend_name}/{label}"] = ranked
            section.rows.append({"backend": backend.label, "config": label, **row})
            print(f"  [knowledge] {backend.label:10} {label:30}: {row['mb_per_s']:.2f} MB/s, "
                  f"{row['chunks_per_s']:.0f} chunks/s, re-setup {row['resetup_ratio']:.1%}, "
                  f"hit@1 {row['hit1']:.2f} hit@5 {row['hit5']:.2f}, query p50 {row['query_p50_ms']:.1f} ms", flush=True)

    # The embedder's cost is the model's, the same on every backend: PostgreSQL gets it with --local only.
    plan = [("sqlite", configs), ("postgres", configs if mode.local_model else configs[:1])]
    for backend_name, chosen in plan:
        for label, embedder in chosen:
            guarded(section, f"{backend_name} {label}", lambda b=backend_name, lb=label, e=embedder: one(b, lb, e))


def _progress(what: str) -> Callable[[int, int, str], None]:
    """Print every tenth of the way (a full ingestion with an embedder takes minutes)."""
    shown = [-1]

    def report(done: int, total: int, source: str) -> None:
        tenth = done * 10 // max(1, total)
        if tenth != shown[0]:
            shown[0] = tenth
            print(f"    {what}: {done}/{total}", flush=True)

    return report


def render(w: Callable[[str], None], section: Section, facts: dict[str, Any] | None = None) -> None:
    """The section's table (bench/report.py calls it), with the machine's load: a partial
    --publish keeps the file's header, which describes an earlier run."""
    if not section.rows:
        return
    if facts:
        w(f"_Machine: {facts.get('cpu', '?')}, {facts.get('cpu_count')} cores; load average at start / end "
          f"{facts.get('load_average')} / {facts.get('load_average_end')}; git {facts.get('git', '?')}._")
        w("")
    w("| backend | configuration | pages | MB | chunks | first setup | MB/s | chunks/s | re-setup | re-setup / first "
      f"| ≤ {RESETUP_TARGET:.0%} | failed | hit@1 | hit@5 | query p50 | query p95 |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in section.rows:
        w(f"| {r['backend']} | {r['config']} | {r['pages']:,} | {r['mb']:.1f} | {r['chunks']:,} | {r['first_s']:,.1f} s "
          f"| {r['mb_per_s']:.2f} | {r['chunks_per_s']:,.0f} | {r['second_s']:,.2f} s | {r['resetup_ratio']:.1%} "
          f"| **{'PASS' if r['resetup_ratio'] <= RESETUP_TARGET else 'FAIL'}** | {r['failed']} | **{r['hit1']:.2f}** | **{r['hit5']:.2f}** | {r['query_p50_ms']:.1f} ms | {r['query_p95_ms']:.1f} ms |")
    misses: dict[str, tuple[str, list[str]]] = {}
    for r in section.rows:
        misses.setdefault(r["config"], (r["backend"], r["misses_at_5"]))
    for config, (backend, missed) in misses.items():
        if missed:
            w("")
            w(f"_Not in the first {LIMIT} ({config}, {backend}): " + "; ".join(missed) + "_")
