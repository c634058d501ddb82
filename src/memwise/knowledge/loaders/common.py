"""What every loader shares: turning bytes into text (or saying why they are not text), naming
the file in every error, and blocks of lines with their line numbers.

Text decoding, decided once for all text formats (.txt, .md, .csv, .json, literal text): a UTF-8
BOM is dropped and a UTF-16 BOM honoured; otherwise the bytes must be UTF-8, and when they are not,
Windows-1252 (a superset of Latin-1's printable range, what legacy Windows editors wrote) is
tried. NUL bytes, or a cp1252 reading with control characters, mean binary data: a DocumentError,
never mojibake in the index. Line ends are normalised to "\\n".
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from memwise.errors import ConfigurationError
from memwise.knowledge.document import DocumentError

#: Control characters that plain text does not contain (tab, newline, form feed and CR are fine).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")


def fail(name: str, why: str) -> DocumentError:
    """The error for `name`: the file first, then why (callers `raise fail(...)`)."""
    return DocumentError(f"{name}: {why}")


def missing_extra(package: str, name: str) -> ConfigurationError:
    return ConfigurationError(
        f"{name}: reading this format needs {package}, part of an optional extra: pip install 'memwise[knowledge]'")


def decode_text(data: bytes, name: str) -> str:
    """`data` as text, by the rules in this module's docstring."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return _normalise(data[len(bom):].decode(codec))
            except UnicodeDecodeError as exc:
                raise fail(name, f"not valid {codec} text despite its byte-order mark ({exc.reason} at byte {exc.start})") from exc
    if b"\x00" in data:
        raise fail(name, "binary data (NUL bytes), not text")
    try:
        return _normalise(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = "\x00"
        if _CONTROL.search(text):
            raise fail(name, f"binary data, not text (not UTF-8: {exc.reason} at byte {exc.start})") from exc
        return _normalise(text)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def one_line(text: str) -> str:
    """Runs of whitespace (newlines too) as one space, ends stripped: for headings and cells."""
    return _WHITESPACE.sub(" ", text).strip()


def lines_location(first: int, last: int) -> str:
    """"line 3" or "lines 3-9" (1-based, inclusive)."""
    return f"line {first}" if first == last else f"lines {first}-{last}"


def fenced(lines: list[str]) -> list[bool]:
    """For each line, whether it is inside (or opens or closes) a ``` or ~~~ fenced block."""
    inside: list[bool] = []
    fence = ""
    for line in lines:
        marker = _fence(line)
        if fence:
            inside.append(True)
            if marker.startswith(fence[0]) and len(marker) >= len(fence) and line.strip() == marker:
                fence = ""
        else:
            inside.append(bool(marker))
            fence = marker
    return inside


def line_blocks(lines: list[str], fences: bool = False) -> Iterator[tuple[int, int]]:
    """(first, last) 0-based indexes of each run of non-blank lines. With `fences`, a ``` or ~~~
    fenced block is one run even across blank lines (a code example stays whole)."""
    start: int | None = None
    inside = fenced(lines) if fences else [False] * len(lines)
    for i, line in enumerate(lines):
        if line.strip() or inside[i]:
            if start is None:
                start = i
        elif start is not None:
            yield start, i - 1
            start = None
    if start is not None:
        yield start, len(lines) - 1


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _fence(line: str) -> str:
    match = _FENCE.match(line)
    return match.group(1) if match else ""
