"""What a loader makes of a source and what the splitter makes of that: the seam between reading
formats (`knowledge/loaders.py`) and storing, indexing and searching chunks (the rest of
`memwise.knowledge`). Plain frozen dataclasses; nothing here touches storage."""

from __future__ import annotations

from dataclasses import dataclass

from memwise.errors import MemwiseError


class DocumentError(MemwiseError):
    """A source could not be read as a document (missing, unreadable, corrupt, binary, empty, too
    large, unknown type). The message says which and why; ingestion records it on the document
    (status "error") and goes on with the other sources."""


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading path, in source order.

    `headings`: the heading path, outermost first ("Tutorial", "5. Data Structures", "5.1 More on
    Lists"); empty when the source has no structure. `text`: the section's text, paragraphs
    separated by a blank line. `location`: where it is in the source, for citations ("page 3",
    "lines 10-42", "rows 2-51", "$.items[3]")."""

    text: str
    headings: tuple[str, ...] = ()
    location: str = ""


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A source read into sections. `type`: the format ("txt", "md", "html", "pdf", "docx", "csv",
    "json", "text" for a literal string). `title`: the document's own title when it has one."""

    type: str
    sections: tuple[Section, ...]
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable piece of a document. `text` is what is indexed and shown: the heading path
    on its first line (when there is one), then the chunk's text. `location` cites it."""

    text: str
    location: str
    tokens: int
