"""`python -m bench`: run memwise's benchmarks, write JSON, a Markdown table and a plot.

    python -m bench --quick                 # every workload, small sizes (< 2 minutes)
    python -m bench                         # full sizes (< 20 minutes, plus ~15 for knowledge)
    python -m bench --only overhead,peers   # some workloads: overhead, tokens, concurrency, peers, recall, answerfirst, traits, knowledge, profile
    python -m bench --only recall --locomo PATH   # recall on LoCoMo (default ../shared/data/locomo/locomo-dev.json)
    python -m bench --only traits --local   # traits also on the real local model (slow)
    python -m bench --only knowledge --kb-docs PATH   # KnowledgeBase on the Python docs (default: python3-doc's)
    python -m bench --publish               # also copy RESULTS.md (+ plot) to bench/ (with --only: just those sections)
    python -m bench --profile               # also profile the per-turn path (writes bench/PROFILE.md)

Outputs in --out (default bench/out/): results.json, RESULTS.md, overhead.png, peers/*.log.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from bench.common import BENCH_DIR, Mode, Section, guarded, machine_facts

WORKLOADS = {
    "overhead": "1. per-turn memory overhead by session length and backend",
    "tokens": "2. tokens sent to memory's own LLM calls per turn",
    "concurrency": "3. concurrent sessions through the async API",
    "peers": "4. peers side by side (Upsonic, Agno)",
    "recall": "5. recall on LoCoMo: strict evidence recall by budget and category, latency",
    "answerfirst": "6. turn latency with a slow memory model: answer first vs in-turn updates",
    "traits": "7. invented traits and stated-trait recall in profiles, attribution in summaries",
    "knowledge": "8. KnowledgeBase on the Python documentation: ingestion, re-setup, query latency, hit@k",
    "profile": "profile of the per-turn path (pyinstrument)",
}
#: The heading of each workload's section in RESULTS.md (a partial --publish replaces just these).
HEADINGS = {
    "overhead": "## 1.", "tokens": "## 2.", "concurrency": "## 3.", "peers": "## 4.", "recall": "## 5.",
    "answerfirst": "## 6.", "traits": "## 7.", "knowledge": "## 8.",
}
DEFAULT = ("overhead", "tokens", "concurrency", "peers", "recall", "answerfirst", "traits", "knowledge")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: finishes in under two minutes")
    parser.add_argument("--only", default="", help=f"comma-separated workloads: {', '.join(WORKLOADS)}")
    parser.add_argument("--out", default=str(BENCH_DIR / "out"), help="output directory (default bench/out/)")
    parser.add_argument("--publish", action="store_true", help="copy RESULTS.md and the plot to bench/")
    parser.add_argument("--profile", action="store_true", help="also run the profile (bench/PROFILE.md)")
    parser.add_argument("--drive", action="store_true",
                        help="workload 1: drive every turn through the agent instead of prefilling storage")
    parser.add_argument("--locomo", default=None, metavar="PATH",
                        help="workload 5: LoCoMo JSON (data/locomo10.json of snap-research/LoCoMo); "
                             "default ../shared/data/locomo/locomo-dev.json beside the repository")
    parser.add_argument("--local", action="store_true",
                        help="traits: also measure the real local model (slow: minutes on 2 cores)")
    parser.add_argument("--kb-docs", default=None, metavar="PATH",
                        help="knowledge: the HTML root of the Python documentation "
                             "(default: python3-doc's, /usr/share/doc/python3-doc/html)")
    args = parser.parse_args(argv)

    only = tuple(w.strip() for w in args.only.split(",") if w.strip()) or DEFAULT
    if args.profile and "profile" not in only:
        only = (*only, "profile")
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    mode = Mode.make(args.quick)
    mode.drive_all = args.drive
    mode.local_model = args.local
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MEMWISE_TELEMETRY", "false")
    facts = machine_facts()
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    print(f"memwise bench ({'quick' if mode.quick else 'full'}): {', '.join(only)} -> {out}", flush=True)
    print(f"  load average {facts.get('load_average')} on {facts.get('cpu_count')} cores", flush=True)

    sections: dict[str, Section] = {}
    started = time.perf_counter()
    for name in only:
        section = sections[name] = Section(name, WORKLOADS[name])
        print(f"== {WORKLOADS[name]}", flush=True)
        t = time.perf_counter()
        guarded(section, name, lambda name=name, section=section: _run(name, mode, section, out, args.locomo, args.kb_docs))
        section.seconds = time.perf_counter() - t
        section.when = time.strftime("%Y-%m-%d %H:%M")
        print(f"   ({section.seconds:.0f} s)", flush=True)
    facts["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    facts["total_seconds"] = round(time.perf_counter() - started, 1)

    from bench import report

    merged = _merge_earlier(out / "results.json", sections, mode) if args.only else []
    if merged:
        print(f"  kept earlier results of: {', '.join(merged)} (re-run them, or run without --only, to refresh)")
    plot_name = "overhead.png"
    has_plot = report.plot(sections, out / plot_name)
    results = {
        "facts": facts,
        "mode": dataclasses.asdict(mode),
        "command": command,
        "targets": report.targets(sections, mode),
        "sections": {k: dataclasses.asdict(v) for k, v in sections.items()},
        "merged_from_earlier_runs": merged,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    table_sections = {k: v for k, v in sections.items() if k != "profile"}
    md = report.markdown(table_sections, mode, facts, plot_name if has_plot else None, command, merged)
    (out / "RESULTS.md").write_text(md)
    if args.publish:
        published = md.replace(f"]({plot_name})", "](RESULTS.png)") if has_plot else md
        target = BENCH_DIR / "RESULTS.md"
        if not set(DEFAULT) <= set(sections) and target.exists():  # a partial run: refresh its sections only
            ran = [HEADINGS[name] for name in only if name in HEADINGS] + ["## How to run"]
            target.write_text(report.splice(target.read_text(), published, ran))
        else:
            target.write_text(published)
            if has_plot:
                shutil.copyfile(out / plot_name, BENCH_DIR / "RESULTS.png")
    print(f"\nwrote {out / 'results.json'}, {out / 'RESULTS.md'}" + (f", {out / plot_name}" if has_plot else "")
          + (" and bench/RESULTS.md" if args.publish else "") + f" in {facts['total_seconds']:.0f} s")
    for t in results["targets"]:
        print(f"  {t['verdict']:>18}  {t['target']} [{t['subject']}]: {t['measured']}")
    return 0


def _merge_earlier(path: Path, sections: dict[str, Section], mode: Mode) -> list[str]:
    """With --only, keep the other workloads' sections of the previous run in the same mode, so a
    partial re-run refreshes the table instead of emptying it."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if earlier.get("mode", {}).get("quick") != mode.quick:
        return []
    kept = []
    for name, data in earlier.get("sections", {}).items():
        if name not in sections and name in WORKLOADS:
            fields = {f.name for f in dataclasses.fields(Section)}
            sections[name] = Section(**{k: v for k, v in data.items() if k in fields})
            kept.append(f"{name} ({data.get('when', 'earlier run')})")
    order = [w for w in WORKLOADS if w in sections]
    reordered = {w: sections.pop(w) for w in order}
    sections.update(reordered)
    return kept


def _run(name: str, mode: Mode, section: Section, out: Path, locomo: str | None = None, kb_docs: str | None = None) -> None:
    if name == "overhead":
        from bench.workloads import overhead

        overhead.run(mode, section)
    elif name == "tokens":
        from bench.workloads import tokens

        tokens.run(mode, section)
    elif name == "concurrency":
        from bench.workloads import concurrency

        concurrency.run(mode, section)
    elif name == "peers":
        from bench.workloads import peers

        peers.run(mode, section, out)
    elif name == "recall":
        from bench.workloads import recall

        recall.run(mode, section, locomo)
    elif name == "answerfirst":
        from bench.workloads import answerfirst

        answerfirst.run(mode, section)
    elif name == "traits":
        from bench.workloads import traits

        traits.run(mode, section)
    elif name == "knowledge":
        from bench.workloads import knowledge

        knowledge.run(mode, section, kb_docs)
    elif name == "profile":
        from bench import profile_turn

        profile_turn.run(mode, section, out)


if __name__ == "__main__":
    sys.exit(main())
