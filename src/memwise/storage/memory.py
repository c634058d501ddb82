"""The seeds' import path: `from memwise.storage.memory import Memory`."""

from memwise.memory.memory import Memory

__all__ = ["Memory"]
