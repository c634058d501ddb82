"""Peer runner: Upsonic 0.77.3 (`upsonic[sqlite-storage]`), run with its own venv's python.

Memory: SqliteStorage, full_session_memory (history of the last `history_turns` runs) and
summary_memory, the summary model being the same fake model. Model: Upsonic's OpenAIChatModel
pointed at the loopback fake server (Upsonic has no FunctionModel). See runner_common.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import upsonic  # noqa: E402
from runner_common import main, user_prompt  # noqa: E402
from upsonic import Agent, Task  # noqa: E402
from upsonic.models.openai import OpenAIChatModel  # noqa: E402
from upsonic.providers.openai import OpenAIProvider  # noqa: E402
from upsonic.storage.memory import Memory  # noqa: E402
from upsonic.storage.sqlite import SqliteStorage  # noqa: E402


def model(config: dict) -> OpenAIChatModel:
    return OpenAIChatModel("fake-model", provider=OpenAIProvider(base_url=config["base_url"], api_key="sk-fake"))


def make_bare_agent(config: dict) -> Agent:
    return Agent(model(config), name="bench", print=False)


def make_memory_agent(config: dict) -> Agent:
    storage = SqliteStorage(db_file=os.path.join(config["workdir"], "upsonic.db"))
    memory = Memory(
        storage=storage,
        session_id="bench-session",
        user_id="bench-user",
        full_session_memory=True,
        summary_memory=config["summary"],
        num_last_messages=config["history_turns"],
        model=model(config),
    )
    return Agent(model(config), name="bench", memory=memory, print=False)


def do_turn(agent: Agent, turn: int) -> None:
    out = agent.do(Task(user_prompt(turn)))
    if not out:
        raise RuntimeError(f"turn {turn}: empty answer {out!r}")


if __name__ == "__main__":
    main(make_memory_agent, make_bare_agent, do_turn, upsonic.__version__)
