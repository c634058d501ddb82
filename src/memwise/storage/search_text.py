"""What search indexes of a message: the text a person saw, prefixed by the day it was said.

`search_text(message)` is computed once, by the core, when a message is appended (native indexes
store it in the append's transaction) and again from the stored body by the memwise-side index
and by the SQL backfill, so it must depend on the message alone. It works on the message's JSON
form, so a stored body never needs pydantic to be indexed.

Indexed: the string content of user prompts and the text parts of responses. Not indexed: tool
calls and returns, instructions, system prompts, thinking, media. The date prefix
("8 May 2023: ") comes from the message's own timestamp, in UTC, so "what did I say in May"
can match. A message without visible text gives "" and is never a hit.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

#: Indexed characters per message at most (PostgreSQL's tsvector stops at 1 MB); the rest of a
#: longer message is stored but not searchable.
MAX_CHARS = 100_000
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
#: NUL and lone surrogates: PostgreSQL text cannot hold them, and they are never words.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def search_text(message: ModelMessage | dict[str, Any]) -> str:
    """The indexed text of a pydantic-ai message (or of its JSON form); "" when nothing is visible."""
    if not isinstance(message, dict):
        from memwise.storage.codec import _message_adapter

        message = _message_adapter().dump_python(message, mode="json")
    return _text_of(message)


def search_text_of_body(body: str) -> str:
    """The indexed text of a stored message body; "" for a body that is not a message's JSON
    (a corrupted message is reported when it is read, never by the index that meets it)."""
    try:
        data = from_json(body)
    except ValueError:
        return ""
    return _text_of(data) if isinstance(data, dict) else ""


def message_time(data: dict[str, Any]) -> datetime | None:
    """The message's own timestamp (a response's, or a request's or else its first part's), UTC."""
    stamp = data.get("timestamp")
    if stamp is None and data.get("kind") == "request":
        stamp = next((p.get("timestamp") for p in _parts(data) if p.get("timestamp")), None)
    if not isinstance(stamp, str):
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def message_role(data: dict[str, Any]) -> str:
    """"user" for a request (the prompt or a tool return), "assistant" for a response."""
    return "assistant" if data.get("kind") == "response" else "user"


def _parts(data: dict[str, Any]) -> list[dict[str, Any]]:
    parts = data.get("parts")
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _visible(data: dict[str, Any]) -> list[str]:
    wanted = "user-prompt" if data.get("kind") == "request" else "text"
    found: list[str] = []
    for part in _parts(data):
        if part.get("part_kind") != wanted:
            continue
        content = part.get("content")
        items = content if isinstance(content, list) else [content]
        found.extend(item for item in items if isinstance(item, str) and item.strip())
    return found


def _text_of(data: dict[str, Any]) -> str:
    texts = _visible(data)
    if not texts:
        return ""
    text = "\n".join(texts)
    when = message_time(data)
    if when is not None:
        text = f"{when.day} {_MONTHS[when.month - 1]} {when.year}: {text}"
    return _UNSTORABLE.sub(" ", text[:MAX_CHARS])
