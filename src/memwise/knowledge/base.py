"""`KnowledgeBase`: documents ingested once into the same storage as memory, searched by recall.

Every method is async once, with a blocking twin (`memwise._sync.sync_twin`). What is stored and
how a version is swapped in: `memwise.storage.documents`; one source's ingestion:
`knowledge/ingest.py`; ranking: `knowledge/search.py`; what an agent is shown:
`knowledge/context.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from memwise._sync import sync_twin
from memwise.errors import InvalidInputError
from memwise.knowledge import context as block
from memwise.knowledge.ingest import ORPHAN_AGE, IngestReport, Outcome, Settings, ingest
from memwise.knowledge.search import KnowledgeChunk, search
from memwise.knowledge.sources import TEXT, Source, file, literal, looks_like_path, resolve
from memwise.knowledge.sources import check as check_sources
from memwise.memory.recall import check_query
from memwise.recall.dense import VectorIndex, resolve_embedder
from memwise.storage.checks import check_count
from memwise.storage.documents import check_name, owner_id
from memwise.storage.records import KnowledgeDocument

Progress = Callable[[int, int, str], Any]  # (done, total, source name)
#: Sources read and parsed at once during an ingestion.
PARALLEL = 4
MAX_LIMIT = 100


class KnowledgeBase:
    """`KnowledgeBase(sources, storage=None, name=None, description=None, topics=None, embedder=None, ...)`.

    `sources`: a path, a folder (its files with a known extension, recursively), a literal string,
    or a list of those. `storage`: any memwise storage; the one Memory uses works (documents and
    chunks sit beside sessions); None keeps everything in this process. `name` (letters, digits,
    '_', '-') tells knowledge bases in one store apart and names the agent tool
    `search_<name>`; None derives one from the sources. `embedder`: None (lexical search), "local"
    (MiniLM, `memwise[embed]`), a pydantic-ai Embedder or embedding model string. `loaders`: extra
    or replacement readers by extension ({".rst": fn(bytes, name) -> LoadedDocument}).
    `context_tokens`: the budget of the block a `Task(context=[kb])` gets; `context_chunks` how
    many chunks it considers. `metadata` is stored on the documents of the configured sources.
    Ingestion happens on `setup()` or on first use.
    """

    def __init__(
        self,
        sources: Any = None,
        storage: Any = None,
        name: str | None = None,
        description: str | None = None,
        topics: Sequence[str] | None = None,
        embedder: Any = None,
        *,
        chunk_tokens: int = 400,
        chunk_overlap: int = 50,
        loaders: Mapping[str, Any] | None = None,
        max_file_bytes: int = 50_000_000,
        context_tokens: int = 2_000,
        context_chunks: int = 8,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        from memwise.knowledge.loaders import KNOWN_EXTENSIONS

        self.settings = Settings(check_count(chunk_tokens, "chunk_tokens"), check_count(chunk_overlap, "chunk_overlap", allow_zero=True),
                                 check_count(max_file_bytes, "max_file_bytes"), _loaders(loaders))
        if self.settings.chunk_overlap >= self.settings.chunk_tokens:
            raise InvalidInputError("chunk_overlap must be smaller than chunk_tokens")
        self.extensions = frozenset(KNOWN_EXTENSIONS) | frozenset(self.settings.loaders)
        check_sources(sources)  # folders are listed, files read, when it ingests
        self.given = sources
        self.name = check_name(name) if name is not None else _derived_name(sources)
        self.description = _optional_text(description, "description")
        if topics is not None and (isinstance(topics, str) or not all(isinstance(t, str) for t in topics)):
            raise InvalidInputError("topics must be a list of strings")
        self.topics = list(topics or [])
        self.metadata = dict(metadata or {})
        self.context_tokens = check_count(context_tokens, "context_tokens")
        self.context_chunks = check_count(context_chunks, "context_chunks")
        if storage is None:
            from memwise.storage.in_memory import InMemoryStorage

            storage = InMemoryStorage()
        if not callable(getattr(storage, "awrite_chunks", None)):
            raise InvalidInputError(f"storage must be a memwise storage, got {type(storage).__name__}")
        self.storage = storage
        embedder = resolve_embedder(embedder)
        self.vectors = VectorIndex(embedder) if embedder is not None else None
        self._ready = False
        self._tool: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"KnowledgeBase(name={self.name!r})"

    # ------------------------------------------------------------------ ingestion
    async def setup_async(self, *, progress: Progress | None = None) -> IngestReport:
        """Ingest the sources: new ones are added, changed ones replaced, unchanged ones skipped
        (by content hash). A source that fails is recorded with status "error"; the rest go on."""
        sources = resolve(self.given, self.extensions)
        known = await self._known()
        report = await self._ingest(sources, known, progress, metadata=self.metadata or None)
        self._ready = True
        return report

    setup = sync_twin(setup_async)

    async def add_async(self, sources: Any, *, progress: Progress | None = None,
                        description: str | None = None, metadata: dict[str, Any] | None = None) -> IngestReport:
        """Ingest more sources (paths, folders, strings) into this knowledge base."""
        added = resolve(sources, self.extensions)
        if not added:
            raise InvalidInputError("add() needs at least one source")
        known = await self._known()
        return await self._ingest(added, known, progress, description=_optional_text(description, "description"),
                                  metadata=dict(metadata) if metadata is not None else None)

    add = sync_twin(add_async)

    async def remove_async(self, source: Any) -> int:
        """Remove documents: a file, every file under a folder, a literal string, or a document id;
        return how many were removed."""
        keys = _removal_keys(source, self.extensions)
        documents = await self.documents_async()
        gone = [d for d in documents if d.id == source or d.source in keys or _under(d.source, keys)]
        results = await asyncio.gather(*(self.storage.adelete_document(d.id) for d in gone))
        return sum(results)

    remove = sync_twin(remove_async)

    async def refresh_async(self, *, progress: Progress | None = None) -> IngestReport:
        """Bring everything up to date: re-ingest changed files (the configured sources and those
        added before, in any process), add new files of the configured folders, remove documents
        whose file is gone, and delete chunks a crashed ingestion left behind."""
        known = await self._known()
        report = IngestReport()
        sources = {s.key: s for s in resolve(self.given, self.extensions)}
        for document in known.values():
            if document.source.startswith(TEXT):
                continue
            if Path(document.source).is_file():
                sources.setdefault(document.source, file(document.source))
            else:  # gone: its document goes, even when it was named among the sources
                sources.pop(document.source, None)
                report.removed += await self.storage.adelete_document(document.id)
        await self._ingest(list(sources.values()), known, progress, report=report, metadata=self.metadata or None)
        await self._delete_orphans()
        self._ready = True
        return report

    refresh = sync_twin(refresh_async)

    async def documents_async(self) -> list[KnowledgeDocument]:
        """The registry: every document of this knowledge base, most recently updated first."""
        return list(await self.storage.alist_documents(self.name))

    documents = sync_twin(documents_async)

    async def _known(self) -> dict[str, KnowledgeDocument]:
        """The registry by source key."""
        return {d.source: d for d in await self.documents_async()}

    async def _ingest(self, sources: list[Source], known: dict[str, KnowledgeDocument], progress: Progress | None,
                      *, report: IngestReport | None = None, description: str | None = None,
                      metadata: dict[str, Any] | None = None) -> IngestReport:
        report = report if report is not None else IngestReport()
        embed, model_name = self._embedding()
        gate = asyncio.Semaphore(PARALLEL)
        done = 0

        async def one(source: Source) -> None:
            nonlocal done
            async with gate:
                outcome: Outcome = await ingest(self.storage, self.name, source, self.settings, known.get(source.key),
                                                report, embed=embed, model_name=model_name,
                                                description=description, metadata=metadata)
            if outcome != "failed":
                setattr(report, outcome, getattr(report, outcome) + 1)
            done += 1
            if progress is not None:
                progress(done, len(sources), source.name)

        await asyncio.gather(*(one(source) for source in sources))
        return report

    def _embedding(self) -> tuple[Any, str | None]:
        if self.vectors is None:
            return None, None
        embedder = self.vectors.embedder
        one_at_a_time = asyncio.Lock()  # sources are parsed side by side, embedded one by one: a
        # local model's memory grows with every batch in flight (measured: 5.8 GB with four)

        async def embed(texts: Sequence[str]) -> Any:
            async with one_at_a_time:
                return (await embedder.embed_documents(list(texts))).embeddings

        return embed, self.vectors.model_name

    async def _delete_orphans(self) -> None:
        """Chunks sessions no document points at, older than ORPHAN_AGE: a crashed ingestion's."""
        pointed = {d.chunks_session for d in await self.documents_async()}
        cutoff, cursor = time.time() - ORPHAN_AGE, None
        while True:
            page = await self.storage.alist_sessions(user_id=owner_id(self.name), limit=500, cursor=cursor)
            for session in page.items:
                if session.session_id not in pointed and session.created_at < cutoff:
                    await self.storage.adelete_chunks(session.session_id)
            cursor = page.next_cursor
            if cursor is None:
                return

    async def _ensure_setup(self) -> None:
        if not self._ready:
            await self.setup_async()

    # ------------------------------------------------------------------ search
    async def aquery(self, query: str, limit: int = 5) -> list[KnowledgeChunk]:
        """The `limit` chunks best matching `query`, best first, each with its source, location
        and score. Ingests the sources first if this object has not yet."""
        check_query(query)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
        await self._ensure_setup()
        return await search(self.storage, self.name, query, limit, dense=self.vectors)

    query = sync_twin(aquery)
    query_async = aquery

    async def context_async(self, query: str, max_tokens: int | None = None) -> str:
        """The block a task about `query` gets: the best chunks within `max_tokens` (default
        `context_tokens`), each headed by its [source]; "" when nothing matches."""
        chunks = await self.aquery(query, self.context_chunks)
        return block.render(self.name, self.description, chunks, max_tokens or self.context_tokens)

    context = sync_twin(context_async)

    def as_tool(self) -> Callable[..., Any]:
        """The tool `search_<name>(query)` an agent gets for `tools=[kb]` (the same function each time)."""
        if self._tool is None:
            self._tool = _search_tool(self)
        return self._tool


def _search_tool(kb: KnowledgeBase) -> Callable[..., Any]:
    async def search_knowledge(query: str) -> str:
        if not query.strip():
            from pydantic_ai import ModelRetry

            raise ModelRetry(f"search_{kb.name} needs a query: a few keywords or a question")
        found = await kb.context_async(query)
        return found or f"Nothing in the knowledge base {kb.name!r} matches that."

    about = f" ({kb.description})" if kb.description else ""
    topics = f" Topics: {', '.join(kb.topics)}." if kb.topics else ""
    search_knowledge.__name__ = search_knowledge.__qualname__ = f"search_{kb.name.replace('-', '_')}"
    search_knowledge.__doc__ = (
        f"Search the knowledge base {kb.name!r}{about} for `query` (a few keywords or a question).{topics} "
        "Returns the best matching passages, each headed by its [source]."
    )
    return search_knowledge


# ==================================================================== argument checks
def _derived_name(sources: Any) -> str:
    items = sources if isinstance(sources, (list, tuple)) else [sources]
    digest = hashlib.sha256("\0".join(sorted(str(item) for item in items)).encode()).hexdigest()[:10]
    return f"kb_{digest}"


def _removal_keys(source: Any, extensions: frozenset[str]) -> set[str]:
    if isinstance(source, Path):
        source = str(source)
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(f"remove() takes a path, a string or a document id, not {source!r}")
    if looks_like_path(source, extensions) or Path(source).expanduser().exists():
        return {str(Path(source).expanduser().resolve())}
    return {literal(source).key}


def _under(source: str, keys: set[str]) -> bool:
    return any(source.startswith(key.rstrip("/") + "/") for key in keys if not key.startswith(TEXT))


def _optional_text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _loaders(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError("loaders must be a dict of extension -> function(bytes, name) -> LoadedDocument")
    checked = {}
    for extension, loader in value.items():
        if not isinstance(extension, str) or not extension.startswith(".") or not callable(loader):
            raise InvalidInputError(f"loaders: {extension!r} must be an extension like '.rst' mapped to a function")
        checked[extension.lower()] = loader
    return checked
