"""Work that must end before a storage closes: hooks that `close()` and `aclose()` run first.

Memory's updates run after a turn returns (memory/background.py); a script that closes its
storage right after `agent.do()` must not pull the connections from under them. Memory registers a
hook per storage it has pending updates on; every backend's close runs the hooks first, once,
without the backend's code knowing (they are wrapped when the backend class is defined).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

Hook = Callable[[Any], None]
_lock = threading.Lock()


def before_close(storage: Any, hook: Hook) -> None:
    """Call `hook(storage)` when `storage` is closed, before its connections go (once per hook)."""
    with _lock:
        hooks = storage.__dict__.setdefault("_before_close", [])
        if hook not in hooks:
            hooks.append(hook)


def run_hooks(storage: Any) -> None:
    with _lock:
        hooks = storage.__dict__.pop("_before_close", [])
    for hook in hooks:
        hook(storage)


def hooks_first(cls: type) -> None:
    """Make `cls.close` and `cls.aclose` run the storage's hooks first (`aclose` in a thread, so
    hooks may wait for work on the calling event loop)."""
    close = getattr(cls, "close", None)
    if close is not None and not getattr(close, "_hooks_first", False):

        @functools.wraps(close)
        def closing(self: Any) -> None:
            run_hooks(self)
            close(self)

        closing._hooks_first = True  # type: ignore[attr-defined]
        cls.close = closing  # type: ignore[attr-defined]
    aclose = getattr(cls, "aclose", None)
    if aclose is not None and not getattr(aclose, "_hooks_first", False):

        @functools.wraps(aclose)
        async def aclosing(self: Any) -> None:
            if self.__dict__.get("_before_close"):
                await asyncio.to_thread(run_hooks, self)
            await aclose(self)

        aclosing._hooks_first = True  # type: ignore[attr-defined]
        cls.aclose = aclosing  # type: ignore[attr-defined]
