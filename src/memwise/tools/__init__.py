"""Tools: `from memwise.tools import tool`. Plain functions are ordinary tools; `@tool(...)`
marks those that pause the run for a person (see docs/hitl.md)."""

from memwise.tools.decorator import ToolOptions, tool

__all__ = ["ToolOptions", "tool"]
