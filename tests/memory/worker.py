"""One agent run in its own process: `python -m tests.memory.worker DB SESSION USER PROMPT`.

Prints JSON: the answer, and what the model was sent (instructions, user prompts)."""

from __future__ import annotations

import json
import sys

from memwise import Agent, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage
from tests.memory.fakes import ReadingModel


def main(db: str, session_id: str, user_id: str, prompt: str) -> None:
    reader = ReadingModel()
    storage = SqliteStorage(db_file=db)
    memory = Memory(
        storage, session_id=session_id, user_id=user_id,
        full_session_memory=True, summary_memory=True, user_analysis_memory=True,
    )
    output = Agent(reader.model, memory=memory).do(Task(prompt))
    sent = reader.of("answer")[-1]
    print(json.dumps({"output": output, "instructions": sent.instructions, "user_prompts": sent.user_prompts}))
    storage.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
