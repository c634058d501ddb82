"""Memory: history windows, bounded summaries, user profiles, usage; one small module per job."""

from memwise.memory.memory import Memory
from memwise.memory.profile import UserTraits
from memwise.memory.usage import UsageReport

__all__ = ["Memory", "UsageReport", "UserTraits"]
