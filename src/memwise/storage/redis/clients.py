"""The clients of one RedisStorage: a sync `redis.Redis` and one `redis.asyncio.Redis` per event
loop (`memwise.storage.loops`), built from `db_url` or from a given client's settings.

A given client serves its own flavour and is never closed here; the other flavour is built from
its connection settings. Clients built here do not retry: a command whose reply was lost may have
run, and re-running an append would store its messages twice.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.retry
import redis.cluster
import redis.connection
import redis.retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from memwise.errors import ConfigurationError, StorageError, StorageUnavailableError
from memwise.storage.loops import LoopClients

# Connection settings that mean the same thing to the sync and the async driver.
_PORTABLE = {
    "host", "port", "path", "db", "username", "password", "credential_provider", "socket_timeout",
    "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options", "encoding",
    "encoding_errors", "decode_responses", "client_name", "protocol", "health_check_interval",
}


class RedisClients:
    """`db_url` or `given` (a sync or async client, maybe a cluster); `options` go to the clients
    built from `db_url`. `owner` (the storage's repr) names the server and the key prefix."""

    def __init__(self, db_url: str | None, given: Any, options: dict[str, Any], db_prefix: str) -> None:
        self._db_url = db_url
        self._given = given
        self._given_flavour = None if given is None else _flavour(given)
        # A cluster runs a script on one slot's node (see the package notes).
        self.cluster = given is not None and isinstance(given, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster))
        self.where = _where(given) if given is not None else _where_url(db_url or "")
        self.owner = f"RedisStorage({self.where}, db_prefix={db_prefix!r})"
        self._options = options
        self._sync: Any = given if self._given_flavour == "sync" else None
        self._built_sync: Any = None
        self._async = LoopClients(self.owner, self._open_async, self._close_async)
        self._given_async_used = False
        self._lock = threading.Lock()
        self._closed = False

    def sync(self) -> Any:
        client = self._sync
        if client is None:
            with self._lock:
                self._check_open()
                if self._sync is None:
                    self._sync = self._built_sync = self._build(redis, redis.connection, redis.retry)
                client = self._sync
        elif self._closed:
            self._check_open()
        return client

    async def aget(self) -> Any:
        """The running loop's asyncio client."""
        return await self._async.get()

    def failure(self, exc: RedisError) -> StorageError:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            pool = getattr(self._given, "connection_pool", None)
            settings = self._options if pool is None else pool.connection_kwargs
            timeout = settings.get("orig_socket_connect_timeout", settings.get("socket_connect_timeout"))
            return StorageUnavailableError(
                f"Redis at {self.where} is unreachable or not answering ({exc}). Check that redis-server "
                f"runs there and accepts connections from this host (socket_connect_timeout={timeout}s)."
            )
        return StorageError(f"Redis at {self.where} failed: {exc}")

    def close(self) -> None:
        """Close the clients built here (a given client stays open), the async ones on their loops."""
        with self._lock:
            self._closed = True
            built, self._built_sync = self._built_sync, None
        if built is not None:
            built.close()
        self._async.close()

    async def aclose(self) -> None:
        await self._async.aclose()
        self.close()

    async def _open_async(self) -> Any:
        if self._given_flavour == "async":
            with self._lock:
                first, self._given_async_used = not self._given_async_used, True
            if first:  # the given client serves the first loop; it is bound to that one
                return self._given
        return self._build(redis.asyncio, redis.asyncio.connection, redis.asyncio.retry)

    async def _close_async(self, client: Any) -> None:
        if client is not self._given:
            await (client.aclose() if hasattr(client, "aclose") else client.close())  # redis-py < 5.0.1: close()

    def _build(self, module: Any, connections: Any, retry: Any) -> Any:
        """A client of one flavour (a module pair), from db_url or from the given client's settings."""
        no_retry = retry.Retry(NoBackoff(), 0)
        if self._given is None:
            return module.Redis.from_url(self._db_url, retry=no_retry, **self._options)
        pool = getattr(self._given, "connection_pool", None)
        if pool is None:
            raise ConfigurationError(
                f"RedisStorage was given a {type(self._given).__name__}, which serves only its own "
                f"({self._given_flavour}) API; pass a redis.Redis / redis.asyncio.Redis or db_url instead"
            )
        settings = dict(pool.connection_kwargs)
        for name in ("socket_timeout", "socket_connect_timeout"):  # undo temporarily relaxed timeouts
            if f"orig_{name}" in settings:
                settings[name] = settings[f"orig_{name}"]
        kwargs = {k: v for k, v in settings.items() if k in _PORTABLE or k.startswith("ssl_")}
        cls = getattr(connections, pool.connection_class.__name__, connections.Connection)
        return module.Redis(connection_pool=connections.ConnectionPool(connection_class=cls, retry=no_retry, **kwargs))

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"{self.owner} is closed")


def _flavour(client: Any) -> str:
    if isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
        return "async"
    if isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
        return "sync"
    raise ConfigurationError(
        f"redis_client must be a redis.Redis or a redis.asyncio.Redis, not {type(client).__name__}"
    )


def _where(client: Any) -> str:
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return "the Redis cluster"
    return _address(pool.connection_kwargs)


def _where_url(url: str) -> str:
    try:
        settings = redis.connection.parse_url(url)  # type: ignore[no-untyped-call]  # unannotated in redis-py
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"db_url {url!r} is not a redis:// URL ({exc})") from None
    return _address(settings)


def _address(settings: dict[str, Any]) -> str:
    if settings.get("path"):
        return f"unix socket {settings['path']}"
    return f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"
