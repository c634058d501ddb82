"""What a paused run waits for: one `Requirement` per deferred tool call.

A requirement is plain data (it round-trips through JSON), so a person can decide in another
process: load the paused run, `confirm()` / `reject(note=...)`, set the external result or the
user's values, and pass the requirements to `agent.continue_run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
from pydantic_core import to_jsonable_python

from memwise.errors import InvalidInputError
from memwise.hitl.errors import RequirementError
from memwise.tools.build import user_fields
from memwise.tools.decorator import ToolSpec

Kind = Literal["confirmation", "external_execution", "user_input"]
DEFAULT_REJECTION = "The user rejected this tool call."


@dataclass(slots=True)
class ToolExecution:
    """The call the model made: `tool_name`, `tool_args`, `tool_call_id`; `result` is set by the
    caller for an externally executed tool; `answered` may be set once user input is filled."""

    tool_name: str
    tool_args: dict[str, Any]
    tool_call_id: str
    result: Any = None
    answered: bool | None = None

    @property
    def name(self) -> str:
        return self.tool_name

    @property
    def args(self) -> dict[str, Any]:
        return self.tool_args


class UserInputField(dict[str, Any]):
    """One argument a person fills: a dict with `name`, `type`, `description`, `required` and
    `value` (fill it in place: `field["value"] = ...`), also readable as attributes
    (`field.value = ...`)."""

    def __init__(
        self,
        name: str,
        field_type: str = "string",
        description: str | None = None,
        required: bool = True,
        value: Any = None,
    ) -> None:
        super().__init__(name=name, type=field_type, description=description, required=required, value=value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserInputField:
        """A stored field (`type`; older checkpoints wrote `field_type`)."""
        return cls(
            data["name"],
            data.get("type", data.get("field_type", "string")),
            data.get("description"),
            bool(data.get("required", True)),
            data.get("value"),
        )

    name = property(lambda self: self["name"])
    field_type = property(lambda self: self["type"])
    description = property(lambda self: self["description"])
    required = property(lambda self: self["required"])

    @property
    def value(self) -> Any:
        return self.get("value")

    @value.setter
    def value(self, value: Any) -> None:
        self["value"] = value

    def to_dict(self) -> dict[str, Any]:
        return {**self, "value": to_jsonable_python(self.get("value"))}


@dataclass(slots=True)
class Requirement:
    """One paused tool call and the decision about it."""

    kind: Kind
    tool_execution: ToolExecution
    user_input_schema: list[UserInputField] = field(default_factory=list)
    confirmed: bool | None = None  # True: confirmed; False: rejected; None: undecided
    note: str | None = None
    result_set: bool = False

    # ---------------------------------------------------------------- what it waits for
    @property
    def needs_confirmation(self) -> bool:
        return self.kind == "confirmation" and not self.is_resolved

    @property
    def needs_external_execution(self) -> bool:
        return self.kind == "external_execution" and not self.is_resolved

    @property
    def needs_user_input(self) -> bool:
        return self.kind == "user_input" and not self.is_resolved

    @property
    def is_external_tool_execution(self) -> bool:
        """An externally executed call still waiting for its result."""
        return self.needs_external_execution

    @property
    def is_resolved(self) -> bool:
        if self.confirmed is not None:
            return True
        if self.kind == "external_execution":
            return self.result_set or self.tool_execution.result is not None
        if self.kind == "user_input":
            filled = [f for f in self.user_input_schema if f.get("value") is not None]
            required = all(f.get("value") is not None for f in self.user_input_schema if f.get("required", True))
            return required and (bool(filled) or not self.user_input_schema)
        return False

    # ---------------------------------------------------------------- decisions
    def confirm(self) -> None:
        """Let the call run."""
        if self.kind != "confirmation":
            raise InvalidInputError(f"{self.tool_execution.tool_name}: only a confirmation requirement is confirmed")
        self.confirmed, self.note = True, None

    def reject(self, note: str | None = None) -> None:
        """Refuse the call; the model receives `note` (or a default) as the call's result."""
        if note is not None and not isinstance(note, str):
            raise InvalidInputError("note must be a string")
        self.confirmed, self.note = False, note

    def set_result(self, result: Any) -> None:
        """The result of an externally executed call (stored as JSON)."""
        if self.kind != "external_execution":
            raise InvalidInputError(f"{self.tool_execution.tool_name}: only an external execution takes a result")
        self.tool_execution.result, self.result_set = result, True

    set_external_execution_result = set_result

    def set_user_input(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Fill user input fields by name: `set_user_input(to_address="a@b.c")`."""
        if self.kind != "user_input":
            raise InvalidInputError(f"{self.tool_execution.tool_name}: only a user input requirement takes values")
        given = {**(values or {}), **more}
        fields = {f["name"]: f for f in self.user_input_schema}
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise InvalidInputError(f"{self.tool_execution.tool_name} asks for {sorted(fields)}, not {unknown}")
        for name, value in given.items():
            fields[name]["value"] = value
        self.tool_execution.answered = True

    @property
    def user_input(self) -> dict[str, Any]:
        return {f["name"]: f["value"] for f in self.user_input_schema if f.get("value") is not None}

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        call = self.tool_execution
        return {
            "kind": self.kind,
            "tool_execution": {
                "tool_name": call.tool_name,
                "tool_args": dict(call.tool_args),
                "tool_call_id": call.tool_call_id,
                "result": to_jsonable_python(call.result),
                "answered": call.answered,
            },
            "user_input_schema": [UserInputField.from_dict(item).to_dict() for item in self.user_input_schema],
            "confirmed": self.confirmed,
            "note": self.note,
            "result_set": self.result_set,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        try:
            return cls(
                kind=data["kind"],
                tool_execution=ToolExecution(**data["tool_execution"]),
                user_input_schema=[UserInputField.from_dict(item) for item in data.get("user_input_schema", [])],
                confirmed=data.get("confirmed"),
                note=data.get("note"),
                result_set=bool(data.get("result_set")),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"not a stored requirement: {exc}") from exc

    def __repr__(self) -> str:
        state = "resolved" if self.is_resolved else "pending"
        call = self.tool_execution
        return f"Requirement({self.kind}, {call.tool_name}({call.tool_args}), {state})"


def requirements_from(requests: DeferredToolRequests, specs: Mapping[str, ToolSpec]) -> list[Requirement]:
    """One requirement per deferred call, its kind taken from the tool's options."""
    found: list[Requirement] = []
    for call in requests.approvals:
        spec = specs.get(call.tool_name)
        execution = ToolExecution(call.tool_name, call.args_as_dict(), call.tool_call_id)
        if spec is not None and spec.options.requires_user_input:
            found.append(Requirement("user_input", execution, _schema(spec)))
        else:
            found.append(Requirement("confirmation", execution))
    for call in requests.calls:
        execution = ToolExecution(call.tool_name, call.args_as_dict(), call.tool_call_id)
        found.append(Requirement("external_execution", execution))
    return found


def pause_reason(requirements: Iterable[Requirement]) -> str | None:
    """"confirmation", "user_input" or "external_execution" (comma-joined when a pause waits for several)."""
    reasons = list(dict.fromkeys(r.kind for r in requirements))
    return ", ".join(reasons) or None


def resolve(
    pending: list[Requirement], given: Iterable[Requirement] | None, specs: Mapping[str, ToolSpec]
) -> list[Requirement]:
    """The pending requirements with the caller's decisions; every one must be decided."""
    if given is None:
        raise RequirementError(f"the run waits for {_names(pending)}; pass them decided as requirements=[...]")
    if isinstance(given, Requirement) or not all(isinstance(r, Requirement) for r in given):
        raise RequirementError("requirements must be a list of Requirement (from the paused run's output)")
    by_id = {r.tool_execution.tool_call_id: r for r in given}
    waiting = {r.tool_execution.tool_call_id for r in pending}
    stale = [r for call_id, r in by_id.items() if call_id not in waiting]
    if stale:
        raise RequirementError(
            f"{_names(stale)} are not what this run waits for ({_names(pending)}); it was resumed elsewhere since"
        )
    decided: list[Requirement] = []
    for stored in pending:
        mine = by_id.get(stored.tool_execution.tool_call_id)
        if mine is None or not mine.is_resolved:
            raise RequirementError(f"{_names([stored])} is not decided yet{_missing(mine)}")
        copy = Requirement.from_dict(stored.to_dict())
        copy.confirmed, copy.note = mine.confirmed, mine.note
        if copy.kind == "external_execution" and mine.confirmed is None:
            copy.set_result(to_jsonable_python(mine.tool_execution.result))
        if copy.kind == "user_input" and mine.confirmed is None:
            copy.set_user_input(mine.user_input)
            _check_values(copy, specs.get(copy.tool_execution.tool_name))
        decided.append(copy)
    return decided


def to_results(decided: Iterable[Requirement]) -> DeferredToolResults:
    """pydantic-ai's deferred tool results for decided requirements."""
    results = DeferredToolResults()
    for r in decided:
        call_id = r.tool_execution.tool_call_id
        if r.kind == "external_execution" and r.confirmed is False:
            results.calls[call_id] = ToolFailed(r.note or DEFAULT_REJECTION)
        elif r.kind == "external_execution":
            results.calls[call_id] = r.tool_execution.result
        elif r.confirmed is False:
            results.approvals[call_id] = ToolDenied(r.note or DEFAULT_REJECTION)
        elif r.kind == "user_input":
            results.approvals[call_id] = ToolApproved(override_args={**r.tool_execution.tool_args, **r.user_input})
        else:
            results.approvals[call_id] = True
    return results


def _schema(spec: ToolSpec) -> list[UserInputField]:
    props = spec.parameters.get("properties", {})
    required = set(spec.parameters.get("required", []))
    return [
        UserInputField(
            name,
            field_type=str(props.get(name, {}).get("type", "any")),
            description=props.get(name, {}).get("description"),
            required=name in required,
        )
        for name in user_fields(spec)
    ]


def _check_values(requirement: Requirement, spec: ToolSpec | None) -> None:
    """Fail now, naming the field, when a person's value does not fit the tool's argument type."""
    if spec is None or spec.validator is None:
        return
    merged = {**requirement.tool_execution.tool_args, **requirement.user_input}
    try:
        spec.validator.validate_python(merged)
    except ValidationError as exc:
        mine = {f["name"] for f in requirement.user_input_schema}
        bad = [e for e in exc.errors() if e["loc"] and e["loc"][0] in mine]
        if bad:
            detail = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in bad)
            raise RequirementError(f"user input for {requirement.tool_execution.tool_name}: {detail}") from exc


def _missing(requirement: Requirement | None) -> str:
    """For user input: which required fields still have no value."""
    if requirement is None or requirement.kind != "user_input":
        return ""
    empty = [f["name"] for f in requirement.user_input_schema if f.get("required", True) and f.get("value") is None]
    return f" (no value for {', '.join(empty)})" if empty else ""


def _names(requirements: Iterable[Requirement]) -> str:
    return ", ".join(f"{r.kind} for {r.tool_execution.tool_name}()" for r in requirements)
