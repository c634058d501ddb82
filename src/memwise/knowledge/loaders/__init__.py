"""Reading sources into LoadedDocuments: pick a loader by the file's extension, run it, and turn
whatever goes wrong into a DocumentError that names the file and says why.

Loaders are `Loader = Callable[[bytes, str], LoadedDocument]`, given the bytes and the file's
name (a path when read from disk, used in messages). Built in: .txt, .md/.markdown, .html/.htm,
.pdf, .docx, .csv, .json; `loaders={".rst": my_loader}` adds or overrides by extension. The
formats with an optional dependency (md, html, pdf, docx: `memwise[knowledge]`) import it when
first used and raise ConfigurationError when it is missing.

Sections are fine-grained where the source has lines or pages (a paragraph of a .txt, a block of
Markdown, a page of a PDF, 50 rows of a CSV) so that chunks can cite "lines 10-42"; the splitter
(`knowledge/chunking.py`) packs consecutive sections with the same heading path together.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from memwise.errors import ConfigurationError, InvalidInputError
from memwise.knowledge.document import DocumentError, LoadedDocument
from memwise.knowledge.loaders.common import fail
from memwise.knowledge.loaders.data import load_csv, load_json
from memwise.knowledge.loaders.html import load_html
from memwise.knowledge.loaders.markdown import load_md
from memwise.knowledge.loaders.office import load_docx, load_pdf
from memwise.knowledge.loaders.plain import load_literal, load_txt

Loader = Callable[[bytes, str], LoadedDocument]

_BUILT_IN: dict[str, Loader] = {
    ".txt": load_txt, ".md": load_md, ".markdown": load_md, ".html": load_html, ".htm": load_html,
    ".pdf": load_pdf, ".docx": load_docx, ".csv": load_csv, ".json": load_json,
}
#: The extensions read without a custom loader (lowercase, with the dot).
KNOWN_EXTENSIONS: frozenset[str] = frozenset(_BUILT_IN)

__all__ = ["KNOWN_EXTENSIONS", "Loader", "load_bytes", "load_text", "read_file"]


def load_text(text: str) -> LoadedDocument:
    """A literal string as a document of type "text": Markdown-ish (`#` lines are headings),
    paragraphs located by their lines. DocumentError when it has no text."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, not {type(text).__name__}")
    document = load_literal(text)
    if not document.sections:
        raise DocumentError("text: empty, no text to index")
    return document


def load_bytes(data: bytes, name: str, *, loaders: Mapping[str, Loader] | None = None) -> LoadedDocument:
    """`data` read by the loader for `name`'s extension (case-insensitive; the longest matching
    one wins, so a custom ".tar.gz" beats ".gz"). Sections without text are dropped."""
    table = _table(loaders)
    extension = _extension(name, table)
    if not data.strip():
        raise fail(name, "empty file")
    try:
        document = table[extension](data, name)
    except (DocumentError, ConfigurationError, MemoryError):
        raise
    except Exception as exc:  # a library's or a custom loader's own error: still this file's problem
        raise fail(name, f"could not be read as {extension} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(document, LoadedDocument):
        raise fail(name, f"the {extension} loader returned {type(document).__name__}, not a LoadedDocument")
    sections = tuple(s for s in document.sections if s.text.strip())
    if not sections:
        raise fail(name, "no text in it (an empty document?)")
    return document if len(sections) == len(document.sections) else replace(document, sections=sections)


def read_file(path: str | os.PathLike[str], *, max_bytes: int, loaders: Mapping[str, Loader] | None = None) -> bytes:
    """The bytes of the file at `path` (for the caller to hash before `load_bytes` parses them),
    or a DocumentError naming it: missing, a directory, not a regular file (a FIFO would block),
    of a type no loader reads, unreadable, or over `max_bytes` (by its size, checked before
    reading, and again by what was read, should it have grown). Nothing is read before these
    checks pass."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise InvalidInputError(f"max_bytes must be a positive int, got {max_bytes!r}")
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError as exc:
        raise fail(name, "no such file") from exc
    except PermissionError as exc:
        raise fail(name, "cannot be read: permission denied") from exc
    except OSError as exc:
        raise fail(name, f"cannot be read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise fail(name, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise fail(name, "not a regular file (a device, socket or pipe)")
    _extension(name, _table(loaders))
    if info.st_size > max_bytes:
        raise fail(name, _too_big(info.st_size, max_bytes))
    try:
        with open(name, "rb") as file:
            data = file.read(max_bytes + 1)
    except PermissionError as exc:
        raise fail(name, "cannot be read: permission denied") from exc
    except OSError as exc:
        raise fail(name, f"cannot be read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew since stat
        raise fail(name, _too_big(len(data), max_bytes))
    return data


def _too_big(size: int, limit: int) -> str:
    return f"too large: {size:,} bytes, over the limit of {limit:,} bytes (max_file_bytes)"


def _table(loaders: Mapping[str, Loader] | None) -> dict[str, Loader]:
    table = dict(_BUILT_IN)
    for extension, loader in (loaders or {}).items():
        if not isinstance(extension, str) or not extension.strip(". "):
            raise InvalidInputError(f"loaders: a key must be a file extension like '.rst', got {extension!r}")
        if not callable(loader):
            raise InvalidInputError(f"loaders[{extension!r}] must be callable (bytes, name) -> LoadedDocument")
        table["." + extension.lower().lstrip(".")] = loader
    return table


def _extension(name: str, table: Mapping[str, Loader]) -> str:
    lowered = os.path.basename(name).lower()
    for extension in sorted(table, key=len, reverse=True):
        if lowered.endswith(extension) and len(lowered) > len(extension):
            return extension
    suffix = Path(name).suffix
    what = f"unknown file type {suffix!r}" if suffix else "no file extension"
    raise fail(name, f"{what}; known: {', '.join(sorted(table))}")
