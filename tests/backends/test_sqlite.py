"""What is specific to SqliteStorage: async calls run on the event loop only when they need not
wait, and a "last turns" read searches from the window's start instead of scanning the session.

The contract itself is covered by the conformance suite (tests/conformance, `-k sqlite`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from memwise.storage.sqlite import SqliteStorage
from tests.conformance.messages import turn


async def test_an_async_write_waiting_for_another_writer_does_not_block_the_event_loop(tmp_path):
    storage = SqliteStorage(db_file=tmp_path / "m.db")
    await storage.acreate_session("s1")
    other = sqlite3.connect(tmp_path / "m.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    append = asyncio.create_task(storage.aappend_messages("s1", turn("waits")))
    await asyncio.sleep(0.3)
    assert not append.done() and ticks >= 10  # the append waits in a thread; the loop runs on
    threading.Timer(0, other.rollback).start()
    assert await asyncio.wait_for(append, 10) == [1, 2]
    ticking.cancel()
    assert [m.seq for m in await storage.aread_messages("s1")] == [1, 2]
    other.close()
    storage.close()


async def test_an_async_call_lets_other_tasks_run_even_when_it_needs_not_wait(tmp_path):
    storage = SqliteStorage(db_file=tmp_path / "m.db")
    await storage.acreate_session("s1")
    order: list[str] = []

    async def writer() -> None:
        for i in range(3):
            await storage.aappend_messages("s1", turn(f"w{i}"))
            order.append("write")

    async def other() -> None:
        for _ in range(3):
            order.append("other")
            await asyncio.sleep(0)

    await asyncio.gather(writer(), other())
    assert order[:2] != ["write", "write"]  # the other task ran between the writes
    storage.close()


def test_a_last_turns_read_costs_the_same_in_a_short_and_a_long_session(tmp_path):
    """Counted in SQLite VM steps (not time): reading the last 3 turns of a 2,000-turn session
    must not visit the whole session (a second `seq >=` bound once made SQLite scan it)."""
    storage = SqliteStorage(db_file=tmp_path / "m.db")
    steps = {}
    for name, turns in (("short", 20), ("long", 2_000)):
        storage.create_session(name)
        for start in range(0, turns, 500):
            storage.append_messages(name, [m for i in range(start, min(turns, start + 500)) for m in turn(f"t{i}")])
        conn = storage._connection()
        counted = [0]

        def step(counted: list[int] = counted) -> int:
            counted[0] += 1
            return 0

        conn.set_progress_handler(step, 10)
        read = storage.read_messages(name, last_turns=3)
        conn.set_progress_handler(None, 0)
        assert [m.seq for m in read] == list(range(2 * turns - 5, 2 * turns + 1))
        steps[name] = counted[0]
    assert steps["long"] < 2 * steps["short"] + 10, steps
    storage.close()
