"""The MongoDB recipe: a real wire-protocol server for the whole pytest session, a fresh database
per recipe (dropped afterwards).

By default the server is SecantusDB (`secantusdb` from PyPI, a MongoDB wire-protocol server on
WiredTiger), started in this process on 127.0.0.1 and a free port the first time a test needs it,
and stopped at exit. Child processes of the cross-process tests reach it over TCP like any client.
Set MEMWISE_MONGO_URL (e.g. mongodb://127.0.0.1:27017) to test against a running mongod instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.recipe import BackendUnavailable, Recipe

_lock = threading.Lock()
_url: str | None = None
_admin: Any = None  # a MongoClient used to check the server and drop test databases


def server_url() -> str:
    """The URL of the session's MongoDB server, starting SecantusDB on first use."""
    global _url, _admin
    with _lock:
        if _url is None:
            url = os.environ.get("MEMWISE_MONGO_URL") or _start_secantus()
            try:
                import pymongo
            except ImportError as exc:
                raise BackendUnavailable("pymongo is not installed: pip install 'memwise[mongo]'") from exc
            admin = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000)
            try:
                admin.admin.command("ping")
            except pymongo.errors.PyMongoError as exc:
                admin.close()
                raise BackendUnavailable(f"MongoDB server at {url} does not answer a ping: {exc}") from exc
            _url, _admin = url, admin
            atexit.register(admin.close)
        return _url


def _start_secantus() -> str:
    try:
        from secantus import SecantusDBServer
    except ImportError as exc:
        raise BackendUnavailable(
            "the MongoDB test server is missing: pip install secantusdb==0.7.0b3 (or set MEMWISE_MONGO_URL)"
        ) from exc
    data = tempfile.mkdtemp(prefix="memwise-secantus-")
    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=data)
    try:
        server.start()
    except OSError as exc:
        shutil.rmtree(data, ignore_errors=True)
        raise BackendUnavailable(f"cannot start SecantusDB on 127.0.0.1: {exc}") from exc

    def stop() -> None:
        try:
            server.stop()
        finally:
            shutil.rmtree(data, ignore_errors=True)

    atexit.register(stop)  # registered before the admin client's close: runs after it
    return server.uri


@contextmanager
def mongo(tmp_path: Path) -> Iterator[Recipe]:
    url = server_url()
    db_name = f"memwise_test_{uuid.uuid4().hex[:16]}"
    try:
        yield Recipe("memwise.storage.mongo:MongoStorage", {"db_url": url, "db_name": db_name, "timeout": 10.0})
    finally:
        _admin.drop_database(db_name)
