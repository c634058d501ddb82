"""`RunOutput`: what `agent.do(task, return_output=True)` and `agent.continue_run(...)` return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic_ai.messages import ModelMessage
from pydantic_ai.usage import RunUsage

from memwise.memory.usage import UsageReport

if TYPE_CHECKING:
    from memwise.hitl.requirements import Requirement

T = TypeVar("T")


@dataclass(slots=True)
class RunOutput(Generic[T]):
    """A run's result: `output`, `run_id`, `status`, `usage` (answer and memory tokens apart),
    `messages` (this run's messages, as stored: without injected memory context).

    A paused run (`is_paused`) has no output yet; `active_requirements` say what it waits for
    and `pause_reason` why. `status` is completed, paused, running, error, cancelled, or
    interrupted (marked running, but its worker is gone: `continue_run` takes it over).
    """

    output: T
    run_id: str
    session_id: str | None = None
    status: str = "completed"
    usage: UsageReport = field(default_factory=UsageReport)
    messages: list[ModelMessage] = field(default_factory=list)
    active_requirements: list[Requirement] = field(default_factory=list)
    error: str | None = None

    def __str__(self) -> str:
        if self.is_paused:
            calls = ", ".join(r.tool_execution.tool_name for r in self.active_requirements)
            return f"run {self.run_id} paused for {self.pause_reason}: {calls}"
        return str(self.output)

    @property
    def is_paused(self) -> bool:
        return self.status == "paused"

    @property
    def is_complete(self) -> bool:
        return self.status == "completed"

    @property
    def requirements(self) -> list[Requirement]:
        return self.active_requirements

    @property
    def pause_reason(self) -> str | None:
        """Why the run paused: "confirmation", "user_input" or "external_execution" (comma-joined
        when it waits for calls of several kinds); None unless paused."""
        if not self.is_paused:
            return None
        from memwise.hitl.requirements import pause_reason

        return pause_reason(self.active_requirements)

    def to_dict(self) -> dict[str, Any]:
        output = self.output.model_dump(mode="json") if hasattr(self.output, "model_dump") else self.output
        data = {
            "output": output,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "status": self.status,
            "usage": self.usage.as_dict(),
        }
        if self.is_paused:
            data["pause_reason"] = self.pause_reason
            data["active_requirements"] = [r.to_dict() for r in self.active_requirements]
        if self.error is not None:
            data["error"] = self.error
        return data


def usage_from_counts(counts: dict[str, int]) -> UsageReport:
    """A UsageReport back from the flat counters stored on a run."""
    answer: dict[str, Any] = {k: v for k, v in counts.items() if not k.startswith("memory_")}
    memory: dict[str, Any] = {k.removeprefix("memory_"): v for k, v in counts.items() if k.startswith("memory_")}
    return UsageReport(answer=RunUsage(**answer), memory=RunUsage(**memory))
