"""Options several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from memwise.cli.stores import DEFAULT_DB, ENV_DB

DbOption = Annotated[
    str,
    typer.Option(
        "--db", envvar=ENV_DB,
        help="SQLite file, or a URL: sqlite:///, json:///, postgresql://...?schema=, redis://...?prefix=, mongodb://.../db (see docs/cli.md).",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m",
        help="Model, e.g. local, openai/gpt-4o, anthropic/claude-sonnet-4-5. Default: $MEMWISE_MODEL, else local.",
    ),
]

__all__ = ["DEFAULT_DB", "DbOption", "ModelOption"]
