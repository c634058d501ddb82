"""Recipe for PostgresStorage: a fresh, uniquely named schema in database `test`, dropped on exit.

The server defaults to postgresql://root@127.0.0.1:5432/test (trust auth); set
MEMWISE_TEST_POSTGRES_URL to use another one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.recipe import BackendUnavailable, Recipe

DEFAULT_URL = "postgresql://root@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("MEMWISE_TEST_POSTGRES_URL", DEFAULT_URL)


def admin_connection(url: str | None = None) -> Any:
    """An autocommit psycopg connection to the test server, or BackendUnavailable naming it."""
    url = url or server_url()
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError as exc:
        raise BackendUnavailable(f"psycopg is not installed ({exc}); pip install 'memwise[postgres]'") from None
    params = conninfo_to_dict(url)
    where = f"{params.get('host', 'localhost')}:{params.get('port', '5432')}"
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise BackendUnavailable(
            f"PostgreSQL server at {where} (database {params.get('dbname')!r}) is unreachable: {reason}"
        ) from None


@contextmanager
def fresh_schema(prefix: str = "mw_test") -> Iterator[str]:
    """A new empty schema name (created on first use by the storage), dropped with CASCADE on exit."""
    admin = admin_connection()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        try:
            admin.execute("SET statement_timeout = '60s'")
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            admin.close()


@contextmanager
def postgres(tmp_path: Path) -> Iterator[Recipe]:
    with fresh_schema() as schema:
        yield Recipe("memwise.storage.postgres:PostgresStorage", {"db_url": server_url(), "db_schema": schema})


@contextmanager
def schema_url(name: str = "mw_test") -> Iterator[str]:
    """A URL for `from_url` with a new `?schema=`, dropped on exit."""
    admin_connection().close()  # BackendUnavailable when the server is missing
    with fresh_schema(name) as schema:
        yield f"{server_url()}?schema={schema}"
