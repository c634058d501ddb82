"""Plain text (.txt) and literal strings: one section per paragraph (a run of non-blank lines),
located by its lines, so the splitter can cite the lines of every chunk. A literal string is read
as Markdown-ish: `#` heading lines (outside ``` fences) set the heading path; without any, it is
paragraphs like a .txt. A literal string has no location (it is not a file one could open at a
line; its source and heading path cite it). Neither needs an optional dependency."""

from __future__ import annotations

import re
from dataclasses import replace

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import decode_text, fenced, line_blocks, lines_location, one_line

#: An ATX heading: up to 3 spaces, 1-6 '#', then the text (a closing run of '#' is not part of it).
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")


def load_txt(data: bytes, name: str) -> LoadedDocument:
    return LoadedDocument(type="txt", sections=paragraphs(decode_text(data, name)))


def load_literal(text: str) -> LoadedDocument:
    return LoadedDocument(type="text", sections=tuple(
        replace(s, location="") for s in paragraphs(text.replace("\r\n", "\n").replace("\r", "\n"), headings=True)))


def paragraphs(text: str, headings: bool = False) -> tuple[Section, ...]:
    """A section per run of non-blank lines, "lines a-b" (1-based). With `headings`, ATX heading
    lines are taken out of the text and set the heading path of the paragraphs after them."""
    lines = text.split("\n")
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    inside = fenced(lines) if headings else []
    for first, last in line_blocks(lines, fences=headings):
        start = first
        if headings:
            for i in range(first, last + 1):
                match = None if inside[i] else _ATX.fullmatch(lines[i])
                if match is None:
                    continue
                if i > start:
                    sections.append(_section(lines, start, i - 1, path))
                level, title = len(match.group(1)), one_line(match.group(2) or "")
                path = [(lvl, t) for lvl, t in path if lvl < level]
                if title:
                    path.append((level, title))
                start = i + 1
        if start <= last:
            sections.append(_section(lines, start, last, path))
    return tuple(s for s in sections if s.text)


def _section(lines: list[str], first: int, last: int, path: list[tuple[int, str]]) -> Section:
    text = "\n".join(line.rstrip() for line in lines[first:last + 1]).strip("\n")
    return Section(text=text, headings=tuple(t for _, t in path), location=lines_location(first + 1, last + 1))
