"""gather / Batch: independent plans run side by side, one batch of commands per round."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from memwise.storage.plan import Plan, adrive, drive, gather, nothing


def reads(*keys: str) -> Plan[list[Any]]:
    """A plan that reads keys one after another (each read is one command)."""
    values = []
    for key in keys:
        values.append((yield ("get", key)))
    return values


def store_get(command: tuple[str, str]) -> Any:
    op, key = command
    if key == "bad":
        raise KeyError(key)
    return key.upper()


def recording(batches: list[tuple[Any, ...]]) -> Any:
    def execute_batch(commands: tuple[Any, ...]) -> list[Any]:
        batches.append(tuple(commands))
        replies = []
        for command in commands:
            try:
                replies.append(store_get(command))
            except KeyError as exc:
                replies.append(exc)
        return replies

    return execute_batch


def test_plans_advance_in_lockstep_one_batch_per_round():
    batches: list[tuple[Any, ...]] = []
    single: list[Any] = []

    def execute(command: Any) -> Any:
        single.append(command)
        return store_get(command)

    result = drive(gather(reads("a", "b", "c"), reads("x"), nothing()), execute, recording(batches))
    assert result == [["A", "B", "C"], ["X"], None]
    assert batches == [(("get", "a"), ("get", "x"))]  # round 1 together; then plan 1 alone
    assert single == [("get", "b"), ("get", "c")]  # a lone command is not wrapped in a batch


def test_without_a_batch_executor_commands_run_one_by_one_in_order():
    seen: list[Any] = []

    def execute(command: Any) -> Any:
        seen.append(command)
        return store_get(command)

    assert drive(gather(reads("a", "b"), reads("x", "y")), execute) == [["A", "B"], ["X", "Y"]]
    assert seen == [("get", "a"), ("get", "x"), ("get", "b"), ("get", "y")]


def test_a_failed_command_is_thrown_into_the_plan_that_sent_it():
    def tolerant() -> Plan[str]:
        try:
            yield ("get", "bad")
        except KeyError:
            return "handled"
        return "not reached"

    batches: list[tuple[Any, ...]] = []
    assert drive(gather(tolerant(), reads("a")), store_get, recording(batches)) == ["handled", ["A"]]
    assert drive(gather(tolerant()), store_get) == ["handled"]  # a lone command fails the same way


def test_a_plan_that_raises_stops_the_others():
    closed: list[str] = []

    def watched(key: str) -> Plan[Any]:
        try:
            return (yield from reads(key, key))
        finally:
            closed.append(key)

    with pytest.raises(KeyError):
        drive(gather(reads("bad"), watched("a")), store_get, recording([]))
    assert closed == ["a"]


def test_batches_do_not_nest():
    with pytest.raises(TypeError, match="do not nest"):
        drive(gather(gather(reads("a"), reads("b")), reads("c")), store_get)


def test_the_async_driver_batches_the_same_way():
    batches: list[tuple[Any, ...]] = []

    async def execute(command: Any) -> Any:
        return store_get(command)

    async def execute_batch(commands: tuple[Any, ...]) -> list[Any]:
        return recording(batches)(commands)

    assert asyncio.run(adrive(gather(reads("a"), reads("b")), execute, execute_batch)) == [["A"], ["B"]]
    assert batches == [(("get", "a"), ("get", "b"))]
    with pytest.raises(KeyError):  # run one by one without a batch executor; the failure is the plan's
        asyncio.run(adrive(gather(reads("a"), reads("bad")), execute))
