"""User profiles: the default trait schema, custom and dynamic schemas, and patch/replace merging
with per-field provenance (which run set a field, when, and the user's words that support it).

Extraction asks first for evidence (the user's sentences, copied), then for the traits; only
values that `memory.evidence` finds supported by the user's own messages are kept."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from memwise.errors import InvalidInputError
from memwise.memory import prompts
from memwise.memory.budget import cut_to_tokens, newest_texts_that_fit
from memwise.memory.evidence import Evidenced, UserWords, ground
from memwise.memory.llm import ask

UserMemoryMode = Literal["update", "replace"]
#: A dynamic profile never grows past this many fields (new names beyond it are ignored).
MAX_DYNAMIC_FIELDS = 40
#: A field's provenance keeps at most this many quotes (the newest).
MAX_EVIDENCE = 10
#: Each assistant reply shown to extraction as context is cut to this many tokens.
CONTEXT_REPLY_TOKENS = 100
EVIDENCE = "evidence"
EVIDENCE_DESCRIPTION = "the user's sentences that state traits of the user, copied word for word from the user's messages"


class UserTraits(BaseModel):
    """The default trait schema."""

    name: str | None = Field(None, description="The user's name")
    occupation: str | None = Field(None, description="Job or role")
    expertise: list[str] | None = Field(None, description="Skills, languages, technologies")
    interests: list[str] | None = Field(None, description="Topics the user cares about")
    preferences: list[str] | None = Field(None, description="How the user likes things done")
    goals: list[str] | None = Field(None, description="What the user is trying to achieve")
    location: str | None = Field(None, description="Where the user lives or works")
    communication_style: str | None = Field(None, description="e.g. concise, detailed, formal")


class Trait(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="snake_case field name; reuse an existing one when it fits")
    value: str | None = Field(None, description="short value in the user's own words, or null when unknown")


class DynamicTraits(BaseModel):
    """Output of dynamic extraction: the user's words, then name/value pairs."""

    model_config = ConfigDict(extra="forbid")

    evidence: list[str] = Field(default_factory=list, description=EVIDENCE_DESCRIPTION)
    traits: list[Trait] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """`max_input_tokens` caps the recent user text trait extraction reads."""

    max_input_tokens: int = 1_000


def check_schema(schema: Any) -> type[BaseModel] | None:
    if schema is None:
        return None
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise InvalidInputError(f"user_profile_schema must be a pydantic BaseModel subclass, got {schema!r}")
    if EVIDENCE in schema.model_fields:
        raise InvalidInputError(
            f"user_profile_schema cannot have a field named {EVIDENCE!r}: trait extraction uses it for the user's words"
        )
    return schema


@lru_cache(maxsize=64)
def partial_model(schema: type[BaseModel]) -> type[BaseModel]:
    """The schema with every field optional, so a model may report only what it found, after an
    `evidence` field first: the user's sentences it reads the traits from (asked first, so the
    model quotes before it concludes)."""
    fields: dict[str, Any] = {EVIDENCE: (list[str], Field(default_factory=list, description=EVIDENCE_DESCRIPTION))}
    fields |= {
        name: (Optional[info.annotation], Field(None, description=info.description))  # noqa: UP045 - a runtime type
        for name, info in schema.model_fields.items()
    }
    # extra="forbid" puts additionalProperties: false in the schema, so schema-constrained
    # decoders (the local model) cannot answer with anything but these fields
    return create_model(
        f"Partial{schema.__name__}", __doc__=schema.__doc__, __config__=ConfigDict(extra="forbid"), **fields
    )


def is_empty(value: Any) -> bool:
    """None, blank text or an empty collection: such a value never erases a known one."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip().lower() in ("null", "none", "unknown", "n/a")
    if isinstance(value, (list, tuple, set, dict)):
        return all(is_empty(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


def normalize_key(name: str) -> str:
    """snake_case form of a field name ('Favorite Language' -> 'favorite_language')."""
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", key).strip("_").lower()


def _stem(key: str) -> str:
    return "_".join(part[:-1] if part.endswith("s") and len(part) > 3 else part for part in key.split("_"))


def canonical_key(name: str, existing: Iterable[str]) -> str:
    """Reuse an existing field name when `name` is the same up to case, spacing or plural."""
    key = normalize_key(name)
    by_stem = {_stem(normalize_key(k)): k for k in existing}
    return by_stem.get(_stem(key), key)


def _merge_value(old: Any, new: Any) -> Any:
    """Patch one value: lists gain new items (case-insensitive), anything else is replaced."""
    if isinstance(old, list) and isinstance(new, list):
        seen = {json.dumps(v, sort_keys=True, default=str).lower() for v in old}
        added = [v for v in new if json.dumps(v, sort_keys=True, default=str).lower() not in seen and not is_empty(v)]
        return old + added
    return new


def merge_profile(
    data: Mapping[str, Any],
    provenance: Mapping[str, Mapping[str, Any]],
    found: Mapping[str, Any],
    *,
    mode: UserMemoryMode,
    run_id: str | None,
    now: float,
    evidence: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Merge what a run found into a profile; returns (data, provenance).

    "update" patches: empty values are ignored, lists are extended, other values replaced.
    "replace" makes the non-empty findings the whole profile. A field whose value changes records
    this run and time, and `evidence[field]` (the user's words) when given: a list that grew keeps
    its earlier quotes too. Unchanged fields keep their provenance.
    """
    if mode == "replace":
        new_data = {k: v for k, v in found.items() if not is_empty(v)}
    else:
        new_data = dict(data)
        for key, value in found.items():
            if not is_empty(value):
                new_data[key] = _merge_value(data.get(key), value)
    new_prov = {}
    for key, value in new_data.items():
        if key in provenance and data.get(key) == value:
            new_prov[key] = dict(provenance[key])
            continue
        new_prov[key] = {"run_id": run_id, "updated_at": now}
        if evidence is not None and key in evidence:
            earlier = provenance.get(key, {}).get("evidence", []) if isinstance(value, list) else []
            quotes = list(dict.fromkeys([*earlier, *evidence[key]]))[-MAX_EVIDENCE:]
            new_prov[key]["evidence"] = quotes
    return new_data, new_prov


def cap_dynamic(found: Mapping[str, Any], existing: Sequence[str]) -> dict[str, Any]:
    """Map found names onto existing ones and keep the dynamic profile within its field cap."""
    room = MAX_DYNAMIC_FIELDS - len(existing)
    result: dict[str, Any] = {}
    for name, value in found.items():
        key = canonical_key(name, existing)
        if not key:
            continue
        if key not in existing and key not in result:
            if room <= 0:
                continue
            room -= 1
        result[key] = value
    return result


def render_profile(data: Mapping[str, Any]) -> str:
    """Profile fields as '- field: value' lines (lists comma-joined)."""
    lines = []
    for key, value in data.items():
        if is_empty(value):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        if isinstance(shown, dict):
            shown = json.dumps(shown, ensure_ascii=False, default=str)
        lines.append(f"- {key}: {shown}")
    return "\n".join(lines)


def extraction_prompt(
    data: Mapping[str, Any],
    texts: Sequence[str],
    limits: ProfileLimits,
    *,
    dynamic: bool,
    context: Sequence[str] = (),
) -> str:
    """What trait extraction reads: the known profile, the assistant's replies of the run (marked
    as context, within a quarter of the cap) and the newest user text within the cap."""
    kept = newest_texts_that_fit(list(texts), limits.max_input_tokens)
    replies = [cut_to_tokens(" ".join(t.split()), CONTEXT_REPLY_TOKENS) for t in context if t.strip()]
    said = newest_texts_that_fit(replies, limits.max_input_tokens // 4) if replies else []
    names = prompts.FIELD_NAMES_LINE.format(names=", ".join(data) or "(none yet)") if dynamic else ""
    return prompts.PROFILE_PROMPT.format(
        profile=render_profile(data) or "(empty)",
        field_names=names,
        context=prompts.ASSISTANT_CONTEXT.format(replies="\n".join(f"- {t}" for t in said)) if said else "",
        texts="\n".join(f"- {t}" for t in kept),
    )


async def extract_traits(
    model: Model,
    data: Mapping[str, Any],
    texts: Sequence[str],
    limits: ProfileLimits,
    *,
    schema: type[BaseModel] | None,
    dynamic: bool,
    context: Sequence[str] = (),
) -> tuple[dict[str, Evidenced], RunUsage]:
    """One LLM call over the user's `texts` (the assistant's replies in `context` are shown, never
    used as evidence); returns the fields the user's words support, each with its quotes, and the
    call's usage. Dynamic names are mapped onto the stored ones (`cap_dynamic`) at merge time,
    against the profile as it is then."""
    prompt = extraction_prompt(data, texts, limits, dynamic=dynamic, context=context)
    output_type = DynamicTraits if dynamic else partial_model(schema or UserTraits)
    instructions = prompts.DYNAMIC_PROFILE_INSTRUCTIONS if dynamic else prompts.PROFILE_INSTRUCTIONS
    output, usage = await ask(model, instructions=instructions, prompt=prompt, output_type=output_type)
    found = claims(output)
    known = {name: data.get(canonical_key(name, data)) for name in found} if dynamic else data
    return ground(found, UserWords.of(texts), known), usage


def claims(output: BaseModel) -> dict[str, tuple[Any, list[str]]]:
    """What an extraction answer claims: field -> (value, the quotes it gave), empty values left out."""
    quotes = list(getattr(output, EVIDENCE))
    if isinstance(output, DynamicTraits):
        pairs = {t.name: t.value for t in output.traits}
    else:
        pairs = output.model_dump(mode="json", exclude_none=True)
        pairs.pop(EVIDENCE, None)
    return {name: (value, quotes) for name, value in pairs.items() if not is_empty(value)}
