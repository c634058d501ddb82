"""What a knowledge base is given to read, resolved into sources: files (a folder gives the files
under it) and literal strings. A source's key says where it comes from and never changes for the
same file or text, so its document id (a hash of the knowledge base and the key) is stable
across processes and runs."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memwise.errors import InvalidInputError

#: Prefix of a literal string's source key ("text:" + the first 16 hex digits of its sha256).
TEXT = "text:"


@dataclass(frozen=True, slots=True)
class Source:
    """One document to ingest: a file (`path`) or a literal string (`text`)."""

    key: str  # the absolute path, or "text:<hash>"
    name: str  # the file's name, or a literal string's first words
    path: Path | None = None
    text: str | None = None

    def document_id(self, knowledge_base_id: str) -> str:
        return hashlib.sha256(f"{knowledge_base_id}\0{self.key}".encode()).hexdigest()[:32]


def resolve(sources: Any, extensions: frozenset[str]) -> list[Source]:
    """`sources` (a path, a string, or a list of them) as Source objects, each once, in order.

    A string is a path when it names an existing file or folder, or looks like one (no newline,
    short, and ends in a known extension): a mistyped file name then becomes a "no such file"
    error on its document instead of being ingested as text. Anything else is literal text.
    A folder gives its files with a known extension, recursively, hidden ones left out."""
    if sources is None:
        return []
    items = sources if isinstance(sources, (list, tuple)) else [sources]
    found: dict[str, Source] = {}
    for item in items:
        for source in _expand(item, extensions):
            found.setdefault(source.key, source)
    return list(found.values())


def check(sources: Any) -> None:
    """Refuse what can never be a source (checked when a knowledge base is made; files are
    looked at when it ingests)."""
    for item in sources if isinstance(sources, (list, tuple)) else [] if sources is None else [sources]:
        if isinstance(item, os.PathLike):
            continue
        if not isinstance(item, str) or not item.strip():
            raise InvalidInputError(f"a knowledge source must be a path or a non-empty string, not {item!r}")


def literal(text: str) -> Source:
    """A literal string; its name (what citations show) is its first words."""
    words = " ".join(text.split())
    name = words if len(words) <= 40 else words[:39].rsplit(" ", 1)[0] + "…"
    return Source(TEXT + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16], name, text=text)


def file(path: str | os.PathLike[str]) -> Source:
    resolved = Path(path).expanduser().resolve()
    return Source(str(resolved), resolved.name, path=resolved)


def _expand(item: Any, extensions: frozenset[str]) -> list[Source]:
    check(item)
    item = os.fspath(item)
    if not looks_like_path(item, extensions):
        return [literal(item)]
    path = Path(item).expanduser()
    if path.is_dir():
        return [file(p) for p in sorted(path.rglob("*")) if _wanted(p, path, extensions)]
    return [file(path)]


def looks_like_path(item: str, extensions: frozenset[str]) -> bool:
    if "\n" in item or len(item) > 4096:
        return False
    try:
        if Path(item).expanduser().exists():
            return True
    except OSError:
        return False
    return Path(item).suffix.lower() in extensions


def _wanted(path: Path, root: Path, extensions: frozenset[str]) -> bool:
    relative = path.relative_to(root).parts
    return path.is_file() and path.suffix.lower() in extensions and not any(part.startswith(".") for part in relative)
