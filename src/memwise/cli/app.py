"""The Typer application: wires each command group's module to its command names."""

from __future__ import annotations

from typing import Annotated

import typer

from memwise.cli import browse, chat, demo, kb, transfer

app = typer.Typer(
    name="memwise",
    help="Persistent memory for LLM agents: try it (demo), talk (chat), look inside a store, move it, keep knowledge bases (kb).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print API keys that sit in local variables
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"memwise {version('memwise')}")
        except PackageNotFoundError:
            typer.echo("memwise (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Persistent memory for LLM agents. `--db` takes a SQLite file (default memwise.db, or
    $MEMWISE_DB) or a URL: sqlite:///, json:///, postgresql://...?schema=, redis://...?prefix=,
    mongodb://.../db."""


app.command("demo")(demo.demo)
app.command("chat")(chat.chat)
app.command("sessions")(browse.sessions)
app.command("show")(browse.show)
app.command("profile")(browse.profile)
app.command("forget")(browse.forget)
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.add_typer(kb.app, name="kb")
