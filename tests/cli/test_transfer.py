"""`memwise export` / `memwise import`: JSON Lines, and a round trip that reproduces the store
exactly (versions and timestamps too)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from memwise.cli import ui
from memwise.storage import transfer
from memwise.storage.base import Storage
from memwise.storage.json import JSONStorage
from memwise.storage.records import Run, UserProfile
from memwise.storage.sqlite import SqliteStorage
from tests.conformance.messages import tool_turn, turn


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny pages and batches, so a small store exercises paging and batched appends."""
    monkeypatch.setattr(transfer, "PAGE", 3)
    monkeypatch.setattr(transfer, "MESSAGE_BATCH", 4)


def populate(cli, db: str) -> None:
    """A store with every kind of record and the awkward cases: chats through the CLI (summaries,
    usage, profiles with provenance, runs), plus sessions without a user, metadata, unicode, tool
    calls, runs with and without messages, a paused run holding a lease, a failed run, a profile
    whose user has no session left, an empty session, and more records than one page."""
    for session, user in (("chat-a", "alice"), ("chat-b", "bob")):
        cli("chat", "--db", db, "-s", session, "-u", user,
            input="My name is Alice and I'm a Python developer\nWhat's my name?\n", ok=True)
    with SqliteStorage(db_file=db) as store:
        store.create_session("odd ✓ session/1", metadata={"topic": "ünïcødé ✓", "n": [1, 2.5, None], "nested": {"a": True}})
        store.append_messages("odd ✓ session/1", tool_turn("look it up"), run_id="run-tool")
        store.append_messages("odd ✓ session/1", turn("no run id\nsecond line"))
        store.append_messages("odd ✓ session/1", turn("again", "ответ"), run_id="run-tool")
        current = store.get_session("odd ✓ session/1")
        store.update_session("odd ✓ session/1", expected_version=current.version, summary="a\nsummary \"quoted\"",
                             summarized_through=3, usage={"requests": 7, "input_tokens": 1234})
        store.create_session("empty", user_id="carol", agent_id="agent-x")
        for index in range(5):
            store.create_session(f"bulk-{index}", user_id="dave")
            store.append_messages(f"bulk-{index}", [m for i in range(3) for m in turn(f"q{i}")], run_id=f"bulk-run-{index}")
        store.create_run(Run("paused-run", "empty", user_id="carol", agent_id="agent-x", status="paused",
                             checkpoint={"step": 2, "pending": [{"tool": "x", "args": {"k": "v"}}]},
                             usage={"requests": 1}))
        store.acquire_lease("paused-run", "worker-7", ttl=3600)
        store.create_run(Run("failed-run", "gone-session", user_id="erin", status="error", error="boom: ✗"))
        store.put_profile(UserProfile("ghost", {"name": "Casper", "likes": ["walls", 3, None]},
                                      {"name": {"run_id": "r-old", "updated_at": 1.5}}), expected_version=0)
        current = store.get_profile("alice")
        store.put_profile(UserProfile("alice", {**current.data, "extra": "v2"}, current.provenance,
                                      created_at=current.created_at), expected_version=current.version)


def snapshot(store: Storage) -> dict[str, Any]:
    """Everything the round trip must keep, read through the public API: every record whole
    (versions and timestamps included), every message with its seq, run, turn start and
    `created_at`, in listing order (which follows `updated_at`)."""
    sessions = {
        s.session_id: (s, [(m.seq, m.run_id, m.turn_start, m.created_at, m.data) for m in store.read_messages(s.session_id)])
        for s in store.list_sessions(limit=1000).items
    }
    return {
        "sessions": sessions,
        "session order": list(sessions),
        "runs": store.list_runs(limit=1000).items,
        "profiles": store.list_profiles(limit=1000).items,
    }


def test_round_trip_reproduces_the_store_byte_for_byte(cli, llm, tmp_path, small_pages) -> None:
    source, first, second = str(tmp_path / "source.db"), tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    populate(cli, source)
    with SqliteStorage(db_file=source) as store:
        runs = ui.plural(len(store.list_runs(limit=1000).items), "run")
    exported = cli("export", "--db", source, "--out", str(first), ok=True)
    assert f"Exported 9 sessions, 46 messages, {runs}, 3 profiles to" in exported.stderr

    copy = str(tmp_path / "copy.db")
    imported = cli("import", str(first), "--db", copy, ok=True)
    assert f"Imported 9 sessions, 46 messages, {runs}, 3 profiles into" in imported.stderr
    cli("export", "--db", copy, "--out", str(second), ok=True)
    assert second.read_bytes() == first.read_bytes()

    with SqliteStorage(db_file=source) as a, SqliteStorage(db_file=copy) as b:
        before, after = snapshot(a), snapshot(b)
    assert after == before
    profiles = {p.user_id: p for p in before["profiles"]}
    assert profiles["ghost"].data == {"name": "Casper", "likes": ["walls", 3, None]}  # no session: still kept
    assert profiles["alice"].version == 2
    runs = {r.run_id: r for r in before["runs"]}
    assert runs["paused-run"].lease_owner == "worker-7" and runs["failed-run"].error == "boom: ✗"
    assert runs["paused-run"].version == 2  # created, then leased
    odd, messages = before["sessions"]["odd ✓ session/1"]
    assert odd.version == 2 and len(messages) == 8 and messages[0][3] < messages[-1][3]

    # the same bytes through another backend, and through stdout and stdin
    json_store = tmp_path / "json-store"
    cli("import", "-", "--db", f"json:///{json_store}", input=first.read_text(encoding="utf-8"), ok=True)
    through_json = cli("export", "--db", f"json:///{json_store}", ok=True)
    assert through_json.stdout_bytes == first.read_bytes()
    with JSONStorage(json_store) as store:
        assert snapshot(store) == before


def test_export_format(cli, llm, db) -> None:
    cli("chat", "--db", db, "-s", "s1", "-u", "alice", input="My name is Alice\n", ok=True)
    with SqliteStorage(db_file=db) as store:
        store.create_run(Run("r-1", "s1", user_id="alice", status="paused", checkpoint={"step": 1}))
        runs = len(store.list_runs().items)
    lines = [json.loads(line) for line in cli("export", "--db", db, ok=True).stdout.splitlines()]
    assert lines[0] == {"type": "memwise-export", "format": 2}
    kinds = [line["type"] for line in lines]
    assert kinds == ["memwise-export", "session", "message", "message", *["run"] * runs, "profile", "end"]
    session, message, answer, profile, end = lines[1], lines[2], lines[3], lines[-2], lines[-1]
    written = [name for name in transfer.FIELDS["session"] if name != "pending_turns"]  # none pending: omitted
    assert list(session) == ["type", *written] and session["summary"] == "- name: Alice"
    with SqliteStorage(db_file=db) as store:
        stored = store.get_session("s1")
        first = store.read_messages("s1")[0]
    assert (session["version"], session["created_at"], session["updated_at"]) == (stored.version, stored.created_at, stored.updated_at)
    assert message["seq"] == 1 and message["turn_start"] is True and answer["seq"] == 2 and answer["turn_start"] is False
    assert message["created_at"] == first.created_at
    assert message["data"]["parts"][0]["content"] == "My name is Alice"
    assert message["run_id"] == answer["run_id"] == profile["provenance"]["name"]["run_id"]
    run = next(line for line in lines if line["type"] == "run" and line["run_id"] == "r-1")
    assert run["status"] == "paused" and run["checkpoint"] == {"step": 1} and run["created_at"] > 0
    assert profile["data"] == {"name": "Alice"} and profile["version"] == 1
    assert end == {"type": "end", "sessions": 1, "messages": 2, "runs": runs, "profiles": 1}


def test_empty_store_exports_header_and_end(cli, tmp_path) -> None:
    SqliteStorage(db_file=str(tmp_path / "e.db")).list_sessions()
    out = cli("export", "--db", str(tmp_path / "e.db"), ok=True).stdout
    assert out == '{"type":"memwise-export","format":2}\n{"type":"end","sessions":0,"messages":0,"runs":0,"profiles":0}\n'


def test_import_refuses_records_the_target_has_and_writes_nothing(cli, llm, tmp_path) -> None:
    source, dump = str(tmp_path / "a.db"), tmp_path / "a.jsonl"
    populate(cli, source)
    cli("export", "--db", source, "--out", str(dump), ok=True)
    target = str(tmp_path / "b.db")
    with SqliteStorage(db_file=target) as store:
        store.create_session("zzz-mine")
        store.create_run(Run("paused-run", "zzz-mine"))
    result = cli("import", str(dump), "--db", target, ok=False)
    assert "already has run 'paused-run'" in result.stderr and "nothing was imported" in result.stderr
    with SqliteStorage(db_file=target) as store:
        assert [s.session_id for s in store.list_sessions().items] == ["zzz-mine"]
        assert store.get_profile("ghost") is None


def export_lines(cli, db: str) -> list[str]:
    """An export with lines in this order: header, session s1, its 4 messages, the run r-1, the
    profile of alice, end."""
    cli("chat", "--db", db, "-s", "s1", "-u", "alice", input="My name is Alice\nhi\n", ok=True)
    with SqliteStorage(db_file=db) as store:
        for run in store.list_runs().items:
            store.delete_run(run.run_id)
        store.create_run(Run("r-1", "s1", user_id="alice"))
    return cli("export", "--db", db, ok=True).stdout.splitlines(keepends=True)


def _edit(lines: list[str], index: int, **changes: Any) -> list[str]:
    record = json.loads(lines[index])
    record.update(changes)
    return [*lines[:index], json.dumps(record) + "\n", *lines[index + 1:]]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: lines[:-1], "no closing \"end\" line"),
        (lambda lines: lines[:3] + lines[4:], "should be 2"),  # a message missing: the seqs have a gap
        (lambda lines: [lines[0], *lines[2:]], "which no earlier line defines"),
        (lambda lines: lines[1:], "not a memwise export"),
        (lambda lines: [lines[0], "{not json\n", *lines[1:]], "line 2: not JSON"),
        (lambda lines: [lines[0], "[1, 2]\n", *lines[1:]], "line 2: expected a JSON object"),
        (lambda lines: _edit(lines, 0, format=3), "export format 3"),
        (lambda lines: _edit(lines, 1, color="red"), "has unknown fields color"),
        (lambda lines: _edit(lines, 1, summarized_through=-1), "line 2: session summarized_through must be an integer >= 0"),
        (lambda lines: _edit(lines, 1, usage={"requests": "1"}), "usage['requests'] must be an integer"),
        (lambda lines: _edit(lines, 1, version=0), "version must be an integer >= 1"),
        (lambda lines: _edit(lines, 1, updated_at="yesterday"), "updated_at must be epoch seconds"),
        (lambda lines: _edit(lines, 2, data={"kind": "nonsense"}), "line 3: message data is not a pydantic-ai ModelMessage"),
        (lambda lines: _edit(lines, 2, turn_start=False), "turn_start must be True for this message"),
        (lambda lines: _edit(lines, 2, created_at=None), "created_at must be epoch seconds"),
        (lambda lines: _edit(lines, 6, status="sleeping"), "status must be one of"),
        (lambda lines: _edit(lines, 6, lease_owner=""), "run.lease_owner must be a non-empty string"),
        (lambda lines: _edit(lines, 6, type="robot"), "unknown record type 'robot'"),
        (lambda lines: _edit(lines, -1, messages=99), "is it complete?"),
        (lambda lines: [*lines[:-1], lines[1], lines[-1]], "session 's1' appears twice"),
        (lambda lines: [*lines, lines[1]], "a line after the closing"),
        (lambda lines: [], "empty file"),
    ],
)
def test_import_checks_the_whole_file_first(cli, llm, tmp_path, mutate, message) -> None:
    lines = export_lines(cli, str(tmp_path / "a.db"))
    assert [json.loads(line)["type"] for line in lines] == [
        "memwise-export", "session", "message", "message", "message", "message", "run", "profile", "end",
    ]
    good = tmp_path / "good.jsonl"
    good.write_text("".join(lines), encoding="utf-8")
    assert cli("import", str(good), "--db", str(tmp_path / "ok.db"), ok=True)  # unchanged, it imports

    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(mutate(lines)), encoding="utf-8")
    target = tmp_path / "b.db"
    result = cli("import", str(bad), "--db", str(target), ok=False)
    assert message in result.stderr, result.stderr
    assert not target.exists()  # the file is checked before the store is opened


def test_import_missing_file(cli, tmp_path) -> None:
    assert "nope.jsonl: no such file" in cli("import", str(tmp_path / "nope.jsonl"), ok=False).stderr
    assert "is a directory" in cli("import", str(tmp_path), ok=False).stderr
    assert "empty file" in cli("import", os.devnull, ok=False).stderr  # not a regular file: read once


def test_export_to_file_is_atomic(cli, llm, db, tmp_path, monkeypatch) -> None:
    export_lines(cli, db)
    out = tmp_path / "dump.jsonl"
    out.write_text("old\n")

    def broken(self, **options):  # the sessions are written by then
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SqliteStorage, "list_runs", broken)
    result = cli("export", "--db", db, "--out", str(out), ok=False)
    assert "No space left on device" in result.stderr
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".dump")] == []


FORMAT_1 = [  # written by memwise before exports carried versions and timestamps
    {"type": "memwise-export", "format": 1},
    {"type": "session", "session_id": "s1", "user_id": "alice", "agent_id": None, "summary": "- name: Alice",
     "summarized_through": 2, "metadata": {}, "usage": {"requests": 1}},
    {"type": "message", "session_id": "s1", "seq": 1, "run_id": "r-1", "turn_start": True,
     "data": {"kind": "request", "parts": [{"part_kind": "user-prompt", "content": "My name is Alice",
                                            "timestamp": "2025-01-01T00:00:00Z"}]}},
    {"type": "run", "run_id": "r-1", "session_id": "s1", "user_id": "alice", "agent_id": None, "status": "completed",
     "checkpoint": None, "error": None, "usage": {}, "lease_owner": None, "lease_expires_at": None, "created_at": 1.5},
    {"type": "profile", "user_id": "alice", "data": {"name": "Alice"}, "provenance": {}, "created_at": 2.5},
    {"type": "end", "sessions": 1, "messages": 1, "runs": 1, "profiles": 1},
]


def test_a_format_1_export_still_imports(cli, tmp_path) -> None:
    dump = tmp_path / "old.jsonl"
    dump.write_text("".join(json.dumps(line) + "\n" for line in FORMAT_1), encoding="utf-8")
    started = time.time()
    cli("import", str(dump), "--db", str(tmp_path / "b.db"), ok=True)
    with SqliteStorage(db_file=str(tmp_path / "b.db")) as store:
        session, run, profile = store.get_session("s1"), store.get_run("r-1"), store.get_profile("alice")
        message = store.read_messages("s1")[0]
    assert (session.summary, session.summarized_through, session.version) == ("- name: Alice", 2, 1)
    assert (run.created_at, run.version, profile.created_at, profile.version) == (1.5, 1, 2.5, 1)
    assert started <= session.created_at == session.updated_at == message.created_at <= time.time()
    assert message.message.parts[0].content == "My name is Alice"
