"""`memwise kb ...`: knowledge bases in a SQLite file, in-process through typer's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memwise.storage.sqlite import SqliteStorage

SORTING = "To sort a list in place call list.sort(); sorted() returns a new sorted list."
DICTS = "A dictionary maps keys to values; dict.get returns a default for a missing key."
TUPLES = "Tuples are immutable sequences, often used for records of a few fields."


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """sorting.md, and a folder guide/ with dicts.txt and tuples.md (and a file no loader reads)."""
    (tmp_path / "sorting.md").write_text(SORTING)
    guide = tmp_path / "guide"
    guide.mkdir()
    (guide / "dicts.txt").write_text(DICTS)
    (guide / "tuples.md").write_text(TUPLES)
    (guide / "logo.xyz").write_bytes(b"\x89PNG")
    return tmp_path


def documents(db: str, kb: str) -> dict[str, str]:
    """name -> status of a knowledge base's documents, read from the store itself."""
    with SqliteStorage(db_file=db) as store:
        return {d.name: d.status for d in store.list_documents(kb)}


def test_kb_is_a_command_group(cli) -> None:
    assert re.search(r"^\W*kb\b", cli("--help", ok=True).stdout, re.M)
    out = cli("kb", "--help", ok=True).stdout
    for name in ("add", "list", "search", "remove", "refresh"):
        assert re.search(rf"^\W*{name}\b", out, re.M), name
    assert "Exit status 1 if any source failed" in " ".join(cli("kb", "add", "--help", ok=True).stdout.split())


def test_add_ingests_files_and_folders_and_skips_unchanged_ones(cli, db, files) -> None:
    first = cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    assert first.stdout.startswith("Knowledge base 'py': 3 added, 0 updated, 0 unchanged, 0 removed (")
    assert documents(db, "py") == {"sorting.md": "ready", "dicts.txt": "ready", "tuples.md": "ready"}

    again = cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    assert again.stdout == "Knowledge base 'py': 0 added, 0 updated, 3 unchanged, 0 removed.\n"

    (files / "sorting.md").write_text(SORTING + " Pass key= to sort by a computed value.")
    changed = cli("kb", "add", "guide", "sorting.md", "--name", "py", "--db", db, ok=True)
    assert "0 added, 1 updated, 2 unchanged" in changed.stdout
    assert "key=" in cli("kb", "search", "computed value", "--name", "py", "--db", db, ok=True).stdout


def test_add_reports_each_failure_and_exits_1(cli, db, files) -> None:
    (files / "empty").mkdir()
    result = cli("kb", "add", "sorting.md", "missing.md", "no-such-thing", "empty", "--name", "py", "--db", db, ok=False)
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith("Knowledge base 'py': 1 added, 0 updated, 0 unchanged, 0 removed, 3 failed")
    assert f"failed {files / 'missing.md'}: no such file" in out  # the loader's message
    assert "failed no-such-thing: no such file or folder" in out  # not ingested as the text "no-such-thing"
    assert re.search(r"failed empty: no file with a known extension \(.*\.md.*\) under it", out)
    # the missing file is registered in error (a later refresh retries it); the others are not
    assert documents(db, "py") == {"sorting.md": "ready", "missing.md": "error"}
    table = cli("kb", "list", "--name", "py", "--db", db, ok=True).stdout
    assert re.search(r"^missing\.md .* error .*no such file", table, re.M)


def test_list_names_every_knowledge_base_and_its_documents(cli, db, files) -> None:
    with SqliteStorage(db_file=db) as store:  # an existing store without knowledge bases
        store.create_session("s1", user_id="alice")
    empty = cli("kb", "list", "--db", db, ok=True)
    assert empty.stdout == "" and "No knowledge bases." in empty.stderr

    cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    cli("kb", "add", "guide/dicts.txt", "--name", "notes", "--db", db, ok=True)
    cli("kb", "add", "gone.md", "--name", "broken", "--db", db, ok=False)  # every source failed
    bases = cli("kb", "list", "--db", db, ok=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in bases.splitlines()[1:]}
    assert list(rows) == ["broken", "notes", "py"]  # alice's session is no knowledge base
    assert rows["py"][0] == "3" and rows["py"][2] == "0"  # documents, chunks, errors
    assert rows["notes"][0] == "1" and rows["broken"][:3] == ["1", "0", "1"]

    cli("kb", "search", "sort a list", "--name", "py", "--limit", "1", "--db", db, ok=True)
    table = cli("kb", "list", "--name", "py", "--db", db, ok=True).stdout
    header = table.splitlines()[0].split()
    assert header == ["name", "type", "size", "chunks", "status", "message", "accesses", "updated", "id"]
    row = next(line.split() for line in table.splitlines() if line.startswith("sorting.md"))
    assert row[1:3] == ["md", f"{len(SORTING)}"] and row[3] == "B" and row[5:7] == ["ready", "-"]
    assert row[7] == "1"  # the search above returned it once
    with SqliteStorage(db_file=db) as store:
        assert row[-1] == next(d.id for d in store.list_documents("py") if d.name == "sorting.md")


def test_search_prints_chunks_with_citation_and_score(cli, db, files) -> None:
    cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    out = cli("kb", "search", "how do I sort a list", "--name", "py", "--db", db, ok=True).stdout
    assert re.match(r"1\. \[sorting\.md(, [^\]]+)?\]  score \d+\.\d{3}\n", out)
    assert SORTING in out.split("\n2. ")[0]
    one = cli("kb", "search", "immutable tuples sequences dictionary", "--name", "py", "--limit", "1", "--db", db, ok=True)
    assert one.stdout.startswith("1. [") and "\n2. " not in one.stdout

    nothing = cli("kb", "search", "zebra", "--name", "py", "--db", db, ok=True)
    assert nothing.stdout == "" and "Nothing in the knowledge base 'py' matches 'zebra'." in nothing.stderr


def test_remove_by_path_folder_or_id_says_how_many(cli, db, files) -> None:
    cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    folder = cli("kb", "remove", "guide", "--name", "py", "--db", db, ok=True)
    assert folder.stdout == "Removed 2 documents from the knowledge base 'py'.\n"
    with SqliteStorage(db_file=db) as store:
        (document,) = store.list_documents("py")
    by_id = cli("kb", "remove", document.id, "--name", "py", "--db", db, ok=True)
    assert by_id.stdout == "Removed 1 document from the knowledge base 'py'.\n"
    assert documents(db, "py") == {}
    with SqliteStorage(db_file=db) as store:  # the chunks went with their documents
        assert store.list_sessions(agent_id="memwise.knowledge").items == []

    cli("kb", "add", "sorting.md", "--name", "py", "--db", db, ok=True)
    none = cli("kb", "remove", "guide/dicts.txt", "--name", "py", "--db", db, ok=False)
    assert "no document of the knowledge base 'py' matches 'guide/dicts.txt'" in none.stderr
    assert documents(db, "py") == {"sorting.md": "ready"}


def test_refresh_updates_changed_files_and_drops_gone_ones(cli, db, files) -> None:
    cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    (files / "guide" / "dicts.txt").write_text(DICTS + " Dictionaries keep insertion order.")
    (files / "guide" / "tuples.md").unlink()
    result = cli("kb", "refresh", "--name", "py", "--db", db, ok=True)
    assert result.stdout.startswith("Knowledge base 'py': 0 added, 1 updated, 1 unchanged, 1 removed")
    assert documents(db, "py") == {"sorting.md": "ready", "dicts.txt": "ready"}
    assert "insertion order" in cli("kb", "search", "insertion order", "--name", "py", "--db", db, ok=True).stdout


def test_refresh_exits_1_when_a_source_fails(cli, db, files) -> None:
    cli("kb", "add", "sorting.md", "--name", "py", "--db", db, ok=True)
    (files / "sorting.md").write_bytes(b"\x00\x01binary now")
    result = cli("kb", "refresh", "--name", "py", "--db", db, ok=False)
    assert result.exit_code == 1 and "1 failed" in result.stdout
    assert f"failed {files / 'sorting.md'}: " in result.stdout
    assert documents(db, "py") == {"sorting.md": "error"}


@pytest.mark.parametrize("command", [["list"], ["search", "sort"], ["remove", "sorting.md"], ["refresh"]])
def test_an_unknown_knowledge_base_is_one_error_line(cli, db, files, command) -> None:
    cli("kb", "add", "sorting.md", "--name", "py", "--db", db, ok=True)
    result = cli("kb", *command, "--name", "pyy", "--db", db, ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: no knowledge base 'pyy' in {db} (memwise kb list lists them)"
    assert documents(db, "py") == {"sorting.md": "ready"}


def test_bad_names_embedders_and_missing_stores_are_errors(cli, db, files) -> None:
    bad = cli("kb", "add", "sorting.md", "--name", "my docs", "--db", db, ok=False)
    assert "a knowledge base name must be" in bad.stderr
    embedder = cli("kb", "add", "sorting.md", "--name", "py", "--embedder", "no-provider", "--db", db, ok=False)
    assert embedder.stderr.startswith("Error: embedder 'no-provider' cannot be used: ")
    assert documents(db, "py") == {}
    missing = cli("kb", "list", "--db", str(files / "nope.db"), ok=False)
    assert "Error:" in missing.stderr and not (files / "nope.db").exists()  # reading never creates a store


def test_progress_bar_on_a_terminal(cli, db, files, monkeypatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr counts as a terminal
    result = cli("kb", "add", "sorting.md", "guide", "--name", "py", "--db", db, ok=True)
    assert "3/3" in result.stderr
    assert "3 added" in result.stdout


def test_sessions_lists_conversations_not_knowledge_chunks(cli, db, files) -> None:
    cli("kb", "add", "sorting.md", "--name", "py", "--db", db, ok=True)
    with SqliteStorage(db_file=db) as store:
        store.create_session("chat-1", user_id="ann")
    listed = cli("sessions", "--db", db, ok=True).stdout
    assert "chat-1" in listed and "kb:py" not in listed
    assert "kb:py" in cli("sessions", "--user", "kb:py", "--db", db, ok=True).stdout
