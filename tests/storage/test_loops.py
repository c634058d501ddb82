"""LoopClients: one async client per event loop, closed on its own loop when that loop shuts down
or the storage closes, whatever state the loop is in (idle, running here or in another thread,
closed without shutting down)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from typing import Any

import pytest

from memwise.errors import StorageError
from memwise.storage.loops import LoopClients


class Client:
    def __init__(self, number: int) -> None:
        self.number = number
        self.made_on = asyncio.get_running_loop()
        self.closed_on: asyncio.AbstractEventLoop | None = None
        self.abandoned = False


class Clients:
    """A LoopClients over fake clients that record where they were made and closed."""

    def __init__(self, fail_close: bool = False) -> None:
        self.made: list[Client] = []
        self.fail_close = fail_close
        self.loops = LoopClients("FakeStorage()", self.open, self.close, self.abandon)

    async def open(self) -> Client:
        await asyncio.sleep(0.01)  # a slow connect: concurrent first calls must wait for it
        self.made.append(Client(len(self.made)))
        return self.made[-1]

    async def close(self, client: Client) -> None:
        await asyncio.sleep(0)
        client.closed_on = asyncio.get_running_loop()
        if self.fail_close:
            raise ConnectionError("the server went away")

    def abandon(self, client: Client) -> None:
        client.abandoned = True


def _others(loop: asyncio.AbstractEventLoop) -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks(loop) if task is not asyncio.current_task(loop)}


def test_one_client_per_loop_made_once_under_concurrent_first_use() -> None:
    fake = Clients()

    async def use() -> list[Client]:
        return list(await asyncio.gather(*(fake.loops.get() for _ in range(10))))

    first, second = asyncio.run(use()), asyncio.run(use())
    assert {c.number for c in first} == {0} and {c.number for c in second} == {1}
    assert len(fake.made) == 2


def test_the_loops_shutdown_closes_its_client_there() -> None:
    fake = Clients()
    loops: list[asyncio.AbstractEventLoop] = []

    async def use() -> None:
        await fake.loops.get()
        loops.append(asyncio.get_running_loop())

    asyncio.run(use())
    asyncio.run(use())
    assert [c.closed_on for c in fake.made] == loops  # each on the loop it was made on


def test_close_on_an_idle_loop_leaves_no_task(caplog: pytest.LogCaptureFixture) -> None:
    """What `agent.do()` leaves: a per-thread loop that stays open between calls."""
    fake = Clients()
    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(fake.loops.get())
        assert fake.loops.opened_on(loop) and len(asyncio.all_tasks(loop)) == 1  # the guard
        fake.loops.close()
        assert client.closed_on is loop and not asyncio.all_tasks(loop) and not fake.loops.opened_on(loop)
        with pytest.raises(StorageError, match=r"FakeStorage\(\) is closed"):
            loop.run_until_complete(fake.loops.get())
    finally:
        loop.close()


def test_close_from_another_thread_closes_on_the_running_loop() -> None:
    fake = Clients()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        client = asyncio.run_coroutine_threadsafe(fake.loops.get(), loop).result(5)
        fake.loops.close()
        assert client.closed_on is loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_sync_close_inside_the_loop_closes_in_the_background() -> None:
    fake = Clients()

    async def use() -> Client:
        client = await fake.loops.get()
        fake.loops.close()  # a sync close() from a coroutine cannot wait: the guard closes it
        for _ in range(5):
            await asyncio.sleep(0)
        assert not _others(asyncio.get_running_loop())
        return client

    assert asyncio.run(use()).closed_on is not None


def test_aclose_closes_this_loops_client_and_the_others() -> None:
    fake = Clients()
    idle = asyncio.new_event_loop()
    try:
        other = idle.run_until_complete(fake.loops.get())

        async def use() -> Client:
            mine = await fake.loops.get()
            await fake.loops.aclose()
            assert not _others(asyncio.get_running_loop())
            return mine

        mine = asyncio.run(use())
        assert mine.closed_on is not None and other.closed_on is idle
    finally:
        idle.close()


def test_a_loop_closed_without_shutdown_is_abandoned_quietly(caplog: pytest.LogCaptureFixture) -> None:
    fake = Clients()
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(fake.loops.get())
    loop.close()  # no shutdown: the guard can never run again
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(fake.loops.get())  # a new loop forgets the dead one
        assert client.abandoned and client.closed_on is None
        del loop
        gc.collect()
    assert "destroyed" not in caplog.text


def test_a_failing_close_does_not_outlive_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    fake = Clients(fail_close=True)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(fake.loops.get())
        gc.collect()
    assert fake.made[0].closed_on is not None
    assert caplog.text == ""  # no "Task exception was never retrieved"


def test_a_guard_cancelled_by_the_loop_lets_the_next_call_open_anew() -> None:
    fake = Clients()

    async def use() -> tuple[Client, Client]:
        first = await fake.loops.get()
        for task in _others(asyncio.get_running_loop()):
            task.cancel()  # what a loop's shutdown does
        await asyncio.sleep(0.01)
        return first, await fake.loops.get()

    first, second = asyncio.run(use())
    assert first.closed_on is not None and second is not first and second.closed_on is not None
