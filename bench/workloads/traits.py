"""Workload 7: does memory store only what the user said? (issue 16)

Profiles: the demo and 21 short conversations (`bench/traits_cases.py`) go through
`Agent(<fixed replies>, memory=Memory(user_analysis_memory=True, model=M))`, one run per user
turn; the stored profile is scored against hand-written gold. A stored value is *supported* when
it matches something the user stated (with the same polarity: "dislikes Java" for "I don't like
Java"), else *invented*. Invented-trait rate = invented values / stored values; recall = stated
traits found in some stored value. M is the inventing stand-in (a FunctionModel that returns the
stated traits with their quotes, plus plausible unsupported traits, the assistant's suggestions
and the traps' values: always run) and, with `--local`, the real local model (slow).

Summaries (with `--local` only): four conversations where the assistant says or suggests things;
a summary statement is *attributed* when it names the user or the assistant; an assistant claim
is *unattributed* when a statement holds something only the assistant said without saying so.

Only the public API is used, so the same file measures an older memwise (the baseline in
`bench/traits_baseline.json`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, Mode, Section
from bench.traits_cases import CONVERSATIONS, DEMO, INVENTED, SUMMARIES, Conversation, Fact

BASELINE = BENCH_DIR / "traits_baseline.json"
NEGATION = re.compile(r"\b(not|no|never|dislikes?|avoids?|hates?|stopped|quit|without|non)\b|n't\b", re.I)
ATTRIBUTED = re.compile(r"\b(user|assistant)\b", re.I)
ASSISTANT_SAID = re.compile(r"assistant|suggest|recommend|propos|advis", re.I)
HEADING = "Recent messages from the user:"


# ---------------------------------------------------------------- scoring (independent of memwise)
def values_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every stored value as (field, text); list items count one each."""
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            text = item if isinstance(item, str) else json.dumps(item)
            if text.strip():
                out.append((key, text))
    return out


def matches(fact: Fact, text: str) -> bool:
    polarity = bool(NEGATION.search(text)) == fact.negated
    return bool(re.search(fact.pattern, text.lower())) and (polarity or fact.kind == "trap")


def score(conv: Conversation, data: dict[str, Any]) -> dict[str, Any]:
    values = values_of(data)
    supported = [v for v in values if any(matches(f, v[1]) for f in (*conv.of("stated"), *conv.of("allowed")))]
    invented = [v for v in values if v not in supported]
    traps = [v for v in invented if any(matches(f, v[1]) for f in conv.of("trap"))]
    recalled = [f for f in conv.of("stated") if any(matches(f, text) for _, text in values)]
    return {
        "conversation": conv.name, "values": len(values), "invented": [f"{k}: {t}" for k, t in invented],
        "trap_hits": [f"{k}: {t}" for k, t in traps], "stated": len(conv.of("stated")),
        "recalled": len(recalled), "missed": [f.value for f in conv.of("stated") if f not in recalled],
        "profile": data,
    }


def statements(summary: str) -> list[tuple[str, str]]:
    """(statement, the heading it stands under) for each sentence or bullet of a summary; a short
    line ending in ':' is a heading ("The assistant said:")."""
    out: list[tuple[str, str]] = []
    heading = ""
    for line in summary.splitlines():
        line = line.strip(" -*•\t#")
        if line.endswith(":") and len(line) < 40:
            heading = line
            continue
        out += [(p.strip(), heading) for p in re.split(r"(?<=[.!?])\s+", line) if len(p.strip()) > 2]
    return out


def score_summary(case, summary: str) -> dict[str, Any]:
    said = statements(summary)
    unattributed = [s for s, head in said if any(re.search(p, s.lower()) for p in case.assistant_only)
                    and not ASSISTANT_SAID.search(f"{head} {s}")]
    kept = [p for p in case.user_facts if re.search(p, summary.lower())]
    return {
        "case": case.name, "summary": summary, "statements": len(said),
        "user_facts": len(case.user_facts), "user_facts_kept": len(kept),
        "attributed": sum(bool(ATTRIBUTED.search(f"{head} {s}")) for s, head in said),
        "second_person": sum(bool(re.search(r"\byou\b", s, re.I)) for s, _ in said),
        "assistant_claims_unattributed": unattributed,
    }


# ---------------------------------------------------------------- the models
ALL_TURNS = [turn for conv in (DEMO, *CONVERSATIONS) for turn in conv.turns] + [t for c in SUMMARIES for t in c.turns]
REPLIES = dict(ALL_TURNS)
assert len(REPLIES) == len(ALL_TURNS), "user messages of the cases must be unique"


def answer_model():
    """Replies with the case's fixed assistant text."""
    from pydantic_ai.messages import ModelResponse, TextPart, UserPromptPart
    from pydantic_ai.models.function import FunctionModel

    def reply(messages, info):
        prompt = next(p.content for p in reversed(messages[-1].parts) if isinstance(p, UserPromptPart))
        return ModelResponse(parts=[TextPart(REPLIES[prompt])])

    return FunctionModel(reply, model_name="fixed-replies")


def inventing_model():
    """A memory model that invents on purpose: for the turn it reads, the stated traits with their
    quotes, every trap's value (quoting the assistant or the trap sentence), and on a first turn
    the demo's kind of unsupported traits. It answers in whatever shape the schema asks for
    (with or without the quotes first; fields, or dynamic name/value pairs)."""
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, UserPromptPart
    from pydantic_ai.models.function import FunctionModel

    from memwise.memory.profile import UserTraits

    lists = {k for k, f in UserTraits.model_fields.items() if "list" in str(f.annotation)}
    turns = {user: (conv, i) for conv in (DEMO, *CONVERSATIONS) for i, (user, _) in enumerate(conv.turns)}

    def claims(prompt: str) -> list[tuple[str, str, str]]:
        block = prompt.rpartition(HEADING)[2]
        found = [turns[u] for u in turns if u in block]
        out = []
        for conv, i in found:
            out += [(f.field, f.value, f.quote) for f in conv.facts if f.turn == i]
            out += list(INVENTED) if i == 0 else []
        return out

    def reply(messages, info):
        if not info.output_tools:
            return ModelResponse(parts=[TextPart("A summary.")])
        tool = info.output_tools[0]
        schema = json.dumps(tool.parameters_json_schema)
        prompt = "\n".join(p.content for p in messages[-1].parts if isinstance(p, UserPromptPart))
        found = claims(prompt)
        out: dict[str, Any] = {"evidence": [q for _, _, q in found]} if '"evidence"' in schema else {}
        if '"traits"' in schema:
            out["traits"] = [{"name": f"{k} {v}"[:40], "value": v} for k, v, _ in found]
            return ModelResponse(parts=[ToolCallPart(tool.name, out)])
        for key, value, _ in found:
            if key in lists:
                out.setdefault(key, []).append(value)
            else:
                out.setdefault(key, value)
        return ModelResponse(parts=[ToolCallPart(tool.name, out)])

    return FunctionModel(reply, model_name="inventing-stand-in")


# ---------------------------------------------------------------- running
def run_profiles(memory_model, *, dynamic: bool, log) -> list[dict[str, Any]]:
    from memwise import Agent, Memory
    from memwise.storage.in_memory import InMemoryStorage

    storage = InMemoryStorage()
    results = []
    for n, conv in enumerate((DEMO, *CONVERSATIONS)):
        memory = Memory(storage, session_id=f"s{n}", user_id=f"u{n}", user_analysis_memory=True,
                        dynamic_user_profile=dynamic, model=memory_model)
        agent = Agent(answer_model(), memory=memory)
        for user, _ in conv.turns:
            agent.do(user)
        profile = memory.get_user_profile()
        result = score(conv, dict(profile.data) if profile else {})
        result["evidence"] = {k: v.get("evidence") for k, v in (profile.provenance if profile else {}).items()}
        results.append(result)
        log(f"    {conv.name}: {result['values']} values, invented {result['invented'] or 'none'}, "
            f"recalled {result['recalled']}/{result['stated']}")
    return results


def run_summaries(memory_model, log) -> list[dict[str, Any]]:
    from memwise import Agent, Memory
    from memwise.storage.in_memory import InMemoryStorage

    storage = InMemoryStorage()
    results = []
    for n, case in enumerate(SUMMARIES):
        memory = Memory(storage, session_id=f"sum{n}", summary_memory=True, model=memory_model)
        agent = Agent(answer_model(), memory=memory)
        for user, _ in case.turns:
            agent.do(user)
        result = score_summary(case, memory.get_session().summary or "")
        results.append(result)
        log(f"    {case.name}: {result['attributed']}/{result['statements']} attributed, user's facts kept "
            f"{result['user_facts_kept']}/{result['user_facts']}; {result['summary']!r}")
    return results


def profile_row(label: str, schema: str, results: Sequence[dict[str, Any]], seconds: float) -> dict[str, Any]:
    demo, rest = results[0], results[1:]
    values = sum(r["values"] for r in rest)
    invented = sum(len(r["invented"]) for r in rest)
    stated = sum(r["stated"] for r in rest)
    return {
        "kind": "profile", "model": label, "schema": schema, "conversations": len(rest), "values": values,
        "invented": invented, "invented_rate": invented / values if values else 0.0,
        "trap_hits": sum(len(r["trap_hits"]) for r in rest),
        "recalled": sum(r["recalled"] for r in rest), "stated": stated,
        "recall": sum(r["recalled"] for r in rest) / stated,
        "demo_values": demo["values"], "demo_invented": len(demo["invented"]), "demo_profile": demo["profile"],
        "seconds": seconds,
    }


def summary_row(label: str, results: Sequence[dict[str, Any]], seconds: float) -> dict[str, Any]:
    said = sum(r["statements"] for r in results)
    return {
        "kind": "summary", "model": label, "cases": len(results), "statements": said,
        "attributed": sum(r["attributed"] for r in results),
        "attributed_share": sum(r["attributed"] for r in results) / said if said else 0.0,
        "second_person": sum(r["second_person"] for r in results),
        "assistant_claims_unattributed": sum(len(r["assistant_claims_unattributed"]) for r in results),
        "user_facts": sum(r["user_facts"] for r in results), "user_facts_kept": sum(r["user_facts_kept"] for r in results),
        "falcon": results[0]["summary"], "seconds": seconds,
    }


def run(mode: Mode, section: Section) -> None:
    def log(text: str) -> None:
        print(text, flush=True)

    models: list[tuple[str, Any, tuple[bool, ...]]] = [("inventing stand-in", inventing_model(), (False, True))]
    if mode.local_model:
        models.append(("local (qwen2.5-coder-1.5b)", "local", (False,)))
    section.notes.append(
        "Profiles: the demo + 21 conversations with fixed assistant replies, one run per user turn; every stored "
        "value is checked against hand-written gold (bench/traits_cases.py). Summaries: 4 conversations, local model only. "
        "The local model is real (not a fake): its numbers vary from run to run."
    )
    for label, model, schemas in models:
        for dynamic in schemas:
            schema = "dynamic" if dynamic else "default"
            log(f"  [traits] {label}, {schema} schema")
            started = time.perf_counter()
            results = run_profiles(model, dynamic=dynamic, log=log)
            row = profile_row(label, schema, results, time.perf_counter() - started)
            section.rows.append(row)
            section.raw.setdefault("profiles", {})[f"{label} / {schema}"] = results
            log(f"  [traits] {label} {schema}: invented {row['invented']}/{row['values']} ({row['invented_rate']:.0%}), "
                f"recall {row['recalled']}/{row['stated']}, demo invented {row['demo_invented']}")
        if model == "local":
            log(f"  [traits] {label}, summaries")
            started = time.perf_counter()
            results = run_summaries(model, log)
            section.rows.append(summary_row(label, results, time.perf_counter() - started))
            section.raw["summaries"] = results
    if BASELINE.exists():
        section.raw["baseline"] = json.loads(BASELINE.read_text())


def baseline_rows() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(facts, rows) of the committed baseline run, or ({}, [])."""
    if not BASELINE.exists():
        return {}, []
    data = json.loads(Path(BASELINE).read_text())
    return data.get("facts", {}), data.get("rows", [])


# ---------------------------------------------------------------- the section of RESULTS.md
def _pct(value: float) -> str:
    return f"{value:.1%}" if value else "0%"


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def render(w, section: Section, facts: dict[str, Any]) -> None:
    """Section 5: targets, then the profile and summary tables, before (baseline) and now."""
    base_facts, base_rows = baseline_rows()
    now = f"now (git {facts.get('git', '?')})"
    before = f"before (git {base_facts.get('git', '?')})"
    w(f"- Run {section.when or facts.get('date')}: {facts.get('cpu', '?')}, {facts.get('cpu_count')} cores, "
      f"load {facts.get('load_average')}; git {facts.get('git', '?')}. Baseline: {base_facts.get('date', 'none')}, "
      f"git {base_facts.get('git', '?')} (before the evidence check), same machine (`bench/traits_baseline.json`).")
    w("")
    profiles = [r for r in section.rows if r["kind"] == "profile"]
    if profiles:
        w("| target | model / schema | measured | verdict |")
        w("|---|---|---|---|")
        for r in profiles:
            subject = f"{r['model']} / {r['schema']}"
            w(f"| 0 invented traits on the demo | {subject} | {r['demo_invented']} of {r['demo_values']} stored values | "
              f"{_verdict(r['demo_invented'] == 0)} |")
            w(f"| ≤ 5% invented traits in the conversations | {subject} | {r['invented']} of {r['values']} = "
              f"{_pct(r['invented_rate'])} | {_verdict(r['invented_rate'] <= 0.05)} |")
            old = next((b for b in base_rows if b["kind"] == "profile" and (b["model"], b["schema"]) == (r["model"], r["schema"])), None)
            if old is not None:
                w(f"| stated-trait recall not lower than before | {subject} | {r['recalled']}/{r['stated']} "
                  f"({old['recalled']}/{old['stated']} before) | {_verdict(r['recall'] >= old['recall'])} |")
        w("")
        w("| run | model | schema | stored values | invented | invented rate | trap values stored | recall of stated traits | "
          "demo: invented / stored | time |")
        w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, rows in ((before, [b for b in base_rows if b["kind"] == "profile"]), (now, profiles)):
            for r in rows:
                w(f"| {label} | {r['model']} | {r['schema']} | {r['values']} | {r['invented']} | {_pct(r['invented_rate'])} | "
                  f"{r['trap_hits']} | {r['recalled']}/{r['stated']} ({r['recall']:.0%}) | {r['demo_invented']} / {r['demo_values']} | "
                  f"{r['seconds']:.0f} s |")
        w("")
    summaries = [r for r in section.rows if r["kind"] == "summary"]
    if summaries or any(b["kind"] == "summary" for b in base_rows):
        w("| run | model | summary statements | naming who said it | addressed to \"you\" | assistant's words as facts | "
          "user's facts kept | the Falcon scenario's summary |")
        w("|---|---|---:|---:|---:|---:|---:|---|")
        for label, rows in ((before, [b for b in base_rows if b["kind"] == "summary"]), (now, summaries)):
            for r in rows:
                falcon = " ".join(r["falcon"].split()).replace("|", "/")
                w(f"| {label} | {r['model']} | {r['statements']} | {r['attributed']} ({r['attributed_share']:.0%}) | "
                  f"{r['second_person']} | {r['assistant_claims_unattributed']} | {r['user_facts_kept']}/{r['user_facts']} | {falcon} |")
        w("")
    if not summaries:
        w("_Summaries and the local model are measured with `--local` only (this run did not)._")
        w("")
