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
    """The indexed text of a pydantic-ai message or of its JSON form; "" when nothing is visible."""
    if isinstance(message, dict):
        return _text_of(message)
    parts = [(getattr(p, "part_kind", None), getattr(p, "content", None), getattr(p, "timestamp", None)) for p in message.parts]
    return _compose(message.kind, parts, getattr(message, "timestamp", None))


def search_text_of_body(body: str) -> str:
    """The indexed text of a stored message body; "" for a body that is not a message's JSON
    (a corrupted message is reported when it is read, never by the index that meets it)."""
    try:
        data = from_json(body)
    except ValueError:
        return ""
    return _text_of(data) if isinstance(data, dict) else ""


def message_time(data: dict[str, Any]) -> datetime | None:
    """The message's own timestamp, in UTC: a response's; a request's, else its user prompt's,
    else its first part's."""
    return _when(data.get("kind"), _parts(data), data.get("timestamp"))


def message_role(data: dict[str, Any]) -> str:
    """"user" for a request (the prompt or a tool return), "assistant" for a response."""
    return "assistant" if data.get("kind") == "response" else "user"


#: (part_kind, content, timestamp) of each part: the same view of a message and of its JSON form.
_Part = tuple[Any, Any, Any]


def _parts(data: dict[str, Any]) -> list[_Part]:
    parts = data.get("parts")
    if not isinstance(parts, list):
        return []
    return [(p.get("part_kind"), p.get("content"), p.get("timestamp")) for p in parts if isinstance(p, dict)]


def _text_of(data: dict[str, Any]) -> str:
    return _compose(data.get("kind"), _parts(data), data.get("timestamp"))


def _compose(kind: Any, parts: list[_Part], stamp: Any) -> str:
    wanted = "user-prompt" if kind == "request" else "text"
    texts: list[str] = []
    for part_kind, content, _ in parts:
        if part_kind == wanted:
            items = content if isinstance(content, (list, tuple)) else [content]
            texts.extend(item for item in items if isinstance(item, str) and item.strip())
    if not texts:
        return ""
    text = "\n".join(texts)
    when = _when(kind, parts, stamp)
    if when is not None:
        text = f"{when.day} {_MONTHS[when.month - 1]} {when.year}: {text}"
    text = text[:MAX_CHARS]
    if "\x00" in text or not _encodable(text):
        text = _UNSTORABLE.sub(" ", text)
    return text


def _when(kind: Any, parts: list[_Part], stamp: Any) -> datetime | None:
    if stamp is None and kind == "request":  # the prompt's time, else any part's
        stamped = sorted((part[0] != "user-prompt", i) for i, part in enumerate(parts) if part[2] is not None)
        stamp = parts[stamped[0][1]][2] if stamped else None
    if isinstance(stamp, str):
        try:
            stamp = datetime.fromisoformat(stamp)
        except ValueError:
            return None
    if not isinstance(stamp, datetime):
        return None
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
