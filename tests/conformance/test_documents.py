"""Knowledge-base documents: the registry (compare-and-set), chunks searchable by the owner id,
a swap that never shows two versions, deletes that take the chunks, and prune / export that
leave knowledge alone."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from memwise.errors import InvalidInputError, VersionConflict
from memwise.storage.documents import KNOWLEDGE_AGENT, owner_id
from memwise.storage.records import KnowledgeDocument
from memwise.storage.transfer import export_store


def doc(doc_id: str, session: str | None, **fields) -> KnowledgeDocument:
    return KnowledgeDocument(doc_id, "kb1", f"{doc_id}.md", f"/docs/{doc_id}.md", chunks_session=session, **fields)


async def hits(api, query: str, kb: str = "kb1") -> list[tuple[str, str]]:
    return [(h.session_id, h.text) for h in await api.search_messages(query, user_id=owner_id(kb))]


async def test_chunks_are_searchable_by_the_owner_id_and_exact(api):
    session = await api.write_chunks("kb1", "d1", ["Lists > Sorting\n\nsorted() returns a new list", "tuples are immutable"])
    assert session.startswith("kb:kb1/d1/")
    found = await hits(api, "sorted list")
    assert found == [(session, "Lists > Sorting\n\nsorted() returns a new list")]  # no date in front
    assert [m.seq for m in await api.read_messages(session)] == [1, 2]
    assert (await api.get_session(session)).agent_id == KNOWLEDGE_AGENT
    assert await api.search_messages("sorted", user_id="kb:other") == []


async def test_registry_round_trip_and_compare_and_set(api):
    session = await api.write_chunks("kb1", "d1", ["alpha"])
    stored = await api.put_document(doc("d1", session, chunk_count=1, locations=["page 1"], metadata={"k": [1]}),
                                    expected_version=0)
    assert stored.version == 1 and stored.created_at > 0
    got = (await api.get_documents(["d1", "missing"]))
    assert list(got) == ["d1"] and got["d1"] == stored
    with pytest.raises(VersionConflict):
        await api.put_document(doc("d1", session), expected_version=0)
    await api.put_document(doc("d1", session, status="error", status_message="bad"), expected_version=1)
    assert [(d.id, d.status, d.version) for d in await api.list_documents("kb1")] == [("d1", "error", 2)]
    assert await api.list_documents("kb2") == []


async def test_a_swap_shows_one_version_and_deletes_the_old(api):
    old = await api.write_chunks("kb1", "d1", ["version one about apples"])
    await api.put_document(doc("d1", old), expected_version=0)
    new = await api.write_chunks("kb1", "d1", ["version two about apples"])
    registered = await api.get_documents(["d1"])
    assert registered["d1"].chunks_session == old  # written, not yet swapped in: readers follow the record
    await api.put_document(doc("d1", new), expected_version=1)
    assert await api.delete_chunks(old)
    assert await hits(api, "apples") == [(new, "version two about apples")]
    assert await api.read_messages(old) == []


async def test_delete_document_takes_its_chunks_and_vectors(api):
    session = await api.write_chunks("kb1", "d1", ["pears and plums"])
    await api.put_vectors(session, "m", [(1, [1.0, 0.0])])
    await api.put_document(doc("d1", session), expected_version=0)
    assert await api.delete_document("d1") is True
    assert await api.delete_document("d1") is False
    assert await hits(api, "pears") == []
    assert await api.get_session(session) is None and await api.read_vectors("m", user_id=owner_id("kb1")) == []


async def test_access_counts_add_up_under_concurrency(api):
    session = await api.write_chunks("kb1", "d1", ["x"])
    await api.put_document(doc("d1", session), expected_version=0)
    before = (await api.get_documents(["d1"]))["d1"]

    async def touch(_: int) -> None:
        await api.count_access(["d1"])

    await api.concurrently(4, touch)
    after = (await api.get_documents(["d1"]))["d1"]
    assert 1 <= after.access_count <= 4  # best effort: a count may lose a race, never goes wrong way
    assert after.updated_at == before.updated_at  # a read does not reorder the registry


async def test_prune_keeps_knowledge_and_export_leaves_it_out(api, storage):
    session = await api.write_chunks("kb1", "d1", ["kept"])
    await api.put_document(doc("d1", session), expected_version=0)
    await api.create_session("chat", user_id="u1")
    await asyncio.sleep(0.02)
    counts = await api.prune(time.time())
    assert counts["sessions"] == 1 and await api.get_session(session) is not None
    out = io.StringIO()
    await asyncio.to_thread(export_store, storage, out)
    assert "kb:kb1" not in out.getvalue()


async def test_bad_input_is_refused_before_writing(api):
    with pytest.raises(InvalidInputError):
        await api.write_chunks("bad name", "d1", ["x"])
    with pytest.raises(InvalidInputError):
        await api.write_chunks("kb1", "d/1", ["x"])
    with pytest.raises(InvalidInputError):
        await api.write_chunks("kb1", "d1", [])
    with pytest.raises(InvalidInputError):
        await api.write_chunks("kb1", "d1", ["  "])
    with pytest.raises(InvalidInputError):
        await api.put_document(doc("d1", "kb:kb1/other/abc"), expected_version=0)
    with pytest.raises(InvalidInputError):
        await api.put_document(doc("d1", None, status="weird"), expected_version=0)
    with pytest.raises(InvalidInputError):
        await api.get_documents("d1")
    assert await api.list_documents("kb1") == []


async def test_forgetting_a_knowledge_base_owner_forgets_its_documents_too(api):
    session = await api.write_chunks("kb1", "d1", ["to be forgotten"])
    await api.put_document(doc("d1", session), expected_version=0)
    await api.forget_user(owner_id("kb1"))
    assert await api.list_documents("kb1") == [] and await hits(api, "forgotten") == []
