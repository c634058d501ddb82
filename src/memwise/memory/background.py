"""Memory updates off the response path: per session, one queue of catch-ups after the answers.

A turn stores its answer and lists itself as pending (pending.py); its summary and profile updates
run here afterwards, as a task on the event loop that ran the turn (sync calls run such turns on
memwise's shared loop, see memwise/_sync.py, so a model's HTTP client stays on one loop). Per
session, updates run one at a time and in order, and every turn that ended meanwhile is covered
by the next one (`catch_up` folds everything pending). A failed update is logged and retried with
backoff; runs and reads of the session wait for this process's updates, never for a failing one,
and never see its error (`Memory.pending()` reports it). At interpreter exit, pending updates get
a bounded wait.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic_ai.models import Model

from memwise import _sync
from memwise.errors import MemorySaveError
from memwise.memory.catchup import catch_up
from memwise.memory.pending import NEEDS, pending_of
from memwise.memory.usage import UsageReport
from memwise.storage import closing

if TYPE_CHECKING:
    from memwise.memory.memory import Memory

logger = logging.getLogger("memwise.memory")

#: Seconds an update waits before it starts: turns that end together are covered together, and a
#: loop that ends right after its turn (`asyncio.run`) stops the update before it writes anything
#: (it is made at the next read, run or exit), not in the middle of a write.
START_DELAY_SECONDS = 0.005
#: Seconds a run or a read waits for this process's updates of its session before going on.
WAIT_SECONDS = 60.0
#: Seconds the interpreter's exit waits, in all, for pending updates.
EXIT_WAIT_SECONDS = 30.0
#: Seconds between the attempts of a failing update; after the last, it waits for the next turn
#: of the session or `flush()`.
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)


@dataclass(slots=True)
class PendingUpdates:
    """What `Memory.pending()` returns: what memory is behind on for the session, and why."""

    session_id: str
    turns: int = 0  # stored turns whose summary or profile update is not stored yet
    needs: dict[str, int] = field(default_factory=dict)  # per update ("summary", "profile"): turns waiting
    running: bool = False  # this process is making them now
    failures: int = 0  # failed attempts in a row in this process
    last_error: str | None = None
    retry_in: float | None = None  # seconds until the next attempt after a failure


class _Queue:
    """This process's updates of one session. Its fields change under `_lock` only."""

    def __init__(self, key: tuple[int, str], memory: Memory) -> None:
        self.key, self.memory = key, memory
        self.model: Model | None = None
        self.reports: dict[str, UsageReport] = {}  # runs whose usage report is still to complete
        self.wanted = self.done = 0  # requests made / requests covered by a successful attempt
        self.started = self.failed_attempt = 0  # attempts started / the last one that failed
        self.failures = 0
        self.attempting = False
        self.hurry = False  # flush() wants the next attempt now, not after the backoff
        self.last_error: str | None = None
        self.retry_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.waiters: list[tuple[Callable[[], bool], concurrent.futures.Future[None]]] = []

    def alive(self) -> bool:
        return self.task is not None and not self.task.done() and self.loop is not None and self.loop.is_running()

    def settled(self, target: int) -> bool:
        """Nothing to wait for: the requests up to `target` are done, or it fails, or stopped."""
        return self.done >= target or self.failures > 0 or not self.alive()

    def notify(self) -> None:
        kept = []
        for ready, future in self.waiters:
            if future.done():
                continue
            if ready():
                future.set_result(None)
            else:
                kept.append((ready, future))
        self.waiters = kept


_queues: dict[tuple[int, str], _Queue] = {}
_lock = threading.Lock()


def _key(memory: Memory) -> tuple[int, str]:
    return (id(memory.storage), memory.session_id)


def enqueue(memory: Memory, model: Model | None, run_id: str | None = None, report: UsageReport | None = None) -> None:
    """Ask for the session's pending updates to be made after this call (in the running loop,
    unless this process already makes them in another one)."""
    _request(memory, model, run_id, report)


def _request(
    memory: Memory, model: Model | None, run_id: str | None = None, report: UsageReport | None = None
) -> tuple[_Queue, int, int]:
    """Returns the queue, the request's number and the first attempt that covers it."""
    loop = asyncio.get_running_loop()
    with _lock:
        queue = _queues.get(_key(memory))
        if queue is None:
            queue = _queues[_key(memory)] = _Queue(_key(memory), memory)
        queue.memory = memory
        queue.model = model or queue.model
        if run_id is not None and report is not None:
            queue.reports[run_id] = report
        queue.wanted += 1
        if not queue.alive():
            queue.loop, queue.wake = loop, asyncio.Event()
            queue.task = loop.create_task(_drain(queue), name=f"memwise-memory-{memory.session_id}")
            _flush_at_exit_once()
            closing.before_close(memory.storage, _flush_before_close)
        return queue, queue.wanted, queue.started + 1


async def _drain(queue: _Queue) -> None:
    """Make the session's updates until every request is covered (or attempts run out)."""
    try:
        await asyncio.sleep(START_DELAY_SECONDS)
        while True:
            with _lock:
                target = queue.wanted
                if queue.done >= target:
                    return
                memory, model, reports = queue.memory, queue.model, dict(queue.reports)
                queue.started += 1
                attempt, queue.attempting = queue.started, True
                queue.hurry = False  # this attempt is the one a flush() asked for
            try:
                await catch_up(memory, model, reports)
            except Exception as exc:  # noqa: BLE001 - any failure: logged, reported, retried
                if not await _after_failure(queue, exc, attempt):
                    return
                continue
            with _lock:
                queue.attempting = False
                queue.done = max(queue.done, target)
                queue.failures, queue.last_error, queue.retry_at = 0, None, None
                for run_id in reports:
                    queue.reports.pop(run_id, None)
                queue.notify()
    finally:
        with _lock:
            if queue.task is asyncio.current_task():
                queue.task, queue.attempting = None, False
            if queue.done >= queue.wanted and not queue.failures and _queues.get(queue.key) is queue:
                del _queues[queue.key]
            queue.notify()


async def _after_failure(queue: _Queue, exc: Exception, attempt: int) -> bool:
    """Record a failed attempt; wait before the next one. False: no more attempts for now."""
    with _lock:
        queue.attempting = False
        if _queues.get(queue.key) is not queue:
            return False  # stopped meanwhile (its storage closed, its session deleted): no retry
        queue.failures += 1
        queue.failed_attempt = attempt
        queue.last_error = f"{type(exc).__name__}: {exc}"
        delay = BACKOFF_SECONDS[queue.failures - 1] if queue.failures <= len(BACKOFF_SECONDS) else None
        if queue.hurry:
            delay, queue.hurry = 0.0, False
        queue.retry_at = None if delay is None else time.monotonic() + delay
        queue.notify()
        wake = queue.wake or asyncio.Event()
    session = queue.memory.session_id
    if delay is None:
        logger.error(
            "memory update of session %r failed %d times, last: %s; it is retried at the session's next turn or flush()",
            session, queue.failures, queue.last_error,
        )
        return False
    logger.warning("memory update of session %r failed (%s); retrying in %.0f s", session, queue.last_error, delay)
    wake.clear()
    try:
        await asyncio.wait_for(wake.wait(), delay)
    except TimeoutError:
        pass
    with _lock:
        queue.hurry = False
    return True


async def _wait(queue: _Queue, ready: Callable[[], bool], timeout: float | None) -> bool:
    """Wait until `ready()` (checked under the lock at every change); False after `timeout`."""
    with _lock:
        if ready():
            return True
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        queue.waiters.append((ready, future))
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        return False
    return True


def _cannot_wait(queue: _Queue) -> bool:
    """The queue's loop is the one blocked waiting for us (a sync call made on that loop)."""
    return queue.loop is not None and queue.loop is _sync.blocked_loop()


async def settle(memory: Memory, timeout: float | None = WAIT_SECONDS) -> None:
    """Wait for this process's updates of the memory's session, unless they are failing. Updates
    whose task ended with its event loop (`asyncio.run` returned) are made here and now."""
    with _lock:
        queue = _queues.get(_key(memory))
        if queue is None or queue.done >= queue.wanted or queue.failures or _cannot_wait(queue):
            return
        orphaned, target = not queue.alive(), queue.wanted
    if orphaned:
        done = await catch_up_now(memory, queue.model, force=False, timeout=timeout)
    else:
        done = await _wait(queue, lambda: queue.settled(target), timeout)
    if not done and not failing(memory):
        logger.warning("memory updates of session %r still running after %s s; going on without them",
                       memory.session_id, timeout)


def behind(memory: Memory) -> str | None:
    """This process's updates of the session, in a word: "updating", "retrying" (they fail), or
    None when there are none."""
    with _lock:
        queue = _queues.get(_key(memory))
        if queue is None or queue.done >= queue.wanted:
            return None
        return "retrying" if queue.failures else "updating"


def failing(memory: Memory) -> bool:
    """This process's updates of the session are failing (they are not waited for)."""
    queue = _queues.get(_key(memory))
    return queue is not None and queue.failures > 0


async def catch_up_now(memory: Memory, model: Model | None, *, force: bool, timeout: float | None) -> bool:
    """Make the session's pending updates now and wait for them; True when made. `force`: also
    when they are failing (a new attempt at once, its error kept); else give up on a failure."""
    queue, target, first = _request(memory, model)
    with _lock:
        if _cannot_wait(queue):
            return False
        if force and queue.wake is not None and queue.loop is not None:
            queue.hurry = True
            queue.loop.call_soon_threadsafe(queue.wake.set)

    def ready() -> bool:
        stopped = queue.failed_attempt >= first if force else queue.failures > 0
        return queue.done >= target or stopped or not queue.alive()

    await _wait(queue, ready, timeout)
    return queue.done >= target


async def flush(memory: Memory, timeout: float | None = None) -> None:
    """Make the session's pending updates now (this process's, and those a crashed one left);
    MemorySaveError if they cannot be made."""
    if not await catch_up_now(memory, memory.model, force=True, timeout=timeout):
        queue = _queues.get(_key(memory))
        reason = queue.last_error if queue is not None and queue.last_error else "timed out"
        raise MemorySaveError(f"memory updates of session {memory.session_id!r} are not stored: {reason}")


async def stop(storage: object, matches: Callable[[Memory], bool]) -> None:
    """Stop this process's updates of the sessions of `storage` that `matches` (before they are
    deleted: an update must not write a deleted user's profile again). What they had to do stays
    listed on the sessions."""
    for ended in _cancel(storage, matches):
        await asyncio.wrap_future(ended)


def discard(storage: object, timeout: float = 5.0) -> None:
    """Stop this process's updates of every session of `storage` without making them (it is being
    closed), waiting up to `timeout` seconds for them to end; the sessions keep them listed as
    pending, and their next run catches up."""
    concurrent.futures.wait(_cancel(storage, lambda memory: True), timeout=timeout)


def _cancel(storage: object, matches: Callable[[Memory], bool]) -> list[concurrent.futures.Future[None]]:
    """Cancel the matching queues' tasks; returns futures done when each has ended (only those
    that can end while the caller waits: not on a loop the caller blocks)."""
    with _lock:
        victims = [q for key, q in _queues.items() if key[0] == id(storage) and matches(q.memory)]
        for queue in victims:
            del _queues[queue.key]
    ended = []
    for queue in victims:
        with _lock:
            task, loop = queue.task, queue.loop
            if task is None or task.done() or loop is None or loop.is_closed():
                continue
            loop.call_soon_threadsafe(task.cancel)
            if loop is _sync.running_loop() or _cannot_wait(queue):
                continue
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            queue.waiters.append((functools.partial(_ended, queue), future))
            ended.append(future)
    return ended


def _ended(queue: _Queue) -> bool:
    return queue.task is None


async def status(memory: Memory) -> PendingUpdates:
    """What is behind for the memory's session: read from storage, with this process's attempts."""
    session = await memory.storage.aget_session(memory.session_id)
    entries = pending_of(session)
    report = PendingUpdates(
        memory.session_id, turns=len(entries),
        needs={need: n for need in NEEDS if (n := sum(need in e.needs for e in entries))},
    )
    with _lock:
        queue = _queues.get(_key(memory))
        if queue is not None:
            report.running = queue.attempting and queue.alive()
            report.failures, report.last_error = queue.failures, queue.last_error
            if queue.retry_at is not None:
                report.retry_in = max(0.0, queue.retry_at - time.monotonic())
    return report


def _flush_at_exit_once() -> None:
    """Flush at interpreter exit: first with threading's exit hooks, before thread pools stop
    taking work (`asyncio.to_thread`, which storages and model calls use, fails after that), where
    available; then with atexit, for updates that threads still running then left."""
    global _exit_hooked
    if _exit_hooked:
        return
    _exit_hooked = True
    import concurrent.futures.thread  # noqa: F401 - registers the pools' exit hook, which must run after ours

    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(_flush_at_exit)
    except RuntimeError:  # exiting already
        pass
    atexit.register(_flush_at_exit)


_exit_hooked = False
_exit_deadline: list[float] = []  # set by the first exit hook: the two share EXIT_WAIT_SECONDS


def _flush_at_exit() -> None:
    if not _exit_deadline:
        _exit_deadline.append(time.monotonic() + EXIT_WAIT_SECONDS)
    flush_all(max(0.0, _exit_deadline[0] - time.monotonic()))


def _flush_before_close(storage: object) -> None:
    """The storage is closing: its pending updates first (bounded), then none may touch it."""
    flush_all(EXIT_WAIT_SECONDS, storage=storage)
    discard(storage)


def flush_all(timeout: float = EXIT_WAIT_SECONDS, *, storage: object | None = None) -> list[str]:
    """Wait up to `timeout` seconds in all for this process's pending updates (of every session,
    or those of `storage`); returns the sessions whose updates are not stored (they stay pending:
    the next run catches up)."""
    deadline = time.monotonic() + timeout
    with _lock:
        waiting = [q for q in _queues.values() if q.done < q.wanted and storage in (None, q.memory.storage)]
    missed = []
    for queue in waiting:
        remaining = deadline - time.monotonic()
        loop = queue.loop if queue.alive() and queue.loop is not None else _sync.shared_loop()
        try:
            if remaining <= 0:
                raise TimeoutError("out of time")
            if loop is _sync.running_loop():
                raise RuntimeError("called from the event loop the updates run on; await aclose() instead")
            asyncio.run_coroutine_threadsafe(flush(queue.memory, timeout=remaining), loop).result(timeout=remaining + 1)
        except Exception as exc:  # noqa: BLE001 - said, and left pending for the next run
            missed.append(queue.memory.session_id)
            logger.warning("memory updates of session %r not stored (%s); the next run catches up",
                           queue.memory.session_id, exc)
    return missed
