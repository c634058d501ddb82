"""`memwise sessions`, `show`, `profile`, `forget`: look at what a store holds, and forget a user."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from memwise.cli import ui
from memwise.cli.options import DEFAULT_DB, DbOption
from memwise.cli.stores import open_store
from memwise.storage.base import Storage
from memwise.storage.documents import KNOWLEDGE_AGENT

LIST_PAGE = 200


def sessions(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's sessions.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many (most recent first).")] = 50,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List sessions, most recently updated first."""
    with ui.guard():
        with open_store(db, create=False) as store:
            page = store.list_sessions(user_id=user, limit=limit)
        if user is None:  # knowledge bases' chunks are not conversations (`memwise kb list` shows them)
            page.items = [s for s in page.items if s.agent_id != KNOWLEDGE_AGENT]
        if not page.items:
            ui.note(f"No sessions for user {user!r}." if user else "No sessions.")
            return
        ui.out().print(ui.sessions_view(page.items))
        if page.next_cursor:
            ui.note(f"Showing the {limit} most recent; --limit shows more.")


def show(
    session_id: Annotated[str, typer.Argument(metavar="SESSION", help="The session id.")],
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the last N user turns.")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Show a session: who it belongs to, its summary, and its messages."""
    with ui.guard():
        with open_store(db, create=False) as store:
            session = store.get_session(session_id)
            if session is None:
                ui.fail(f"no session {session_id!r} in {db} (memwise sessions lists them)")
            messages = store.read_messages(session_id, last_turns=last)
        console = ui.out()
        console.print(Text(f"session {session.session_id}", style="bold"))
        console.print(
            Text(
                f"user {session.user_id or '-'} · agent {session.agent_id or '-'} · created {ui.when(session.created_at)} · "
                f"updated {ui.when(session.updated_at)} · summarized through message {session.summarized_through}",
                style="dim",
            )
        )
        if session.metadata:
            console.print(Text("metadata " + json.dumps(session.metadata, ensure_ascii=False), style="dim"))
        if session.usage:
            console.print(Text("usage " + ", ".join(f"{k}={v}" for k, v in session.usage.items()), style="dim"))
        console.rule("summary", align="left")
        console.print(ui.summary_view(session))
        console.rule("messages" + (f" (last {ui.plural(last, 'turn')})" if last else ""), align="left")
        console.print(ui.messages_view(messages))


def profile(
    user: Annotated[str, typer.Argument(metavar="USER", help="The user id.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Show what memory learned about a user, and which run set each field when."""
    with ui.guard():
        with open_store(db, create=False) as store:
            found = store.get_profile(user)
            if found is None:
                has_sessions = bool(store.list_sessions(user_id=user, limit=1).items)
                ui.fail(f"no profile for user {user!r}" + (" yet (profile learning may be off for their sessions)" if has_sessions else f" and no sessions in {db}"))
        console = ui.out()
        console.print(Text(f"user {user}", style="bold"), Text(f"· updated {ui.when(found.updated_at)}", style="dim"))
        console.print(ui.profile_view(found))


def forget(
    user: Annotated[str, typer.Argument(metavar="USER", help="The user id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Delete every session, message, run and the profile of a user."""
    with ui.guard():
        with open_store(db, create=False) as store:
            count = _count_sessions(store, user)
            has_profile = store.get_profile(user) is not None
            has_runs = bool(store.list_runs(user_id=user, limit=1).items)
            if not (count or has_profile or has_runs):
                ui.fail(f"nothing is stored about user {user!r} in {db}")
            question = f"Delete {ui.plural(count, 'session')} (with their messages and runs){' and the profile' if has_profile else ''} of user {user!r}?"
            if not yes and not ui.ask(question):
                ui.fail("not confirmed; nothing was deleted (pass --yes to skip the question)")
            counts = store.forget_user(user)
        ui.out().print(ui.forgotten(user, counts), markup=False)


def _count_sessions(store: Storage, user: str) -> int:
    total, cursor = 0, None
    while True:
        page = store.list_sessions(user_id=user, limit=LIST_PAGE, cursor=cursor)
        total += len(page.items)
        if page.next_cursor is None:
            return total
        cursor = page.next_cursor
