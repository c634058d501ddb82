"""One turn in its own process, for the background-update tests:

    python -m tests.memory.turn_worker DB SESSION PROMPT [--summary-only] [--memory hang|slow|race:DIR]
                                                          [--flush-only] [--exit-at-once]

Prints one JSON line when the answer is back ({"answered": ...}) and, unless the process is killed
or told to exit at once, one more with what the model was sent. `--memory hang`: memory's calls
never return (the parent kills the process). `slow`: they take half a second. `race:DIR`: the
first summary call of each process waits until two processes have made theirs (files in DIR), so
both summaries are made from the same session version. `--flush-only`: no turn, just
`memory.flush()`. `--exit-at-once`: no flush and no close, the interpreter's exit is left to it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from memwise import Agent
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage
from tests.memory.fakes import Call, ReadingModel


def memory_hook(mode: str):
    first = {"summary": True}

    def hook(call: Call) -> None:
        if call.kind == "answer":
            return
        if mode == "hang":
            threading.Event().wait()
        elif mode == "slow":
            time.sleep(0.5)
        elif mode.startswith("race:") and call.kind == "summary" and first.pop("summary", False):
            folder = Path(mode[len("race:"):])
            (folder / f"summary-{os.getpid()}").touch()
            deadline = time.monotonic() + 60
            while len(list(folder.glob("summary-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)

    return hook


def main(argv: list[str]) -> None:
    db, session_id, prompt, *flags = argv
    mode = flags[flags.index("--memory") + 1] if "--memory" in flags else "fast"
    storage = SqliteStorage(db_file=db)
    answerer, memory_model = ReadingModel(), ReadingModel(hook=memory_hook(mode))
    memory = Memory(
        storage, session_id=session_id, user_id="u1", model=memory_model.model,
        full_session_memory="--summary-only" not in flags, summary_memory=True, user_analysis_memory=True,
        load_full_session_memory=False,
    )
    if "--flush-only" in flags:
        memory.flush()
        print(json.dumps({"flushed": True}), flush=True)
        return
    output = Agent(answerer.model, memory=memory).do(prompt)
    print(json.dumps({"answered": output}), flush=True)
    if "--exit-at-once" in flags:
        return
    sent = answerer.of("answer")[-1]
    print(json.dumps({"instructions": sent.instructions, "user_prompts": sent.user_prompts}), flush=True)
    storage.close()


if __name__ == "__main__":
    main(sys.argv[1:])
