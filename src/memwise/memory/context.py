"""The memory block that goes into a run's instructions (never into the user's prompt)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from memwise.memory import prompts
from memwise.memory.budget import cut_to_tokens
from memwise.memory.profile import render_profile


def render_metadata(metadata: Mapping[str, Any]) -> str:
    return "\n".join(
        f"- {key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)}"
        for key, value in metadata.items()
    )


def render_context(
    *,
    summary: str | None = None,
    profile: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    recalled: str | None = None,
    max_tokens: int,
) -> str | None:
    """The memory block, or None when there is nothing to inject; cut to `max_tokens`.
    `recalled` is recall's block (memwise.recall.block), already within its own budget."""
    sections = []
    if summary:
        sections.append(f"{prompts.SUMMARY_HEADING}\n{summary}")
    if profile and (text := render_profile(profile)):
        sections.append(f"{prompts.PROFILE_HEADING}\n{text}")
    if metadata:
        sections.append(f"{prompts.METADATA_HEADING}\n{render_metadata(metadata)}")
    if recalled:
        sections.append(recalled)
    if not sections:
        return None
    return cut_to_tokens("\n\n".join([prompts.CONTEXT_HEADER, *sections]), max_tokens)


def join_instructions(*blocks: str | None) -> str | None:
    """Join the non-empty instruction blocks (agent prompt, task context, memory) in order."""
    kept = [b.strip() for b in blocks if b and b.strip()]
    return "\n\n".join(kept) or None
