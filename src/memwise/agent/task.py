"""`Task`: what to do, with optional per-task tools, output type and context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from memwise.errors import InvalidInputError
from memwise.knowledge.base import KnowledgeBase


class Task:
    """`Task(description, tools=None, response_format=str, context=None)`.

    `response_format` is `str` or a pydantic model (the run then returns an instance of it).
    `context` is extra material for this task (a string, or a list of strings, earlier Tasks and
    KnowledgeBases); it goes into the run's instructions, not into the stored user message. A
    KnowledgeBase contributes the chunks that best match the task, within its `context_tokens`. After a run, `run_id`
    names it and `response` holds its output.
    """

    def __init__(
        self,
        description: str,
        tools: Sequence[Callable[..., Any] | Any] | None = None,
        response_format: Any = str,
        context: Any = None,
    ) -> None:
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError(f"Task description must be a non-empty string, got {description!r}")
        if tools is not None and (isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence)):
            raise InvalidInputError("Task tools must be a list of functions or pydantic-ai Tools")
        if response_format is None:
            response_format = str
        self.description = description
        self.tools = list(tools or [])
        self.response_format = response_format
        self.context = context
        self.response: Any = None  # the last run's output
        self.run_id: str | None = None  # the last run's id: `agent.continue_run(task=task)` resumes it

    def _context_items(self) -> list[Any]:
        return list(self.context) if isinstance(self.context, (list, tuple)) else [self.context]

    def knowledge_bases(self) -> list[KnowledgeBase]:
        """The KnowledgeBases in the context: searched for this task when the run starts."""
        return [item for item in self._context_items() if isinstance(item, KnowledgeBase)]

    def context_text(self) -> str | None:
        """The task's context rendered as text (earlier tasks contribute their description and
        result; knowledge bases are searched when the run starts, see `knowledge_bases`)."""
        pieces = []
        for item in self._context_items():
            if item is None or isinstance(item, KnowledgeBase):
                continue
            if isinstance(item, Task):
                pieces.append(f"Earlier task: {item.description}\nResult: {item.response}")
            else:
                pieces.append(str(item))
        return "\n\n".join(pieces) or None

    def __repr__(self) -> str:
        return f"Task({self.description!r})"


def as_task(task: Task | str) -> Task:
    """A plain string is accepted wherever a Task is."""
    if isinstance(task, Task):
        return task
    if isinstance(task, str):
        return Task(task)
    raise InvalidInputError(f"expected a Task or a string, got {type(task).__name__}")
