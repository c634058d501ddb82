"""Measure the local model on this machine: cold start, first answer, a summary-sized request, a trait extraction.

Run it in a fresh process so the cold start is real, passing the shell's start time:

    MEASURE_T0=$(date +%s.%N) python -m bench.models.local_model [variant]   # needs memwise[local]

It prints one JSON object per measurement (seconds, tokens, tokens/s) and the load average,
since other work on a 2-core machine changes the numbers a lot.
"""

from __future__ import annotations

import os
import time

T0 = float(os.environ.get("MEASURE_T0") or time.time())

import json  # noqa: E402
import sys  # noqa: E402

TRANSCRIPT = [
    ("user", "Hi! I'm Alice. I maintain a Python library for parsing invoices, and I'm moving it to async."),
    ("assistant", "Nice to meet you, Alice. What does the library do today, and where does it block?"),
    (
        "user",
        "It downloads PDFs with requests, extracts text with pdfminer, and writes rows to PostgreSQL with psycopg2. "
        "Everything is synchronous, so one slow supplier server stalls the whole batch of 5,000 invoices.",
    ),
    (
        "assistant",
        "Then the network part is the first candidate: httpx.AsyncClient with a semaphore limiting "
        "concurrency to, say, 20 downloads, and a timeout per request. pdfminer is CPU-bound, so run it "
        "in a process pool rather than in the event loop.",
    ),
    ("user", "We deploy on small 2-core VMs. Would a process pool even help there?"),
    (
        "assistant",
        "With two cores, a pool of two workers keeps both busy while the event loop waits on I/O. "
        "Measure first: if parsing takes 50 ms per invoice, 5,000 invoices are about two minutes of CPU.",
    ),
    (
        "user",
        "For the database, should I switch to psycopg 3? I prefer fewer dependencies and I use type hints everywhere.",
    ),
    (
        "assistant",
        "Yes: psycopg 3 has a native async API, typed rows, and a connection pool in psycopg_pool. "
        "Batch the inserts with executemany or COPY to cut round trips.",
    ),
    (
        "user",
        "Good. Also, I write my tests with pytest and I dislike mocks; I want tests against a real PostgreSQL.",
    ),
    (
        "assistant",
        "Then start a disposable database per test session and wrap each test in a transaction you roll "
        "back. pytest-asyncio runs the async tests; keep one event loop per session for the pool.",
    ),
    (
        "user",
        "How should I log failures? Right now a failed download just prints a traceback and the batch goes on.",
    ),
    (
        "assistant",
        "Use the logging module with one logger per module, log the supplier, invoice id and attempt number, "
        "and collect failed invoices in a list you retry at the end with exponential backoff. Return a "
        "summary object from the batch call so the caller can decide what to do with permanent failures.",
    ),
    (
        "user",
        "Last thing: the library must keep working for users on Python 3.10, and I release every two weeks.",
    ),
    (
        "assistant",
        "Keep 3.10 in the CI matrix, avoid TaskGroup (3.11+) or use anyio task groups instead, and add a "
        "changelog entry per release so users can follow the move to async.",
    ),
]


def _transcript() -> str:
    return "\n".join(f"{role}: {text}" for role, text in TRANSCRIPT)


def _report(name: str, seconds: float, **extra: object) -> None:
    print(json.dumps({"measure": name, "seconds": round(seconds, 2), **extra}), flush=True)


def _rates(result: object, seconds: float) -> dict[str, object]:
    usage = result.usage  # type: ignore[attr-defined]
    timings = [
        (m.provider_details or {}).get("timings", {})
        for m in result.new_messages()  # type: ignore[attr-defined]
        if m.kind == "response"
    ]
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "requests": usage.requests,
        "prompt_tokens_per_s": [round(t.get("prompt_per_second", 0), 1) for t in timings],
        "output_tokens_per_s": [round(t.get("predicted_per_second", 0), 1) for t in timings],
    }


def main(variant: str | None = None) -> None:
    from pydantic import BaseModel, Field
    from pydantic_ai import Agent

    from memwise.models.local import LocalModel

    _report("imports", time.time() - T0)
    model = LocalModel(variant)
    model.load()
    loaded = time.time()
    _report(
        "cold_start_process_to_model_loaded", loaded - T0, load_only=round(model.server.load_seconds or 0, 2)
    )

    agent = Agent(model, instructions="The user's name is Alice, a Python developer.")
    started = time.time()
    result = agent.run_sync("What's my name and expertise?")
    done = time.time()
    _report(
        "first_answer",
        done - started,
        since_process_start=round(done - T0, 2),
        answer=result.output,
        **_rates(result, done - started),
    )

    summariser = Agent(
        model,
        instructions="Summarise the conversation for a memory store: who the user is, what they are working on, "
        "and the decisions made. At most 80 words, plain prose.",
    )
    started = time.time()
    result = summariser.run_sync(_transcript(), model_settings={"max_tokens": 120})
    seconds = time.time() - started
    _report("summary", seconds, **_rates(result, seconds), summary=result.output)

    class Trait(BaseModel):
        key: str = Field(description="What the trait is about, e.g. name, language, preference")
        value: str

    class Traits(BaseModel):
        traits: list[Trait] = Field(description="Durable facts about the user, at most 6")

    extractor = Agent(
        model,
        output_type=Traits,
        instructions="Extract durable facts about the user (name, expertise, tools, preferences) "
        "from the conversation.",
    )
    started = time.time()
    result = extractor.run_sync(_transcript(), model_settings={"max_tokens": 200})
    seconds = time.time() - started
    _report(
        "trait_extraction", seconds, **_rates(result, seconds), traits=result.output.model_dump()["traits"]
    )
    import resource

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "peak_rss_mib": round(peak_rss_mib),
                "load_average_1_5_15": os.getloadavg(),
                "cpus": os.cpu_count(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
