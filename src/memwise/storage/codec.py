"""JSON in, JSON out: the only serialization storage ever uses (nothing is pickled).

Encoding errors name the offending path; decoding errors name the record and leave it in place.
"""

from __future__ import annotations

import json
from dataclasses import fields
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import from_json

from memwise.errors import CorruptRecordError, InvalidInputError

if TYPE_CHECKING:
    from pydantic import TypeAdapter
    from pydantic_ai.messages import ModelMessage

R = TypeVar("R")


def dumps(value: Any, what: str) -> str:
    """Serialize to compact JSON; on failure say which path of `what` is not JSON."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        path = _first_bad_path(value, what)
        raise InvalidInputError(f"{path} is not JSON-serializable ({exc})") from None


def _first_bad_path(value: Any, path: str) -> str:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} key {key!r} (keys must be strings)"
            bad = _first_bad_path(item, f"{path}[{key!r}]")
            if bad:
                return bad
        return ""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            bad = _first_bad_path(item, f"{path}[{index}]")
            if bad:
                return bad
        return ""
    if value is None or isinstance(value, (str, int, bool)):
        return ""
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return ""
    return f"{path} (a {type(value).__name__})"


def loads(text: str | bytes, what: str) -> Any:
    """Parse stored JSON (pydantic-core's parser: 2-3x the standard library's speed); a broken
    record raises CorruptRecordError naming it."""
    try:
        return from_json(text)
    except (TypeError, ValueError) as exc:
        raise CorruptRecordError(f"{what} is corrupted: not valid JSON ({exc})") from None


def load_object(text: str | bytes, what: str) -> dict[str, Any]:
    data = loads(text, what)
    if not isinstance(data, dict):
        raise CorruptRecordError(f"{what} is corrupted: expected a JSON object")
    return data


@lru_cache(maxsize=1)
def _message_adapter() -> TypeAdapter[ModelMessage]:
    from pydantic import TypeAdapter
    from pydantic_ai.messages import ModelMessage

    return TypeAdapter(ModelMessage)


def encode_message(message: ModelMessage | dict[str, Any], what: str) -> tuple[str, bool]:
    """Return (JSON text, starts a user turn) for one pydantic-ai message or its JSON form."""
    return _encode(to_message(message, what), what)


def to_message(message: ModelMessage | dict[str, Any], what: str) -> ModelMessage:
    """The pydantic-ai message itself, from one or from its JSON form; InvalidInputError if neither."""
    from pydantic import ValidationError
    from pydantic_ai.messages import ModelRequest, ModelResponse

    try:
        if isinstance(message, dict):
            return _message_adapter().validate_python(message)
    except (ValidationError, TypeError, ValueError, AttributeError) as exc:
        raise _not_a_message(what, exc) from None
    if not isinstance(message, (ModelRequest, ModelResponse)):
        raise _not_a_message(what, f"got a {type(message).__name__}")
    return message


def _encode(message: ModelMessage, what: str) -> tuple[str, bool]:
    try:
        text = _message_adapter().dump_json(message).decode()
    except (TypeError, ValueError, AttributeError) as exc:
        raise _not_a_message(what, exc) from None
    return text, is_turn_start(message)


def _not_a_message(what: str, why: object) -> InvalidInputError:
    return InvalidInputError(f"{what} is not a pydantic-ai ModelMessage (ModelRequest/ModelResponse): {why}")


def is_turn_start(message: ModelMessage) -> bool:
    """A user turn starts with a request that carries the user's prompt."""
    return getattr(message, "kind", None) == "request" and any(
        getattr(part, "part_kind", None) == "user-prompt" for part in message.parts
    )


def decode_message(data: dict[str, Any]) -> ModelMessage:
    return _message_adapter().validate_python(data)


@cache
def field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@cache
def _body_fields(cls: type, skip: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in skip)


def record_body(obj: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    """The JSON body of a record dataclass: every field except those kept as columns."""
    return {name: getattr(obj, name) for name in _body_fields(type(obj), skip)}  # type: ignore[arg-type]  # mypy: a class is Hashable


def record_from_body(cls: type[R], body: Any, what: str, **columns: Any) -> R:
    """Rebuild a record dataclass from its stored body and columns; bad shapes are corruption."""
    if not isinstance(body, dict):
        raise CorruptRecordError(f"{what} is corrupted: expected a JSON object, got {type(body).__name__}")
    names = field_names(cls)  # type: ignore[arg-type]  # mypy: a class is Hashable
    try:
        return cls(**{k: v for k, v in body.items() if k in names}, **columns)
    except TypeError as exc:
        raise CorruptRecordError(f"{what} is corrupted: {exc}") from None
