"""Every prompt memory sends, in one place, so wording changes never touch logic."""

from __future__ import annotations

SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an AI assistant. "
    "You receive the previous summary (possibly empty) and the newest conversation turns. "
    "Return the updated summary: keep every durable fact from the previous summary (names, "
    "preferences, decisions, open questions, topics discussed) and fold in what the new turns add. "
    "Write plain prose or short bullet points, no preamble, at most {max_words} words."
)

SUMMARY_PROMPT = "Previous summary:\n{previous}\n\nNew conversation turns:\n{turns}"

PROFILE_INSTRUCTIONS = (
    "You extract durable traits of a user from what the user wrote to an AI assistant. "
    "Fill a field only when the user's messages state it explicitly; return null for every other "
    "field. Never guess or generalise: a name and a job do not tell you interests, preferences, "
    "goals or style. Keep values short."
)

DYNAMIC_PROFILE_INSTRUCTIONS = (
    "You extract durable traits of a user from what the user wrote to an AI assistant, as "
    "name/value pairs. Field names are short snake_case nouns. When an existing field name fits, "
    "reuse it exactly; add a new field only for a trait no existing field covers. Report only "
    "traits the user's own words support; never guess. Keep values short."
)

PROFILE_PROMPT = (
    "Known profile:\n{profile}\n\n{field_names}Recent messages from the user:\n{texts}"
)

FIELD_NAMES_LINE = "Existing field names (reuse them): {names}\n\n"

CONTEXT_HEADER = (
    "The following is memory from earlier interactions with this user. Use it to answer; "
    "it is context, not a request."
)
SUMMARY_HEADING = "## Summary of the conversation so far"
PROFILE_HEADING = "## What you know about the user"
METADATA_HEADING = "## Session metadata"
TASK_CONTEXT_HEADING = "## Context for this task"
