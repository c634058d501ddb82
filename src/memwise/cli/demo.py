"""`memwise demo`: the seeds' quick start in a fresh SQLite file, then what memory stored."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from memwise.cli import ui
from memwise.cli.chat import quiet_pydantic_ai, run_turn
from memwise.cli.options import ModelOption
from memwise.cli.stores import open_store, redact

SESSION, USER = "session_001", "user_123"
PROMPTS = ("My name is Alice and I'm a Python developer", "What's my name and expertise?")


def demo(
    db: Annotated[str | None, typer.Option("--db", help="Where to create the demo's store (a new SQLite file or a URL). Default: a new temporary file.")] = None,
    model: ModelOption = None,
) -> None:
    """Run the quick start: tell the agent who you are, ask it back, show what memory stored."""
    from memwise.agent import Agent
    from memwise.memory import Memory
    from memwise.models import ENV_VAR

    console = ui.out()
    quiet_pydantic_ai()
    with ui.guard():
        if db is None:
            db = str(Path(tempfile.mkdtemp(prefix="memwise-demo-")) / "demo.db")
        elif "://" not in db and Path(db).expanduser().exists():
            ui.fail(f"--db {db!r} exists already; the demo starts from a new file, so give a path that does not exist")
        store = open_store(db, create=True)
        try:
            if store.get_session(SESSION) is not None:
                ui.fail(f"{redact(db)} already holds the demo's session {SESSION!r}; give the demo a new store")
            memory = Memory(
                store, session_id=SESSION, user_id=USER,
                full_session_memory=True, summary_memory=True, user_analysis_memory=True, recall_memory=True,
            )
            agent = Agent(model, memory=memory)
            source = "--model" if model else f"${ENV_VAR}" if os.environ.get(ENV_VAR, "").strip() else "the default"
            console.print(f"[bold]memwise demo[/] · store [cyan]{escape(redact(db))}[/]")
            console.print(f"model [cyan]{escape(str(getattr(agent.model, 'model_name', agent.model)))}[/] [dim]({source})[/]\n")
            for prompt in PROMPTS:
                console.print(Text("you> ", style="bold cyan") + Text(prompt))
                if not run_turn(agent, prompt, console, prefix=Text("agent> ", style="bold green")):
                    raise typer.Exit(1)
                console.print()

            session = store.get_session(SESSION)
            count = len(store.read_messages(SESSION))
            console.rule("[bold]What memory stored")
            console.print(f"[bold]messages[/] {count} in session {SESSION!r}")
            console.print("[bold]summary[/]")
            console.print(ui.summary_view(session) if session else Text("(none)", style="dim"))
            console.print(f"[bold]profile[/] of {USER!r}")
            console.print(ui.profile_view(store.get_profile(USER)))
            console.print(f"\n[dim]Look around: memwise show {SESSION} --db {escape(shlex.quote(redact(db)))}[/]")
        finally:
            store.close()
