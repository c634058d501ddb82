"""Recipe for RedisStorage on a real Redis server (MEMWISE_REDIS_URL, default 127.0.0.1:6379/0).

Each recipe gets its own random `db_prefix`, so tests never see each other's keys, and deletes
every key of that prefix on exit (a SCAN is fine here: this is test clean-up, not a hot path).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.recipe import BackendUnavailable, Recipe

REDIS_URL = os.environ.get("MEMWISE_REDIS_URL", "redis://127.0.0.1:6379/0")


def connect(url: str = REDIS_URL) -> Any:
    """A sync client that answered PING, or BackendUnavailable naming the server."""
    try:
        import redis as redis_py
    except ImportError:
        raise BackendUnavailable("the redis package is missing: pip install 'memwise[redis]'") from None
    client = redis_py.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis_py.RedisError as exc:
        client.close()
        raise BackendUnavailable(
            f"no Redis server answers at {url} ({exc}); start one (redis-server --daemonize yes) "
            "or point MEMWISE_REDIS_URL at one"
        ) from None
    return client


def delete_prefix(client: Any, prefix: str) -> int:
    """Delete every key of a RedisStorage prefix: the catalog `{P}...` and the logs `{P:m:...}`."""
    deleted = 0
    for pattern in (f"{{{prefix}}}*", f"{{{prefix}:m:*"):
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 500:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    return deleted


@contextmanager
def redis(tmp_path: Path) -> Iterator[Recipe]:
    client = connect()
    prefix = f"mwtest-{uuid.uuid4().hex[:12]}"
    try:
        yield Recipe("memwise.storage.redis:RedisStorage", {"db_url": REDIS_URL, "db_prefix": prefix})
    finally:
        try:
            delete_prefix(client, prefix)
        finally:
            client.close()


@contextmanager
def prefix_url(name: str = "mwtest") -> Iterator[str]:
    """A URL for `from_url` with a new random `?prefix=`; every key of that prefix goes on exit."""
    client = connect()
    prefix = f"{name}-{uuid.uuid4().hex[:12]}"
    try:
        yield f"{REDIS_URL}?prefix={prefix}"
    finally:
        try:
            delete_prefix(client, prefix)
        finally:
            client.close()
