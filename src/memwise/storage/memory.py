"""An alias, nothing more: Upsonic's docs import `from upsonic.storage.memory import Memory`, so
memwise keeps the same path; Memory itself lives in `memwise.memory` (no backend here)."""

from memwise.memory.memory import Memory

__all__ = ["Memory"]
