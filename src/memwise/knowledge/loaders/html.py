"""HTML (.html, .htm): decoded by BeautifulSoup's UnicodeDammit (the declared charset, else
UTF-8, else cp1252), parsed by lxml.html (5x faster than building BeautifulSoup's tree: 530
python3-doc pages in 5.7 s instead of 28.8 s, the same sections from every page).

Page chrome is dropped before reading: scripts, styles, navigation, asides, and Sphinx's sidebar,
relation bars, footer and heading permalinks ("¶"). A page's header and footer elements are chrome
too, unless they sit inside the main content (an article's own header holds its title). When the
page marks its main content (`[role=main]`, Sphinx's `div.body`, `<main>`, `<article>`, tried in
that order), only that is read. h1-h6 set the heading path, each heading starting a section
located by its anchor ("#more-on-lists", the heading's id or its section's); `<pre>` is kept
verbatim, table rows read "a | b | c", list items "- item". The title is the page's <title>.
The walk is iterative, so deeply nested markup cannot overflow the stack; lxml stops at 2,048
levels, and a page nested deeper is refused rather than read cut short."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import fail, missing_extra, one_line

if TYPE_CHECKING:
    from lxml.html import HtmlElement

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
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")  # lxml takes no encoding declaration in a str


def load_html(data: bytes, name: str) -> LoadedDocument:
    try:
        import lxml.html
        from bs4 import UnicodeDammit
    except ImportError as exc:
        raise missing_extra("beautifulsoup4 and lxml", name) from exc
    if b"\x00" in data:
        raise fail(name, "binary data (NUL bytes), not HTML")
    text = _XML_DECLARATION.sub("", UnicodeDammit(data, is_html=True).unicode_markup or "", count=1)
    if not text.strip():
        raise fail(name, "no text in it (an empty document?)")
    parser = lxml.html.HTMLParser(huge_tree=True)  # nesting up to 2,048 elements (256 without)
    page = lxml.html.document_fromstring(text, parser=parser)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise fail(name, "nested too deeply (over 2,048 elements): its text would be cut short")
    title_tag = page.find(".//title")
    title = one_line(title_tag.text_content()) if title_tag is not None else ""
    root = _main(page)
    return LoadedDocument(type="html", sections=_Reader().read(root), title=title or None)


def _main(page: HtmlElement) -> HtmlElement:
    found: dict[str, HtmlElement] = {}
    chrome: list[HtmlElement] = []
    for tag in page.iter():
        kind = _kind(tag) if isinstance(tag.tag, str) else None
        if kind == "chrome":
            chrome.append(tag)
        elif kind is not None:
            found.setdefault(kind, tag)
    for tag in chrome:
        if tag.getparent() is not None and _attached(tag, page):  # not inside chrome removed before it
            tag.drop_tree()  # its tail (the text after it) stays
    main = next((found[kind] for kind in _MAIN if kind in found and _attached(found[kind], page)), None)
    for tag in list(page.iter("header", "footer")):
        if main is None or main not in tag.iterancestors():
            tag.drop_tree()
    if main is not None and main.text_content().strip():
        return main
    body = page.find("body")
    return body if body is not None else page


def _attached(tag: HtmlElement, page: HtmlElement) -> bool:
    return tag is page or any(ancestor is page for ancestor in tag.iterancestors())


def _kind(tag: HtmlElement) -> str | None:
    """"chrome", one of _MAIN's kinds, or None."""
    name = tag.tag
    role = tag.get("role")
    if name in _CHROME_TAGS or role in _CHROME_ROLES:
        return "chrome"
    classes = (tag.get("class") or "").split()
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

    def read(self, root: HtmlElement) -> tuple[Section, ...]:
        stack: list[Any] = [root]  # elements, strings (text and tails) and _END
        while stack:
            node = stack.pop()
            if node is _END:
                self._flush_inline()
                continue
            if isinstance(node, str):
                self.inline.append(_SPACES.sub(" ", node))
                continue
            tag = node.tag
            if not isinstance(tag, str):  # a comment or a processing instruction (its tail is pushed apart)
                continue
            if _HEADING.fullmatch(tag):
                self._heading(node)
            elif tag == "pre":
                self._block(node.text_content().strip("\n").rstrip())
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
                stack.extend(reversed(_contents(node)))
        self._end_section()
        return tuple(self.sections)

    def _heading(self, node: HtmlElement) -> None:
        self._end_section()
        level = int(node.tag[1])
        title = one_line(_text(node))
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level]
        if title:
            self.path.append((level, title))
        parent = node.getparent()
        anchor = node.get("id") or (parent.get("id") if parent is not None else None)
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


def _table(table: HtmlElement) -> str:
    rows = []
    for tr in table.iter("tr"):
        cells = [one_line(_text(cell)) for cell in tr if cell.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _contents(node: HtmlElement) -> list[object]:
    """A node's children in order, each followed by its tail (the text after it)."""
    items: list[object] = [node.text] if node.text else []
    for child in node:
        items.append(child)
        if child.tail:
            items.append(child.tail)
    return items


def _text(node: HtmlElement) -> str:
    """The text inside a node, its pieces joined by spaces (comments left out)."""
    return " ".join(_strings(node))


def _strings(node: HtmlElement) -> list[str]:
    out: list[str] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item.tag, str):
            stack.extend(reversed(_contents(item)))
        # comments: their text is not the page's (their tail is pushed by the parent)
    return out
