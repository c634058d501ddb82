"""What Mem0Storage's plans yield (its drivers run them), and the state every Mem0Storage on one
mem0 client object shares (the write lock, the caches)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memwise.storage.plan import Plan


@dataclass(slots=True)
class Call:
    """Call a method of the mem0 client (the sync one or the async twin, same name and args)."""

    method: str
    kwargs: dict[str, Any]
    missing_ok: bool = False  # a "not found" answer returns None instead of raising


@dataclass(slots=True)
class Atomic:
    """Run a sub-plan while holding the store's write lock."""

    plan: Plan[Any]


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


@dataclass
class SharedState:
    """What every Mem0Storage on one mem0 client object shares: the lock and the caches."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, kind, key) -> memory id
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (ns, session) -> mem0 user_id
    last_seq: dict[tuple[str, str], int] = field(default_factory=dict)  # (ns, session) -> last seq
    loop_locks: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)


_STATES: weakref.WeakKeyDictionary[Any, SharedState] = weakref.WeakKeyDictionary()
STATES_GUARD = threading.Lock()


def shared_state(client: Any) -> SharedState:
    with STATES_GUARD:
        state = _STATES.get(client)
        if state is None:
            state = _STATES[client] = SharedState()
        return state
