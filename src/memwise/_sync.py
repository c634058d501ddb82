"""Run memwise's async core from synchronous code, written once for every sync entry point.

Each thread keeps one event loop (so loop-bound clients keep working across calls); a call made
while a loop is already running in this thread (a notebook, async code calling `agent.do`) runs on
one shared background loop instead, since a running loop cannot be re-entered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

_local = threading.local()
_background: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_background_lock = threading.Lock()


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="memwise-sync", daemon=True)
            thread.start()
            _background = (loop, thread)
        return _background[0]


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion and return its result, from any thread."""
    if _in_running_loop():
        return asyncio.run_coroutine_threadsafe(_await(awaitable), _background_loop()).result()
    loop = _thread_loop()
    task = loop.create_task(_await(awaitable))
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if not task.done():  # interrupted (Ctrl-C): let the coroutine clean up before re-raising
            task.cancel()
            try:
                loop.run_until_complete(task)
            except BaseException:
                pass
        raise


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Drive an async iterator from sync code with generator semantics: the next item is produced
    only when the consumer asks for it, and stopping early closes the iterator.

    The whole iteration runs as one task on the background loop (async context managers inside
    it must enter and exit in the same task).
    """
    loop = _background_loop()
    items: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    wanted = asyncio.Semaphore(0)  # one release per item the consumer asks for
    state = {"stop": False}
    done = object()

    async def pump() -> None:
        source = make()
        try:
            while True:
                await wanted.acquire()
                if state["stop"]:
                    return
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    items.put((False, done))
                    return
                items.put((True, item))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put((False, exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            await _aclose(source)  # an early stop closes the stream here, in its own task

    future = asyncio.run_coroutine_threadsafe(pump(), loop)
    finished = False
    try:
        while True:
            loop.call_soon_threadsafe(wanted.release)
            ok, item = items.get()
            if ok:
                yield item
                continue
            finished = True
            if item is done:
                return
            raise item
    finally:
        if not finished:  # the consumer stopped early: close the stream and wait until it is closed
            state["stop"] = True
            loop.call_soon_threadsafe(wanted.release)
            concurrent.futures.wait([future])


async def _aclose(source: AsyncIterator[Any]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()


def sync_twin(async_fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Make the blocking twin of an async method; the logic lives only in `async_fn`."""

    @functools.wraps(async_fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(async_fn(*args, **kwargs))

    wrapper.__doc__ = f"Blocking version of `{async_fn.__name__}`. " + (inspect.getdoc(async_fn) or "")
    return wrapper
