"""Peer runner: Agno (SQLite db, history and session summaries on), run with its own venv's python.

History: `add_history_to_context=True, num_history_runs=history_turns`; summaries:
`enable_session_summaries=True` (the summary model is the agent's model, the same fake) with the
summary added to the context. Model: Agno's OpenAIChat pointed at the loopback fake server (Agno
has no FunctionModel). Telemetry off. See runner_common.py.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agno.agent import Agent  # noqa: E402
from agno.db.sqlite import SqliteDb  # noqa: E402
from agno.models.openai import OpenAIChat  # noqa: E402
from runner_common import main, user_prompt  # noqa: E402


def model(config: dict) -> OpenAIChat:
    return OpenAIChat(id="fake-model", base_url=config["base_url"], api_key="sk-fake", max_retries=0)


def make_bare_agent(config: dict) -> Agent:
    return Agent(model=model(config), telemetry=False)


def make_memory_agent(config: dict) -> Agent:
    return Agent(
        model=model(config),
        db=SqliteDb(db_file=os.path.join(config["workdir"], "agno.db")),
        session_id="bench-session",
        user_id="bench-user",
        add_history_to_context=True,
        num_history_runs=config["history_turns"],
        enable_session_summaries=config["summary"],
        add_session_summary_to_context=config["summary"],
        telemetry=False,
    )


def do_turn(agent: Agent, turn: int) -> None:
    out = agent.run(user_prompt(turn))
    if not out.content or str(getattr(out, "status", "")).lower().endswith("error"):
        raise RuntimeError(f"turn {turn}: no answer (status {getattr(out, 'status', None)!r}): {out.content!r}")


if __name__ == "__main__":
    main(make_memory_agent, make_bare_agent, do_turn, version("agno"))
