"""Agent, Task, RunOutput and streaming."""

from memwise.agent.agent import Agent
from memwise.agent.output import RunOutput
from memwise.agent.stream import StreamedRun
from memwise.agent.task import Task

__all__ = ["Agent", "RunOutput", "StreamedRun", "Task"]
