"""PDF (pypdf) and Word .docx (python-docx): the binary formats. Every error of the libraries
(pypdf's PdfReadError, zipfile's BadZipFile, lxml's XMLSyntaxError, a KeyError on a missing part)
is caught here and becomes a DocumentError that names the file: a corrupt document is reported,
never a traceback from inside a library."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import fail, missing_extra, one_line

if TYPE_CHECKING:
    from docx.table import Table
    from pypdf import PdfReader

_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def load_pdf(data: bytes, name: str) -> LoadedDocument:
    """One section per page with text, "page N" (1-based). An encrypted PDF is opened with the
    empty password (owner-password-only PDFs, the common case); otherwise it is an error, as is a
    PDF with no extractable text (a scan). A page whose text cannot be extracted is skipped; if
    every page fails, the PDF is reported corrupt."""
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        raise missing_extra("pypdf", name) from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # PdfReadError, PdfStreamError, ValueError, KeyError, ... on a damaged file
        raise fail(name, f"not a readable PDF ({_reason(exc)})") from exc
    if encrypted:
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # pypdf.errors.DependencyError (AES needs `cryptography`), ...
            raise fail(name, f"an encrypted PDF that cannot be opened ({_reason(exc)})") from exc
        if not opened:
            raise fail(name, "an encrypted PDF that needs a password")
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise fail(name, f"not a readable PDF ({_reason(exc)})") from exc
    sections: list[Section] = []
    failure: Exception | None = None
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:
            failure = failure or exc
            continue
        text = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
        if text:
            sections.append(Section(text=text, location=f"page {number}"))
    if not sections:
        if failure is not None:
            raise fail(name, f"no page's text could be extracted (corrupt?): {_reason(failure)}") from failure
        raise fail(name, "no text (a scanned PDF?)")
    return LoadedDocument(type="pdf", sections=tuple(sections), title=_pdf_title(reader))


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        meta = reader.metadata
        title = one_line(str(meta.title)) if meta is not None and meta.title else ""
    except Exception:  # metadata of a damaged PDF: the text is what matters
        return None
    return title or None


def load_docx(data: bytes, name: str) -> LoadedDocument:
    """"Heading N" paragraph styles set the heading path ("Title" gives the title when the core
    properties have none); tables read row by row as "a | b | c" (a merged cell once). Sections
    are body blocks (a paragraph or a table) located "paragraph N" counting every block in body
    order, empty ones too, so the numbers follow the document."""
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:
        raise missing_extra("python-docx", name) from exc
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
        title = one_line(document.core_properties.title or "")
    except Exception as exc:  # zipfile.BadZipFile, KeyError, PackageNotFoundError, XMLSyntaxError, ...
        raise fail(name, f"not a readable .docx ({_reason(exc)})") from exc
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    for number, block in enumerate(blocks, start=1):
        if isinstance(block, Table):
            text = _docx_table(block)
        else:
            text = block.text.strip()
            style = block.style.name if block.style is not None else ""
            heading = _HEADING_STYLE.fullmatch(style or "")
            if heading or style == "Title":
                if style == "Title":
                    title = title or one_line(text)
                    continue
                level = int(heading.group(1)) if heading else 1
                path = [(lvl, t) for lvl, t in path if lvl < level]
                if one_line(text):
                    path.append((level, one_line(text)))
                continue
        if text:
            sections.append(Section(text=text, headings=tuple(t for _, t in path), location=f"paragraph {number}"))
    return LoadedDocument(type="docx", sections=tuple(sections), title=title or None)


def _docx_table(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: object = None
        for cell in row.cells:
            if cell._tc is seen:  # a merged cell repeats for every grid column it spans
                continue
            seen = cell._tc
            cells.append(one_line(cell.text))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
