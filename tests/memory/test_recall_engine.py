"""The recall engine over the real storage search: ranking, neighbours, skipping, packing, rendering."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from memwise.memory.budget import estimate_tokens
from memwise.recall import Scope, recall, recall_context
from memwise.recall.block import HEADING, pack, render
from memwise.recall.fusion import rrf
from memwise.recall.prior import with_session_prior
from memwise.recall.query import search_words
from memwise.recall.recalled import Recalled
from memwise.storage.search import MAX_QUERY_CHARS

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
JUNE_1 = datetime(2023, 6, 1, 9, 0, tzinfo=timezone.utc)


def said(text: str, when: datetime) -> ModelRequest:
    return ModelRequest(parts=[UserPromptPart(text, timestamp=when)], timestamp=when)


def answered(text: str, when: datetime) -> ModelResponse:
    return ModelResponse(parts=[TextPart(text)], timestamp=when)


def store(storage, session_id: str, user_id: str, when: datetime, *texts: str) -> None:
    """Alternating user / assistant messages."""
    storage.create_session(session_id, user_id=user_id, exist_ok=True)
    messages = [said(t, when) if i % 2 == 0 else answered(t, when) for i, t in enumerate(texts)]
    storage.append_messages(session_id, messages)


FILLER = [f"We talked about the weather number {i} and nothing else." for i in range(30)]


@pytest.fixture
def chats(storage):
    store(storage, "alice-1", "alice", MAY_8, "What do you do on weekends?",
          "I just signed up for a pottery class.", *FILLER[:10])
    store(storage, "alice-2", "alice", JUNE_1, *FILLER[10:20], "My sister lives in Lisbon now.",
          "Lisbon is lovely in June.", "She moved there for a job at a bakery.")
    store(storage, "bob-1", "bob", JUNE_1, "My pottery teacher is strict.", "Pottery takes patience.")
    return storage


def context(storage, query: str, scope: Scope, max_tokens: int = 2_000, **kw) -> str:
    return asyncio.run(recall_context(storage, query, scope, max_tokens, **kw))


def test_finds_an_old_message_of_the_user_never_another_users(chats) -> None:
    text = context(chats, "Tell me about the pottery class", Scope(user_id="alice"))
    assert "user: I just signed up for a pottery class." not in text  # it was the assistant's line
    assert "assistant: I just signed up for a pottery class." in text
    assert "[session alice-1, 8 May 2023]" in text
    assert "strict" not in text and "patience" not in text  # bob's words


def test_neighbours_bring_the_question_a_hit_answers(chats) -> None:
    text = context(chats, "pottery", Scope(user_id="alice"))
    assert "user: What do you do on weekends?" in text  # no query word, found as the hit's neighbour


def test_session_scope_searches_one_session(chats) -> None:
    assert context(chats, "pottery", Scope(user_id="alice", session_id="alice-2")) == ""
    assert "Lisbon" in context(chats, "Lisbon sister", Scope(user_id="alice", session_id="alice-2"))


def test_skip_leaves_out_what_the_window_holds(chats) -> None:
    scope = Scope(user_id="alice")
    everything = context(chats, "Lisbon bakery sister", scope)
    assert "My sister lives in Lisbon now." in everything
    skipped = context(chats, "Lisbon bakery sister", scope, skip=lambda item: item.session_id == "alice-2")
    assert "Lisbon" not in skipped and "bakery" not in skipped


def test_groups_by_session_in_time_order_and_fits_the_budget(chats) -> None:
    scope = Scope(user_id="alice")
    text = context(chats, "pottery weekends Lisbon sister weather", scope)
    assert text.startswith(HEADING)
    assert text.index("[session alice-1, 8 May 2023]") < text.index("[session alice-2, 1 June 2023]")
    for budget in (40, 64, 100, 150, 300, 1_000):
        block = context(chats, "pottery weekends Lisbon sister weather", scope, budget)
        assert estimate_tokens(block) <= budget
    assert context(chats, "pottery", scope, 10) == ""  # not even one message fits


def test_tool_traffic_is_never_recalled(storage) -> None:
    storage.create_session("t", user_id="u")
    storage.append_messages("t", [
        said("Check the lighthouse schedule", MAY_8),
        ModelResponse(parts=[ToolCallPart("lookup", {"q": "lighthouse secret"}, tool_call_id="c1")], timestamp=MAY_8),
        ModelRequest(parts=[ToolReturnPart("lookup", "lighthouse secret result", tool_call_id="c1")]),
        answered("The lighthouse opens at nine.", MAY_8),
    ])
    text = context(storage, "lighthouse secret", Scope(user_id="u"))
    assert "user: Check the lighthouse schedule" in text and "assistant: The lighthouse opens at nine." in text
    assert "secret" not in text


def test_recall_returns_rank_order_with_scores(chats) -> None:
    items = asyncio.run(recall(chats, "sister Lisbon", Scope(user_id="alice"), 2_000))
    assert items[0].text == "My sister lives in Lisbon now."
    assert items[0].score > 0 and items[0].created_at == JUNE_1.timestamp() and items[0].role == "user"


# ---------------------------------------------------------------- the pieces, on their own
def item(session: str, seq: int, text: str, when: datetime = MAY_8, score: float = 1.0) -> Recalled:
    return Recalled(session, seq, when.timestamp(), "user", text, score)


def test_pack_keeps_rank_order_skips_what_does_not_fit_and_render_counts_exactly() -> None:
    ranked = [item("a", 5, "x" * 40), item("b", 1, "y" * 4_000), item("a", 2, "z" * 40)]
    kept = pack(ranked, 100)
    assert [i.text[0] for i in kept] == ["x", "z"]  # the long one is skipped, not the end
    text = render(kept)
    assert text.index("z" * 40) < text.index("x" * 40)  # shown in session order
    for budget in range(20, 200, 7):
        assert estimate_tokens(render(pack(ranked, budget))) <= budget


def test_session_prior_lifts_hits_of_the_session_that_matches_most() -> None:
    hit = lambda session, seq, score: SimpleNamespace(session_id=session, seq=seq, score=score)  # noqa: E731
    hits = [hit("lonely", 1, 10.0), hit("busy", 1, 9.5), hit("busy", 2, 9.0), hit("busy", 3, 8.0)]
    order = [(h.session_id, h.seq) for h, _ in with_session_prior(hits)]
    assert order[0] == ("busy", 1)
    assert [(h.session_id, h.seq) for h, _ in with_session_prior(hits, weight=0.0)][0] == ("lonely", 1)


def test_rrf_rewards_agreement() -> None:
    fused = [key for key, _ in rrf([["a", "b", "c"], ["b", "d"]])]
    assert fused[0] == "b" and set(fused) == {"a", "b", "c", "d"}


def test_search_words_drop_stop_words_and_fit_the_search_limit() -> None:
    assert search_words("When did Caroline go to the LGBTQ support group?") == "caroline go lgbtq support group"
    assert search_words("who are you?") == "who are you?"
    long = search_words(" ".join(f"lighthouse{i}" for i in range(1_000)))
    assert MAX_QUERY_CHARS - 20 < len(long) <= MAX_QUERY_CHARS and long.split()[-1].startswith("lighthouse")
