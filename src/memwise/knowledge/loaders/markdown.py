"""Markdown (.md, .markdown) with markdown-it-py (CommonMark plus tables).

Headings set the heading path; every other block (a paragraph, a whole list, a table, a code
block) is one section located by its source lines, so chunks cite the lines they came from.
Inline markup is reduced to its text (link text without the URL, image alt text); code blocks
are kept verbatim inside their ``` fence. A YAML front matter block is skipped (its `title:`, if
any, is the document's title)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import decode_text, lines_location, missing_extra, one_line

if TYPE_CHECKING:
    from markdown_it.token import Token

_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_TAG = re.compile(r"<[^>]*>")


def load_md(data: bytes, name: str) -> LoadedDocument:
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:
        raise missing_extra("markdown-it-py", name) from exc
    text = decode_text(data, name)
    title, offset = None, 0
    front = _FRONT_MATTER.match(text)
    if front:
        found = _TITLE.search(front.group(1))
        title = found.group(1).strip("'\"") if found else None
        offset = front.group(0).count("\n")
        text = text[front.end():]
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
    return LoadedDocument(type="md", sections=_Reader(offset, text.split("\n")).read(tokens), title=title or None)


class _Reader:
    """Walks markdown-it's flat token stream, keeping the heading path and the open list/table."""

    def __init__(self, offset: int, lines: list[str]) -> None:
        self.offset = offset  # lines taken off the top (front matter)
        self.lines = lines
        self.path: list[tuple[int, str]] = []
        self.sections: list[Section] = []
        self.block: list[str] = []  # lines of the list or table being read
        self.block_map: list[int] | None = None
        self.depth = 0  # list nesting and table: inside, blocks gather into self.block
        self.markers: list[list[int]] = []  # per open list: [ordered (0/1), next number]
        self.marker = ""  # for the next paragraph of a list item
        self.row: list[str] = []

    def read(self, tokens: list[Token]) -> tuple[Section, ...]:
        for i, token in enumerate(tokens):
            kind = token.type
            if kind == "heading_open":
                level = int(token.tag[1:])
                title = one_line(_inline(tokens[i + 1]))
                self.path = [(lvl, t) for lvl, t in self.path if lvl < level]
                if title:
                    self.path.append((level, title))
            elif kind in ("bullet_list_open", "ordered_list_open", "table_open"):
                self._open(token)
                if kind != "table_open":
                    self.markers.append([int(kind == "ordered_list_open"), int(token.attrGet("start") or 1)])
            elif kind in ("bullet_list_close", "ordered_list_close", "table_close"):
                if kind != "table_close":
                    self.markers.pop()
                self._close()
            elif kind == "list_item_open":
                ordered, number = self.markers[-1]
                self.marker = f"{number}. " if ordered else "- "
                self.markers[-1][1] += 1
            elif kind == "paragraph_open":
                self._emit(_inline(tokens[i + 1]), token)
            elif kind in ("fence", "code_block"):
                fence = "```" if "```" not in token.content else "~~~~"
                code = token.content.rstrip("\n")
                self._emit(f"{fence}{token.info.strip()}\n{code}\n{fence}" if kind == "fence" else code, token)
            elif kind == "html_block":
                self._emit(one_line(_TAG.sub(" ", token.content)), token)
            elif kind == "tr_open":
                self.row = []
            elif kind == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
                self.row.append(one_line(_inline(token)))
            elif kind == "tr_close":
                self.block.append(" | ".join(self.row))
        return tuple(self.sections)

    def _open(self, token: Token) -> None:
        if self.depth == 0:
            self.block, self.block_map = [], token.map
        self.depth += 1

    def _close(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self._add("\n".join(line for line in self.block if line.strip()), self.block_map)

    def _emit(self, text: str, token: Token) -> None:
        if not text.strip():
            return
        if self.depth == 0:
            self._add(text, token.map)
            return
        indent = "  " * max(len(self.markers) - 1, 0)
        marker, self.marker = self.marker, ""
        lead = indent + (marker or " " * 2)
        lines = text.split("\n")
        self.block.append(lead + lines[0])
        self.block.extend(indent + "  " + line if line else line for line in lines[1:])

    def _add(self, text: str, lines: list[int] | None) -> None:
        location = ""
        if lines:
            first, end = lines
            while end > first + 1 and not self.lines[end - 1].strip():  # a list's map takes the blank line after it
                end -= 1
            location = lines_location(first + 1 + self.offset, end + self.offset)
        self.sections.append(Section(text=text, headings=tuple(t for _, t in self.path), location=location))


def _inline(token: Token) -> str:
    """An inline token's text: markup dropped, code spans in backticks, hard breaks as newlines."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type == "text":
            parts.append(child.content)
        elif child.type == "code_inline":
            parts.append(f"`{child.content}`")
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)
