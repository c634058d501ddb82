"""list_knowledge_bases: the names a store's documents belong to (what `memwise kb list` shows)."""

from __future__ import annotations

from memwise.storage.records import KnowledgeDocument


async def test_list_knowledge_bases_names_each_one_once_sorted(api):
    assert await api.list_knowledge_bases() == []
    await api.create_session("s1", user_id="kb:not-a-kb")  # a user whose id looks like an owner id
    for kb, doc, chunks in [("zeta", "d1", True), ("alpha", "d2", True), ("zeta", "d3", True), ("failed", "d4", False)]:
        session = await api.write_chunks(kb, doc, ["some text"]) if chunks else None
        status = "ready" if chunks else "error"  # a knowledge base whose only source failed has no chunks
        await api.put_document(KnowledgeDocument(doc, kb, f"{doc}.md", f"/tmp/{doc}.md", status=status,
                                                 chunks_session=session), expected_version=0)
    assert await api.list_knowledge_bases() == ["alpha", "failed", "zeta"]
    await api.delete_document("d2")
    assert await api.list_knowledge_bases() == ["failed", "zeta"]
