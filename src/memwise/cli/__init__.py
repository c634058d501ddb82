"""The `memwise` command line: demo, chat, and inspecting, exporting and importing a store.

Needs the `cli` extra (Typer and Rich): `pip install "memwise[cli]"`. The entry point `main` checks
for it, so a missing extra is one clear line instead of a traceback.
"""

from __future__ import annotations

import sys

CLI_EXTRA_HINT = 'pip install "memwise[cli]"'


def main() -> None:
    """Entry point of the `memwise` script (and of `python -m memwise.cli`)."""
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(f"Error: the memwise command line needs the cli extra ({exc.name} is missing): {CLI_EXTRA_HINT}\n")
        raise SystemExit(1) from None
    from memwise.cli.app import app

    app(prog_name="memwise")


__all__ = ["main"]
