"""Ingesting one source: read, hash, skip when unchanged, else parse, split, store, swap in.

A new version is written beside the old one (`write_chunks`: a fresh session, one atomic append;
its vectors when an embedder is set), then the document record is pointed at it with one
compare-and-set, then the old chunks are deleted. Searches follow the record, so they see the
old version or the new, whole. Two processes ingesting the same source at once both write, one
wins the compare-and-set, and the other deletes what it wrote: one copy stays. A process that
dies between the write and the swap leaves a session no record points at; `refresh` deletes
such sessions once they are older than ORPHAN_AGE (so an ingestion in flight is never cut).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from memwise.errors import VersionConflict
from memwise.knowledge.document import Chunk, DocumentError
from memwise.knowledge.sources import Source
from memwise.storage.records import KnowledgeDocument

logger = logging.getLogger("memwise.knowledge")

Outcome = Literal["added", "updated", "unchanged", "failed"]
#: Seconds after which a chunks session no document points at is taken for a crashed ingestion's.
ORPHAN_AGE = 600.0
_EMBED_BATCH = 32  # chunks per embedding call: long texts, so small batches keep a local model's memory low
_CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class Settings:
    """How a knowledge base reads and cuts its sources; `fingerprint` is stored on each document,
    so changing the chunking re-ingests unchanged files."""

    chunk_tokens: int
    chunk_overlap: int
    max_file_bytes: int
    loaders: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return f"chunks={self.chunk_tokens}/{self.chunk_overlap}"


@dataclass
class IngestReport:
    """What one setup, add or refresh did: documents added, updated (a changed source), unchanged
    (skipped by content hash), removed, and failed ((source, message) each); `chunks` and `bytes`
    written and read."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    bytes: int = 0

    def __str__(self) -> str:
        text = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed"
        return text + (f", {len(self.failed)} failed" if self.failed else "")


Embed = Callable[[Sequence[str]], Any]  # async: texts -> vectors


async def ingest(storage: Any, kb: str, source: Source, settings: Settings, known: KnowledgeDocument | None,
                 report: IngestReport, *, embed: Embed | None = None, model_name: str | None = None,
                 description: str | None = None, metadata: dict[str, Any] | None = None) -> Outcome:
    """Bring one source's document up to date; failures are recorded on the document, not raised."""
    document_id = source.document_id(kb)
    base = known or KnowledgeDocument(document_id, kb, source.name, source.key)
    base = replace(base, description=description if description is not None else base.description,
                   metadata=metadata if metadata is not None else base.metadata)
    try:
        data = await asyncio.to_thread(_read, source, settings.max_file_bytes, settings.loaders)
    except DocumentError as exc:
        return await _failed(storage, base, known, str(exc), report)
    report.bytes += len(data)
    content_hash = hashlib.sha256(data).hexdigest()
    if _current(known, content_hash, settings):
        return "unchanged"
    if known is not None and known.status == "error" and (known.content_hash, known.settings) == (content_hash, settings.fingerprint):
        report.failed.append((source.key, known.status_message or "failed"))  # the same bytes fail the same way
        return "failed"
    try:
        kind, chunks = await asyncio.to_thread(_parse, source, data, settings)
    except DocumentError as exc:
        tried = replace(base, size=len(data), content_hash=content_hash, settings=settings.fingerprint)
        return await _failed(storage, tried, known, str(exc), report)
    session = await storage.awrite_chunks(kb, document_id, [chunk.text for chunk in chunks])
    try:
        if embed is not None and model_name is not None:
            await _put_vectors(storage, session, chunks, embed, model_name)
        new = replace(base, type=kind, size=len(data), content_hash=content_hash, chunk_count=len(chunks),
                      status="ready", status_message=None, settings=settings.fingerprint, chunks_session=session,
                      locations=[chunk.location for chunk in chunks])
        for _ in range(_CAS_ATTEMPTS):
            try:
                await storage.aput_document(new, expected_version=known.version if known else 0)
                break
            except VersionConflict:  # another process changed it: theirs may be this very version
                known = (await storage.aget_documents([document_id])).get(document_id)
                if _current(known, content_hash, settings):
                    await storage.adelete_chunks(session)
                    return "unchanged"
                new = replace(new, created_at=known.created_at if known else new.created_at)
        else:
            raise VersionConflict(f"document {document_id!r}", known.version if known else 0, None)
    except BaseException:
        await asyncio.shield(storage.adelete_chunks(session))  # nothing points at it: never leave it behind
        raise
    if known is not None and known.chunks_session and known.chunks_session != session:
        await storage.adelete_chunks(known.chunks_session)
    report.chunks += len(chunks)
    return "updated" if known is not None else "added"


def _current(known: KnowledgeDocument | None, content_hash: str, settings: Settings) -> bool:
    return (known is not None and known.status == "ready" and known.content_hash == content_hash
            and known.settings == settings.fingerprint and known.chunks_session is not None)


def _read(source: Source, max_bytes: int, loaders: Mapping[str, Any]) -> bytes:
    from memwise.knowledge.loaders import read_file

    if source.text is not None:
        return source.text.encode("utf-8", "surrogatepass")
    assert source.path is not None
    return read_file(source.path, max_bytes=max_bytes, loaders=loaders or None)


def _parse(source: Source, data: bytes, settings: Settings) -> tuple[str, list[Chunk]]:
    from memwise.knowledge.chunking import split
    from memwise.knowledge.loaders import load_bytes, load_text

    if source.text is not None:
        document = load_text(source.text)
    else:
        document = load_bytes(data, source.name, loaders=settings.loaders or None)
    chunks = split(document, chunk_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)
    if not chunks:
        raise DocumentError(f"{source.name}: no text to index (an empty document?)")
    return document.type, chunks


async def _put_vectors(storage: Any, session: str, chunks: list[Chunk], embed: Embed, model_name: str) -> None:
    rows: list[tuple[int, Sequence[float]]] = []
    for start in range(0, len(chunks), _EMBED_BATCH):
        batch = chunks[start : start + _EMBED_BATCH]
        vectors = await embed([chunk.text for chunk in batch])
        rows += [(start + i + 1, vector) for i, vector in enumerate(vectors)]
    await storage.aput_vectors(session, model_name, rows)


async def _failed(storage: Any, base: KnowledgeDocument, known: KnowledgeDocument | None, message: str,
                  report: IngestReport) -> Outcome:
    """Record the failure on the document; chunks of an earlier good version stay searchable."""
    report.failed.append((base.source, message))
    if known is not None and known.status == "error" and known.status_message == message:
        return "failed"  # recorded already: a setup that meets it again writes nothing
    logger.warning("knowledge base %r: %s", base.knowledge_base_id, message)
    for _ in range(_CAS_ATTEMPTS):
        failed = replace(known or base, status="error", status_message=message, size=base.size,
                         content_hash=base.content_hash, settings=base.settings)
        try:
            await storage.aput_document(failed, expected_version=known.version if known else 0)
            break
        except VersionConflict:
            known = (await storage.aget_documents([base.id])).get(base.id)
    return "failed"
