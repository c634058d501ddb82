"""The splitter: chunks follow the document's structure, fit the token budget (plus the documented
heading slack), overlap inside a section, cite where they come from, and are deterministic."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memwise.errors import InvalidInputError
from memwise.knowledge.chunking import HEADING_MAX_CHARS, HEADING_SLACK_TOKENS, split
from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders import load_bytes, load_text
from memwise.memory.budget import estimate_tokens

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()


def prose(sentences: int, seed: int = 0) -> str:
    """Deterministic sentences of 4-12 words, numbered so every one is distinct."""
    out = []
    for i in range(sentences):
        n = 4 + (i * 7 + seed) % 9
        words = [WORDS[(i * 3 + j * 5 + seed) % len(WORDS)] for j in range(n)]
        out.append(f"S{seed}x{i} " + " ".join(words) + ".")
    return " ".join(out)


def body(chunk_text: str) -> str:
    """A chunk's text after its heading line, if it has one."""
    return chunk_text.split("\n\n", 1)[1] if "\n\n" in chunk_text and not chunk_text.startswith("S") else chunk_text


def doc(*sections: Section) -> LoadedDocument:
    return LoadedDocument(type="text", sections=sections)


def test_heading_path_on_the_first_line() -> None:
    chunks = split(doc(Section("Some text.", ("Tutorial", "Lists"), "#lists")))
    assert [(c.text, c.location, c.tokens) for c in chunks] == [("Tutorial > Lists\n\nSome text.", "#lists", 7)]
    assert split(doc(Section("Plain."))) == split(doc(Section("Plain.", ())))
    assert split(doc(Section("Plain.")))[0].text == "Plain."


def test_sections_with_different_headings_never_share_a_chunk() -> None:
    big = prose(20)  # ~ 180 tokens: not tiny
    chunks = split(doc(Section(big, ("A", "one")), Section(big.replace("S0", "T0"), ("A", "two"))), chunk_tokens=400)
    assert [c.text.split("\n")[0] for c in chunks] == ["A > one", "A > two"]


def test_tiny_sections_merge_under_the_same_top_heading_only() -> None:
    document = load_text("# Top\nIntro.\n## Stacks\nUse append.\n## Queues\nUse deque.\n### Deque\nFast.\n# Other\nEnd.")
    chunks = split(document, chunk_tokens=100)
    assert [c.text for c in chunks] == [
        "Top\n\nIntro.\n\nStacks\nUse append.\n\nQueues\nUse deque.\n\nQueues > Deque\nFast.", "Other\n\nEnd."]
    assert [c.location for c in chunks] == ["", ""]  # literal text has no lines to cite


def test_a_tiny_section_does_not_merge_into_a_big_one() -> None:
    document = doc(Section("Short intro.", ("Top",)), Section(prose(20), ("Top", "Big")))
    chunks = split(document, chunk_tokens=400)
    assert chunks[0].text == "Top\n\nShort intro." and chunks[1].text.startswith("Top > Big\n\n")


def test_consecutive_sections_with_the_same_path_are_packed_and_cite_their_span() -> None:
    data = "\n\n".join(f"Paragraph {i} " + prose(2, i) for i in range(30)).encode()
    chunks = split(load_bytes(data, "notes.txt"), chunk_tokens=100, overlap_tokens=0)
    assert len(chunks) > 3
    for chunk in chunks:
        numbers = [int(n) for n in re.findall(r"Paragraph (\d+)", chunk.text)]
        first, last = numbers[0] * 2 + 1, numbers[-1] * 2 + 1  # paragraph i is on line 2i+1
        assert chunk.location == (f"line {first}" if first == last else f"lines {first}-{last}")


def test_pdf_pages_merge_into_a_page_span() -> None:
    document = LoadedDocument("pdf", (Section("One.", location="page 1"), Section("Two.", location="page 2")))
    assert [(c.text, c.location) for c in split(document)] == [("One.\n\nTwo.", "pages 1-2")]


def test_a_giant_paragraph_is_cut_at_sentences_with_overlap() -> None:
    text = prose(120)
    chunks = split(doc(Section(text, ("H",), "#h")), chunk_tokens=100, overlap_tokens=25)
    assert len(chunks) > 5
    for before, after in zip(chunks, chunks[1:], strict=False):
        a, b = body(before.text), body(after.text)
        shared = max(n for n in range(0, len(b) + 1) if a.endswith(b[:n]))
        assert 0 < shared <= 25 * 4
        assert b[:shared].endswith(".") and re.match(r"S0x\d+ ", b)  # whole sentences
        assert after.location == "#h"
    joined = body(chunks[0].text) + "".join(body(c.text)[max(n for n in range(len(body(c.text)) + 1) if body(p.text).endswith(body(c.text)[:n])):]
                                            for p, c in zip(chunks, chunks[1:], strict=False))
    assert joined.replace(" ", "") == text.replace(" ", "")


def test_line_cut_paragraphs_cite_their_lines() -> None:
    data = "\n".join(f"row {i}: " + prose(1, i) for i in range(1, 61)).encode()  # one 60-line paragraph
    chunks = split(load_bytes(data, "log.txt"), chunk_tokens=60, overlap_tokens=0)
    for chunk in chunks:
        rows = [int(n) for n in re.findall(r"^row (\d+):", chunk.text, re.MULTILINE)]
        assert chunk.location == f"lines {rows[0]}-{rows[-1]}"


def test_a_giant_word_is_cut_anywhere() -> None:
    chunks = split(doc(Section("x" * 1000)), chunk_tokens=50, overlap_tokens=10)
    assert [len(c.text) for c in chunks] == [200] * 5 and all(c.tokens == 50 for c in chunks)


def test_a_long_heading_path_is_cut_and_bounded() -> None:
    headings = tuple(f"Heading number {i} of a very deep document" for i in range(20))
    chunks = split(doc(Section(prose(50), headings)), chunk_tokens=40, overlap_tokens=5)
    for chunk in chunks:
        line = chunk.text.split("\n")[0]
        assert len(line) == HEADING_MAX_CHARS and line.endswith("…")
        assert chunk.tokens <= 40 + HEADING_SLACK_TOKENS


def test_deterministic() -> None:
    document = load_text("# A\n" + prose(200) + "\n\n## B\n" + prose(30, 1))
    assert split(document, chunk_tokens=80, overlap_tokens=20) == split(document, chunk_tokens=80, overlap_tokens=20)


@pytest.mark.parametrize(("chunk_tokens", "overlap_tokens"), [(0, 0), (-5, 0), (10, 10), (10, 11), (10, -1),
                                                              (10.0, 1), ("10", 1), (True, 0), (10, None)])
def test_arguments_are_validated(chunk_tokens: object, overlap_tokens: object) -> None:
    with pytest.raises(InvalidInputError):
        split(doc(Section("x")), chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)  # type: ignore[arg-type]


def test_empty_sections_give_no_chunks() -> None:
    assert split(doc(Section(" \n\n "), Section(""))) == []


# -- properties

_text = st.lists(st.one_of(st.sampled_from(WORDS + ["x" * 300, "end.", "\n", "\n\n", "  ", "Ünï.", "```"]),
                           st.text(min_size=1, max_size=30)), max_size=120).map(" ".join)
_headings = st.lists(st.sampled_from(["Intro", "A", "B", ("A very long heading " * 8).strip()]), max_size=4).map(tuple)
_sections = st.lists(st.builds(Section, _text, _headings, st.sampled_from(["", "page 1", "lines 1-3", "#x"])), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_sections, st.integers(1, 300), st.data())
def test_size_bound(sections: list[Section], chunk_tokens: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, chunk_tokens - 1))
    chunks = split(LoadedDocument("text", tuple(sections)), chunk_tokens=chunk_tokens, overlap_tokens=overlap)
    for chunk in chunks:
        assert chunk.tokens == estimate_tokens(chunk.text)
        assert chunk.tokens <= chunk_tokens + HEADING_SLACK_TOKENS
        assert chunk.text.strip()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Section, _text), max_size=6), _headings, st.integers(1, 300), st.data())
def test_within_chunk_tokens_when_the_heading_line_is_at_most_half(
        sections: list[Section], headings: tuple[str, ...], chunk_tokens: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, chunk_tokens - 1))
    document = LoadedDocument("text", tuple(Section(s.text, headings) for s in sections))
    chunks = split(document, chunk_tokens=chunk_tokens, overlap_tokens=overlap)
    line = " > ".join(headings)
    line = line if len(line) <= HEADING_MAX_CHARS else line[:HEADING_MAX_CHARS - 1] + "…"
    prefix = line + "\n\n" if headings else ""
    for chunk in chunks:
        assert chunk.text.startswith(prefix)
        if estimate_tokens(prefix) <= chunk_tokens // 2:
            assert chunk.tokens <= chunk_tokens
        else:
            assert chunk.tokens <= chunk_tokens + HEADING_SLACK_TOKENS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(Section, _text), max_size=6), st.integers(1, 200))
def test_without_overlap_nothing_is_lost_or_repeated(sections: list[Section], chunk_tokens: int) -> None:
    chunks = split(LoadedDocument("txt", tuple(sections)), chunk_tokens=chunk_tokens, overlap_tokens=0)
    squash = re.compile(r"\s+")
    assert squash.sub("", "".join(c.text for c in chunks)) == squash.sub("", "".join(s.text for s in sections))
