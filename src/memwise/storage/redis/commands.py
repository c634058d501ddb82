"""How RedisStorage's plans reach the server: the executors the sync and async drivers call.

A command is `(name, args)`: a redis-py method name (`ClientOp`) and its arguments, or the name
of one of the Lua scripts (`scripts.ScriptName`) with `(keys, argv)`. A batch (independent commands, see `plan.gather`)
goes out as one non-transactional pipeline: one round trip, each command still atomic on its own;
a script the server no longer has cached is sent again by its source.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, Literal, TypeVar

from redis.exceptions import NoScriptError, RedisError

from memwise.errors import StorageError
from memwise.storage.redis.scripts import SCRIPTS, ScriptName

T = TypeVar("T")
#: The redis-py methods RedisStorage's plans call; everything else they do is a Lua script.
ClientOp = Literal["hgetall", "exists", "pexpire", "lrange"]
Command = tuple[ClientOp | ScriptName, tuple[Any, ...]]
#: A plan of Redis commands (a batch of them goes out as one pipeline).
RedisPlan = Generator[Command, Any, T]
#: Turns a redis-py error into the storage's (naming the server).
Failure = Callable[[RedisError], StorageError]


def send(client: Any, command: Command, by_sha: bool = True) -> Any:
    """Issue one command on a client or a pipeline (a script by its SHA1, or by its source)."""
    op, args = command
    script = SCRIPTS.get(op)
    if script is None:
        return getattr(client, op)(*args)
    keys, argv = args
    if by_sha:
        return client.evalsha(script.sha, len(keys), *keys, *argv)
    return client.eval(script.source, len(keys), *keys, *argv)


def execute(client: Any, failure: Failure, command: Command) -> Any:
    try:
        try:
            return send(client, command)
        except NoScriptError:  # the server lost its script cache: send the script itself
            return send(client, command, by_sha=False)
    except RedisError as exc:
        raise failure(exc) from exc


async def aexecute(client: Any, failure: Failure, command: Command) -> Any:
    """The asyncio twin of `execute`."""
    try:
        try:
            return await send(client, command)
        except NoScriptError:
            return await send(client, command, by_sha=False)
    except RedisError as exc:
        raise failure(exc) from exc


def execute_batch(client: Any, failure: Failure, commands: Sequence[Command]) -> list[Any]:
    """A batch in one round trip: a non-transactional pipeline (the commands are independent)."""
    with client.pipeline(transaction=False) as pipe:
        for command in commands:
            send(pipe, command)
        try:
            replies = pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise failure(exc) from exc
    return [
        execute(client, failure, c) if isinstance(r, NoScriptError) else _reply(failure, r)
        for c, r in zip(commands, replies, strict=True)
    ]


async def aexecute_batch(client: Any, failure: Failure, commands: Sequence[Command]) -> list[Any]:
    """The asyncio twin of `execute_batch`."""
    async with client.pipeline(transaction=False) as pipe:
        for command in commands:
            send(pipe, command)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise failure(exc) from exc
    return [
        (await aexecute(client, failure, c)) if isinstance(r, NoScriptError) else _reply(failure, r)
        for c, r in zip(commands, replies, strict=True)
    ]


def _reply(failure: Failure, reply: Any) -> Any:
    """A pipeline's reply, its error turned into the storage's (handed to the plan that sent it)."""
    return failure(reply) if isinstance(reply, RedisError) else reply
