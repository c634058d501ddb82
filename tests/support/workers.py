"""Child processes for the cross-process tests: `python -m tests.support.workers JOB RECIPE ...`."""

from __future__ import annotations

import json
import sys

from tests.conformance.messages import turn
from tests.support.recipe import Recipe


def append(recipe: Recipe, session_id: str, worker: str, count: int) -> None:
    """Append `count` turns (2 messages each, one atomic append per turn)."""
    storage = recipe.build()
    for i in range(count):
        storage.append_messages(session_id, turn(f"{worker}-{i}", "x" * 2000))
    storage.close()


def append_words(recipe: Recipe, session_id: str, worker: str, count: int) -> None:
    """Append `count` turns whose prompts are "zebra {worker}-{i}", printing each id once its
    append has returned (the search test checks that every printed one is findable)."""
    storage = recipe.build()
    for i in range(count):
        storage.append_messages(session_id, turn(f"zebra {worker}-{i}", "ok"))
        print(f"{worker}-{i}", flush=True)
    storage.close()


def append_forever(recipe: Recipe, session_id: str) -> None:
    """Append large turns until killed; prints once it has started."""
    storage = recipe.build()
    i = 0
    while True:
        storage.append_messages(session_id, turn(f"k-{i}", "y" * 50_000))
        i += 1
        if i == 1:
            print("started", flush=True)


def ingest(recipe: Recipe, folder: str, go_file: str) -> None:
    """Wait for `go_file` to exist (so that several of these start at once), then ingest `folder`
    into the knowledge base "shared"; print the report."""
    import os
    import time

    from memwise.knowledge import KnowledgeBase

    storage = recipe.build()
    kb = KnowledgeBase(folder, storage=storage, name="shared")
    while not os.path.exists(go_file):
        time.sleep(0.005)
    print(kb.setup(), flush=True)
    storage.close()


if __name__ == "__main__":
    job, spec, *args = sys.argv[1:]
    data = json.loads(spec)
    recipe = Recipe(data["target"], data["kwargs"], data["shared"])
    if job == "append":
        append(recipe, args[0], args[1], int(args[2]))
    elif job == "append_words":
        append_words(recipe, args[0], args[1], int(args[2]))
    elif job == "append_forever":
        append_forever(recipe, args[0])
    elif job == "ingest":
        ingest(recipe, args[0], args[1])
    else:
        raise SystemExit(f"unknown job {job}")
