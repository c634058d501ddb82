"""Run memwise's async core from synchronous code, written once for every sync entry point.

Each thread keeps one event loop (so loop-bound clients keep working across calls); a call made
while a loop is already running in this thread (a notebook, async code calling `agent.do`) runs on
one shared background loop instead, since a running loop cannot be re-entered. Calls that leave
work running after they return (a turn whose memory updates follow it) run on the shared loop too
(`shared_loop=True`): that loop keeps running between calls, and a model's HTTP client is then used
from one loop only.

These loops are shut down as `asyncio.run` shuts its loop down (remaining tasks cancelled, async
generators and the default executor finished, then closed): a thread's loop once the thread has
ended (when the next thread makes its loop), and every loop at interpreter exit. Storages close
their per-loop clients in that shutdown, so a script that never closes its storage exits quietly.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import inspect
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

#: Seconds the exit waits for the background loop's shutdown.
EXIT_TIMEOUT = 30.0

_local = threading.local()
_background: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_background_lock = threading.Lock()
_thread_loops: dict[asyncio.AbstractEventLoop, threading.Thread] = {}  # not shut down yet, by owner
_exit_registered = False
#: The event loop whose thread is blocked in `run_sync` waiting for this coroutine: work queued on
#: that loop cannot progress until the coroutine returns, so it must not be waited for.
_blocked: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar("memwise_blocked", default=None)


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        _shut_down_thread_loops(lambda thread: not thread.is_alive())  # of threads that have ended
        loop = asyncio.new_event_loop()
        _local.loop = loop
        with _background_lock:
            _thread_loops[loop] = threading.current_thread()
            _shut_down_at_exit()
    return loop


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="memwise-sync", daemon=True)
            thread.start()
            _background = (loop, thread)
            _shut_down_at_exit()
        return _background[0]


def _shut_down_at_exit() -> None:
    """Registered when the first loop is made (so after the storages a script builds first: atexit
    runs its handlers last-registered first)."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(_shut_down_all)
        _exit_registered = True


def _shut_down_all() -> None:
    current = threading.current_thread()
    _shut_down_thread_loops(lambda thread: thread is current or not thread.is_alive())
    with _background_lock:
        background = _background
    if background is None:
        return
    loop, thread = background
    if thread.is_alive():
        try:
            asyncio.run_coroutine_threadsafe(_finish(), loop).result(timeout=EXIT_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return  # leave a loop that cannot stop to the interpreter
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=EXIT_TIMEOUT)
    if not loop.is_running():
        loop.close()


def _shut_down_thread_loops(which: Callable[[threading.Thread], bool]) -> None:
    """Shut down the per-thread loops whose thread `which` picks (none of them is running: their
    thread has ended, or it is this one, between calls)."""
    with _background_lock:
        picked = [loop for loop, thread in _thread_loops.items() if which(thread)]
        for loop in picked:
            del _thread_loops[loop]
    for loop in picked:
        if not loop.is_closed():
            try:
                loop.run_until_complete(_finish())
            finally:
                loop.close()


async def _finish() -> None:
    """What `asyncio.run` does before it closes its loop."""
    loop = asyncio.get_running_loop()
    tasks = [task for task in asyncio.all_tasks(loop) if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    for task, result in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True):
        if isinstance(result, Exception):
            loop.call_exception_handler(
                {"message": "unhandled exception during the shutdown of memwise's event loop", "exception": result, "task": task}
            )
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def shared_loop() -> asyncio.AbstractEventLoop:
    """The one background loop sync calls share (started on first use, runs until exit)."""
    return _background_loop()


def blocked_loop() -> asyncio.AbstractEventLoop | None:
    """The loop whose thread waits for the running coroutine (a sync call made on that loop)."""
    return _blocked.get()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """This thread's running event loop, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run_sync(awaitable: Awaitable[T], *, shared_loop: bool = False) -> T:
    """Run `awaitable` to completion and return its result, from any thread (`shared_loop`: on
    the shared background loop, see the module docstring)."""
    running = running_loop()
    if running is not None or shared_loop:
        return _run_on_shared_loop(awaitable, running)
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


def _run_on_shared_loop(awaitable: Awaitable[T], blocked: asyncio.AbstractEventLoop | None) -> T:
    loop = _background_loop()
    finished = threading.Event()
    started: list[asyncio.Task[T]] = []

    def start() -> None:
        task = loop.create_task(_await(awaitable))
        task.add_done_callback(lambda _: finished.set())
        started.append(task)

    token = _blocked.set(blocked)  # the task's context is copied from here
    try:
        loop.call_soon_threadsafe(start)
    finally:
        _blocked.reset(token)
    try:
        finished.wait()
    except BaseException:  # interrupted (Ctrl-C): let the coroutine clean up before re-raising
        loop.call_soon_threadsafe(lambda: started[0].cancel())  # runs after start (callbacks are FIFO)
        finished.wait()
        raise
    return started[0].result()


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


def sync_twin(
    async_fn: Callable[P, Coroutine[Any, Any, T]], *, shared_loop: Callable[[Any], bool] | None = None
) -> Callable[P, T]:
    """Make the blocking twin of an async method; the logic lives only in `async_fn`.
    `shared_loop(self)`: whether the call runs on the shared loop (see `run_sync`)."""

    @functools.wraps(async_fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        shared = shared_loop is not None and shared_loop(args[0])
        return run_sync(async_fn(*args, **kwargs), shared_loop=shared)

    wrapper.__doc__ = f"Blocking version of `{async_fn.__name__}`. " + (inspect.getdoc(async_fn) or "")
    return wrapper
