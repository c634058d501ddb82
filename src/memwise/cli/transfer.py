"""`memwise export` / `memwise import`: `memwise.storage.transfer` on the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from memwise.cli import ui
from memwise.cli.options import DEFAULT_DB, DbOption
from memwise.cli.stores import open_store, redact
from memwise.storage.transfer import KINDS, ExportFile, export_store


def export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: stdout).", dir_okay=False)] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Export the whole store as JSON Lines (sessions, messages, runs, profiles)."""
    with ui.guard():
        with open_store(db, create=False) as store:
            counts = export_store(store, out if out is not None else _Stdout())
            sys.stdout.flush()
        ui.note(f"Exported {_counts(counts)}" + (f" to {out}" if out else "") + ".")


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A file written by `memwise export` ('-': stdin).")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Import an export into a store (which must not hold any of its sessions, runs or profiles)."""
    with ui.guard():
        with ExportFile(sys.stdin if file == "-" else file, name=file) as source:
            source.check()  # before opening the store: a bad file creates nothing
            with open_store(db, create=True) as store:
                counts = source.import_into(store)
        ui.note(f"Imported {_counts(counts)} into {redact(db)}.")


class _Stdout:
    """stdout as UTF-8 whatever the locale (the export is UTF-8 JSON Lines)."""

    def __init__(self) -> None:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        self.write: Any = sys.stdout.write if buffer is None else lambda text: buffer.write(text.encode("utf-8"))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(ui.plural(counts[kind], kind[:-1]) for kind in KINDS)
