"""Storage backends, importable from here as in the original (`from memwise.storage import
Memory, SqliteStorage`), and `from_url` building one from a URL or a path. Each name is imported
when first used, so a backend's driver loads only for the backend a program uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memwise._lazy import lazy_getattr

if TYPE_CHECKING:  # `X as X`: re-exported names, for type checkers and linters
    from memwise.memory.memory import Memory as Memory
    from memwise.storage.base import Storage as Storage
    from memwise.storage.in_memory import InMemoryStorage as InMemoryStorage
    from memwise.storage.json import AsyncJSONStorage as AsyncJSONStorage
    from memwise.storage.json import JSONStorage as JSONStorage
    from memwise.storage.mem0 import AsyncMem0Storage as AsyncMem0Storage
    from memwise.storage.mem0 import Mem0Storage as Mem0Storage
    from memwise.storage.mongo import AsyncMongoStorage as AsyncMongoStorage
    from memwise.storage.mongo import MongoStorage as MongoStorage
    from memwise.storage.postgres import AsyncPostgresStorage as AsyncPostgresStorage
    from memwise.storage.postgres import PostgresStorage as PostgresStorage
    from memwise.storage.redis import AsyncRedisStorage as AsyncRedisStorage
    from memwise.storage.redis import RedisStorage as RedisStorage
    from memwise.storage.sqlite import AsyncSqliteStorage as AsyncSqliteStorage
    from memwise.storage.sqlite import SqliteStorage as SqliteStorage
    from memwise.storage.url import from_url as from_url

_LAZY = {
    "Memory": "memwise.memory.memory",
    "Storage": "memwise.storage.base",
    "InMemoryStorage": "memwise.storage.in_memory",
    "JSONStorage": "memwise.storage.json",
    "AsyncJSONStorage": "memwise.storage.json",
    "SqliteStorage": "memwise.storage.sqlite",
    "AsyncSqliteStorage": "memwise.storage.sqlite",
    "PostgresStorage": "memwise.storage.postgres",
    "AsyncPostgresStorage": "memwise.storage.postgres",
    "RedisStorage": "memwise.storage.redis",
    "AsyncRedisStorage": "memwise.storage.redis",
    "MongoStorage": "memwise.storage.mongo",
    "AsyncMongoStorage": "memwise.storage.mongo",
    "Mem0Storage": "memwise.storage.mem0",
    "AsyncMem0Storage": "memwise.storage.mem0",
    "from_url": "memwise.storage.url",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr('memwise.storage', _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
