"""`memwise.storage.from_url`: every form builds the storage it names, with its parameters, and
bad input is one clear InvalidInputError (passwords hidden)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from memwise.errors import ConfigurationError, InvalidInputError, NotFoundError
from memwise.storage import from_url
from memwise.storage.in_memory import InMemoryStorage
from memwise.storage.json import JSONStorage
from memwise.storage.sqlite import SqliteStorage
from memwise.storage.url import FORMS, redact
from tests.support.recipe import BackendUnavailable, in_ci


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths land here


def server(connect):
    """The value of a test-server helper, or a skip (a failure in CI) when the server is missing."""
    try:
        return connect()
    except BackendUnavailable as exc:
        if in_ci():
            raise
        pytest.skip(str(exc))


def test_local_forms(tmp_path: Path) -> None:
    for url, file in (
        ("plain.db", tmp_path / "plain.db"),
        (tmp_path / "path-object.db", tmp_path / "path-object.db"),
        ("sqlite:///rel/a.db", tmp_path / "rel" / "a.db"),  # three slashes: relative
        (f"sqlite:///{tmp_path}/abs.db", tmp_path / "abs.db"),  # four: absolute
    ):
        with from_url(url) as store:
            assert isinstance(store, SqliteStorage) and Path(store.db_file).absolute() == file
            store.create_session("s1")
        assert file.is_file()
    with from_url(":memory:") as store:
        assert isinstance(store, SqliteStorage) and store.db_file.startswith("file:memwise-")
    with from_url("json:///js") as store:
        assert isinstance(store, JSONStorage) and store.db_path == tmp_path / "js"
    assert isinstance(from_url("memory://"), InMemoryStorage)
    assert isinstance(from_url("  SQLITE:///upper.db  "), SqliteStorage)  # scheme case and spaces


def test_create_false_wants_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no memwise database at 'missing.db'"):
        from_url("missing.db", create=False)
    with pytest.raises(NotFoundError, match="no memwise JSON store at 'nope'"):
        from_url("json:///nope", create=False)
    assert list(tmp_path.iterdir()) == []  # nothing was created
    from_url("here.db").list_sessions()
    assert isinstance(from_url("here.db", create=False), SqliteStorage)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://user:hunter2@host/x", "unknown kind of database 'ftp'"),
        ("sqlite://missing.db", "a SQLite URL looks like sqlite:///relative/path"),
        ("sqlite:///a.db?timeout=3", "without parameters"),
        ("json://", "a JSON directory URL looks like json:///"),
        ("memory://x", "an in-memory store is just memory://"),
        ("postgresql://root:hunter2@127.0.0.1/test?schema=no-dashes", "db_schema must be 1-63 letters"),
        ("postgresql://root:hunter2@127.0.0.1/test?schema=", "parameter 'schema' needs a value"),
        ("postgresql://root@127.0.0.1/test?schema=a&schema=b", "parameter 'schema' is given twice"),
        ("postgresql://root:hunter2@127.0.0.1/test?shema=s", 'invalid URI query parameter: "shema"'),
        ("redis://:hunter2@127.0.0.1:6379/0?prefx=p", "unexpected keyword argument 'prefx'"),
        ("redis://127.0.0.1:6379/0?prefix=a{b}", "db_prefix must be a non-empty string without braces"),
        ("redis://127.0.0.1:6379/0?expire=soon", "expire must be a number of seconds, not 'soon'"),
        ("redis://127.0.0.1:6379/0?expire=-5", "expire must be a positive number"),
        ("redis://127.0.0.1:6379/0?socket_timeout=x", "Invalid value for 'socket_timeout'"),
        ("mongodb://u:hunter2@127.0.0.1:1/db?bogus=1", "Unknown option"),
        ("mongodb://127.0.0.1:1/db?prefix=a$b", "collection_prefix must be a non-empty name"),
    ],
)
def test_bad_urls_name_the_accepted_forms(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        from_url(url)
    text = str(caught.value)
    assert message in text and f"accepted: {FORMS}" in text
    assert "hunter2" not in text


@pytest.mark.parametrize("url", [None, 5, "", "   "])
def test_not_a_url(url: object) -> None:
    with pytest.raises(InvalidInputError, match="must be a non-empty string"):
        from_url(url)  # type: ignore[arg-type]


def test_a_directory_is_not_a_sqlite_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(InvalidInputError, match="'d' is a directory"):
        from_url("d")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInputError, match="is a file, not a directory"):
        from_url("json:///f")


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://root@127.0.0.1:5432/test", "psycopg", "postgres"),
        ("postgres://root@127.0.0.1:5432/test", "psycopg_pool", "postgres"),
        ("rediss://127.0.0.1:6379/0", "redis", "redis"),
        ("mongodb+srv://cluster.example/db", "pymongo", "mongo"),
    ],
)
def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    with pytest.raises(ConfigurationError, match=rf'pip install "memwise\[{extra}\]"'):
        from_url(url)


def test_works_without_the_cli_extra_and_imports_no_driver() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules.update(typer=None, rich=None)  # as if the cli extra were not installed
        from memwise.storage import from_url
        store = from_url("memory://")
        store.create_session("s1")
        print(type(store).__name__, sorted(m for m in ("psycopg", "redis", "pymongo") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["InMemoryStorage", "[]"]


def test_redact() -> None:
    assert redact("postgresql://u:secret@h:5/db?schema=s") == "postgresql://u:***@h:5/db?schema=s"
    assert redact("redis://:secret@h/0") == "redis://:***@h/0"
    assert redact("mongodb://h/db") == "mongodb://h/db" and redact("some/path.db") == "some/path.db"


# --------------------------------------------------------------- the server backends, for real
def test_postgres_schema_parameter() -> None:
    from tests.support.postgres_backend import admin_connection, fresh_schema, server_url

    admin = server(admin_connection)
    with fresh_schema() as schema:
        url = f"{server_url()}?sslmode=disable&schema={schema}&application_name=mw-url-test"
        with from_url(url) as store:
            assert store.db_schema == schema
            assert store.db_url == f"{server_url()}?sslmode=disable&application_name=mw-url-test"  # the rest: libpq's
            store.create_session("s1")
        tables = admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
        ).fetchall()
        assert ("memwise_records",) in tables
    admin.close()


def test_redis_prefix_and_expire_parameters() -> None:
    from tests.support.redis_backend import REDIS_URL, connect, delete_prefix

    client = server(connect)
    prefix = f"mwurl-{uuid.uuid4().hex[:8]}"
    try:
        with from_url(f"{REDIS_URL}?prefix={prefix}&expire=600&socket_timeout=7") as store:
            assert (store.db_prefix, store.expire) == (prefix, 600.0)
            store.create_session("s1")
        keys = [key.decode() for key in client.scan_iter(match=f"{{{prefix}}}*")]
        assert f"{{{prefix}}}:r:session:s1" in keys
        assert 0 < client.pttl(f"{{{prefix}}}:r:session:s1") <= 600_000  # the sliding TTL is on
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_mongo_database_and_prefix() -> None:
    from tests.support import mongo_backend

    url = server(mongo_backend.server_url)
    name = f"mwurl_{uuid.uuid4().hex[:8]}"
    try:
        with from_url(f"{url.rstrip('/')}/{name}?prefix=mine") as store:
            assert store.db_name == name
            store.create_session("s1")
        assert "mine_records" in mongo_backend._admin[name].list_collection_names()
    finally:
        mongo_backend._admin.drop_database(name)
