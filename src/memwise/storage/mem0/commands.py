"""What Mem0Storage's plans yield (its drivers run them), and the state every Mem0Storage on one
mem0 client object shares (the write lock, the caches)."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")
#: The mem0 client methods Mem0Storage's plans call (same names on MemoryClient, AsyncMemoryClient
#: and a local Memory).
Method = Literal["add", "get", "get_all", "update", "delete", "batch_delete", "search"]


@dataclass(slots=True)
class Call:
    """Call a method of the mem0 client (the sync one or the async twin, same name and args)."""

    method: Method
    kwargs: dict[str, Any]
    missing_ok: bool = False  # a "not found" answer returns None instead of raising


@dataclass(slots=True)
class Atomic:
    """Run a sub-plan while holding the store's write lock."""

    plan: Mem0Plan[Any]


@dataclass(slots=True)
class Http:
    """A raw platform request the SDK has no method for (polling an add event)."""

    path: str


@dataclass(slots=True)
class Sleep:
    seconds: float


@dataclass(slots=True)
class Fn:
    """A plain blocking call (local Memory only: runs under the lock, in the sync driver)."""

    fn: Callable[[], Any]


Command = Call | Atomic | Http | Sleep | Fn
#: A plan of mem0 commands (the async driver runs all but `Fn`, which a local Memory alone uses).
Mem0Plan = Generator[Command, Any, T]


def atomic(plan: Mem0Plan[T]) -> Mem0Plan[T]:
    """A sub-plan run under the store's write lock, as one step of a plan."""
    result: T = yield Atomic(plan)
    return result


@dataclass
class SharedState:
    """What every Mem0Storage on one mem0 client object shares: the lock and the caches."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, kind, key) -> memory id
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (ns, session) -> mem0 user_id
    last_seq: dict[tuple[str, str], int] = field(default_factory=dict)  # (ns, session) -> last seq
    loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(default_factory=weakref.WeakKeyDictionary)


_STATES: weakref.WeakKeyDictionary[Any, SharedState] = weakref.WeakKeyDictionary()
STATES_GUARD = threading.Lock()


def shared_state(client: Any) -> SharedState:
    with STATES_GUARD:
        state = _STATES.get(client)
        if state is None:
            state = _STATES[client] = SharedState()
        return state
