"""Every prompt memory sends, in one place, so wording changes never touch logic."""

from __future__ import annotations

SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an AI assistant. "
    "You receive the previous summary (possibly empty) and the newest conversation turns. "
    "Return the updated summary: keep every durable fact from the previous summary (names, "
    "preferences, decisions, open questions, topics discussed) and fold in what the new turns add. "
    "Start every point with 'The user' or 'The assistant', in the third person and in your own "
    "words. A point that starts with 'The user' holds only what a 'User:' line says; what an "
    "'Assistant:' line says, suggests or assumes goes in a point that starts with 'The "
    "assistant' (e.g. 'The assistant suggested ...'), never as a fact about the user. Never add "
    "anything the turns do not say, never address anyone as 'you'. "
    "Write short bullet points, no preamble, at most {max_words} words."
)

SUMMARY_PROMPT = "Previous summary:\n{previous}\n\nNew conversation turns:\n{turns}"

_EVIDENCE = (
    "First copy into `evidence` the user's sentences that say something about the user, word for "
    "word. Then fill every field those sentences state, each a short value in the user's own "
    "words; keep a negation (\"I don't like Java\" -> \"dislikes Java\"). Never take a trait "
    "from the assistant's replies (context only), from other people (\"my wife loves golf\"), "
    "from questions or from hypotheticals (\"if I were a manager\"), and never guess: a name and "
    "a job do not tell you interests, preferences, goals or style. Example: \"I'm Ana, a nurse. "
    "I don't drink coffee. My son loves football.\" gives the evidence [\"I'm Ana, a nurse.\", "
    "\"I don't drink coffee.\"], the name Ana, the occupation nurse and the preference "
    "\"doesn't drink coffee\", and nothing about football."
)

PROFILE_INSTRUCTIONS = (
    "You extract durable traits of a user from what the user wrote to an AI assistant. "
    "Leave null every field the user's messages do not state. " + _EVIDENCE
)

DYNAMIC_PROFILE_INSTRUCTIONS = (
    "You extract durable traits of a user from what the user wrote to an AI assistant, as "
    "name/value pairs. Field names are short snake_case nouns. When an existing field name fits, "
    "reuse it exactly; add a new field only for a trait no existing field covers. " + _EVIDENCE
)

ASSISTANT_CONTEXT = (
    "What the assistant replied (context only: never a source of traits):\n{replies}\n\n"
)

PROFILE_PROMPT = (
    "Known profile:\n{profile}\n\n{field_names}{context}Recent messages from the user:\n{texts}"
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
