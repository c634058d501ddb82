"""Search: ranked lexical hits by words, scoped to a session or a user, gone with deletes."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.errors import InvalidInputError
from memwise.storage.search_text import MAX_CHARS, search_text_of_body
from tests.conformance.messages import tool_turn, turn

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
FILLER = [
    "The weather report says rain tomorrow", "I bought fresh bread at the bakery", "My sister plays the violin",
    "We watched a documentary about whales", "The train was late again this morning", "Coffee tastes better with cream",
    "Our neighbour repainted the fence", "I am reading a novel about pirates", "The printer ran out of ink",
    "Tomatoes grow well on the balcony", "The museum opens at nine", "She knits scarves for the winter",
]


def said(text: str, answer: str, when: datetime = MAY_8) -> list:
    """A user turn with its own timestamps (what search dates a message by)."""
    return [
        ModelRequest(parts=[UserPromptPart(text, timestamp=when)]),
        ModelResponse(parts=[TextPart(answer)], timestamp=when),
    ]


async def filled(api, session_id: str, user_id: str | None = "u1") -> None:
    await api.create_session(session_id, user_id=user_id, exist_ok=True)
    for line in FILLER:
        await api.append_messages(session_id, turn(line, "noted"))


async def test_found_by_any_word_best_first(api):
    await filled(api, "s1")
    await api.append_messages("s1", said("We went hiking in the Alps last summer", "Sounds wonderful"), run_id="r7")
    await api.append_messages("s1", turn("Hiking boots are on sale downtown", "nice"))
    hits = await api.search_messages("hiking trip to the alps?", user_id="u1")
    texts = [hit.text for hit in hits]
    assert texts[0] == "8 May 2023: We went hiking in the Alps last summer"  # both words beat one
    assert len(hits) == 2 and "Hiking boots are on sale downtown" in texts[1]  # one word is enough
    assert hits[0].score > hits[1].score
    best = hits[0]
    assert (best.session_id, best.seq, best.run_id, best.turn_start, best.role) == ("s1", 25, "r7", True, "user")
    assert best.created_at == MAY_8.timestamp()  # the message's own time, not the append's
    assert best.message.parts[0].content == "We went hiking in the Alps last summer"
    answer = await api.search_messages("wonderful", session_id="s1")
    assert [(hit.seq, hit.role, hit.turn_start) for hit in answer] == [(26, "assistant", False)]


async def test_words_are_stemmed_folded_and_stopwords_ignored(api):
    await filled(api, "s1")
    await api.append_messages("s1", turn("Caroline is PAINTING a sunrise", "lovely"))
    for query in ("painted", "paints sunrises", "caroline's painting", "PAINT"):
        assert [hit.seq for hit in await api.search_messages(query, session_id="s1")] == [25], query
    assert await api.search_messages("what is it that they were doing?", session_id="s1") == []


async def test_only_visible_text_is_indexed(api):
    await filled(api, "s1")
    await api.append_messages("s1", tool_turn("weather in lisbon"))
    await api.append_messages("s1", [ModelRequest(parts=[UserPromptPart("hello")], instructions="zanzibar rules")])
    assert [hit.text.endswith("weather in lisbon") for hit in await api.search_messages("lisbon", session_id="s1")] == [True]
    assert await api.search_messages("lookup", session_id="s1") == []  # a tool call's name and args
    assert await api.search_messages("found", session_id="s1") == []  # a tool's return
    assert await api.search_messages("zanzibar", session_id="s1") == []  # instructions


async def test_scope_is_one_session_or_one_users_sessions(api):
    await filled(api, "a1")
    await api.create_session("a2", user_id="u1")
    await api.create_session("b1", user_id="u2")
    await api.create_session("open")  # no owner
    for sid in ("a1", "a2", "b1", "open"):
        await api.append_messages(sid, turn(f"saxophone lesson in {sid}", "ok"))
    found = await api.search_messages("saxophone", user_id="u1")
    assert sorted(hit.session_id for hit in found) == ["a1", "a2"]
    assert [hit.session_id for hit in await api.search_messages("saxophone", session_id="a2")] == ["a2"]
    assert [hit.session_id for hit in await api.search_messages("saxophone", session_id="open")] == ["open"]
    assert [hit.session_id for hit in await api.search_messages("saxophone", session_id="b1", user_id="u2")] == ["b1"]
    assert await api.search_messages("saxophone", session_id="b1", user_id="u1") == []  # not u1's
    assert await api.search_messages("saxophone", session_id="open", user_id="u1") == []
    assert await api.search_messages("saxophone", session_id="ghost") == []
    assert await api.search_messages("saxophone", user_id="nobody") == []


async def test_users_never_see_each_others_words(api):
    await filled(api, "a1")
    await filled(api, "b1", user_id="u2")
    await api.append_messages("b1", turn("my bank pin is fourfourtwo", "kept secret"))
    assert await api.search_messages("bank pin fourfourtwo secret", user_id="u1") == []
    assert len(await api.search_messages("bank pin fourfourtwo secret", user_id="u2")) == 2


async def test_limit_keeps_the_best(api):
    await filled(api, "s1")
    for i in range(12):
        await api.append_messages("s1", turn(f"kayak {'kayak ' * (i % 3)}number {i}", "ok"))
    hits = await api.search_messages("kayak", session_id="s1", limit=5)
    assert len(hits) == 5
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    every = await api.search_messages("kayak", session_id="s1", limit=1000)
    assert len(every) == 12 and every[0].score == hits[0].score


async def test_deletes_take_their_words_out_of_search(api):
    await filled(api, "s1")
    await filled(api, "s2")
    await api.create_session("s3", user_id="u2")
    for sid in ("s1", "s2", "s3"):
        await api.append_messages(sid, turn(f"harpsichord tuning {sid}", "ok"))
    assert len(await api.search_messages("harpsichord", user_id="u1")) == 2  # indexed (and cached) now
    assert await api.delete_session("s1")
    assert [hit.session_id for hit in await api.search_messages("harpsichord", user_id="u1")] == ["s2"]
    assert await api.search_messages("harpsichord", session_id="s1") == []
    await api.create_session("s1", user_id="u1")  # the same id again: none of the old words
    await api.append_messages("s1", turn("clarinet", "ok"))
    assert await api.search_messages("harpsichord tuning", session_id="s1") == []
    assert [hit.seq for hit in await api.search_messages("clarinet", session_id="s1")] == [1]
    await api.forget_user("u1")
    assert await api.search_messages("harpsichord clarinet", user_id="u1") == []
    assert await api.search_messages("harpsichord", session_id="s2") == []
    await asyncio.sleep(0.02)
    assert (await api.prune(time.time()))["sessions"] == 1
    assert await api.search_messages("harpsichord", user_id="u2") == []


async def test_unicode_words(api):
    await filled(api, "s1")
    await api.append_messages("s1", turn("Grüße aus München 🎉", "Привет, как дела?"))
    await api.append_messages("s1", turn("東京 タワー に 行った", "naïve café"))
    assert [hit.seq for hit in await api.search_messages("münchen", session_id="s1")] == [25]
    assert [hit.seq for hit in await api.search_messages("привет", session_id="s1")] == [26]
    assert [hit.seq for hit in await api.search_messages("東京", session_id="s1")] == [27]
    assert [hit.seq for hit in await api.search_messages("café", session_id="s1")] == [28]
    assert (await api.search_messages("🎉 münchen", session_id="s1"))[0].text.endswith("Grüße aus München 🎉")


async def test_very_long_messages(api):
    await filled(api, "s1")
    long = "aardvark " + "lorem ipsum dolor sit amet " * 20_000  # 540,000 characters
    await api.append_messages("s1", turn(long, "quokka " * 50_000))
    hits = await api.search_messages("aardvark", session_id="s1")
    assert [hit.seq for hit in hits] == [25] and len(hits[0].text) == MAX_CHARS
    assert hits[0].message.parts[0].content == long  # the message itself is whole
    assert [hit.seq for hit in await api.search_messages("quokka", session_id="s1")] == [26]


async def test_messages_from_another_storage_object_are_found(api):
    if not api.recipe.shared:
        pytest.skip("this backend keeps its store inside one process")
    await filled(api, "s1")
    assert await api.search_messages("marmalade", user_id="u1") == []
    other = api.recipe.build()
    try:
        other.append_messages("s1", turn("orange marmalade recipe", "ok"))
        other.create_session("s2", user_id="u1")
        other.append_messages("s2", turn("marmalade again", "ok"))
        assert len(await api.search_messages("marmalade", user_id="u1")) == 2
        other.delete_session("s1")
        other.create_session("s1", user_id="u1")
        assert [hit.session_id for hit in await api.search_messages("marmalade", user_id="u1")] == ["s2"]
    finally:
        other.close()


async def test_query_syntax_is_never_interpreted(api):
    await filled(api, "s1")
    await api.append_messages("s1", turn("cats AND dogs NEAR the barn", "ok"))
    for query in ('NOT "cats" OR -dogs*', "barn: (near) ^cats", "cats & !dogs | 'barn'", "\\cats\\ ''dogs''", "cat's:*"):
        assert [hit.seq for hit in await api.search_messages(query, session_id="s1")] == [25], query


async def test_every_returned_append_of_4_processes_is_found_while_they_run(api):
    from tests.conformance.test_processes import _spawn

    if not api.recipe.shared:
        pytest.skip("this backend keeps its store inside one process")
    for sid in ("hot", "p2", "p3"):
        await api.create_session(sid, user_id="u1")
    sessions = ["hot", "hot", "p2", "p3"]  # two writers share a session
    children = [_spawn(api.recipe, "append_words", sid, f"w{n}", "40", stdout=subprocess.PIPE, text=True)
                for n, sid in enumerate(sessions)]
    returned: list[str] = []
    readers = [threading.Thread(target=lambda c=child: returned.extend(line.strip() for line in c.stdout)) for child in children]
    for reader in readers:
        reader.start()
    searches = 0
    try:
        while any(child.poll() is None for child in children) or searches < 3:
            done_before = set(returned)  # appends that returned before this search began
            hits = await api.search_messages("zebra", user_id="u1", limit=1000)
            found = {hit.message.parts[0].content.split()[1] for hit in hits}
            assert done_before <= found, sorted(done_before - found)[:5]
            searches += 1
    finally:
        assert [child.wait(timeout=240) for child in children] == [0, 0, 0, 0]
        for reader in readers:
            reader.join()
    assert len(returned) == 160 and searches > 3
    assert len(await api.search_messages("zebra", user_id="u1", limit=1000)) == 160


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": ""}, "query"),
        ({"query": "   \n\t"}, "query"),
        ({"query": None}, "query"),
        ({"query": "word " * 401}, "2000 characters"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"user_id": None, "session_id": None}, "scope"),
        ({"user_id": ""}, "user_id"),
        ({"session_id": 5}, "session_id"),
    ],
)
async def test_bad_searches_raise(api, kwargs, match):
    await filled(api, "s1")
    arguments = {"query": "bread", "user_id": "u1", "session_id": None, **kwargs}
    query = arguments.pop("query")
    with pytest.raises(InvalidInputError, match=match):
        await api.search_messages(query, **arguments)


async def test_read_message_range_serves_neighbours(api):
    await filled(api, "s1")
    assert [m.seq for m in await api.read_message_range("s1", 3, 5)] == [3, 4, 5]
    assert [m.seq for m in await api.read_message_range("s1", 23, 40)] == [23, 24]
    assert [m.seq for m in await api.read_message_range("s1", 7, 7, user_id="u1")] == [7]
    assert await api.read_message_range("s1", 1, 3, user_id="u2") == []
    for first, last in ((0, 3), (5, 4), (1, "2")):
        with pytest.raises(InvalidInputError, match="seq"):
            await api.read_message_range("s1", first, last)


async def test_messages_stored_before_search_are_indexed_on_open_resumably(api, monkeypatch):
    from memwise.storage.sql import SqlBackend, backend, search
    from memwise.storage.sql.schema import MIGRATIONS

    storage = api.storage
    if not isinstance(storage, SqlBackend):
        pytest.skip("only SQL stores have a native index to migrate")
    # a store as the release before search made it: schema 1, no backlog step
    with monkeypatch.context() as before:
        before.setattr(backend, "MIGRATIONS", MIGRATIONS[:1])
        before.setattr(search.SqlSearch, "_index_backlog", lambda self: (yield from ()) or 0)
        storage.create_session("old", user_id="u1")
        rows = [("old", seq, None, seq % 2, 1.0, body.decode()) for seq, body in enumerate(_bodies(), 1)]
        storage._sync(storage._sql(
            "INSERT INTO {messages} (session_id, seq, run_id, turn_start, created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
            rows, "many",
        ), write=True)
        storage._sync(storage._sql("INSERT INTO {heads} (session_id, last_seq) VALUES (?, ?)", ("old", len(rows)), "rowcount"), write=True)
    # the first open after the upgrade migrates, then is cut short after one batch of the backfill
    monkeypatch.setattr(search, "BACKLOG_BATCH", 4)
    calls, fail_after = [], [4]

    def indexing(body):
        calls.append(body)
        if len(calls) > fail_after[0]:
            raise RuntimeError("killed mid-backfill")
        return search_text_of_body(body)

    monkeypatch.setattr(search, "search_text_of_body", indexing)
    interrupted = api.recipe.build()
    try:
        with pytest.raises(RuntimeError, match="killed"):
            interrupted.get_session("old")
    finally:
        interrupted.close()
    left = storage._sync(storage._sql("SELECT COUNT(*) FROM {messages} WHERE search_text IS NULL", (), "one"), write=False)[0]
    assert left == len(rows) - 4  # the first batch stayed done
    fail_after[0] = len(rows) * 2
    resumed = api.recipe.build()
    try:
        if api.mode == "async":
            found = await resumed.asearch_messages("walrus", user_id="u1")
            await resumed.aclose()
        else:
            found = resumed.search_messages("walrus", user_id="u1")
        assert sorted(hit.seq for hit in found) == [1, 5, 9, 13, 17]
        assert len(calls) == 5 + len(rows) - 4  # the second run redid no batch
    finally:
        resumed.close()


def _bodies() -> list[bytes]:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    messages = []
    for i in range(10):
        messages += turn("a walrus sighting" if i % 2 == 0 else f"nothing {i}", "ok")
    return [ModelMessagesTypeAdapter.dump_json([m])[1:-1] for m in messages]


async def test_restored_messages_are_found(api):
    from memwise.storage.records import Session, StoredMessage

    await api.restore(Session("old", user_id="u1", created_at=1_600_000_000.0, updated_at=1_600_000_000.0, version=3))
    other = api.recipe.build() if api.recipe.shared else api.storage  # any store's messages, as a backup holds them
    try:
        other.create_session("src", user_id="u9")
        other.append_messages("src", said("the lighthouse keeper retired", "finally"))
        backup = [StoredMessage("old", m.seq, m.run_id, m.turn_start, m.created_at, m.body) for m in other.read_messages("src")]
    finally:
        if other is not api.storage:
            other.close()
    await api.restore_messages("old", backup)
    hits = await api.search_messages("lighthouse", user_id="u1")
    assert [(hit.session_id, hit.seq, hit.text) for hit in hits] == [("old", 1, "8 May 2023: the lighthouse keeper retired")]
