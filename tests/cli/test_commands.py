"""Every command, in-process through typer's CliRunner, with the loopback fake model."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest

from memwise.storage.sqlite import SqliteStorage
from tests.cli.conftest import calls

INTRO = "My name is Alice and I'm a Python developer"
QUESTION = "What's my name and expertise?"


def chat_as_alice(cli, db: str, *extra: str, lines: str = f"{INTRO}\n{QUESTION}\n"):
    return cli("chat", "--db", db, "--session", "s1", "--user", "alice", *extra, input=lines, ok=True)


def test_help_names_every_command(cli) -> None:
    result = cli("--help", ok=True)
    for name in ("demo", "chat", "sessions", "show", "profile", "forget", "export", "import"):
        assert re.search(rf"^\W*{name}\b", result.stdout, re.M), name
    assert cli("--version", ok=True).stdout.startswith("memwise ")


# ------------------------------------------------------------------------------------- demo
def test_demo_runs_the_quick_start_in_a_fresh_temp_file(cli, llm, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the demo's temp file goes
    (tmp_path / "tmp").mkdir()
    result = cli("demo", ok=True)
    out = result.stdout
    assert f"you> {INTRO}" in out and f"you> {QUESTION}" in out
    assert "agent> From memory: name: Alice; expertise: Python" in out  # the second answer, from memory
    assert "messages 4 in session 'session_001'" in out
    assert "- name: Alice\n- expertise: Python" in out  # the summary
    assert re.search(r"^name\s+Alice\b", out, re.M) and re.search(r"^expertise\s+Python\b", out, re.M)
    assert "model gpt-4o ($MEMWISE_MODEL)" in out
    store_path = re.search(r"--db (\S+demo\.db)", out).group(1)
    assert Path(store_path).is_file() and Path(store_path).parent.name.startswith("memwise-demo-")
    assert Path(store_path).parent.parent == tmp_path / "tmp"
    assert len(calls(llm, "answer")) == 2 and len(calls(llm, "summary")) == 2 and len(calls(llm, "profile")) == 2
    # the second answer request carried the first turn as history and the profile as instructions
    second = calls(llm, "answer")[1]
    assert INTRO in str(second["messages"]) and "- name: Alice" in str(second["messages"][0])

    again = cli("demo", ok=True)  # every run starts from a new file
    assert re.search(r"--db (\S+demo\.db)", again.stdout).group(1) != store_path
    assert "messages 4 in session" in again.stdout


def test_demo_with_db_needs_a_new_file_and_model_flag_wins(cli, llm, tmp_path) -> None:
    target = str(tmp_path / "sub" / "demo.db")
    result = cli("demo", "--db", target, "--model", "test", ok=True)  # pydantic-ai's offline TestModel
    assert "model test (--model)" in result.stdout and not llm.requests
    with SqliteStorage(db_file=target) as store:
        assert len(store.read_messages("session_001")) == 4

    again = cli("demo", "--db", target, ok=False)
    assert "exists already" in again.stderr and not llm.requests


def test_demo_default_model_is_local_and_a_missing_extra_is_named(cli, monkeypatch) -> None:
    monkeypatch.delenv("MEMWISE_MODEL", raising=False)
    monkeypatch.setitem(sys.modules, "memwise.models.local", None)  # as if memwise[local] were absent
    result = cli("demo", ok=False)
    assert "memwise[local]" in result.stderr and "The model 'local'" in result.stderr


# ------------------------------------------------------------------------------------- chat
def test_chat_remembers_across_invocations(cli, llm, db) -> None:
    first = chat_as_alice(cli, db, lines=f"{INTRO}\n")
    assert first.stdout == "Noted.\n"  # piped stdin: answers only, no prompt, no banner
    second = chat_as_alice(cli, db, lines=f"\n{QUESTION}\n")  # a new process-like invocation
    assert second.stdout == "From memory: name: Alice; expertise: Python\n"
    with SqliteStorage(db_file=db) as store:
        assert len(store.read_messages("s1")) == 4
        assert store.get_session("s1").user_id == "alice"
        assert store.get_profile("alice").data == {"name": "Alice", "expertise": ["Python"]}


def test_chat_slash_commands(cli, llm, db) -> None:
    chat_as_alice(cli, db)
    result = chat_as_alice(cli, db, lines="/history\n/history 1\n/summary\n/profile\n/help\n/nope\n/exit\nnot sent\n")
    out = result.stdout
    history, _, rest = out.partition("#3 user")
    assert "#1 user: My name is Alice and I'm a Python developer" in history
    assert "#2 assistant: Noted." in history
    assert "#4 assistant: From memory: name: Alice; expertise: Python" in rest
    assert out.count("#1 user") == 1  # `/history 1` shows only the last turn
    assert "- name: Alice\n- expertise: Python" in out
    assert re.search(r"^name\s+Alice\b", out, re.M)
    assert "/forget" in out and "Unknown command /nope" in result.stderr
    assert len(calls(llm, "answer")) == 2  # nothing after /exit reached the model


def test_chat_forget_asks_first(cli, llm, db) -> None:
    chat_as_alice(cli, db)
    kept = chat_as_alice(cli, db, lines="/forget\nno\n/profile\n")
    assert "Nothing was deleted." in kept.stdout and "Forget everything stored about user 'alice'" in kept.stderr
    with SqliteStorage(db_file=db) as store:
        assert store.get_profile("alice") is not None

    gone = chat_as_alice(cli, db, lines="/forget\ny\n/history\n/profile\n")
    assert re.search(r"Forgot user 'alice': 1 session, 4 messages, \d+ runs?, 1 profile\.", gone.stdout)
    assert "(no messages)" in gone.stdout and "(no profile yet)" in gone.stdout
    with SqliteStorage(db_file=db) as store:
        assert store.get_session("s1") is None and store.get_profile("alice") is None


@pytest.mark.parametrize(
    ("flag", "messages", "summary", "profile"),
    [("--no-history", 0, True, True), ("--no-summary", 4, False, True), ("--no-profile", 4, True, False)],
)
def test_chat_memory_flags(cli, llm, db, flag, messages, summary, profile) -> None:
    result = chat_as_alice(cli, db, flag)
    with SqliteStorage(db_file=db) as store:
        assert len(store.read_messages("s1")) == messages
        session = store.get_session("s1")
        assert (session.summary is not None) is summary
        assert (store.get_profile("alice") is not None) is profile
    assert len(calls(llm, "summary")) == (2 if summary else 0)
    assert len(calls(llm, "profile")) == (2 if profile else 0)
    remembered = "From memory: name: Alice; expertise: Python"
    assert result.stdout.splitlines()[-1] == remembered  # each kind of memory alone still recalls


def test_chat_refuses_another_users_session(cli, llm, db) -> None:
    chat_as_alice(cli, db, lines=f"{INTRO}\n")
    result = cli("chat", "--db", db, "--session", "s1", "--user", "mallory", input="hi\n", ok=False)
    assert "belongs to user 'alice'" in result.stderr and result.stdout == ""
    assert len(calls(llm, "answer")) == 1


def test_chat_model_errors_are_one_line(cli, db, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = cli("chat", "--db", db, "--model", "openai/gpt-4o", input="hi\n", ok=False)
    assert "OPENAI_API_KEY" in result.stderr
    result = cli("chat", "--db", db, "--model", "nonsense", input="hi\n", ok=False)
    assert "Unknown model 'nonsense'" in result.stderr


# ------------------------------------------------------------------------- sessions and show
def test_sessions_lists_and_filters(cli, llm, db) -> None:
    chat_as_alice(cli, db, lines=f"{INTRO}\n")
    cli("chat", "--db", db, "--session", "b1", "--user", "bob", input="My name is Bob\n", ok=True)
    cli("chat", "--db", db, "--session", "b2", "--user", "bob", "--no-summary", input="hello\n", ok=True)

    everyone = cli("sessions", "--db", db, ok=True).stdout
    rows = [line.split()[0] for line in everyone.splitlines()[1:]]
    assert rows == ["b2", "b1", "s1"]  # most recently updated first
    assert re.search(r"^s1\s+alice\s+\S+\s+[\d-]+ [\d:]+\s+- name: Alice - expertise: Python", everyone, re.M)

    bobs = cli("sessions", "--db", db, "--user", "bob", ok=True).stdout
    assert [line.split()[0] for line in bobs.splitlines()[1:]] == ["b2", "b1"]
    limited = cli("sessions", "--db", db, "--limit", "1", ok=True)
    assert len(limited.stdout.splitlines()) == 2 and "--limit shows more" in limited.stderr

    nobody = cli("sessions", "--db", db, "--user", "nobody", ok=True)
    assert nobody.stdout == "" and "No sessions for user 'nobody'." in nobody.stderr


def test_show_prints_summary_and_messages(cli, llm, db) -> None:
    chat_as_alice(cli, db)
    out = cli("show", "s1", "--db", db, ok=True).stdout
    assert out.startswith("session s1\nuser alice · agent -")
    assert "summarized through message 4" in out and "usage " in out and "requests=2" in out
    summary_at, messages_at = out.index("- name: Alice"), out.index("#1 user: My name is Alice")
    assert summary_at < messages_at
    assert "#4 assistant: From memory: name: Alice; expertise: Python" in out
    last = cli("show", "s1", "--last", "1", "--db", db, ok=True).stdout
    assert "#1 user" not in last and "#3 user: What's my name and expertise?" in last

    missing = cli("show", "nope", "--db", db, ok=False)
    assert "no session 'nope'" in missing.stderr and missing.stdout == ""


def test_profile_shows_fields_and_provenance(cli, llm, db) -> None:
    chat_as_alice(cli, db)
    with SqliteStorage(db_file=db) as store:
        run_id = store.get_profile("alice").provenance["name"]["run_id"]
    out = cli("profile", "alice", "--db", db, ok=True).stdout
    assert out.startswith("user alice · updated ")
    assert re.search(rf"^name\s+Alice\s+{run_id[:8]}\s+\d{{4}}-", out, re.M)
    assert re.search(r"^expertise\s+Python\s", out, re.M)

    unknown = cli("profile", "zed", "--db", db, ok=False)
    assert "no profile for user 'zed' and no sessions" in unknown.stderr
    cli("chat", "--db", db, "-s", "z", "-u", "zed", "--no-profile", input="hello\n", ok=True)
    assert "no profile for user 'zed' yet" in cli("profile", "zed", "--db", db, ok=False).stderr


def test_forget_confirms_unless_yes(cli, llm, db) -> None:
    chat_as_alice(cli, db)
    cli("chat", "--db", db, "-s", "b1", "-u", "bob", input="hi\n", ok=True)

    declined = cli("forget", "alice", "--db", db, input="n\n", ok=False)
    assert "Delete 1 session (with their messages and runs) and the profile of user 'alice'?" in declined.stderr
    assert "nothing was deleted" in declined.stderr
    no_input = cli("forget", "alice", "--db", db, input="", ok=False)  # end of input means no
    assert "nothing was deleted" in no_input.stderr
    with SqliteStorage(db_file=db) as store:
        assert store.get_session("s1") is not None

    confirmed = cli("forget", "alice", "--db", db, input="y\n", ok=True)
    assert re.fullmatch(r"Forgot user 'alice': 1 session, 4 messages, \d+ runs?, 1 profile\.\n", confirmed.stdout)
    assert cli("forget", "bob", "--yes", "--db", db, ok=True).stdout.startswith("Forgot user 'bob': 1 session")
    with SqliteStorage(db_file=db) as store:
        assert store.list_sessions().items == [] and store.get_profile("alice") is None

    unknown = cli("forget", "alice", "--yes", "--db", db, ok=False)
    assert "nothing is stored about user 'alice'" in unknown.stderr


def test_db_from_environment(cli, llm, db, monkeypatch) -> None:
    monkeypatch.setenv("MEMWISE_DB", db)
    cli("chat", "-s", "s1", "-u", "alice", input=f"{INTRO}\n", ok=True)
    assert Path(db).is_file() and not Path("memwise.db").exists()
    assert "s1" in cli("sessions", ok=True).stdout


def test_default_db_is_memwise_db_in_the_working_directory(cli, llm) -> None:
    assert "no memwise database at 'memwise.db'" in cli("sessions", ok=False).stderr
    assert not Path("memwise.db").exists()  # read commands never create a store
    cli("chat", "-s", "s1", "-u", "alice", input="hi\n", ok=True)
    assert Path("memwise.db").is_file() and "s1" in cli("sessions", ok=True).stdout
