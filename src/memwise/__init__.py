"""memwise: persistent memory for LLM agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memwise.agent import Agent, RunOutput, StreamedRun, Task
    from memwise.memory import Memory, UsageReport, UserTraits

__all__ = ["Agent", "Memory", "RunOutput", "StreamedRun", "Task", "UsageReport", "UserTraits"]

_LAZY = {
    "Agent": "memwise.agent",
    "Task": "memwise.agent",
    "RunOutput": "memwise.agent",
    "StreamedRun": "memwise.agent",
    "Memory": "memwise.memory",
    "UsageReport": "memwise.memory",
    "UserTraits": "memwise.memory",
}


def __getattr__(name: str) -> Any:
    """Import heavy parts (pydantic-ai) only when used, so `import memwise` stays fast."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memwise' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
