"""`memwise chat`: talk to an agent with memory, from a terminal or a pipe.

On a terminal: a prompt, the answer streamed under a spinner, and slash commands. Memory's
updates (summary, profile) run after each answer: the prompt says so quietly while they do, and
leaving waits for them under a spinner. From a pipe (`memwise chat < questions.txt`): each
non-empty line is one turn, stdout gets only the answers (and what slash commands print), no
prompts and no spinner; the chat ends at end of input.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from memwise.cli import ui
from memwise.cli.options import DEFAULT_DB, DbOption, ModelOption
from memwise.cli.stores import open_store

if TYPE_CHECKING:
    from memwise.agent import Agent
    from memwise.storage.base import Storage

HELP = """Commands:
  /history [N]  the stored messages of this session (the last N user turns)
  /summary      the session's summary
  /profile      what memory knows about you
  /forget       delete everything stored about you (asks first)
  /help         this list
  /exit         leave (end of input works too)"""


def quiet_pydantic_ai() -> None:
    """The CLI owns its terminal: no pydantic-ai first-run banner in the middle of a chat."""
    import pydantic_ai

    pydantic_ai.BANNER_ENABLED = False


def default_user() -> str:
    try:
        return getpass.getuser() or "user"
    except Exception:  # noqa: BLE001 - no login name (containers): any stable default will do
        return "user"


def chat(
    session: Annotated[str, typer.Option("--session", "-s", help="Session id: the same id continues the conversation.")] = "default",
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id (owner of the session, key of the profile). Default: your login name.")] = None,
    model: ModelOption = None,
    db: DbOption = DEFAULT_DB,
    history: Annotated[bool, typer.Option("--history/--no-history", help="Store the chat history and send it to the model.")] = True,
    summary: Annotated[bool, typer.Option("--summary/--no-summary", help="Keep a running summary of the session.")] = True,
    profile: Annotated[bool, typer.Option("--profile/--no-profile", help="Learn a profile of the user.")] = True,
    recall: Annotated[bool, typer.Option("--recall/--no-recall", help="Search all your earlier sessions and show the model what matches each message.")] = True,
) -> None:
    """Chat with an agent that remembers you. Pipe lines in to script a conversation."""
    from memwise.agent import Agent
    from memwise.memory import Memory

    user = user or default_user()
    quiet_pydantic_ai()
    with ui.guard():
        store = open_store(db, create=True)
        try:
            existing = store.get_session(session)
            if existing is not None and existing.user_id not in (None, user):
                ui.fail(f"session {session!r} belongs to user {existing.user_id!r}; pass --user {existing.user_id} or choose another --session")
            memory = Memory(
                store, session_id=session, user_id=user,
                full_session_memory=history, summary_memory=summary, user_analysis_memory=profile,
                recall_memory=recall,
            )
            agent = Agent(model, memory=memory)
            failures = Chat(agent, store, session, user).run()
        finally:
            store.close()
    if failures:
        raise typer.Exit(1)


class Chat:
    """The chat loop and its slash commands."""

    def __init__(self, agent: Agent, store: Storage, session: str, user: str) -> None:
        self.agent, self.store, self.session, self.user = agent, store, session, user
        self.interactive = sys.stdin.isatty()
        self.console = ui.out()
        self.failures = 0

    def run(self) -> int:
        """The chat loop; returns how many turns failed."""
        if self.interactive:
            self._banner()
        while (line := self._read()) is not None:
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not self.command(text):
                    break
                continue
            if not run_turn(self.agent, text, self.console):
                self.failures += 1
        self.wait_for_memory("saving memory…")
        return self.failures

    def wait_for_memory(self, label: str) -> None:
        """Wait for memory's pending updates (a spinner on a terminal): before leaving, and before
        showing the summary or profile. Ctrl-C or a failure leaves them pending in storage: the
        next chat of the session makes them."""
        from memwise.errors import MemorySaveError
        from memwise.memory import background

        memory = self.agent.memory
        if memory is None or background.behind(memory) is None:
            return
        try:
            with ui.spinner(self.console, label):
                memory.flush()
        except KeyboardInterrupt:
            background.discard(memory.storage)
            ui.note("Memory updates left pending; the next chat of this session makes them.")
        except MemorySaveError as exc:
            ui.err().print(Text(f"Warning: {exc}; the next chat of this session retries.", style="yellow"))

    def prompt(self) -> str:
        """The input prompt, saying quietly when memory is updating in the background."""
        from memwise.memory import background

        state = background.behind(self.agent.memory) if self.agent.memory is not None else None
        note = {"updating": "memory updating… ", "retrying": "memory update failed, retrying… "}.get(state or "", "")
        return (f"[dim]{note}[/]" if note else "") + "[bold cyan]you>[/] "

    def _banner(self) -> None:
        name = getattr(self.agent.model, "model_name", type(self.agent.model).__name__)
        memory = self.agent.memory
        flags = () if memory is None else (("history", memory.full_session_memory), ("summary", memory.summary_memory),
                                           ("profile", memory.user_analysis_memory))
        kept = [label for label, on in flags if on]
        self.console.print(
            f"[bold]memwise chat[/] · session [cyan]{escape(self.session)}[/] · user [cyan]{escape(self.user)}[/] · "
            f"model [cyan]{escape(str(name))}[/] · memory: {', '.join(kept) or 'off'}\n[dim]/help for commands, /exit to leave[/]"
        )

    def _read(self) -> str | None:
        if not self.interactive:
            line = sys.stdin.readline()
            return line if line else None
        try:
            return self.console.input(self.prompt())
        except EOFError:
            self.console.print()
            return None
        except KeyboardInterrupt:
            self.console.print()
            return None

    # ------------------------------------------------------------------ slash commands
    def command(self, text: str) -> bool:
        """Run a slash command; False means leave the chat."""
        name, _, arg = text.partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.console.print(HELP, markup=False)
        elif name == "/history":
            last = int(arg) if arg.isdigit() and int(arg) > 0 else None
            if arg and last is None:
                ui.err().print("usage: /history [N]  (N: how many of the last user turns)")
            else:
                self.console.print(ui.messages_view(self.store.read_messages(self.session, last_turns=last)))
        elif name == "/summary":
            self.wait_for_memory("memory updating…")
            session = self.store.get_session(self.session)
            self.console.print(ui.summary_view(session) if session else Text("(nothing stored yet)", style="dim"))
        elif name == "/profile":
            self.wait_for_memory("memory updating…")
            self.console.print(ui.profile_view(self.store.get_profile(self.user)))
        elif name == "/forget":
            if ui.ask(f"Forget everything stored about user {self.user!r} (sessions, messages, runs, profile)?"):
                counts = self.store.forget_user(self.user)
                self.console.print(ui.forgotten(self.user, counts), markup=False)
            else:
                self.console.print("Nothing was deleted.")
        else:
            ui.err().print(f"Unknown command {name}; /help lists the commands.", markup=False)
        return True


def run_turn(agent: Agent, text: str, console: Console, prefix: Text | None = None) -> bool:
    """One turn: stream the answer (with a spinner on a terminal) and print it. Returns False when
    the turn failed; the error is printed and the chat can go on."""
    from memwise.errors import MemorySaveError

    parts: list[str] = []
    try:
        if console.is_terminal:
            with Live(_working(console, parts), console=console, transient=True, refresh_per_second=12) as live:
                for delta in agent.stream(text):
                    parts.append(str(delta))
                    live.update(_working(console, parts))
        else:
            parts.extend(str(delta) for delta in agent.stream(text))
    except MemorySaveError as exc:
        _answer(console, parts, prefix)
        ui.err().print(Text(f"Warning: the answer was not fully saved to memory: {exc}", style="yellow"))
        return False
    except KeyboardInterrupt:
        _answer(console, parts, prefix)
        ui.err().print(Text("Interrupted: this turn was not saved.", style="yellow"))
        return True
    except Exception as exc:  # noqa: BLE001 - any model or network failure: report it, keep chatting
        ui.err().print(Text(f"Error: {_describe(exc)}", style="red"))
        return False
    _answer(console, parts, prefix, always=True)  # even an empty answer: one output per turn
    return True


def _answer(console: Console, parts: list[str], prefix: Text | None, always: bool = False) -> None:
    if parts or always:
        console.print((prefix or Text()) + Text("".join(parts)))


def _working(console: Console, parts: list[str]) -> Group:
    """What the live view shows: the tail of the answer so far, and a spinner under it."""
    spin = Spinner("dots", Text("thinking…" if not parts else "", style="dim"))
    if not parts:
        return Group(spin)
    lines = Text("".join(parts)).wrap(console, console.width)
    keep = max(1, console.height - 2)
    return Group(*lines[-keep:], spin)


def _describe(exc: BaseException) -> str:
    from memwise.errors import MemwiseError

    if isinstance(exc, MemwiseError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
