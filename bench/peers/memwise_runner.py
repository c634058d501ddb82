"""Runner for memwise itself in the peers workload (memwise's venv), same protocol and settings as
the peer runners: SqliteStorage, history of the last `history_turns` user turns, summaries on, the
model being pydantic-ai's OpenAIChatModel on the loopback fake server. See runner_common.py.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402
from runner_common import main, user_prompt  # noqa: E402

from memwise import Agent, Memory, Task  # noqa: E402
from memwise.storage.sqlite import SqliteStorage  # noqa: E402


def model(config: dict) -> OpenAIChatModel:
    return OpenAIChatModel("fake-model", provider=OpenAIProvider(base_url=config["base_url"], api_key="sk-fake"))


def make_bare_agent(config: dict) -> Agent:
    return Agent(model(config))


def make_memory_agent(config: dict) -> Agent:
    memory = Memory(
        SqliteStorage(db_file=os.path.join(config["workdir"], "memwise.db")),
        session_id="bench-session",
        user_id="bench-user",
        full_session_memory=True,
        summary_memory=config["summary"],
        num_last_messages=config["history_turns"],
        model=model(config),
    )
    return Agent(model(config), memory=memory)


def do_turn(agent: Agent, turn: int) -> None:
    out = agent.do(Task(user_prompt(turn)))
    if not out:
        raise RuntimeError(f"turn {turn}: empty answer {out!r}")


if __name__ == "__main__":
    main(make_memory_agent, make_bare_agent, do_turn, version("memwise"))
