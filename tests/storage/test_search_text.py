"""What search indexes of a message, and the tokenizer the memwise-side index shares with FTS5."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic_ai.messages import (
    ImageUrl,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from memwise.storage.search_terms import query_words, terms, words
from memwise.storage.search_text import MAX_CHARS, search_text, search_text_of_body

MAY_8 = datetime(2023, 5, 8, 23, 30, tzinfo=timezone.utc)

CASES = [
    (ModelRequest(parts=[UserPromptPart("Caroline: I went to a support group", timestamp=MAY_8)]),
     "8 May 2023: Caroline: I went to a support group"),
    (ModelRequest(parts=[SystemPromptPart("be brief"), UserPromptPart(["look at", ImageUrl("http://x/a.png"), "this"],
                                                                     timestamp=MAY_8)], instructions="secret"),
     "8 May 2023: look at\nthis"),
    (ModelResponse(parts=[ThinkingPart("hmm"), TextPart("It is sunny"), ToolCallPart("weather", {"city": "Oslo"})],
                   timestamp=datetime(2024, 1, 31, 1, 0, tzinfo=timezone.utc)),
     "31 January 2024: It is sunny"),
    (ModelRequest(parts=[ToolReturnPart("weather", "sunny", tool_call_id="c1")]), ""),
    (ModelResponse(parts=[TextPart("   ")]), ""),
    (ModelRequest(parts=[UserPromptPart("nul\x00byte", timestamp=MAY_8)]), "8 May 2023: nul byte"),
]


@pytest.mark.parametrize(("message", "expected"), CASES)
def test_visible_text_with_its_date_from_the_message_and_from_its_json(message, expected):
    body = ModelMessagesTypeAdapter.dump_json([message])[1:-1].decode()
    assert search_text(message) == expected
    assert search_text_of_body(body) == expected  # the backfill and the memwise-side index agree


def test_a_date_in_another_zone_is_dated_in_utc_and_long_text_is_cut():
    late = datetime.fromisoformat("2023-05-08T23:30:00-05:00")  # 9 May in UTC
    message = ModelRequest(parts=[UserPromptPart("x" * (MAX_CHARS + 10), timestamp=late)])
    text = search_text(message)
    assert text.startswith("9 May 2023: xxx") and len(text) == MAX_CHARS


def test_bodies_that_are_not_messages_index_nothing():
    assert search_text_of_body("not json {") == "" and search_text_of_body("[1, 2]") == ""


def test_words_fold_case_and_diacritics_and_terms_are_stemmed():
    assert words("Grüße aus MÜNCHEN, Caroline's café!") == ["gruße", "aus", "munchen", "caroline", "s", "cafe"]
    assert terms("She was painting sunrises") == ["paint", "sunris"]
    assert query_words("What did the painter paint, and the painter?") == ["painter", "paint"]
