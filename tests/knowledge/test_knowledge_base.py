"""KnowledgeBase on every backend, through its blocking and its async methods: ingestion once by
content hash, changed sources replaced whole, removals, failures recorded per document, several
knowledge bases in one store, two processes ingesting at once, and searches during a swap."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from memwise.errors import InvalidInputError
from memwise.knowledge import KnowledgeBase
from memwise.storage.documents import owner_id
from tests.support.fixtures import recipe  # noqa: F401 (the shared per-backend fixture)

ROOT = Path(__file__).resolve().parents[2]
ASYNC_NAMES = {"query": "aquery"}


class Kb:
    """A KnowledgeBase seen through its sync methods (run in a thread) or its async ones."""

    def __init__(self, kb: KnowledgeBase, mode: str) -> None:
        self.kb, self.mode = kb, mode

    def __getattr__(self, name: str) -> Any:
        if self.mode == "async":
            return getattr(self.kb, ASYNC_NAMES.get(name, name + "_async"))
        method = getattr(self.kb, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@pytest.fixture
def storage(recipe):
    built = recipe.build()
    yield built
    built.close()


@pytest.fixture(params=["sync", "async"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "guide").mkdir(parents=True)
    (folder / "lists.txt").write_text("Lists\n\nA list is sorted in place by list.sort().\n\nsorted() returns a new list.")
    (folder / "guide" / "dicts.md").write_text("# Dicts\n\nA dict maps keys to values; dict.get takes a default.")
    (folder / ".hidden.txt").write_text("never indexed: hidden files are skipped")
    (folder / "picture.png").write_bytes(b"\x89PNG not a document")
    return folder


def make(storage, mode: str, sources: Any, name: str = "docs", **options: Any) -> Kb:
    return Kb(KnowledgeBase(sources, storage=storage, name=name, **options), mode)


async def test_setup_ingests_once_and_queries_cite_their_source(storage, mode, docs):
    kb = make(storage, mode, [docs, "The office is closed on public holidays."])
    first = await kb.setup()
    assert (first.added, first.updated, first.unchanged, first.failed) == (3, 0, 0, [])
    again = await kb.setup()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    found = await kb.query("how do I sort a list", limit=2)
    assert found and found[0].name == "lists.txt" and "sort" in found[0].text
    assert found[0].source == str((docs / "lists.txt").resolve()) and found[0].score > 0
    assert (await kb.query("public holidays", limit=1))[0].source.startswith("text:")
    names = sorted(d.name for d in await kb.documents())
    assert names == ["The office is closed on public holidays.", "dicts.md", "lists.txt"]
    assert all(d.status == "ready" and d.chunk_count >= 1 and d.content_hash for d in await kb.documents())
    assert await kb.query("zebra quantum") == []


async def test_a_changed_file_replaces_its_chunks_and_refresh_drops_removed_files(storage, mode, docs):
    kb = make(storage, mode, docs)
    await kb.setup()
    (docs / "lists.txt").write_text("Arrays\n\nNumPy arrays are not lists.")
    report = await kb.refresh()
    assert (report.updated, report.unchanged) == (1, 1)
    assert await kb.query("sorted in place") == []  # the old version is gone whole
    assert (await kb.query("numpy arrays"))[0].name == "lists.txt"
    (docs / "guide" / "dicts.md").unlink()
    (docs / "new.txt").write_text("Sets keep unique items.")
    report = await kb.refresh()
    assert (report.removed, report.added) == (1, 1)
    assert sorted(d.name for d in await kb.documents()) == ["lists.txt", "new.txt"]
    sessions = storage.list_sessions(user_id=owner_id("docs"), limit=100).items
    assert sorted(s.session_id for s in sessions) == sorted(d.chunks_session for d in await kb.documents())


async def test_add_and_remove_files_folders_and_text(storage, mode, docs, tmp_path):
    kb = make(storage, mode, None)
    extra = tmp_path / "extra.md"
    extra.write_text("# Tuples\n\nTuples are immutable sequences.")
    assert (await kb.add([str(extra), "Literal: the moon is far away."])).added == 2
    assert (await kb.query("immutable tuples"))[0].name == "extra.md"
    assert await kb.remove(extra) == 1
    assert await kb.query("immutable tuples") == []
    await kb.add(docs)
    assert await kb.remove(str(docs)) == 2  # every file under the folder
    assert await kb.remove("Literal: the moon is far away.") == 1
    assert await kb.documents() == []
    with pytest.raises(InvalidInputError):
        await kb.add([])


async def test_a_source_that_fails_is_recorded_and_the_others_go_on(storage, mode, docs, tmp_path):
    (docs / "broken.txt").write_bytes(b"\x00\x01\x02 binary")
    (docs / "empty.txt").write_text("   \n\n  ")
    missing = tmp_path / "nowhere" / "gone.txt"
    kb = make(storage, mode, [docs, str(missing)])
    report = await kb.setup()
    assert report.added == 2
    failed = dict(report.failed)
    assert set(failed) == {str((docs / "broken.txt").resolve()), str((docs / "empty.txt").resolve()), str(missing.resolve())}
    rows = {d.name: d for d in await kb.documents()}
    assert rows["broken.txt"].status == "error" and rows["broken.txt"].status_message
    assert rows["gone.txt"].status == "error" and rows["gone.txt"].chunks_session is None
    assert rows["lists.txt"].status == "ready"
    versions = {d.name: d.version for d in await kb.documents()}
    assert len((await kb.setup()).failed) == 3
    assert {d.name: d.version for d in await kb.documents()} == versions  # known failures are not rewritten
    (docs / "broken.txt").write_text("Fixed now: generators yield values lazily.")
    assert (await kb.setup()).updated == 1
    assert (await kb.query("generators lazily"))[0].name == "broken.txt"


async def test_a_failing_new_version_keeps_the_last_good_one_searchable(storage, mode, docs):
    kb = make(storage, mode, docs, max_file_bytes=200)
    await kb.setup()
    (docs / "lists.txt").write_text("Lists " + "and more words " * 40)  # over the size limit now
    report = await kb.setup()
    assert len(report.failed) == 1 and "lists.txt" in report.failed[0][1]
    row = next(d for d in await kb.documents() if d.name == "lists.txt")
    assert row.status == "error" and row.chunks_session is not None
    assert (await kb.query("sorted in place"))[0].name == "lists.txt"


async def test_knowledge_bases_in_one_store_are_separate(storage, mode, docs, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Sorting hats sort students into houses.")
    a, b = make(storage, mode, docs, name="a"), make(storage, mode, other, name="b")
    await a.setup()
    await b.setup()
    assert {c.name for c in await a.query("sort")} == {"lists.txt"}
    assert {c.name for c in await b.query("sort")} == {"other.txt"}
    assert await b.remove(other) == 1 and len(await a.documents()) == 2


async def test_query_ingests_on_first_use_and_checks_its_input(storage, mode, docs):
    kb = make(storage, mode, docs)
    assert (await kb.query("dict default"))[0].name == "dicts.md"  # no setup() before
    for bad in ("", "  ", None):
        with pytest.raises(InvalidInputError):
            await kb.query(bad)
    with pytest.raises(InvalidInputError):
        await kb.query("x", limit=0)


def test_constructor_checks_its_arguments(storage):
    for kwargs in ({"name": "has space"}, {"chunk_tokens": 0}, {"chunk_tokens": 50, "chunk_overlap": 50},
                   {"max_file_bytes": -1}, {"loaders": {"rst": len}}, {"topics": "one"}, {"storage": object()}):
        with pytest.raises(InvalidInputError):
            KnowledgeBase(["text"], **{"storage": storage, **kwargs})
    with pytest.raises(InvalidInputError):
        KnowledgeBase([""], storage=storage)
    assert KnowledgeBase(["one text"], storage=storage).name == KnowledgeBase(["one text"], storage=storage).name


async def test_custom_loaders_read_other_formats(storage, mode, tmp_path):
    from memwise.knowledge import LoadedDocument, Section

    def rst(data: bytes, name: str) -> LoadedDocument:
        title, _, body = data.decode().partition("\n====\n")
        return LoadedDocument("rst", (Section(body.strip(), (title,), "line 3"),), title=title)

    page = tmp_path / "page.rst"
    page.write_text("Walrus\n====\nThe walrus operator assigns inside expressions.")
    kb = make(storage, mode, tmp_path, loaders={".rst": rst})
    assert (await kb.setup()).added == 1
    found = (await kb.query("walrus operator"))[0]
    assert (found.name, found.location) == ("page.rst", "line 3") and "Walrus" in found.text


def _spawn_ingest(recipe, folder: Path, go: Path) -> subprocess.Popen:
    spec = json.dumps(dataclasses.asdict(recipe))
    return subprocess.Popen([sys.executable, "-m", "tests.support.workers", "ingest", spec, str(folder), str(go)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_two_processes_ingesting_at_once_leave_one_copy(recipe, storage, tmp_path):
    if not recipe.shared:
        pytest.skip("this backend keeps its store inside one process")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"doc{i}.txt").write_text(f"Document {i} talks about topic{i} and shared words.\n\n" * 5)
    go = tmp_path / "go"
    children = [_spawn_ingest(recipe, folder, go) for _ in range(2)]
    go.write_text("go")
    outputs = [child.communicate(timeout=240)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    kb = KnowledgeBase(folder, storage=storage, name="shared")
    documents = kb.documents()
    assert len(documents) == 12 and all(d.status == "ready" for d in documents)
    sessions = storage.list_sessions(user_id=owner_id("shared"), limit=100).items
    assert sorted(s.session_id for s in sessions) == sorted(d.chunks_session for d in documents)  # one copy each
    for i in (0, 7):
        found = kb.query(f"topic{i}", limit=50)
        (document,) = {chunk.document_id for chunk in found}
        assert len(found) == next(d.chunk_count for d in documents if d.id == document)  # no chunk twice


def versions_in(chunks: list) -> set[str]:
    return {found for chunk in chunks for found in re.findall(r"\bv\d+\b", chunk.text)}


def test_searches_during_replacements_see_one_whole_version(storage, tmp_path):
    page = tmp_path / "page.txt"

    def version(n: int) -> str:
        return "\n\n".join(f"Paragraph {p} of the page mentions marmots, version v{n}." for p in range(6))

    page.write_text(version(0))
    kb = KnowledgeBase(page, storage=storage, name="swap", chunk_tokens=20, chunk_overlap=0)
    kb.setup()
    seen: list[set[str]] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            found = kb.query("marmots", limit=50)
            seen.append(versions_in(found))

    reader = threading.Thread(target=search)
    reader.start()
    try:
        for n in range(1, 6):
            page.write_text(version(n))
            assert kb.refresh().updated == 1
    finally:
        done.set()
        reader.join(timeout=60)
    assert seen and all(len(versions) == 1 for versions in seen), [v for v in seen if len(v) != 1][:3]
    assert versions_in(kb.query("marmots", limit=50)) == {"v5"}


async def test_metadata_and_descriptions_are_stored_on_documents(storage, mode, docs, tmp_path):
    kb = make(storage, mode, docs, metadata={"team": "docs"})
    await kb.setup()
    extra = tmp_path / "extra.txt"
    extra.write_text("Generators yield values lazily.")
    await kb.add(extra, description="notes", metadata={"team": "notes"})
    rows = {d.name: d for d in await kb.documents()}
    assert rows["lists.txt"].metadata == {"team": "docs"} and rows["lists.txt"].description is None
    assert (rows["extra.txt"].metadata, rows["extra.txt"].description) == ({"team": "notes"}, "notes")
