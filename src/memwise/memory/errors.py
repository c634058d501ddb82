"""The memory layer's errors live in memwise.errors; re-exported here for the layer's imports."""

from memwise.errors import MemorySaveError, SessionAccessError

__all__ = ["MemorySaveError", "SessionAccessError"]
