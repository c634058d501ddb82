"""`StreamedRun`: text as it arrives, from `for` or `async for`; the RunOutput when done."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any

from memwise._sync import iterate_sync
from memwise.agent.output import RunOutput
from memwise.errors import InvalidInputError


class StreamedRun:
    """Iterate once (sync or async) to receive the answer in pieces; memory is saved when the
    stream completes, and `result` then holds the RunOutput. Stopping early saves nothing."""

    def __init__(self, source: Callable[[], AsyncGenerator[Any, None]]) -> None:
        self._source = source
        self._started = False
        self.result: RunOutput[Any] | None = None

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self._started:
            raise InvalidInputError("a StreamedRun can be iterated only once")
        self._started = True
        async with aclosing(self._source()) as source:
            async for item in source:
                if isinstance(item, RunOutput):
                    self.result = item
                else:
                    yield item

    def __iter__(self) -> Iterator[Any]:
        return iterate_sync(self.__aiter__)

    @property
    def output(self) -> Any:
        """The final output (after the stream completed)."""
        return None if self.result is None else self.result.output
