"""Knowledge-base documents in the storage: the registry records and the chunks they point at.

A document is a record of kind "document" (key: its id; the knowledge base's owner id, the chunks
session and the status in the indexed columns). Its chunks are the messages of a session of their
own, owned by the knowledge base's owner id (`owner_id(kb)`, "kb:<name>"), so every backend
stores and searches them with the primitives and the index it already has: lexical search is
`search_messages(user_id=owner_id(kb))`, vectors are `put_vectors` on the chunks session.

Writing a new version of a document: `write_chunks` (a fresh session, every chunk in one atomic
append), then `put_document` pointing at it (a compare-and-set), then `delete_chunks` of the
old session. A reader keeps only hits in the session its document points at, so it sees one
version, whole. Knowledge sessions carry agent_id KNOWLEDGE_AGENT: `prune` keeps them (they age
with their sources, not with the clock) and `memwise export` leaves them out (sources are
ingested again instead, like vectors are embedded again).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from memwise.errors import InvalidInputError, VersionConflict
from memwise.storage.checks import check_count, check_id
from memwise.storage.codec import dumps, loads, record_body, record_from_body
from memwise.storage.contract import RawMessage, RawRecord, RecordQuery
from memwise.storage.plan import Plan, gather
from memwise.storage.records import KnowledgeDocument, Session
from memwise.storage.search import all_records
from memwise.storage.search_text import search_text_of_body

if TYPE_CHECKING:
    from memwise.storage.plan import T

KIND = "document"
#: The agent_id of every chunks session.
KNOWLEDGE_AGENT = "memwise.knowledge"
#: A knowledge base's name: it is part of ids, tool names and CLI arguments.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_COLUMNS = ("id", "version", "updated_at", "status", "chunks_session")
_PAGE = 500


def owner_id(knowledge_base_id: str) -> str:
    """The user id a knowledge base's chunks sessions (and documents) are stored under."""
    return f"kb:{knowledge_base_id}"


def document_of(chunks_session: str) -> str:
    """The document id a chunks session was written for ("kb:<name>/<document id>/<nonce>")."""
    return chunks_session.rsplit("/", 2)[-2] if chunks_session.count("/") >= 2 else ""


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInputError(
            f"a knowledge base name must be 1-64 letters, digits, '_' or '-' (starting with a letter or digit), not {name!r}"
        )
    return name


def chunk_body(text: str) -> str:
    """A chunk as a stored message: a user prompt without a timestamp, so what search indexes of
    it (storage/search_text.py) is exactly `text`, with no date in front."""
    return dumps({"kind": "request", "parts": [{"part_kind": "user-prompt", "content": text}]}, "chunk")


class Documents:
    """Knowledge-base documents and their chunks (mixed into `Storage`)."""

    if TYPE_CHECKING:
        def _sync(self, plan: Plan[T], *, write: bool) -> T: ...
        async def _async(self, plan: Plan[T], *, write: bool) -> T: ...
        def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]: ...
        def _put_record(self, record: RawRecord, expected_version: int) -> Plan[bool]: ...
        def _delete_record(self, kind: str, key: str) -> Plan[bool]: ...
        def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]: ...
        def _append_messages(self, session_id: str, messages: list[RawMessage]) -> Plan[list[int] | None]: ...
        def _p_create_session(self, session_id: str, user_id: str | None, agent_id: str | None, metadata: Any,
                              exist_ok: bool) -> Plan[Session]: ...
        def _p_delete_session(self, session_id: str, user_id: str | None) -> Plan[bool]: ...

    def get_documents(self, document_ids: list[str]) -> dict[str, KnowledgeDocument]:
        """The registered documents among `document_ids` (absent ones are left out), in one batch."""
        return self._sync(self._p_get_documents(_ids(document_ids)), write=False)

    async def aget_documents(self, document_ids: list[str]) -> dict[str, KnowledgeDocument]:
        return await self._async(self._p_get_documents(_ids(document_ids)), write=False)

    def list_documents(self, knowledge_base_id: str) -> list[KnowledgeDocument]:
        """Every document of a knowledge base, most recently updated first."""
        return self._sync(self._p_list_documents(check_name(knowledge_base_id)), write=False)

    async def alist_documents(self, knowledge_base_id: str) -> list[KnowledgeDocument]:
        return await self._async(self._p_list_documents(check_name(knowledge_base_id)), write=False)

    def list_knowledge_bases(self) -> list[str]:
        """The names of the knowledge bases with at least one document (also one whose every source
        failed: documents are listed, not chunks), sorted."""
        return self._sync(self._p_list_knowledge_bases(), write=False)

    async def alist_knowledge_bases(self) -> list[str]:
        return await self._async(self._p_list_knowledge_bases(), write=False)

    def put_document(self, document: KnowledgeDocument, *, expected_version: int) -> KnowledgeDocument:
        """Register or update a document if the stored version is `expected_version` (0: none yet),
        else VersionConflict."""
        return self._sync(self._p_put_document(_checked(document), expected_version), write=True)

    async def aput_document(self, document: KnowledgeDocument, *, expected_version: int) -> KnowledgeDocument:
        return await self._async(self._p_put_document(_checked(document), expected_version), write=True)

    def delete_document(self, document_id: str) -> bool:
        """Unregister a document and delete its chunks; False when it was not registered."""
        return self._sync(self._p_delete_document(check_id(document_id, "document_id")), write=True)

    async def adelete_document(self, document_id: str) -> bool:
        return await self._async(self._p_delete_document(check_id(document_id, "document_id")), write=True)

    def write_chunks(self, knowledge_base_id: str, document_id: str, texts: list[str]) -> str:
        """Store a document version's chunks (one message each, in one atomic append) in a new
        session; return its id, for `put_document(chunks_session=...)`."""
        return self._sync(self._p_write_chunks(*_chunks(knowledge_base_id, document_id, texts)), write=True)

    async def awrite_chunks(self, knowledge_base_id: str, document_id: str, texts: list[str]) -> str:
        return await self._async(self._p_write_chunks(*_chunks(knowledge_base_id, document_id, texts)), write=True)

    def delete_chunks(self, chunks_session: str) -> bool:
        """Delete a chunks session (an old version, or one a lost race wrote)."""
        return self._sync(self._p_delete_session(check_id(chunks_session, "chunks_session"), None), write=True)

    async def adelete_chunks(self, chunks_session: str) -> bool:
        return await self._async(self._p_delete_session(check_id(chunks_session, "chunks_session"), None), write=True)

    def count_access(self, document_ids: list[str]) -> None:
        """Add one to `access_count` of each document (a search returned it)."""
        self._sync(self._p_count_access(_ids(document_ids)), write=True)

    async def acount_access(self, document_ids: list[str]) -> None:
        await self._async(self._p_count_access(_ids(document_ids)), write=True)

    # ---------------------------------------------------------------- plans
    def _p_get_documents(self, ids: list[str]) -> Plan[dict[str, KnowledgeDocument]]:
        raws = yield from gather(*(self._get_record(KIND, key) for key in ids))
        return {raw.key: _from_raw(raw) for raw in raws if raw is not None}

    def _p_list_documents(self, name: str) -> Plan[list[KnowledgeDocument]]:
        raws = yield from all_records(self, RecordQuery(KIND, user_id=owner_id(name), limit=_PAGE))
        return [_from_raw(raw) for raw in raws]

    def _p_list_knowledge_bases(self) -> Plan[list[str]]:
        raws = yield from all_records(self, RecordQuery(KIND, agent_id=KNOWLEDGE_AGENT, limit=_PAGE))
        prefix = owner_id("")
        return sorted({raw.user_id.removeprefix(prefix) for raw in raws if raw.user_id and raw.user_id.startswith(prefix)})

    def _p_put_document(self, document: KnowledgeDocument, expected_version: int) -> Plan[KnowledgeDocument]:
        now = time.time()
        stored = replace(document, created_at=document.created_at or now, updated_at=now,
                         version=check_count(expected_version, "expected_version", allow_zero=True) + 1)
        if not (yield from self._put_record(_to_raw(stored), expected_version)):
            current = yield from self._get_record(KIND, document.id)
            raise VersionConflict(f"document {document.id!r}", expected_version, current.version if current else None)
        return stored

    def _p_delete_document(self, document_id: str) -> Plan[bool]:
        raw = yield from self._get_record(KIND, document_id)
        if raw is None:
            return False
        deleted = yield from self._delete_record(KIND, document_id)  # first: searches stop showing it
        if raw.session_id:
            yield from self._p_delete_session(raw.session_id, None)
        return deleted

    def _p_write_chunks(self, name: str, document_id: str, texts: list[str]) -> Plan[str]:
        session_id = f"{owner_id(name)}/{document_id}/{uuid.uuid4().hex[:12]}"
        yield from self._p_create_session(session_id, owner_id(name), KNOWLEDGE_AGENT, {"document_id": document_id}, False)
        now = time.time()
        rows = []
        for text in texts:
            body = chunk_body(text)
            rows.append(RawMessage(0, None, True, now, body, search_text_of_body(body)))
        yield from self._append_messages(session_id, rows)
        return session_id

    def _p_count_access(self, ids: list[str]) -> Plan[None]:
        for key in ids:
            for _ in range(5):  # a busy document may lose a few races; a count is not worth more
                raw = yield from self._get_record(KIND, key)
                if raw is None:
                    break
                document = _from_raw(raw)
                document.access_count += 1
                record = _to_raw(replace(document, version=raw.version + 1))
                record.updated_at = raw.updated_at  # a read is not an update: the listing order stays
                if (yield from self._put_record(record, raw.version)):
                    break


def _to_raw(document: KnowledgeDocument) -> RawRecord:
    body = dumps(record_body(document, _COLUMNS), f"document {document.id!r}")
    return RawRecord(KIND, document.id, document.version, document.updated_at, body,
                     user_id=owner_id(document.knowledge_base_id), agent_id=KNOWLEDGE_AGENT,
                     session_id=document.chunks_session, status=document.status)


def _from_raw(raw: RawRecord) -> KnowledgeDocument:
    what = f"document {raw.key!r}"
    return record_from_body(KnowledgeDocument, loads(raw.body, what), what, id=raw.key, version=raw.version,
                            updated_at=raw.updated_at, status=raw.status, chunks_session=raw.session_id)


# ==================================================================== argument checks
def _ids(value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"document_ids must be a list of ids, not {type(value).__name__}")
    return list(dict.fromkeys(check_id(item, "document id") for item in value))


def _checked(document: Any) -> KnowledgeDocument:
    if not isinstance(document, KnowledgeDocument):
        raise InvalidInputError(f"expected a KnowledgeDocument, got {type(document).__name__}")
    check_id(document.id, "document.id")
    check_name(document.knowledge_base_id)
    if document.status not in ("ready", "error"):
        raise InvalidInputError(f"document.status must be 'ready' or 'error', not {document.status!r}")
    if document.chunks_session is not None and document_of(document.chunks_session) != document.id:
        raise InvalidInputError("document.chunks_session must be a session write_chunks made for this document")
    return document


def _chunks(name: Any, document_id: Any, texts: Any) -> tuple[str, str, list[str]]:
    check_name(name)
    check_id(document_id, "document_id")
    if "/" in document_id:
        raise InvalidInputError(f"document_id must not contain '/', got {document_id!r}")
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)) or not texts:
        raise InvalidInputError("texts must be a non-empty list of strings")
    if not all(isinstance(text, str) and text.strip() for text in texts):
        raise InvalidInputError("every chunk text must be a non-empty string")
    return name, document_id, list(texts)
