"""The sync API's per-thread event loops are shut down as `asyncio.run` shuts its loop down once
their thread has ended: the tasks left there are cancelled and finish (a storage's per-loop
client closes then), and the loop is closed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from memwise._sync import run_sync


def _in_thread(fn: Any) -> Any:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


def test_an_ended_threads_loop_is_shut_down_when_the_next_thread_makes_its_own() -> None:
    cleaned: list[str] = []

    async def leave_a_task_behind() -> tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]:
        async def lingering() -> None:
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                await asyncio.sleep(0)  # closing a client takes awaits
                cleaned.append("closed")
                raise

        task = asyncio.get_running_loop().create_task(lingering())
        await asyncio.sleep(0)
        return asyncio.get_running_loop(), task

    loop, task = _in_thread(lambda: run_sync(leave_a_task_behind()))
    assert not loop.is_closed() and not task.done()  # its thread has ended; nothing noticed yet
    other = _in_thread(lambda: run_sync(_running_loop()))
    assert other is not loop
    assert loop.is_closed() and task.cancelled() and cleaned == ["closed"]


def test_a_live_threads_loop_is_kept_across_calls() -> None:
    def twice() -> tuple[Any, Any]:
        return run_sync(_running_loop()), run_sync(_running_loop())

    first, second = _in_thread(twice)
    assert first is second


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
