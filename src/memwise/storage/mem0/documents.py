"""Records and messages as mem0 memories: the memory's text (what mem0 search and its dashboard
show), the `mw_` metadata carrying the exact body and the filtered fields, and the checks that
re-apply every filter condition in Python."""

from __future__ import annotations

import json
from typing import Any

from memwise.errors import CorruptRecordError
from memwise.storage.contract import RawMessage, RawRecord

TEXT_LIMIT = 4000  # characters of a message kept as the memory's text (the body is kept whole)


def entity_id(value: str) -> str:
    """A memwise id as a mem0 entity id: mem0 rejects whitespace, and "*" is its wildcard."""
    return "".join(f"%{ord(c):02X}" if c.isspace() or c in "%*" else c for c in value)


def results(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, dict):
        response = response.get("results", [])
    return [item for item in response or [] if isinstance(item, dict)]


def record_text(record: RawRecord) -> str:
    if record.kind == "session":
        text = f"memwise session {record.key}"
        text += f" of user {record.user_id}" if record.user_id else ""
        return text + (f" with agent {record.agent_id}" if record.agent_id else "")
    if record.kind == "run":
        return f"memwise run {record.key} of session {record.session_id}: {record.status}"
    if record.kind == "profile":
        return f"memwise profile of user {record.key}"
    return f"memwise {record.kind} record {record.key}"


def message_text(body: str) -> tuple[str, str]:
    """(mem0 role, text) of a stored pydantic-ai message: its words, so mem0 search finds it."""
    try:
        data = json.loads(body)
    except ValueError:
        return "user", "(unreadable message)"
    if not isinstance(data, dict):
        return "user", "(unreadable message)"
    role = "assistant" if data.get("kind") == "response" else "user"
    pieces: list[str] = []
    for part in data.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind, content = part.get("part_kind"), part.get("content")
        if kind == "tool-call":
            pieces.append(f"[calls {part.get('tool_name')}] {_short(part.get('args'))}")
        elif kind == "tool-return":
            pieces.append(f"[{part.get('tool_name')} returned] {_short(content)}")
        elif isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            pieces += [item for item in content if isinstance(item, str)]
    text = "\n".join(piece for piece in pieces if piece).strip()
    return role, (text[:TEXT_LIMIT] if text else f"({role} message without text)")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 500 else text[:500] + "..."


def record_metadata(namespace: str, record: RawRecord) -> dict[str, Any]:
    return {
        "mw_ns": namespace, "mw_kind": record.kind, "mw_key": record.key, "mw_version": record.version,
        "mw_updated_at": record.updated_at, "mw_user": record.user_id, "mw_agent": record.agent_id,
        "mw_session": record.session_id, "mw_status": record.status, "mw_body": record.body,
    }


def raw_record(item: dict[str, Any]) -> RawRecord:
    meta = item.get("metadata") or {}
    missing: KeyError | None = None
    try:
        raw = RawRecord(
            meta["mw_kind"], meta["mw_key"], meta["mw_version"], meta["mw_updated_at"], meta["mw_body"],
            meta.get("mw_user"), meta.get("mw_agent"), meta.get("mw_session"), meta.get("mw_status"),
        )
        ok = (isinstance(raw.key, str) and isinstance(raw.body, str) and type(raw.version) is int
              and isinstance(raw.updated_at, (int, float)))
    except KeyError as exc:
        ok, missing = False, exc
    if not ok:
        what = f"{meta.get('mw_kind', 'record')} {meta.get('mw_key')!r}"
        detail = f"metadata {missing} is missing" if missing else "its metadata has the wrong types"
        raise CorruptRecordError(f"{what} (mem0 memory {item.get('id')}) is corrupted: {detail}")
    raw.updated_at = float(raw.updated_at)
    return raw


def raw_message(item: dict[str, Any]) -> RawMessage:
    meta = item.get("metadata") or {}
    seq, body = meta.get("mw_seq"), meta.get("mw_body")
    if type(seq) is not int or not isinstance(body, str) or not isinstance(meta.get("mw_created_at"), (int, float)):
        raise CorruptRecordError(
            f"message {seq!r} of session {meta.get('mw_session')!r} (mem0 memory {item.get('id')}) is corrupted: "
            "its metadata lacks mw_seq, mw_created_at or mw_body"
        )
    return RawMessage(seq, meta.get("mw_run"), bool(meta.get("mw_turn")), float(meta["mw_created_at"]), body)


def matches(meta: dict[str, Any], equal: dict[str, Any], ranged: dict[str, Any]) -> bool:
    for name, wanted in equal.items():
        if meta.get(name) != wanted:
            return False
    for name, condition in ranged.items():
        value = meta.get(name)
        for op, bound in condition.items():
            if op == "in":
                if value not in bound:
                    return False
            elif not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            elif not {"gt": value > bound, "gte": value >= bound, "lt": value < bound, "lte": value <= bound}[op]:
                return False
    return True
