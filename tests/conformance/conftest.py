"""Parametrize the conformance suite over every backend x {sync, async}.

Tests are written once, as coroutines against `api`: in sync mode `api.x(...)` calls the
storage's blocking `x`, in async mode it awaits the storage's `ax`. So both flavours run the
same assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from memwise.storage.base import Storage
from tests.support.fixtures import recipe  # noqa: F401 (the shared per-backend fixture)
from tests.support.recipe import Recipe


class Api:
    """One storage seen through its sync or its async methods, always awaited."""

    def __init__(self, storage: Storage, mode: str, recipe: Recipe) -> None:
        self.storage, self.mode, self.recipe = storage, mode, recipe

    def __getattr__(self, name: str) -> Any:
        if self.mode == "async":
            return getattr(self.storage, "a" + name)
        method = getattr(self.storage, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call

    async def concurrently(self, count: int, job: Any) -> list[Any]:
        """Run job(i) for i in range(count) at once: in threads (sync) or as tasks (async)."""
        if self.mode == "async":
            return await asyncio.gather(*(job(i) for i in range(count)))
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=count) as pool:  # one thread per job: all truly at once
            runs = [loop.run_in_executor(pool, asyncio.run, job(i)) for i in range(count)]
            return await asyncio.gather(*runs)


@pytest.fixture
def storage(recipe: Recipe) -> Iterator[Storage]:
    built = recipe.build()
    yield built
    built.close()


@pytest.fixture(params=["sync", "async"])
async def api(request: pytest.FixtureRequest, storage: Storage, recipe: Recipe) -> AsyncIterator[Api]:
    yield Api(storage, request.param, recipe)
    if request.param == "async":
        await storage.aclose()  # inside the test's loop, as users must: its async clients live there
