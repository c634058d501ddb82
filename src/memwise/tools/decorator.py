"""`@tool`: mark a function as a tool that pauses the run for a person (or an outside system).

The decorator records options on the function, which stays an ordinary callable (the approver
can call an externally executed tool itself), and registers it in this process by tool name and
`module:qualname`, so a new Agent can resume a run that used it as a per-task tool. The registry
holds only functions this process defined and decorated: a name read from storage selects among
them and never imports anything.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from memwise.errors import InvalidInputError

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__memwise_tool__"
#: `@tool` functions of this process by (tool name, "module:qualname"); entries vanish with them.
_REGISTRY: weakref.WeakValueDictionary[tuple[str, str], Callable[..., Any]] = weakref.WeakValueDictionary()


@dataclass(frozen=True, slots=True)
class ToolOptions:
    """How a tool behaves when the model calls it."""

    requires_confirmation: bool = False
    external_execution: bool = False
    requires_user_input: bool = False
    user_input_fields: tuple[str, ...] = ()
    name: str | None = None
    description: str | None = None

    @property
    def pauses(self) -> bool:
        return self.requires_confirmation or self.external_execution or self.requires_user_input


@dataclass(slots=True)
class ToolSpec:
    """A tool as the Agent knows it: its options and its argument schema (for user input)."""

    name: str
    options: ToolOptions
    parameters: dict[str, Any] = field(default_factory=dict)  # full JSON schema of the arguments
    validator: Any = None  # validates the full arguments (checks a person's values early)
    ref: str | None = None  # "module:qualname" of a function tool (how a checkpoint names it)


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(
    *,
    requires_confirmation: bool = False,
    external_execution: bool = False,
    requires_user_input: bool = False,
    user_input_fields: Sequence[str] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Callable[[F], F]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    requires_confirmation: bool = False,
    external_execution: bool = False,
    requires_user_input: bool = False,
    user_input_fields: Sequence[str] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """`@tool` or `@tool(requires_confirmation=True | external_execution=True | requires_user_input=True,
    user_input_fields=[...], name=..., description=...)`.

    - `requires_confirmation`: the run pauses until a person confirms or rejects the call.
    - `external_execution`: the run pauses; the caller runs the call and supplies its result.
    - `requires_user_input`: the run pauses until a person fills `user_input_fields` (all the
      arguments when none are named); the model never sees those arguments.
    """
    flags = [requires_confirmation, external_execution, requires_user_input]
    if any(not isinstance(flag, bool) for flag in flags):
        raise InvalidInputError("requires_confirmation, external_execution and requires_user_input must be True or False")
    if sum(flags) > 1:
        raise InvalidInputError("a tool takes one of requires_confirmation, external_execution, requires_user_input")
    fields = _field_names(user_input_fields)
    if fields and not requires_user_input:
        raise InvalidInputError("user_input_fields needs requires_user_input=True")
    options = ToolOptions(requires_confirmation, external_execution, requires_user_input, fields, name, description)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise InvalidInputError(f"@tool decorates a function, got {type(fn).__name__}")
        params = inspect.signature(fn).parameters
        unknown = [f for f in fields if f not in params]
        if unknown:
            raise InvalidInputError(f"user_input_fields {unknown} are not parameters of {fn.__name__}()")
        try:
            setattr(fn, ATTRIBUTE, options)
        except AttributeError as exc:
            raise InvalidInputError(f"@tool cannot mark {fn!r}; wrap it in a def") from exc
        try:
            _REGISTRY[(options.name or fn.__name__, function_ref(fn))] = fn
        except (AttributeError, TypeError):
            pass  # a callable without a name or weak references: found only when handed over
        return fn

    return decorate(func) if func is not None else decorate


def options_of(item: Any) -> ToolOptions | None:
    """The options `@tool` recorded on `item`, if any."""
    options = getattr(item, ATTRIBUTE, None)
    return options if isinstance(options, ToolOptions) else None


def function_ref(fn: Any) -> str:
    """How a checkpoint names a function tool: "module:qualname"."""
    return f"{getattr(fn, '__module__', None)}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def registered_tool(name: str, ref: str | None) -> Callable[..., Any] | None:
    """The `@tool` function of this process named `name` (and `ref`, when the checkpoint has it);
    None when there is none, or when several share the name and no ref tells them apart."""
    if ref is not None:
        return _REGISTRY.get((name, ref))
    found = [fn for (tool_name, _), fn in list(_REGISTRY.items()) if tool_name == name]
    return found[0] if len(found) == 1 else None


def _field_names(fields: Sequence[str] | None) -> tuple[str, ...]:
    if fields is None:
        return ()
    if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
        raise InvalidInputError("user_input_fields must be a list of argument names")
    return tuple(fields)
