"""`RunOutput`: what `agent.do(task, return_output=True)` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic_ai.messages import ModelMessage

from memwise.memory.usage import UsageReport

T = TypeVar("T")


@dataclass(slots=True)
class RunOutput(Generic[T]):
    """A finished run: `output`, `run_id`, `status`, `usage` (answer and memory tokens apart),
    `messages` (this run's new messages, as stored: without injected memory context)."""

    output: T
    run_id: str
    session_id: str | None = None
    status: str = "completed"
    usage: UsageReport = field(default_factory=UsageReport)
    messages: list[ModelMessage] = field(default_factory=list)

    def __str__(self) -> str:
        return str(self.output)

    @property
    def is_paused(self) -> bool:
        return self.status == "paused"

    def to_dict(self) -> dict[str, Any]:
        output = self.output.model_dump(mode="json") if hasattr(self.output, "model_dump") else self.output
        return {
            "output": output,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "status": self.status,
            "usage": self.usage.as_dict(),
        }
