"""Knowledge bases: documents ingested into the same storage as memory and searched by recall."""

from __future__ import annotations

from memwise.knowledge.base import KnowledgeBase
from memwise.knowledge.document import Chunk, DocumentError, LoadedDocument, Section
from memwise.knowledge.ingest import IngestReport
from memwise.knowledge.search import KnowledgeChunk
from memwise.storage.records import KnowledgeDocument

__all__ = ["Chunk", "DocumentError", "IngestReport", "KnowledgeBase", "KnowledgeChunk", "KnowledgeDocument",
           "LoadedDocument", "Section"]
