"""HTML (.html, .htm) with BeautifulSoup on lxml.

Page chrome is dropped before reading: scripts, styles, navigation, asides, and Sphinx's sidebar,
relation bars, footer and heading permalinks ("¶"). A page's header and footer elements are chrome
too, unless they sit inside the main content (an article's own header holds its title). When the
page marks its main content (`[role=main]`, Sphinx's `div.body`, `<main>`, `<article>`, tried in
that order), only that is read. h1-h6 set the heading path, each heading starting a section
located by its anchor ("#more-on-lists", the heading's id or its section's); `<pre>` is kept
verbatim, table rows read "a | b | c", list items "- item". The title is the page's <title>.
The walk is iterative, so deeply nested markup cannot overflow the stack."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import fail, missing_extra, one_line

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

#: Chrome, found in one walk of the tree (CSS selectors walk it once each: 60% of the time spent on
#: a Sphinx page): these tags, (tag, class) pairs and roles.
_CHROME_TAGS = frozenset({"script", "style", "noscript", "template", "nav", "aside", "form", "button"})
_CHROME_CLASSES = frozenset({("div", "sphinxsidebar"), ("div", "related"), ("div", "footer"), ("a", "headerlink")})
_CHROME_ROLES = frozenset({"navigation", "search"})
#: The main content, by preference: [role=main], Sphinx's div.body, <main>, <article>.
_MAIN = ("role=main", "div.body", "main", "article")
_HEADING = re.compile(r"h[1-6]")
_BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "header", "hr", "li", "main", "ol", "p", "section",
    "summary", "ul", "tbody", "thead", "tfoot", "tr", "td", "th"})
#: Pushed after a block's children: its end, where the inline text read so far is a paragraph.
_END = object()
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


def load_html(data: bytes, name: str) -> LoadedDocument:
    try:
        from bs4 import BeautifulSoup, FeatureNotFound
    except ImportError as exc:
        raise missing_extra("beautifulsoup4 and lxml", name) from exc
    if b"\x00" in data:
        raise fail(name, "binary data (NUL bytes), not HTML")
    try:
        soup = BeautifulSoup(data, "lxml")
    except FeatureNotFound as exc:  # bs4 is there, lxml is not
        raise missing_extra("lxml", name) from exc
    title = one_line(soup.title.get_text()) if soup.title else ""
    root = _main(soup)
    return LoadedDocument(type="html", sections=_Reader().read(root), title=title or None)


def _main(soup: BeautifulSoup) -> Tag:
    found: dict[str, Tag] = {}
    chrome: list[Tag] = []
    for tag in soup.find_all(True):
        kind = _kind(tag)
        if kind == "chrome":
            chrome.append(tag)
        elif kind is not None:
            found.setdefault(kind, tag)
    for tag in chrome:
        if not tag.decomposed:  # not inside chrome removed before it
            tag.decompose()
    main = next((found[kind] for kind in _MAIN if kind in found and not found[kind].decomposed), None)
    for tag in soup.find_all(("header", "footer")):
        if main is None or main not in tag.parents:
            tag.decompose()
    if main is not None and main.get_text().strip():
        return main
    return soup.body or soup


def _kind(tag: Tag) -> str | None:
    """"chrome", one of _MAIN's kinds, or None."""
    name = tag.name
    role = tag.get("role")
    if name in _CHROME_TAGS or role in _CHROME_ROLES:
        return "chrome"
    classes = tag.get("class") or ()
    if any((name, c) in _CHROME_CLASSES for c in classes):
        return "chrome"
    if role == "main":
        return "role=main"
    if name == "div" and "body" in classes:
        return "div.body"
    return name if name in ("main", "article") else None


class _Reader:
    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.location = ""
        self.blocks: list[str] = []
        self.inline: list[str] = []
        self.sections: list[Section] = []

    def read(self, root: Tag) -> tuple[Section, ...]:
        from bs4.element import NavigableString, PreformattedString, Tag

        stack: list[object] = [root]
        while stack:
            node = stack.pop()
            if node is _END:
                self._flush_inline()
                continue
            if isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                    self.inline.append(_SPACES.sub(" ", str(node)))
                continue
            if not isinstance(node, Tag):
                continue
            tag = node.name
            if _HEADING.fullmatch(tag):
                self._heading(node)
            elif tag == "pre":
                self._block(node.get_text().strip("\n").rstrip())
            elif tag == "table":
                self._block(_table(node))
            elif tag == "br":
                self.inline.append("\n")
            elif tag == "img" and node.get("alt"):
                self.inline.append(f" {node.get('alt')} ")
            else:
                if tag in _BLOCKS:
                    self._flush_inline()
                    stack.append(_END)
                    if tag == "li":
                        self.inline.append("- ")
                stack.extend(reversed(node.contents))
        self._end_section()
        return tuple(self.sections)

    def _heading(self, node: Tag) -> None:
        self._end_section()
        level = int(node.name[1])
        title = one_line(node.get_text(" "))
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level]
        if title:
            self.path.append((level, title))
        anchor = node.get("id") or (node.parent.get("id") if node.parent is not None else None)
        self.location = f"#{anchor}" if isinstance(anchor, str) and anchor else ""

    def _block(self, text: str) -> None:
        self._flush_inline()
        if text.strip():
            self.blocks.append(text)

    def _flush_inline(self) -> None:
        lines = (line.strip() for line in "".join(self.inline).split("\n"))
        text = "\n".join(line for line in lines if line)
        self.inline = []
        if text and text != "-":
            self.blocks.append(text)

    def _end_section(self) -> None:
        self._flush_inline()
        if self.blocks:
            text = "\n\n".join(self.blocks)
            self.sections.append(Section(text=text, headings=tuple(t for _, t in self.path), location=self.location))
        self.blocks = []


def _table(table: Tag) -> str:
    rows = []
    for tr in table.find_all("tr"):
        cells = [one_line(cell.get_text(" ")) for cell in tr.find_all(("td", "th"), recursive=False)]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
