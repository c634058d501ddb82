"""One async client per event loop, closed when that loop shuts down.

An asyncio client (`redis.asyncio.Redis`, `AsyncMongoClient`, psycopg's `AsyncConnectionPool`) is
bound to the event loop it was made on, so a storage that serves several loops (`asyncio.run`
twice, the per-thread loops of memwise's sync API) keeps one per loop, made there on first use.

Each client comes with a guard task on its loop. A loop's shutdown (`asyncio.run`, or memwise's
sync API when a thread or the interpreter ends) cancels every task left; the guard then closes
its client on its own loop, so no socket, pool task or pending task outlives the loop. Closing
while tasks are being cancelled, rather than afterwards (an async generator's `finally`), matters:
psycopg's pool workers survive a cancellation and would keep the shutdown waiting for them.
`close()` ends every guard wherever its loop is: idle, running in this thread or another, or gone.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from memwise.errors import StorageError

C = TypeVar("C")

#: Seconds a sync `close()` waits for a client on another thread's running loop to close.
CLOSE_TIMEOUT = 30.0

_CLOSING: set[asyncio.Task[Any]] = set()  # guards closing in the background (loops hold tasks weakly)


@dataclass(slots=True)
class _Entry(Generic[C]):
    client: C
    guard: asyncio.Task[None] | None = None
    closed: bool = False


class LoopClients(Generic[C]):
    """The async clients of one storage, one per event loop.

    `open()` makes a client (awaited on the loop it is for); `close(client)` closes it on that
    loop; `abandon(client)`, if given, releases what it can of a client whose loop was closed
    without shutting down (no coroutine can run there any more). `owner` names the storage in
    errors and task names.
    """

    def __init__(
        self,
        owner: str,
        open: Callable[[], Awaitable[C]],
        close: Callable[[C], Awaitable[Any]],
        abandon: Callable[[C], None] | None = None,
    ) -> None:
        self._owner = owner
        self._open = open
        self._close = close
        self._abandon = abandon
        self._lock = threading.Lock()
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[C]] = {}
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._closed = False
        self._pid = os.getpid()
        self._inherited: list[Any] = []  # a forked child's copies of the parent's clients: never used or closed

    async def get(self) -> C:
        """The running loop's client, made on first use (one task per loop makes it)."""
        loop = asyncio.get_running_loop()
        entry = self._entries.get(loop)
        if entry is not None and self._pid == os.getpid():
            return entry.client
        with self._lock:
            self._check_usable()
            opening = self._opening.setdefault(loop, asyncio.Lock())
        async with opening:
            entry = self._entries.get(loop)
            if entry is not None:
                return entry.client
            client = await self._open()
            with self._lock:
                if not self._closed:
                    self._forget_closed_loops()
                    entry = self._entries[loop] = _Entry(client)
                    entry.guard = loop.create_task(self._guard(loop, entry), name=f"memwise-loop-guard of {self._owner}")
            if entry is None:
                await self._close(client)  # closed while this one was opening
                raise StorageError(f"{self._owner} is closed")
            await asyncio.sleep(0)  # let the guard start: a task cancelled before it starts runs no code
            return client

    def opened_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a client is open for `loop` (for tests and diagnostics)."""
        entry = self._entries.get(loop)
        return entry is not None and not entry.closed

    def close(self) -> None:
        """Close every client, each on its own loop, and refuse new ones. Safe from any thread."""
        with self._lock:
            self._closed = True
            entries, self._entries = self._entries, {}
            self._opening = {}
        for loop, entry in entries.items():
            self._stop(loop, entry)

    async def aclose(self) -> None:
        """Close the running loop's client here, then the others (from a worker thread when there are
        any: waiting for another loop must not block this one)."""
        with self._lock:
            entry = self._entries.pop(asyncio.get_running_loop(), None)
            others = bool(self._entries)
        if entry is not None:
            await self._end(entry)
        if others:
            await asyncio.to_thread(self.close)
        else:
            self.close()

    async def _guard(self, loop: asyncio.AbstractEventLoop, entry: _Entry[C]) -> None:
        """Wait for the loop's shutdown (or `close()`), which cancels this task; then close the client."""
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            with self._lock:
                if self._entries.get(loop) is entry:  # cancelled by the loop: a later call opens anew
                    del self._entries[loop]
            await self._close_quietly(entry)
            raise

    async def _end(self, entry: _Entry[C]) -> None:
        """Cancel the guard, which closes the client (or close it here if the guard never started)."""
        if entry.guard is not None:
            entry.guard.cancel()
            await asyncio.wait([entry.guard])
        await self._close_quietly(entry)

    async def _close_quietly(self, entry: _Entry[C]) -> None:
        if entry.closed:
            return
        entry.closed = True
        try:
            await self._close(entry.client)
        except Exception:  # noqa: BLE001 - the client or its loop is going away; nothing is left to tell
            pass

    def _stop(self, loop: asyncio.AbstractEventLoop, entry: _Entry[C]) -> None:
        """Close a client on its own loop, whatever state that loop is in."""
        if entry.closed:
            return
        if loop.is_closed():  # closed without shutting down: no coroutine can run there any more
            entry.closed = True
            if entry.guard is not None:
                entry.guard._log_destroy_pending = False  # type: ignore[attr-defined]  # it can never run: say nothing
            if self._abandon is not None:
                self._abandon(entry.client)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:  # close() called by a coroutine of that loop, which cannot wait here
            task = loop.create_task(self._end(entry))
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)
        elif loop.is_running():  # another thread's loop
            asyncio.run_coroutine_threadsafe(self._end(entry), loop).result(timeout=CLOSE_TIMEOUT)
        elif running is None:
            loop.run_until_complete(self._end(entry))
        # else another loop runs in this thread and cannot run this one: the loop's shutdown closes it

    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError(f"{self._owner} is closed")
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use or close
            self._inherited.append(self._entries)
            self._entries, self._opening, self._pid = {}, {}, os.getpid()

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._entries if loop.is_closed()]:
            self._stop(loop, self._entries.pop(loop))
            self._opening.pop(loop, None)


__all__ = ["LoopClients"]
