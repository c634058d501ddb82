"""Output helpers shared by the commands: consoles, errors, the spinner, and how records look.

Data goes to stdout, messages about the work (errors, counts, questions) to stderr, so every
command's stdout can be piped. Colours and spinners appear only on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from memwise.storage.records import Session, StoredMessage, UserProfile


def out() -> Console:
    """A console on the current stdout (made per call: tests and pipes swap sys.stdout)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `Error: message` on stderr and exit with `code` (no traceback)."""
    err().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code)


def note(message: str) -> None:
    """A line about the work (not data) on stderr."""
    err().print(Text(message, style="dim"))


def spinner(console: Console, label: str) -> Any:
    """A spinner while something slow runs, only when `console` is a terminal."""
    return console.status(label, spinner="dots") if console.is_terminal else nullcontext()


def ask(question: str) -> bool:
    """A yes/no question answered by the next line of stdin (a terminal or a pipe); the question
    goes to stderr. End of input means no."""
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        sys.stderr.write("\n")
    return line.strip().lower() in ("y", "yes")


def when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def forgotten(user: str, counts: dict[str, int]) -> str:
    """What `forget_user` deleted, as one line."""
    return (
        f"Forgot user {user!r}: {plural(counts.get('sessions', 0), 'session')}, "
        f"{plural(counts.get('messages', 0), 'message')}, {plural(counts.get('runs', 0), 'run')}, "
        f"{plural(counts.get('profiles', 0), 'profile')}."
    )


# ---------------------------------------------------------------------------------- messages
def part_lines(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(role, text) for each part of a stored message (its JSON form), for display."""
    for part in message.get("parts") or []:
        kind = part.get("part_kind")
        if kind == "user-prompt":
            yield "user", _content(part.get("content"))
        elif kind == "text":
            yield "assistant", str(part.get("content", ""))
        elif kind == "system-prompt":
            yield "system", str(part.get("content", ""))
        elif kind == "tool-call":
            args = part.get("args")
            args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            yield "tool call", f"{part.get('tool_name')}({args})"
        elif kind == "tool-return":
            yield "tool result", f"{part.get('tool_name')}: {_content(part.get('content'))}"
        elif kind == "retry-prompt":
            yield "retry", _content(part.get("content"))
        elif kind == "thinking":
            continue
        else:
            yield str(kind), _content(part.get("content"))


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(item if isinstance(item, str) else f"[{item.get('kind', 'attachment')}]" if isinstance(item, dict) else str(item) for item in content)
    return json.dumps(content, ensure_ascii=False, default=str)


_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold green", "system": "bold magenta"}


def messages_view(messages: Iterable[StoredMessage]) -> Group:
    rows = []
    for stored in messages:
        for role, text in part_lines(stored.data):
            line = Text(f"#{stored.seq} ", style="dim")
            line.append(f"{role}: ", style=_ROLE_STYLE.get(role, "yellow"))
            line.append(text)
            rows.append(line)
    return Group(*rows) if rows else Group(Text("(no messages)", style="dim"))


# ---------------------------------------------------------------------------------- records
def summary_view(session: Session) -> Text:
    if not session.summary:
        return Text("(no summary yet)", style="dim")
    return Text(session.summary)


def plain_table() -> Table:
    """The CLI's tables: no borders, bold headers."""
    return Table(show_edge=False, pad_edge=False, box=None, header_style="bold")


def profile_view(profile: UserProfile | None) -> Table | Text:
    if profile is None or not profile.data:
        return Text("(no profile yet)", style="dim")
    table = plain_table()
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("run", style="dim", no_wrap=True)
    table.add_column("when", style="dim", no_wrap=True)
    table.add_column("the user's words", style="dim", overflow="fold")
    for name, value in profile.data.items():
        source = profile.provenance.get(name) or {}
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        stamp = source.get("updated_at")
        quotes = source.get("evidence")
        table.add_row(
            name, Text(shown), str(source.get("run_id") or "-")[:8],
            when(stamp) if isinstance(stamp, (int, float)) else str(stamp or "-"),
            Text(" | ".join(f"“{q}”" for q in quotes) if isinstance(quotes, list) and quotes else "-"),
        )
    return table


def sessions_view(sessions: list[Session]) -> Table:
    table = plain_table()
    for name in ("session", "user", "agent", "updated", "summary"):
        table.add_column(name, overflow="fold" if name == "session" else "ellipsis", no_wrap=name != "session")
    for session in sessions:
        summary = " ".join((session.summary or "").split())
        table.add_row(
            Text(session.session_id), Text(session.user_id or "-"), Text(session.agent_id or "-"),
            when(session.updated_at), Text(summary[:60] + ("…" if len(summary) > 60 else "")),
        )
    return table


@contextmanager
def guard() -> Iterator[None]:
    """Turn memwise's errors (bad --db, a missing extra, an unreachable server, a bad model) and
    file errors into one `Error:` line and exit code 1."""
    from memwise.errors import MemwiseError

    try:
        yield
    except typer.Exit:
        raise
    except MemwiseError as exc:
        fail(str(exc))
    except BrokenPipeError:  # `memwise export | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit does not fail again
        raise typer.Exit(1) from None
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        err().print("Interrupted.")
        raise typer.Exit(130) from None
