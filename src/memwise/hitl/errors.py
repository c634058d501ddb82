"""Errors of paused and resumed runs (all MemwiseErrors)."""

from __future__ import annotations

from memwise.errors import InvalidInputError, MemwiseError


class RunNotResumableError(MemwiseError):
    """The run cannot be resumed: it completed, was cancelled, or this Agent lacks what it needs."""


class RunCancelledError(MemwiseError):
    """The run was cancelled (`cancel_run`) and stopped at its next step; nothing was saved to memory."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} was cancelled")
        self.run_id = run_id


class RunTakenOverError(MemwiseError):
    """This worker's lease on the run expired and another worker resumed it; this one stopped."""


class RequirementError(InvalidInputError):
    """The requirements given to `continue_run` do not resolve what the run waits for."""
