"""Human in the loop: runs that pause for a person, persist a JSON checkpoint, and resume in any
process exactly once. See docs/hitl.md."""

from memwise.hitl.checkpoint import register_output_type
from memwise.hitl.errors import RequirementError, RunCancelledError, RunNotResumableError, RunTakenOverError
from memwise.hitl.lease import is_interrupted
from memwise.hitl.requirements import Requirement, ToolExecution, UserInputField

__all__ = [
    "Requirement",
    "RequirementError",
    "RunCancelledError",
    "RunNotResumableError",
    "RunTakenOverError",
    "ToolExecution",
    "UserInputField",
    "is_interrupted",
    "register_output_type",
]
