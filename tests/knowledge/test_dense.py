"""A knowledge base with an embedder: chunks are embedded once, at ingestion, their vectors stored
beside them; a query finds a chunk that shares no word with it; replaced versions' vectors go."""

from __future__ import annotations

from memwise import KnowledgeBase
from memwise.storage import SqliteStorage
from memwise.storage.documents import owner_id
from tests.memory.test_recall_dense import ConceptModel


def test_chunks_are_embedded_at_ingestion_and_found_by_meaning(tmp_path):
    storage = SqliteStorage(db_file=str(tmp_path / "kb.db"))
    page = tmp_path / "pets.txt"
    page.write_text("Our puppy chews shoes.")
    model = ConceptModel()
    kb = KnowledgeBase([page, "The sea is cold in May."], storage=storage, name="pets", embedder=model)
    kb.setup()
    assert sorted(model.embedded) == ["Our puppy chews shoes.", "The sea is cold in May."]
    assert [c.name for c in kb.query("dog", limit=1)] == ["pets.txt"]  # no word in common
    assert len(storage.read_vectors("test:concepts", user_id=owner_id("pets"))) == 2
    kb.setup()
    again = KnowledgeBase([page], storage=storage, name="pets", embedder=ConceptModel())
    assert again.query("ocean", limit=1)[0].name == "The sea is cold in May."
    assert again.vectors.embedder.model.embedded == []  # stored vectors, read, never embedded again
    page.write_text("Our hound sleeps.")
    kb.refresh()
    vectors = storage.read_vectors("test:concepts", user_id=owner_id("pets"))
    assert len(vectors) == 2 and {sid for sid, _, _ in vectors} == {d.chunks_session for d in kb.documents()}
