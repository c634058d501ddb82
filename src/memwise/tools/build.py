"""Turn functions (and pydantic-ai Tools) into the pydantic-ai tools a run uses.

Pausing maps onto pydantic-ai's deferred tools: confirmation is `requires_approval`, external
execution is a tool of kind "external", and user input is an approval-required tool whose
user-filled arguments are hidden from the model and merged in when the call is approved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from pydantic_ai import ModelRetry, RunContext, Tool
from pydantic_ai.tools import ToolDefinition

from memwise.errors import InvalidInputError
from memwise.tools.decorator import ToolOptions, ToolSpec, function_ref, options_of


def build_tools(items: Iterable[Any]) -> tuple[list[Tool[Any]], dict[str, ToolSpec]]:
    """pydantic-ai tools for `items`, and each tool's spec by name."""
    tools: list[Tool[Any]] = []
    specs: dict[str, ToolSpec] = {}
    for item in items:
        built, spec = _build(as_tool(item))
        if spec.name in specs:
            raise InvalidInputError(f"two tools are named {spec.name!r}; tool names must be unique")
        tools.append(built)
        specs[spec.name] = spec
    return tools, specs


def as_tool(item: Any) -> Any:
    """A KnowledgeBase given as a tool is its `search_<name>` function; anything else is itself."""
    from memwise.knowledge.base import KnowledgeBase

    return item.as_tool() if isinstance(item, KnowledgeBase) else item


def tool_name(item: Any) -> str:
    """The name the model calls `item` by (without building the tool)."""
    item = as_tool(item)
    if isinstance(item, Tool):
        return item.name
    options = options_of(item)
    if options is not None and options.name:
        return options.name
    return str(getattr(item, "__name__", type(item).__name__))


def _build(item: Any) -> tuple[Tool[Any], ToolSpec]:
    if isinstance(item, Tool):
        options = ToolOptions(requires_confirmation=item.requires_approval)
        return item, ToolSpec(item.name, options, item.function_schema.json_schema, item.function_schema.validator)
    if not callable(item):
        raise InvalidInputError(f"a tool must be a function or a pydantic-ai Tool, got {type(item).__name__}")
    options = options_of(item) or ToolOptions()
    plain = Tool(item, name=options.name, description=options.description)
    spec = ToolSpec(plain.name, options, plain.function_schema.json_schema, plain.function_schema.validator, function_ref(item))
    if options.requires_confirmation:
        plain.requires_approval = True
    elif options.external_execution:
        plain.prepare = _as_external
    elif options.requires_user_input:
        return _user_input_tool(plain, options), spec
    return plain, spec


def user_fields(spec: ToolSpec) -> tuple[str, ...]:
    """The arguments a person fills for a user-input tool (all of them when none are named)."""
    return spec.options.user_input_fields or tuple(spec.parameters.get("properties", {}))


async def _as_external(ctx: RunContext[Any], tool_def: ToolDefinition) -> ToolDefinition:
    return replace(tool_def, kind="external")


def _user_input_tool(full: Tool[Any], options: ToolOptions) -> Tool[Any]:
    """A tool the model calls without the user-filled arguments; it runs once they are merged in."""
    schema = full.function_schema
    hidden = set(user_fields(ToolSpec(full.name, options, schema.json_schema)))
    model_schema = dict(schema.json_schema)
    model_schema["properties"] = {k: v for k, v in schema.json_schema.get("properties", {}).items() if k not in hidden}
    model_schema["required"] = [k for k in schema.json_schema.get("required", []) if k not in hidden]

    async def run(ctx: RunContext[Any], **args: Any) -> Any:
        try:
            validated = schema.validator.validate_python(args)
        except ValidationError as exc:
            raise ModelRetry(f"invalid arguments for {full.name}: {exc}") from exc
        return await schema.call(validated, ctx)

    tool = Tool.from_schema(run, name=full.name, description=full.description, json_schema=model_schema, takes_ctx=True)
    tool.requires_approval = True
    return tool
