"""The query recall sends to the storage search: its words without stop words, cut to the length
the search accepts (a run's task text can be long; its first words are kept)."""

from __future__ import annotations

from memwise.storage.search import MAX_QUERY_CHARS
from memwise.storage.search_terms import query_words


def search_words(query: str) -> str:
    """`query`'s searchable words (storage/search_terms.py), cut at a word boundary to
    MAX_QUERY_CHARS; the query as given (stripped) when it has none."""
    text = " ".join(query_words(query)) or query.strip()
    if len(text) > MAX_QUERY_CHARS:
        text = text[: MAX_QUERY_CHARS + 1].rsplit(" ", 1)[0][:MAX_QUERY_CHARS]
    return text
