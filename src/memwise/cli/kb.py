"""`memwise kb add`, `list`, `search`, `remove`, `refresh`: a store's knowledge bases on the command line.

Each command opens the store `--db` names and a `KnowledgeBase` on it by name; nothing else is
kept between commands, since the documents registry in the store is the knowledge base. What an
ingestion did is the command's output (stdout); a source that failed makes the exit status 1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from memwise.cli import ui
from memwise.cli.options import DEFAULT_DB, DbOption
from memwise.cli.stores import open_store, redact
from memwise.knowledge import IngestReport, KnowledgeBase
from memwise.knowledge.sources import looks_like_path, resolve
from memwise.storage.base import Storage
from memwise.storage.records import KnowledgeDocument

app = typer.Typer(
    name="kb",
    help="Knowledge bases: ingest files into the store, list, search, remove and refresh them.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NameOption = Annotated[str, typer.Option("--name", "-n", help="The knowledge base (letters, digits, '_', '-').")]
EmbedderOption = Annotated[
    str | None,
    typer.Option("--embedder", help="Embed chunks for dense search too: 'local' (the embed extra) or a pydantic-ai embedding model string; search with the same."),
]


@app.command("add")
def add(
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Files or folders (a folder: its files with a known extension, recursively).")],
    name: NameOption,
    description: Annotated[str | None, typer.Option("--description", "-d", help="A description stored on each added document.")] = None,
    embedder: EmbedderOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Ingest files into a knowledge base (created on first use); unchanged files are skipped.

    Prints what was added, updated, unchanged and failed, with each failure's message. Exit
    status 1 if any source failed (the others are ingested all the same)."""
    with ui.guard(), open_store(db, create=True) as store:
        kb = KnowledgeBase(storage=store, name=name, embedder=embedder)
        given, failed = _sources(paths, kb)
        report = IngestReport()
        if given:
            with _progress() as progress:
                report = kb.add(given, progress=progress, description=description)
        report.failed[:0] = failed
        _print_report(kb.name, report)
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Option("--name", "-n", help="List this knowledge base's documents.")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """List the store's knowledge bases, or with --name the documents of one."""
    with ui.guard(), open_store(db, create=False) as store:
        if name is None:
            names = store.list_knowledge_bases()
            if not names:
                ui.note("No knowledge bases.")
                return
            ui.out().print(_bases_view({kb: store.list_documents(kb) for kb in names}))
            return
        documents = _existing(store, name, db)
        ui.out().print(_documents_view(documents))


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="A few keywords or a question.")],
    name: NameOption,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, max=100, help="Show at most this many chunks.")] = 5,
    embedder: EmbedderOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Search a knowledge base: the best matching chunks, each with its citation and score."""
    with ui.guard(), open_store(db, create=False) as store:
        _existing(store, name, db)
        chunks = KnowledgeBase(storage=store, name=name, embedder=embedder).query(query, limit=limit)
    if not chunks:
        ui.note(f"Nothing in the knowledge base {name!r} matches {query!r}.")
        return
    console = ui.out()
    for rank, chunk in enumerate(chunks, 1):
        console.print(Text(f"{rank}. [{chunk.citation}]", style="bold") + Text(f"  score {chunk.score:.3f}", style="dim"))
        console.print(Text(chunk.text))
        console.print()


@app.command("remove")
def remove(
    target: Annotated[str, typer.Argument(metavar="PATH|DOC_ID", help="A file, a folder (every document under it) or a document id.")],
    name: NameOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Remove documents (and their chunks) from a knowledge base."""
    with ui.guard(), open_store(db, create=False) as store:
        _existing(store, name, db)
        count = KnowledgeBase(storage=store, name=name).remove(target)
        if not count:
            ui.fail(f"no document of the knowledge base {name!r} matches {target!r} (memwise kb list --name {name} lists them)")
    ui.out().print(f"Removed {ui.plural(count, 'document')} from the knowledge base {name!r}.", markup=False)


@app.command("refresh")
def refresh(
    name: NameOption,
    embedder: EmbedderOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Re-ingest changed files, remove documents whose file is gone, clean up after crashed ingestions.

    Exit status 1 if any source failed."""
    with ui.guard(), open_store(db, create=False) as store:
        _existing(store, name, db)
        kb = KnowledgeBase(storage=store, name=name, embedder=embedder)
        with _progress() as progress:
            report = kb.refresh(progress=progress)
        _print_report(name, report)
    if report.failed:
        raise typer.Exit(1)


# ==================================================================== helpers
def _existing(store: Storage, name: str, db: str) -> list[KnowledgeDocument]:
    """The documents of knowledge base `name`; an unknown name is an error."""
    documents = store.list_documents(name)
    if not documents:
        ui.fail(f"no knowledge base {name!r} in {redact(db)} (memwise kb list lists them)")
    return documents


def _sources(paths: list[str], kb: KnowledgeBase) -> tuple[list[str], list[tuple[str, str]]]:
    """The arguments `add` can take, and failures for the others. Arguments are paths: one that
    does not exist and has no known extension (`KnowledgeBase.add` would read it as literal
    text), and a folder with no file to read, fail here. A missing file with a known extension
    goes on to `add`, which records it as a document in error."""
    given: list[str] = []
    failed: list[tuple[str, str]] = []
    for path in paths:
        if Path(path).expanduser().is_dir() and not resolve(path, kb.extensions):
            failed.append((path, f"no file with a known extension ({', '.join(sorted(kb.extensions))}) under it"))
        elif Path(path).expanduser().exists() or looks_like_path(path, kb.extensions):
            given.append(path)
        else:
            failed.append((path, "no such file or folder"))
    return given, failed


@contextmanager
def _progress() -> Iterator[Any]:
    """A progress bar on stderr (only on a terminal), as `KnowledgeBase`'s progress callback.
    Failures are in the report: the knowledge base's warnings are not printed a second time
    (unless logging is set up, where they still go)."""
    logger = logging.getLogger("memwise.knowledge")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
    console = ui.err()
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, disable=not console.is_terminal)
    with bar:
        task = bar.add_task("ingesting", total=None)

        def update(done: int, total: int, source: str) -> None:
            bar.update(task, completed=done, total=total, description=source[-40:])

        yield update


def _print_report(name: str, report: IngestReport) -> None:
    console = ui.out()
    chunks = f" ({ui.plural(report.chunks, 'chunk')} written)" if report.chunks else ""
    console.print(f"Knowledge base {name!r}: {report}{chunks}.", markup=False)
    for source, message in report.failed:  # a loader's message starts with the file's path or name: once is enough
        message = message.removeprefix(f"{source}: ").removeprefix(f"{Path(source).name}: ")
        console.print(Text("failed ", style="bold red") + Text(f"{source}: {message}"))


def _bases_view(bases: dict[str, list[KnowledgeDocument]]) -> Table:
    table = _table("knowledge base", "documents", "chunks", "errors", "updated")
    for kb, documents in bases.items():
        errors = sum(1 for d in documents if d.status == "error")
        table.add_row(Text(kb), str(len(documents)), str(sum(d.chunk_count for d in documents)),
                      Text(str(errors), style="red" if errors else ""), ui.when(max(d.updated_at for d in documents)))
    return table


def _documents_view(documents: list[KnowledgeDocument]) -> Table:
    table = _table("name", "type", "size", "chunks", "status", "message", "accesses", "updated", "id")
    for d in documents:
        table.add_row(
            Text(d.name), d.type or "-", _size(d.size), str(d.chunk_count),
            Text(d.status, style="red" if d.status == "error" else "green"), Text(d.status_message or "-"),
            str(d.access_count), ui.when(d.updated_at), Text(d.id, style="dim"),
        )
    return table


def _table(*columns: str) -> Table:
    table = ui.plain_table()
    for column in columns:
        right = column in ("documents", "chunks", "errors", "size", "accesses")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    return table


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
