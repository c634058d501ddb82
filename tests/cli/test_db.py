"""`--db`: paths and URLs for every backend, and one clear line (no traceback) when it is wrong."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

from memwise.cli.stores import redact
from memwise.storage.json import JSONStorage
from memwise.storage.sqlite import SqliteStorage
from tests.support.recipe import BackendUnavailable, in_ci


def test_sqlite_path_and_url_forms(cli, llm, tmp_path) -> None:
    (tmp_path / "rel").mkdir()
    cli("chat", "--db", "sqlite:///rel/a.db", "-s", "s1", "-u", "alice", input="hi\n", ok=True)
    assert (tmp_path / "rel" / "a.db").is_file()  # three slashes: relative to the working directory
    absolute = tmp_path / "abs.db"
    cli("chat", "--db", f"sqlite:///{absolute}", "-s", "s2", "-u", "alice", input="hi\n", ok=True)
    assert absolute.is_file()  # four slashes: an absolute path
    assert "s1" in cli("sessions", "--db", "rel/a.db", ok=True).stdout
    assert "s2" in cli("sessions", "--db", str(absolute), ok=True).stdout


def test_json_directory_url(cli, llm, tmp_path) -> None:
    cli("chat", "--db", "json:///js", "-s", "s1", "-u", "alice", input="My name is Alice\n", ok=True)
    with JSONStorage(tmp_path / "js") as store:
        assert len(store.read_messages("s1")) == 2
    assert re.search(r"^name\s+Alice\b", cli("profile", "alice", "--db", f"json:///{tmp_path / 'js'}", ok=True).stdout, re.M)


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("missing.db", "no memwise database at 'missing.db'"),
        ("sqlite:///missing.db", "no memwise database at 'missing.db'"),
        ("sqlite://missing.db", "a SQLite URL looks like sqlite:///"),
        ("json:///missing-dir", "no memwise JSON store at 'missing-dir'"),
        ("json://", "a JSON directory URL looks like json:///"),
        ("ftp://user:hunter2@host/x", "unknown kind of database 'ftp'"),
        (".", "is a directory"),
    ],
)
def test_bad_db_is_one_clear_line(cli, tmp_path, db, message) -> None:
    result = cli("sessions", "--db", db, ok=False)
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert "hunter2" not in result.stderr and result.stdout == ""
    assert sorted(os.listdir(tmp_path)) == []  # nothing was created


def test_a_file_that_is_not_a_database(cli, llm, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, just text " * 100)
    for args in (["sessions"], ["chat", "-s", "s", "-u", "u"], ["export"]):
        result = cli(*args, "--db", "notes.txt", input="hi\n", ok=False)
        assert "cannot open SQLite database" in result.stderr or "not a database" in result.stderr, result.stderr
    json_file = cli("sessions", "--db", "json:///notes.txt", ok=False)
    assert "is a file, not a directory" in json_file.stderr


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://root@127.0.0.1:5432/test", "psycopg", "postgres"),
        ("postgres://root@127.0.0.1:5432/test", "psycopg_pool", "postgres"),
        ("redis://127.0.0.1:6379/0", "redis", "redis"),
        ("mongodb://127.0.0.1:27017/memwise", "pymongo", "mongo"),
    ],
)
def test_missing_extra_names_the_install_command(cli, monkeypatch, url, module, extra) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    result = cli("sessions", "--db", url, ok=False)
    assert f'pip install "memwise[{extra}]"' in result.stderr


@pytest.mark.parametrize(
    ("url", "where"),
    [("postgresql://root:hunter2@127.0.0.1:1/test", "127.0.0.1:1"), ("redis://:hunter2@127.0.0.1:1/0", "127.0.0.1:1")],
)
def test_unreachable_server(cli, url, where) -> None:
    started = time.monotonic()
    result = cli("sessions", "--db", url, ok=False)
    assert where in result.stderr and "hunter2" not in result.stderr
    assert time.monotonic() - started < 30


def test_redact() -> None:
    assert redact("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("redis://:secret@h/0") == "redis://:***@h/0"
    assert redact("mongodb://h/db") == "mongodb://h/db" and redact("some/path.db") == "some/path.db"


# --------------------------------------------------------------- the network backends, for real
@contextmanager
def _postgres() -> Iterator[str]:
    from tests.support.postgres_backend import admin_connection, schema_url

    with schema_url("mwcli") as url:  # --db takes from_url's parameters
        yield url
        schema = url.rpartition("schema=")[2]
        with admin_connection() as admin:  # the store went to that schema
            assert admin.execute(f'SELECT count(*) FROM "{schema}".memwise_records').fetchone()[0] > 0


@contextmanager
def _redis() -> Iterator[str]:
    from tests.support.redis_backend import connect, prefix_url

    with prefix_url("mwcli") as url:
        yield url
        prefix = url.rpartition("prefix=")[2]
        with connect() as client:  # the store's keys are under that prefix
            assert any(True for _ in client.scan_iter(match=f"{{{prefix}}}*"))


@contextmanager
def _mongo() -> Iterator[str]:
    from tests.support import mongo_backend

    url = mongo_backend.server_url()
    name = f"memwise_cli_{uuid.uuid4().hex[:12]}"
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))  # the database is the URL's path
    finally:
        mongo_backend._admin.drop_database(name)


@pytest.mark.parametrize("backend", ["postgres", "redis", "mongo"])
def test_network_backends_chat_and_round_trip(cli, llm, tmp_path, backend) -> None:
    try:
        server = {"postgres": _postgres, "redis": _redis, "mongo": _mongo}[backend]()
        url = server.__enter__()
    except BackendUnavailable as exc:
        if in_ci():
            raise
        pytest.skip(f"{backend} unavailable: {exc}")
    try:
        cli("chat", "--db", url, "-s", "s1", "-u", "alice",
            input="My name is Alice and I'm a Python developer\nWhat's my name?\n", ok=True)
        assert "s1" in cli("sessions", "--db", url, ok=True).stdout
        assert re.search(r"^name\s+Alice\b", cli("profile", "alice", "--db", url, ok=True).stdout, re.M)
        exported = cli("export", "--db", url, ok=True).stdout_bytes
        local = str(tmp_path / "copy.db")
        dump = tmp_path / "dump.jsonl"
        dump.write_bytes(exported)
        cli("import", str(dump), "--db", local, ok=True)
        assert cli("export", "--db", local, ok=True).stdout_bytes == exported
        with SqliteStorage(db_file=local) as store:
            assert len(store.read_messages("s1")) == 4
        cli("forget", "alice", "--yes", "--db", url, ok=True)
        cli("import", str(dump), "--db", url, ok=True)  # and back into the emptied server store
        assert cli("export", "--db", url, ok=True).stdout_bytes == exported
    finally:
        server.__exit__(*sys.exc_info())

