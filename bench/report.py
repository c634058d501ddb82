"""Targets, the Markdown table and the plot, from the sections' rows (never from fixed numbers)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from bench.common import Mode, Section, fmt_us, fmt_x

TARGET_TEXT = {
    "flat": "Overhead flat in session length: turn-5,000 p50 within 1.5x of turn-10",
    "floor": "SQLite overhead within 3x of the bare sqlite3 floor (same run)",
    "peers": "At 1,000 turns: ≥ 20x lower per-turn overhead than Upsonic, and lower than Agno",
    "tokens": "Memory's LLM tokens per turn flat: turn 1,000 within 1.5x of turn 20",
    "concurrency": "100 async sessions: ≥ 80% of the bare driver's async throughput, 0 lost messages",
    "recall_lexical": "Recall (issue 13): strict recall at 2k tokens ≥ 0.80 with no model",
    "recall_best": "Recall (issue 13): strict recall at 2k tokens ≥ 0.85 with the best offline configuration",
    "recall_search": "Recall (issue 13): search p50 ≤ 5 ms at 10k messages per user (SQLite, PostgreSQL)",
    "answerfirst": "Memory model 1 s per call, 2.5 s between turns: agent.do p50 and p95 ≤ answer time + 10 ms (issue 15)",
    "knowledge": "KnowledgeBase (issue 14): setup() again on unchanged sources ≤ 5% of the first setup()",
}


def _rows(sections: dict[str, Section], name: str) -> list[dict[str, Any]]:
    section = sections.get(name)
    return section.rows if section else []


def targets(sections: dict[str, Section], mode: Mode) -> list[dict[str, str]]:
    """One entry per (target, subject): measured value and PASS / FAIL / n/a."""
    out: list[dict[str, str]] = []

    def add(key: str, subject: str, measured: str, verdict: str) -> None:
        out.append({"target": TARGET_TEXT[key], "subject": subject, "measured": measured, "verdict": verdict})

    # 1. flat overhead per backend
    overhead = _rows(sections, "overhead")
    backends = dict.fromkeys(r["backend"] for r in overhead)
    for backend in backends or ["(no backend measured)"]:
        by_len = {r["length"]: r for r in overhead if r["backend"] == backend}
        if 10 in by_len and 5000 in by_len:
            long, short = by_len[5000], by_len[10]
            ratio = long["memory_p50_us"] / short["memory_p50_us"]
            agent = long["overhead_p50_us"] / short["overhead_p50_us"]
            add("flat", f"{backend}, memory's steps",
                f"{fmt_us(long['memory_p50_us'])} / {fmt_us(short['memory_p50_us'])} = {fmt_x(ratio)} "
                f"(agent turn overhead, pydantic-ai's history handling included: {fmt_us(long['overhead_p50_us'])} / "
                f"{fmt_us(short['overhead_p50_us'])} = {fmt_x(agent)})",
                "PASS" if ratio <= 1.5 else "FAIL")
        else:
            have = ", ".join(str(L) for L in sorted(by_len)) or "none"
            add("flat", backend, f"not measured at both 10 and 5,000 (lengths measured: {have})", "n/a")
    # 2. SQLite vs floor
    sqlite = [r for r in overhead if r.get("key") == "sqlite"]
    if sqlite:
        worst = max(sqlite, key=lambda r: r["ratio_to_floor"])
        detail = ", ".join(f"{r['length']}: {fmt_x(r['ratio_to_floor'])}" for r in sqlite)
        add("floor", "SQLite memory's steps, every length", f"worst {fmt_x(worst['ratio_to_floor'])} at {worst['length']} turns ({detail})",
            "PASS" if worst["ratio_to_floor"] <= 3 else "FAIL")
    else:
        add("floor", "SQLite", "not measured", "n/a")
    # 3. peers at 1,000
    peers = _rows(sections, "peers")
    mine = next((r for r in peers if r["key"] == "memwise" and r["length"] == 1000 and "overhead_p50_us" in r), None)
    for key, label, factor in (("upsonic", "Upsonic", 20.0), ("agno", "Agno", 1.0)):
        theirs = [r for r in peers if r["key"] == key]
        at = next((r for r in theirs if r["length"] == 1000 and "overhead_p50_us" in r), None)
        want = f"≥ {factor:.0f}x" if factor > 1 else "> 1x"
        if 1000 not in mode.peer_lengths:
            add("peers", f"vs {label}", "not run: peers go to 1,000 turns only in the full mode", "n/a")
        elif mine is None:
            add("peers", f"vs {label}", "memwise did not reach 1,000 turns in the peers workload", "n/a")
        elif at is not None:
            ratio = at["overhead_p50_us"] / mine["overhead_p50_us"]
            add("peers", f"vs {label}", f"{label} {fmt_us(at['overhead_p50_us'])} / memwise {fmt_us(mine['overhead_p50_us'])} = {fmt_x(ratio)} (want {want})",
                "PASS" if ratio >= factor and ratio > 1 else "FAIL")
        else:
            measured = [r for r in theirs if "overhead_p50_us" in r]
            reached = max((r.get("reached", 0) for r in theirs), default=0)
            if measured:
                best = max(measured, key=lambda r: r["length"])
                ratio = best["overhead_p50_us"] / mine["overhead_p50_us"]
                grows = all(a["overhead_p50_us"] <= b["overhead_p50_us"] for a, b in zip(measured, measured[1:], strict=False))
                text = (f"{label} reached only {reached} turns in its time budget; at {best['length']} turns its overhead "
                        f"is {fmt_us(best['overhead_p50_us'])} = {fmt_x(ratio)} memwise's at 1,000"
                        + (" (and grows with length: a lower bound)" if grows else ""))
                add("peers", f"vs {label}", text, "PASS (lower bound)" if grows and ratio >= factor and ratio > 1 else "n/a")
            else:
                add("peers", f"vs {label}", f"{label} produced no measurement ({reached} turns)", "n/a")
    # 4. tokens flat
    tokens = {r["turn"]: r for r in _rows(sections, "tokens")}
    if 20 in tokens and 1000 in tokens:
        ratio = tokens[1000]["tokens_per_turn"] / tokens[20]["tokens_per_turn"]
        add("tokens", "summary + user analysis", f"{tokens[1000]['tokens_per_turn']:,.0f} / {tokens[20]['tokens_per_turn']:,.0f} = {fmt_x(ratio)}",
            "PASS" if ratio <= 1.5 else "FAIL")
    elif 20 in tokens and len(tokens) > 1:
        last = max(tokens)
        ratio = tokens[last]["tokens_per_turn"] / tokens[20]["tokens_per_turn"]
        add("tokens", "summary + user analysis", f"turn {last} (1,000 not run in this mode): {fmt_x(ratio)} of turn 20", "n/a")
    else:
        add("tokens", "summary + user analysis", "not measured", "n/a")
    # 5. concurrency
    conc = _rows(sections, "concurrency")
    for backend in dict.fromkeys(r["backend"] for r in conc) or ["PostgreSQL / Redis"]:
        row = next((r for r in conc if r["backend"] == backend and r["sessions"] == 100), None)
        if row is None:
            add("concurrency", backend, "not measured", "n/a")
            continue
        if "memory_ratio_to_floor" in row:
            ok = row["memory_ratio_to_floor"] >= 0.8 and row["memory_lost"] == 0
            add("concurrency", f"{backend}, memory's path (no agent)",
                f"{row['memory_turns_per_s']:,.0f} vs {row['floor_turns_per_s']:,.0f} turns/s = "
                f"{row['memory_ratio_to_floor']:.0%}; lost {row['memory_lost']}", "PASS" if ok else "FAIL")
        ok = row["ratio_to_floor"] >= 0.8 and row["lost_messages"] == 0 and row["errors"] == 0
        ceiling = row["agent_without_memory_turns_per_s"] / row["floor_turns_per_s"]
        extra = (f"; the agent without memory reaches only {ceiling:.0%} of the driver" if ceiling < 0.8 else "")
        add("concurrency", f"{backend}, agent turns",
            f"{row['turns_per_s']:,.0f} vs {row['floor_turns_per_s']:,.0f} turns/s = {row['ratio_to_floor']:.0%}; "
            f"lost {row['lost_messages']}, errors {row['errors']}{extra}", "PASS" if ok else "FAIL")
    # 6. recall on LoCoMo (issue 13)
    recall = [r for r in _rows(sections, "recall") if r["budget"] == 2_000]
    lexical = [r for r in recall if r["config"] == "no model"]
    for r in lexical:
        add("recall_lexical", r["backend"], f"{r['all']:.3f}", "PASS" if r["all"] >= 0.80 else "FAIL")
    if recall:
        best = max(recall, key=lambda r: r["all"])
        add("recall_best", f"{best['config']}, {best['backend']}", f"{best['all']:.3f}", "PASS" if best["all"] >= 0.85 else "FAIL")
    scale = sections["recall"].raw.get("scale", {}) if "recall" in sections else {}
    for name in ("sqlite", "postgres"):
        if name in scale:
            ms = scale[name]["search_p50_ms"]
            add("recall_search", f"{name}, {scale[name]['messages_per_user']:,} messages", f"{ms:.1f} ms", "PASS" if ms <= 5 else "FAIL")
    # 6. answer first
    first = next((r for r in _rows(sections, "answerfirst") if r["config"] == "background updates" and r["pause_s"] > 0), None)
    # (the answer time: the same agent with history only, same rhythm)
    if first is None:
        add("answerfirst", "background updates", "not measured", "n/a")
    else:
        ok = max(first["over_answer_p50_ms"], first["over_answer_p95_ms"]) <= 10.0
        add("answerfirst", "background updates",
            f"p50 {first['p50_ms']:,.1f} ms ({first['over_answer_p50_ms']:+.1f}), p95 {first['p95_ms']:,.1f} ms "
            f"({first['over_answer_p95_ms']:+.1f}) against the answer time", "PASS" if ok else "FAIL")
    # 8. knowledge base re-setup
    for r in _rows(sections, "knowledge"):
        add("knowledge", f"{r['backend']}, {r['config']}, {r['pages']:,} pages",
            f"{r['second_s']:,.2f} s / {r['first_s']:,.1f} s = {r['resetup_ratio']:.1%}",
            "PASS" if r["resetup_ratio"] <= 0.05 else "FAIL")
    return out


def markdown(
    sections: dict[str, Section], mode: Mode, facts: dict[str, Any], plot: str | None, argv: str, merged: list[str] = ()
) -> str:
    lines: list[str] = []
    w = lines.append
    w("# memwise benchmark results")
    w("")
    w(f"- Date: {facts.get('date')}; mode: {'--quick' if mode.quick else 'full'}; command: `{argv}`")
    w(f"- Machine: {facts.get('cpu', '?')}, {facts.get('cpu_count')} cores, {facts.get('memory_gib', '?')} GiB, "
      f"{facts.get('platform')}, Python {facts.get('python')}; git {facts.get('git', '?')}")
    w(f"- Load average at start / end: {facts.get('load_average')} / {facts.get('load_average_end')}"
      " (the machine was shared with other jobs when this is well above the core count: numbers are noisy)")
    w(f"- Versions: {', '.join(f'{k} {v}' for k, v in facts.get('versions', {}).items())}")
    if merged:
        w(f"- Sections kept from earlier runs (not re-run by this command): {', '.join(merged)}")
    w("- All model calls are fake (pydantic-ai FunctionModel, or a loopback fake OpenAI server for the peers): "
      "what is measured is memory, not an LLM.")
    w("")
    w("## Targets (issues 7 and 15)")
    w("")
    w("| target | subject | measured | verdict |")
    w("|---|---|---|---|")
    for t in targets(sections, mode):
        w(f"| {t['target']} | {t['subject']} | {t['measured']} | **{t['verdict']}** |")
    w("")
    if plot:
        w(f"![per-turn cost against session length]({plot})")
        w("")

    sec = sections.get("overhead")
    if sec:
        w("## 1. Per-turn memory overhead (load context + persist the turn)")
        w("")
        _notes(w, sec)
        if sec.rows:
            w("| backend | turns | memory p50 | memory p95 | floor p50 | floor p95 | memory / floor | "
              "agent overhead p50 | agent overhead p95 | turn with memory p50 | turn w/o memory p50 |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in sec.rows:
                w(f"| {r['backend']} | {r['length']:,} | {fmt_us(r['memory_p50_us'])} | {fmt_us(r['memory_p95_us'])} | "
                  f"{fmt_us(r['floor_p50_us'])} | {fmt_us(r['floor_p95_us'])} | {fmt_x(r['ratio_to_floor'])} | "
                  f"{fmt_us(r['overhead_p50_us'])} | {fmt_us(r['overhead_p95_us'])} | "
                  f"{fmt_us(r['turn_with_memory_p50_us'])} | {fmt_us(r['turn_without_memory_p50_us'])} |")
            floors = dict.fromkeys(f"{r['backend']}: {r['floor']}" for r in sec.rows)
            w("")
            w("Floors (append one turn in one write + read the last 20 messages, decode JSON): " + "; ".join(floors) + ".")
        _unavailable(w, sec)

    _section(w, sections.get("tokens"), "## 2. Tokens sent to memory's own LLM calls per turn",
             "| turn | tokens / turn (counted) | largest call | memory calls / turn | pydantic-ai input tokens / turn |",
             "|---:|---:|---:|---:|---:|",
             lambda r: f"| {r['turn']:,} | {r['tokens_per_turn']:,.0f} | {r['max_call_tokens']:,} | {r['calls_per_turn']:.1f} "
                       f"| {r['pydantic_ai_tokens_per_turn']:,.0f} |")
    _section(w, sections.get("concurrency"), "## 3. Concurrent sessions through the async API",
             "| backend | sessions | turns | memwise agent turns/s | lost messages | errors | agent w/o memory turns/s | "
             "memory's path alone turns/s | bare async driver turns/s | agent / driver | memory's path / driver |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", _concurrency_line)
    _section(w, sections.get("peers"), "## 4. Peers side by side (same workload, same fake model)",
             "| framework | turns | overhead p50 | overhead p95 | turn with memory p50 | turn w/o memory p50 | memory tokens / turn | memory calls / turn |",
             "|---|---:|---:|---:|---:|---:|---:|---:|", _peers_line)
    _section(w, sections.get("answerfirst"), "## 6. Turn latency with a slow memory model: answer first",
             "| memory updates | pause between turns | agent.do p50 | agent.do p95 | over the answer p50 | over the answer p95 | "
             "caught up after the last turn |",
             "|---|---:|---:|---:|---:|---:|---:|",
             lambda r: f"| {r['config']} | {r['pause_s']:.1f} s | {r['p50_ms']:,.1f} ms | {r['p95_ms']:,.1f} ms | "
                       f"{r['over_answer_p50_ms']:+,.1f} ms | {r['over_answer_p95_ms']:+,.1f} ms | {r['caught_up_ms']:,.0f} ms |")

    sec = sections.get("recall")
    if sec:
        _recall(w, sec)

    for name, heading in (
        ("traits", "## 7. Profiles hold only what the user said; summaries say who said what (issue 16)"),
        ("knowledge", "## 8. KnowledgeBase on the Python documentation: ingestion, re-setup, queries, hit@k (issue 14)"),
    ):
        sec = sections.get(name)
        if sec:  # workloads that render their own section
            w(heading)
            w("")
            _notes(w, sec)
            importlib.import_module(f"bench.workloads.{name}").render(w, sec, facts)
            _unavailable(w, sec)

    w("## How to run")
    w("")
    w("```")
    w("python -m bench --quick            # < 2 minutes on a quiet machine (first run also installs the peers)")
    w("python -m bench                    # full: < 20 minutes")
    w("python -m bench --only peers       # one workload: overhead, tokens, concurrency, peers, recall, answerfirst, traits, knowledge, profile")
    w("python -m bench --only traits --local   # traits also on the real local model (slow)")
    w("python -m bench --only knowledge  # needs python3-doc (apt-get install python3-doc) or --kb-docs PATH")
    w("python -m bench --publish          # also copy this file to bench/RESULTS.md")
    w("```")
    w("")
    return "\n".join(lines)


def _recall(w, sec: Section) -> None:
    from bench.locomo import CATEGORIES

    w("## 5. Recall on LoCoMo (strict evidence recall, no LLM)")
    w("")
    _notes(w, sec)
    if sec.rows:
        labels = list(CATEGORIES.values())
        w("| configuration | backend | budget | all | " + " | ".join(labels) + " | tokens p50 | recall p50 | recall p95 |")
        w("|---|---|---:|---:|" + "---:|" * len(labels) + "---:|---:|---:|")
        for r in sec.rows:
            timed = (f"{r['recall_p50_ms']:.1f} ms | {r['recall_p95_ms']:.1f} ms" if "recall_p50_ms" in r else " | ")
            w(f"| {r['config']} | {r['backend']} | {r['budget']:,} | **{r['all']:.3f}** | "
              + " | ".join(f"{r[label]:.3f}" for label in labels) + f" | {r['tokens_p50']:,.0f} | {timed} |")
    searches = sec.raw.get("search", {})
    scale = sec.raw.get("scale", {})
    if searches or scale:
        w("")
        w("| backend | messages per user | search p50 | search p95 | recall_context p50 (2k, no model) | recall p95 |")
        w("|---|---:|---:|---:|---:|---:|")
        for name, r in [*searches.items(), *scale.items()]:
            recall = (f"{r['recall_p50_ms']:.1f} ms | {r['recall_p95_ms']:.1f} ms" if "recall_p50_ms" in r else "(above) | ")
            w(f"| {name} | {r['messages_per_user']:,} | {r['search_p50_ms']:.2f} ms | {r['search_p95_ms']:.2f} ms | {recall} |")
        w("")
        w("_search = `search_messages(question words, user_id, limit=200)`, the first stage recall asks for._")
    _unavailable(w, sec)


def _section(w, sec: Section | None, title: str, header: str, rule: str, line) -> None:
    """One workload's section: its title, notes, a table of one `line(row)` per row, and what was
    not available."""
    if sec is None:
        return
    w(title)
    w("")
    _notes(w, sec)
    if sec.rows:
        w(header)
        w(rule)
        for r in sec.rows:
            w(line(r))
    _unavailable(w, sec)


def _concurrency_line(r: dict[str, Any]) -> str:
    storage = f"{r['memory_turns_per_s']:,.1f} (lost {r['memory_lost']})" if "memory_turns_per_s" in r else "n/a"
    sratio = f"{r['memory_ratio_to_floor']:.0%}" if "memory_ratio_to_floor" in r else "n/a"
    return (f"| {r['backend']} | {r['sessions']} | {r['turns']:,} | {r['turns_per_s']:,.1f} | {r['lost_messages']} | {r['errors']} | "
            f"{r['agent_without_memory_turns_per_s']:,.1f} | {storage} | {r['floor_turns_per_s']:,.1f} | {r['ratio_to_floor']:.0%} | {sratio} |")


def _peers_line(r: dict[str, Any]) -> str:
    if "overhead_p50_us" not in r:
        last = f"; last turns took {fmt_us(r['last_turn_p50_us'])} each" if "last_turn_p50_us" in r else ""
        return f"| {r['framework']} | {r['length']:,} | not reached: {r['reached']:,} turns done ({r['note']}){last} | | | | | |"
    return (f"| {r['framework']} | {r['length']:,} | {fmt_us(r['overhead_p50_us'])} | {fmt_us(r['overhead_p95_us'])} | "
            f"{fmt_us(r['turn_with_memory_p50_us'])} | {fmt_us(r['turn_without_memory_p50_us'])} | "
            f"{r['memory_tokens_per_turn']:,.0f} | {r['memory_calls_per_turn']:.1f} |")


def _notes(w, sec: Section) -> None:
    for note in sec.notes:
        w(f"_{note}_")
        w("")
    w(f"_Took {sec.seconds:.0f} s ({sec.when or 'this run'})._")
    w("")


def _unavailable(w, sec: Section) -> None:
    if sec.unavailable:
        w("")
        for item in sec.unavailable:
            w(f"- {item}")
    w("")


def plot(sections: dict[str, Section], path: Path) -> bool:
    """Per-turn overhead p50 against session length: backends + floors, and the peers."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    overhead = _rows(sections, "overhead")
    peers = [r for r in _rows(sections, "peers") if "overhead_p50_us" in r]
    if not overhead and not peers:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    for backend in dict.fromkeys(r["backend"] for r in overhead):
        rows = sorted((r for r in overhead if r["backend"] == backend), key=lambda r: r["length"])
        xs = [r["length"] for r in rows]
        line, = ax.plot(xs, [max(1.0, r["memory_p50_us"]) for r in rows], marker="o", label=f"memwise memory on {backend}")
        ax.plot(xs, [r["floor_p50_us"] for r in rows], linestyle="--", color=line.get_color(), alpha=0.6,
                label=f"bare driver floor ({backend})")
    ax.set(xscale="log", yscale="log", xlabel="session length (turns)", ylabel="memory's steps per turn, p50 (µs)",
           title="1. memory overhead per turn, by backend")
    ax.grid(True, which="both", alpha=0.3)
    if overhead:
        ax.legend(fontsize=7)
    ax = axes[1]
    for name in dict.fromkeys(r["framework"] for r in peers):
        rows = sorted((r for r in peers if r["framework"] == name), key=lambda r: r["length"])
        ax.plot([r["length"] for r in rows], [max(1.0, r["overhead_p50_us"]) for r in rows], marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="session length (turns)", ylabel="per-turn overhead p50 (µs)",
           title="4. peers: history + summaries, SQLite, same fake model")
    ax.grid(True, which="both", alpha=0.3)
    if peers:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def splice(published: str, fresh: str, headings: list[str]) -> str:
    """`published` with the sections of `fresh` that start with one of `headings` put in place
    (replacing the same section, or inserted before "## How to run"), the rest kept."""
    def blocks(text: str) -> list[str]:
        return re.split(r"(?m)^(?=## )", text)

    new = {h: b for b in blocks(fresh) for h in headings if b.startswith(h)}
    out, placed = [], set()
    for block in blocks(published):
        if block.startswith("## How to run"):  # sections new to the file go before it
            out += [new[h] for h in headings if h in new and h not in placed and not h.startswith("## How to run")]
            placed |= {h for h in new if not h.startswith("## How to run")}
        heading = next((h for h in headings if block.startswith(h)), None)
        if heading in new:
            out.append(new[heading])
            placed.add(heading)
            continue
        out.append(block)
    out += [new[h] for h in headings if h in new and h not in placed]
    return "".join(out)
