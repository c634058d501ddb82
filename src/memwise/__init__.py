"""memwise: persistent memory for LLM agents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memwise._lazy import lazy_getattr

if TYPE_CHECKING:
    from memwise.agent import Agent, RunOutput, StreamedRun, Task
    from memwise.knowledge import KnowledgeBase
    from memwise.memory import Memory, UsageReport, UserTraits

__all__ = ["Agent", "KnowledgeBase", "Memory", "RunOutput", "StreamedRun", "Task", "UsageReport", "UserTraits"]

_LAZY = {
    "Agent": "memwise.agent",
    "Task": "memwise.agent",
    "RunOutput": "memwise.agent",
    "StreamedRun": "memwise.agent",
    "KnowledgeBase": "memwise.knowledge",
    "Memory": "memwise.memory",
    "UsageReport": "memwise.memory",
    "UserTraits": "memwise.memory",
}


__getattr__ = lazy_getattr('memwise', _LAZY, globals())
