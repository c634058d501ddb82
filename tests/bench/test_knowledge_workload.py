"""The knowledge workload's scoring (bench/workloads/knowledge.py), on a fake knowledge base: no
documentation set, no storage, no model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.common import Section, Unavailable
from bench.workloads import knowledge


def test_hit_at_counts_only_the_first_k_and_any_expected_page() -> None:
    returned = ["library/os.html", "faq/library.html", "glossary.html"]
    assert knowledge.hit_at(returned, ["library/os.html"], 1)
    assert not knowledge.hit_at(returned, ["glossary.html"], 2)
    assert knowledge.hit_at(returned, ["glossary.html"], 3)
    assert knowledge.hit_at(returned, ["nowhere.html", "faq/library.html"], 2)
    assert not knowledge.hit_at([], ["library/os.html"], 5)


def test_page_of_is_relative_to_the_root_and_tells_index_pages_apart(tmp_path: Path) -> None:
    assert knowledge.page_of(str(tmp_path / "faq" / "index.html"), tmp_path) == "faq/index.html"
    assert knowledge.page_of(str(tmp_path / "index.html"), tmp_path) == "index.html"
    assert knowledge.page_of("text:abc123", tmp_path) == "text:abc123"


def test_the_questions_file_is_well_formed() -> None:
    questions = knowledge.read_questions()
    assert len(questions) == 50
    assert len({q.text for q in questions}) == 50
    for q in questions:
        assert 1 <= len(q.pages) <= 2 and all(p.endswith(".html") and not p.startswith("/") for p in q.pages)


def test_a_missing_documentation_set_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="index.html"):
        knowledge.html_root(str(tmp_path))


@dataclass
class Report:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Hit:
    source: str
    text: str


@dataclass
class Doc:
    chunk_count: int


class FakeKnowledgeBase:
    """The KnowledgeBase API the workload uses: a page is a hit when its text holds a word of the question."""

    def __init__(self, sources: list[str]) -> None:
        self.sources = sources
        self.texts: dict[str, str] = {}

    def setup(self) -> Report:
        if self.texts:
            return Report(unchanged=len(self.texts))
        self.texts = {s: Path(s).read_text() for s in self.sources}
        return Report(added=len(self.texts))

    def documents(self) -> list[Doc]:
        return [Doc(2) for _ in self.texts]

    def query(self, text: str, limit: int = 5) -> list[Hit]:
        words = set(text.lower().split())
        found = [s for s, body in sorted(self.texts.items()) if words & set(body.lower().split())]
        return [Hit(s, self.texts[s]) for s in found[:limit]]


def test_measure_scores_hits_and_times_both_setups(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "index.html").write_text("welcome")
    (tmp_path / "library" / "heapq.html").write_text("smallest items priority")
    (tmp_path / "library" / "zipfile.html").write_text("archive compressed")
    (tmp_path / "library" / "__main__.html").write_text("toplevel")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "skip.html").write_text("smallest archive")  # not a page
    questions_file = tmp_path / "questions.json"
    questions_file.write_text(json.dumps([
        {"question": "the smallest items", "pages": ["library/heapq.html"]},
        {"question": "welcome archive", "pages": ["library/zipfile.html"]},  # index.html ranks first
        {"question": "nothing matches", "pages": ["library/zipfile.html"]},
        {"question": "a page not in this set", "pages": ["library/missing.html"]},  # left out
    ]))
    data = knowledge.corpus(knowledge.html_root(str(tmp_path)), knowledge.read_questions(questions_file), quick=False)
    assert [knowledge.page_of(str(f), data.root) for f in data.files] == [
        "index.html", "library/__main__.html", "library/heapq.html", "library/zipfile.html"]
    assert len(data.questions) == 3

    row = knowledge.measure(FakeKnowledgeBase, data)

    assert (row["pages"], row["chunks"], row["added"], row["second_unchanged"]) == (4, 8, 4, 4)
    assert row["hit1"] == pytest.approx(1 / 3) and row["hit5"] == pytest.approx(2 / 3)
    assert row["misses_at_5"] == ["nothing matches"]
    assert row["ranked"][1] == ["index.html", "library/zipfile.html"]
    section = Section("knowledge", "8.")
    section.rows.append({"backend": "fake", "config": "lexical", **row})
    lines: list[str] = []
    knowledge.render(lines.append, section)
    table = [line for line in lines if line.startswith("| fake | lexical | 4 |")]
    assert len(table) == 1 and "| **PASS** | 0 | **0.33** | **0.67** |" in table[0]
    assert any("Not in the first 5" in line and "nothing matches" in line for line in lines)


def test_quick_mode_keeps_the_questions_its_pages_can_answer(tmp_path: Path) -> None:
    for i in range(100):
        (tmp_path / f"p{i:03}.html").write_text("x")
    (tmp_path / "index.html").write_text("x")
    questions = [knowledge.Question(f"q{i}", (f"p{i:03}.html",)) for i in range(0, 100, 2)]
    data = knowledge.corpus(tmp_path, questions, quick=True)
    pages = {knowledge.page_of(str(f), tmp_path) for f in data.files}
    assert len(pages) == knowledge.QUICK_PAGES
    assert {f"p{i:03}.html" for i in range(0, 60, 2)} <= pages  # the first 30 questions' pages
    assert data.questions and all(set(q.pages) & pages for q in data.questions)
    assert len(data.questions) >= knowledge.QUICK_PAGES // 2
