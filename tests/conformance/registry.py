"""Every backend the conformance suite runs against: name -> recipe factory.

A factory is a context manager taking pytest's tmp_path and yielding a `Recipe` for a fresh,
empty store; it cleans up on exit and raises `BackendUnavailable` when its server is missing.
Adding a backend: write it, add one line here.
"""

from __future__ import annotations

from tests.support import local_backends, mem0_backend, mongo_backend, postgres_backend, redis_backend

BACKENDS = {
    "in_memory": local_backends.in_memory,
    "sqlite": local_backends.sqlite,
    "json": local_backends.json_files,
    "redis": redis_backend.redis,
    "postgres": postgres_backend.postgres,
    "mongo": mongo_backend.mongo,
    "mem0": mem0_backend.mem0,
}
