"""Loaders: every format read into sections with heading paths and locations, and every bad
input turned into a DocumentError that names the file and says why."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from memwise.errors import ConfigurationError, InvalidInputError
from memwise.knowledge.document import DocumentError, LoadedDocument, Section
from memwise.knowledge.loaders import KNOWN_EXTENSIONS, load_bytes, load_text, read_file
from tests.knowledge import fixtures


def texts(document: LoadedDocument) -> str:
    return "\n\n".join(s.text for s in document.sections)


# -- plain text and literal strings


def test_txt_paragraphs_located_by_lines() -> None:
    data = b"First paragraph\ncontinues here.\n\n\nSecond one.\r\n\r\nThird.\n"
    document = load_bytes(data, "notes.txt")
    assert document.type == "txt" and document.title is None
    assert [(s.text, s.location, s.headings) for s in document.sections] == [
        ("First paragraph\ncontinues here.", "lines 1-2", ()), ("Second one.", "line 5", ()), ("Third.", "line 7", ())]


@pytest.mark.parametrize("data", ["café ünïcode".encode("utf-8-sig"), "café ünïcode".encode("utf-16"),
                                  "café ünïcode".encode("cp1252")])
def test_text_encodings_utf8_bom_utf16_bom_and_cp1252_fallback(data: bytes) -> None:
    assert texts(load_bytes(data, "a.txt")) == "café ünïcode"


@pytest.mark.parametrize("data", [b"GIF89a\x00\x01\x02", bytes(range(256)) * 4, b"\x81\x8d\x8f\x90 not cp1252"])
def test_binary_data_is_not_text(data: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^blob\.txt: binary data"):
        load_bytes(data, "blob.txt")


def test_load_text_is_markdownish_with_headings() -> None:
    document = load_text("Preface.\n\n# Guide\nIntro.\n\n## Install\n```sh\n# not a heading\n\npip install x\n```\n\n# Other\nEnd.")
    assert document.type == "text"
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Preface."), (("Guide",), "Intro."),
        (("Guide", "Install"), "```sh\n# not a heading\n\npip install x\n```"), (("Other",), "End.")]


def test_load_text_without_headings_is_paragraphs() -> None:
    document = load_text("one\ntwo\n\nthree")
    assert [(s.headings, s.text, s.location) for s in document.sections] == [((), "one\ntwo", ""), ((), "three", "")]


@pytest.mark.parametrize("text", ["", "  \n\n\t "])
def test_load_text_empty(text: str) -> None:
    with pytest.raises(DocumentError, match="empty"):
        load_text(text)


def test_load_text_wants_a_string() -> None:
    with pytest.raises(InvalidInputError):
        load_text(b"bytes")  # type: ignore[arg-type]


# -- markdown


MARKDOWN = """---
title: "The Guide"
layout: page
---
# Intro

Some *emphasis*, a [link](http://example.com) and `code()`.

## Lists

- one
- two
  - nested
1. first

```python
def f():

    return 1
```

| key | value |
|-----|-------|
| a   | 1     |

# Next
Closing words.
"""


def test_markdown_headings_code_lists_tables_and_lines() -> None:
    document = load_bytes(MARKDOWN.encode(), "guide.MD")
    assert document.type == "md" and document.title == "The Guide"
    got = [(s.headings, s.text, s.location) for s in document.sections]
    assert got == [
        (("Intro",), "Some emphasis, a link and `code()`.", "line 7"),
        (("Intro", "Lists"), "- one\n- two\n  - nested", "lines 11-13"),
        (("Intro", "Lists"), "1. first", "line 14"),
        (("Intro", "Lists"), "```python\ndef f():\n\n    return 1\n```", "lines 16-20"),
        (("Intro", "Lists"), "key | value\na | 1", "lines 22-24"),
        (("Next",), "Closing words.", "line 27"),
    ]


def test_markdown_extension_is_case_insensitive_and_markdown_works() -> None:
    assert load_bytes(b"# A\ntext", "x.markdown").sections == load_bytes(b"# A\ntext", "X.Md").sections


# -- html


UNMARKED_SPHINX_PAGE = (fixtures.SPHINX_PAGE.replace(' role="main"', "").replace('class="body"', 'class="content"')
                        .replace(' role="navigation"', "").replace(' role="search"', ""))


@pytest.mark.parametrize("page", [fixtures.SPHINX_PAGE, UNMARKED_SPHINX_PAGE], ids=["main-marked", "unmarked"])
def test_sphinx_page_reads_only_the_body_without_chrome(page: str) -> None:
    document = load_bytes(page.encode(), "datastructures.html")
    everything = texts(document) + " ".join(h for s in document.sections for h in s.headings)
    for chrome in ("SIDEBAR", "RELATED-BAR", "FOOTER-COPYRIGHT", "SEARCH-GO", "Navigation", "Table of Contents", "¶", "var "):
        assert chrome not in everything
    assert document.title == "5. Data Structures — Python 3.12 documentation"
    assert [(s.headings, s.location) for s in document.sections] == [
        (("5. Data Structures",), "#data-structures"),
        (("5. Data Structures", "5.1. More on Lists"), "#more-on-lists"),
        (("5. Data Structures", "5.1. More on Lists", "5.1.1. Using Lists as Stacks"), "#using-lists-as-stacks")]
    lists = document.sections[1].text
    assert ">>> fruits = ['orange',\n...           'apple']\n\n>>> fruits.count('apple')\n1" in lists  # <pre> verbatim
    assert "list.append(x)\n\nAdd an item to the end of the list." in lists


def test_html_without_main_reads_body_without_nav_header_footer() -> None:
    page = b"""<html><body><header>SITE-HEADER</header><nav>NAV-LINKS</nav>
    <h2>Only</h2><p>Body <b>text</b> here.<br>Next line.</p><ul><li>item</li></ul>
    <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
    <aside>ASIDE</aside><footer>FOOT</footer><!-- COMMENT --></body></html>"""
    document = load_bytes(page, "p.htm")
    assert document.title is None
    assert [(s.headings, s.text) for s in document.sections] == [(("Only",), "Body text here.\nNext line.\n\n- item\n\na | b\n1 | 2")]


def test_html_article_keeps_its_own_header() -> None:
    page = b"<body><header>CHROME</header><article><header><h1>Post</h1></header><p>Words.</p></article></body>"
    document = load_bytes(page, "post.html")
    assert [(s.headings, s.text) for s in document.sections] == [(("Post",), "Words.")]


def test_html_deep_nesting_does_not_overflow() -> None:
    page = b"<body>" + b"<div>" * 2000 + b"<p>deep</p>" + b"</div>" * 2000 + b"</body>"
    assert texts(load_bytes(page, "deep.html")) == "deep"
    deeper = b"<body>" + b"<div>" * 5000 + b"<p>deep</p>" + b"</div>" * 5000 + b"</body>"
    with pytest.raises(DocumentError, match=r"deeper\.html: nested too deeply"):  # never silently cut short
        load_bytes(deeper, "deeper.html")


# -- pdf


def test_pdf_one_section_per_page() -> None:
    document = load_bytes(fixtures.pdf(["Hello page one\nsecond line", None, "Page three (end)"]), "doc.pdf")
    assert document.type == "pdf"
    assert [(s.location, s.text) for s in document.sections] == [
        ("page 1", "Hello page one\nsecond line"), ("page 3", "Page three (end)")]


def test_pdf_without_text_is_a_scan() -> None:
    with pytest.raises(DocumentError, match=r"^scan\.pdf: no text \(a scanned PDF\?\)"):
        load_bytes(fixtures.pdf([None, None]), "scan.pdf")


def test_pdf_encrypted_with_a_password_cannot_be_read() -> None:
    with pytest.raises(DocumentError, match=r"^locked\.pdf: an encrypted PDF"):
        load_bytes(fixtures.encrypted_pdf("secret"), "locked.pdf")


def test_pdf_encrypted_with_owner_password_only_opens() -> None:
    assert texts(load_bytes(fixtures.encrypted_pdf(""), "owner.pdf")) == "Secret plans"


@pytest.mark.parametrize("data", [b"%PDF-1.4\ngarbage garbage", b"not a pdf at all", fixtures.pdf(["Hello"])[:60]])
def test_corrupt_pdf_is_a_document_error(data: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^bad\.pdf: ") as caught:
        load_bytes(data, "bad.pdf")
    assert "pypdf" not in str(caught.value).split(":", 1)[0]


# -- docx


def test_docx_headings_tables_and_title() -> None:
    document = load_bytes(fixtures.docx(), "guide.docx")
    assert document.type == "docx" and document.title == "Field guide"
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Before any heading."), (("Birds",), "Birds have feathers."), (("Birds", "Owls"), "Owls hunt at night."),
        (("Birds", "Owls"), "name | size | call\nbarn owl | 34 cm | screech"), (("Fish",), "Fish have gills.")]
    assert [s.location for s in document.sections] == ["paragraph 1", "paragraph 3", "paragraph 5", "paragraph 6", "paragraph 8"]


def test_corrupt_docx_is_a_document_error() -> None:
    not_a_docx = io.BytesIO()
    with zipfile.ZipFile(not_a_docx, "w") as archive:
        archive.writestr("hello.txt", "hi")
    for data in (b"PK\x03\x04 truncated zip", not_a_docx.getvalue(), fixtures.docx()[:500]):
        with pytest.raises(DocumentError, match=r"^bad\.docx: not a readable \.docx"):
            load_bytes(data, "bad.docx")


# -- csv


def test_csv_rows_as_column_value_lines_in_groups_of_50() -> None:
    rows = ["name,age,city"] + [f"person {i},{i}," for i in range(1, 121)]
    document = load_bytes("\n".join(rows).encode(), "people.csv")
    assert [s.location for s in document.sections] == ["rows 2-51", "rows 52-101", "rows 102-121"]
    assert document.sections[0].text.split("\n")[0] == "name: person 1; age: 1"


def test_csv_sniffs_the_delimiter_and_names_unnamed_columns() -> None:
    document = load_bytes(b"a;b;a\n1;2;3;4\n\n5;;6\n", "semi.csv")
    assert [(s.text, s.location) for s in document.sections] == [("a: 1; b: 2; column 3: 3; column 4: 4\na: 5; column 3: 6", "rows 2-4")]


def test_csv_single_column_falls_back_to_comma() -> None:
    assert texts(load_bytes(b"word\nalpha\nbeta\n", "words.csv")) == "word: alpha\nword: beta"


def test_csv_header_only_has_no_data() -> None:
    with pytest.raises(DocumentError, match=r"^h\.csv: no data rows"):
        load_bytes(b"a,b,c\n", "h.csv")


# -- json


def test_json_flattened_to_paths() -> None:
    data = {"title": "Zoo", "animals": [{"name": "Ada", "tags": ["owl", "bird"]}, {"name": "Bo", "odd key": None}],
            "open": True, "nested": {"empty": {}, "list": []}}
    document = load_bytes(json.dumps(data).encode(), "zoo.json")
    assert document.type == "json"
    assert texts(document) == ("$.title: Zoo\n$.animals[0].name: Ada\n$.animals[0].tags[0]: owl\n$.animals[0].tags[1]: bird\n"
                               '$.animals[1].name: Bo\n$.animals[1]["odd key"]: null\n$.open: true\n$.nested.empty: {}\n$.nested.list: []')
    assert [s.location for s in document.sections] == ["$"]


def test_big_json_is_split_into_members_located_by_path() -> None:
    data = {"items": [{"id": i, "text": "x" * 300} for i in range(5)], "version": 2}
    document = load_bytes(json.dumps(data).encode(), "big.json")
    assert [s.location for s in document.sections] == ["$.items[0]", "$.items[1]", "$.items[2]", "$.items[3]", "$.items[4]", "$.version"]
    assert document.sections[3].text.startswith("$.items[3].id: 3\n$.items[3].text: xxx")


@pytest.mark.parametrize(("data", "why"), [(b"{bad json", "invalid JSON"), (b"{}", "no data"), (b"null", "no data"),
                                           (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|invalid JSON")])
def test_bad_json(data: bytes, why: str) -> None:
    with pytest.raises(DocumentError, match=rf"^x\.json: ({why})"):
        load_bytes(data, "x.json")


# -- extensions and custom loaders


def test_unknown_extension_lists_the_known_ones() -> None:
    with pytest.raises(DocumentError) as caught:
        load_bytes(b"data", "photo.jpeg")
    message = str(caught.value)
    assert message.startswith("photo.jpeg: unknown file type '.jpeg'")
    assert all(extension in message for extension in KNOWN_EXTENSIONS)
    with pytest.raises(DocumentError, match="^Makefile: no file extension"):
        load_bytes(b"all:", "Makefile")


def test_known_extensions() -> None:
    assert KNOWN_EXTENSIONS == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".csv", ".json"}


def test_custom_loaders_extend_and_override() -> None:
    def rst(data: bytes, name: str) -> LoadedDocument:
        return LoadedDocument(type="rst", sections=(Section(text=data.decode().upper(), location=name),))

    loaders = {"rst": rst, ".TXT": rst, ".tar.gz": rst}
    assert load_bytes(b"title", "a.rst", loaders=loaders).sections == (Section("TITLE", (), "a.rst"),)
    assert load_bytes(b"plain", "b.txt", loaders=loaders).type == "rst"
    assert load_bytes(b"x", "c.tar.gz", loaders=loaders).type == "rst"
    assert load_bytes(b"plain", "b.txt").type == "txt"  # the override did not leak


def test_custom_loader_errors_become_document_errors() -> None:
    def broken(data: bytes, name: str) -> LoadedDocument:
        raise ValueError("bad directive")

    with pytest.raises(DocumentError, match=r"^a\.rst: could not be read as \.rst \(ValueError: bad directive\)") as caught:
        load_bytes(b"x", "a.rst", loaders={".rst": broken})
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(DocumentError, match="returned str, not a LoadedDocument"):
        load_bytes(b"x", "a.rst", loaders={".rst": lambda data, name: "oops"})  # type: ignore[dict-item,return-value]
    with pytest.raises(DocumentError, match=r"^a\.rst: no text"):
        load_bytes(b"x", "a.rst", loaders={".rst": lambda data, name: LoadedDocument("rst", (Section("  "),))})


@pytest.mark.parametrize("loaders", [{"": lambda d, n: None}, {".rst": "not callable"}, {3: lambda d, n: None}])
def test_bad_loaders_mapping(loaders: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError):
        load_bytes(b"x", "a.rst", loaders=loaders)


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.pdf", "a.docx", "a.csv", "a.json"])
@pytest.mark.parametrize("data", [b"", b" \n\t\n"])
def test_empty_files(name: str, data: bytes) -> None:
    with pytest.raises(DocumentError, match=rf"^{name}: empty file"):
        load_bytes(data, name)


@pytest.mark.parametrize(("name", "data"), [("a.md", b"<!-- only a comment -->\n"), ("a.html", b"<html><script>x</script></html>"),
                                            ("a.txt", b"\xef\xbb\xbf\n")])
def test_documents_without_text(name: str, data: bytes) -> None:
    with pytest.raises(DocumentError, match=rf"^{name}: no text"):
        load_bytes(data, name)


@pytest.mark.parametrize(("module", "name", "data"), [("pypdf", "a.pdf", b"%PDF"), ("docx", "a.docx", b"PK"),
                                                      ("bs4", "a.html", b"<p>x</p>"), ("markdown_it", "a.md", b"# x")])
def test_a_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, module: str, name: str, data: bytes) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'memwise\[knowledge\]'"):
        load_bytes(data, name)


def test_text_formats_need_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("pypdf", "docx", "bs4", "lxml", "markdown_it"):
        monkeypatch.setitem(sys.modules, module, None)
    assert load_bytes(b"a,b\n1,2", "x.csv").sections and load_bytes(b"[1]", "x.json").sections
    assert load_bytes(b"x", "x.txt").sections and load_text("# h\nx").sections


# -- read_file


def test_read_file_checks_the_type_and_size_before_reading(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(DocumentError, match=r"image\.png: unknown file type '\.png'; known: \.csv, \.docx"):
        read_file(tmp_path / "image.png", max_bytes=4)
    assert read_file(tmp_path / "image.png", max_bytes=4, loaders={".png": lambda data, name: None}) == b"\x89PNG"
    (tmp_path / "notes.txt").write_bytes(b"hello")
    with pytest.raises(DocumentError, match=r"notes\.txt: too large: 5 bytes, over the limit of 4 bytes"):
        read_file(tmp_path / "notes.txt", max_bytes=4)
    with pytest.raises(DocumentError, match="is a directory"):
        read_file(tmp_path, max_bytes=3)
    with pytest.raises(InvalidInputError):
        read_file(tmp_path / "notes.txt", max_bytes=0)


def test_read_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=rf"^{tmp_path}/missing\.txt: no such file"):
        read_file(tmp_path / "missing.txt", max_bytes=10)
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(DocumentError, match=r"folder\.md: is a directory, not a file"):
        read_file(tmp_path / "folder.md", max_bytes=10)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2_000)
    with pytest.raises(DocumentError, match=r"big\.txt: too large: 2,000 bytes, over the limit of 1,000 bytes"):
        read_file(big, max_bytes=1_000)
    odd = tmp_path / "image.png"
    odd.write_bytes(b"\x89PNG")
    with pytest.raises(DocumentError, match=r"image\.png: unknown file type '\.png'; known: \.csv, \.docx"):
        read_file(odd, max_bytes=10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_read_file_refuses_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match="not a regular file"):
        read_file(fifo, max_bytes=10)  # would block forever if it were opened


def test_read_file_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"x")
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: make open fail as it would for anyone else
        import memwise.knowledge.loaders as loaders

        def denied(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(loaders, "open", denied, raising=False)
    with pytest.raises(DocumentError, match=r"secret\.txt: cannot be read: permission denied"):
        read_file(path, max_bytes=10)


@pytest.mark.parametrize("max_bytes", [0, -1, 1.5, True])
def test_read_file_validates_max_bytes(tmp_path: Path, max_bytes: object) -> None:
    with pytest.raises(InvalidInputError):
        read_file(tmp_path / "a.txt", max_bytes=max_bytes)  # type: ignore[arg-type]


def test_html_is_decoded_by_its_declared_charset_else_utf8() -> None:
    latin = b'<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><h1>Men\xfc</h1><p>cr\xe8me</p></body></html>'
    document = load_bytes(latin, "menu.html")
    assert document.title == "Café" and document.sections[0].headings == ("Menü",) and texts(document) == "crème"
    declared = '<?xml version="1.0" encoding="utf-8"?><html><body><p>café</p></body></html>'.encode()
    assert texts(load_bytes(declared, "x.html")) == "café"  # an XML declaration is not in lxml's way
    assert texts(load_bytes("<p>naïve</p>".encode(), "bare.html")) == "naïve"
