"""Agent and tool definitions: the `tool` decorator and the `agent(...)` spec.

A tool declares what its effect is, because crash recovery depends on it (DESIGN.md,
Invariant 3): a read-only call may simply run again; an `idempotent_by_key` call is re-sent
with the same key and the receiver dedupes; a `reconcilable` call is first looked up by key;
an `unsafe` call is never repeated automatically. Arguments are validated by a pydantic model
built from the function's type hints, so the model can ask for anything and only
well-formed calls reach the tool.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, create_model

from controlroom.domain.models import Message, Resource, Turn

if TYPE_CHECKING:  # teams.py builds on this module
    from controlroom.domain.teams import TeamSpec


class Effect(StrEnum):
    """What running a tool does to the world, which decides how a crash is recovered."""

    READ_ONLY = "read_only"
    IDEMPOTENT_BY_KEY = "idempotent_by_key"
    RECONCILABLE = "reconcilable"
    UNSAFE = "unsafe"

    @property
    def has_side_effects(self) -> bool:
        return self is not Effect.READ_ONLY


class DefinitionError(ValueError):
    """An agent or tool definition is malformed."""


RegisterResource = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ToolContext:
    """What a tool receives besides its arguments.

    `key` is the idempotency key: the same for every attempt of this call, including a retry
    after a crash, so a receiver that dedupes on it applies the effect once.
    """

    key: str
    agent_id: str
    agent: str
    identity: str
    step: int
    call_id: str
    arguments: dict[str, Any]
    _register: RegisterResource = field(repr=False)

    async def created(
        self, kind: str, resource_id: str, data: dict[str, Any] | None = None
    ) -> None:
        """Record, durably and before returning, that this call created a resource.

        The tool's `compensate` function undoes it on rollback (newest first).
        """
        await self._register(kind, resource_id, dict(data or {}))


ToolFunction = Callable[..., Any]
Lookup = Callable[[ToolContext], Any]
Compensation = Callable[[Resource, ToolContext], Any]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the runtime sees it."""

    name: str
    fn: ToolFunction
    args_model: type[BaseModel]
    effect: Effect
    description: str
    timeout_s: float
    attempts: int
    lookup: Lookup | None
    compensate: Compensation | None
    takes_context: bool
    argument_names: tuple[str, ...]
    # Its output comes from outside and taints the agent that reads it (see `tool`).
    untrusted: bool = False
    # (kind, argument): the argument whose value names the resource a call works on, so two
    # agents never interleave on it (runtime/leases.py); how long a call waits for it.
    resource: tuple[str, str] | None = None
    resource_timeout_s: float | None = None

    @property
    def reversible(self) -> bool:
        return self.compensate is not None

    def resource_of(self, arguments: Mapping[str, Any]) -> str | None:
        """The resource a call with these (validated) arguments works on, as
        "kind:value", or None (the tool names none, or the argument is unset)."""
        if self.resource is None:
            return None
        kind, argument = self.resource
        value = arguments.get(argument)
        if value is None:
            return None
        return f"{kind}:{value if isinstance(value, str) else json.dumps(value, sort_keys=True)}"

    def json_schema(self) -> dict[str, Any]:
        """The argument schema offered to models."""
        return self.args_model.model_json_schema()


@overload
def tool(fn: ToolFunction, /) -> ToolSpec: ...


@overload
def tool(
    *,
    name: str | None = None,
    effect: Effect | str = Effect.READ_ONLY,
    lookup: Lookup | None = None,
    compensate: Compensation | None = None,
    timeout: float = 30.0,
    attempts: int = 1,
    description: str | None = None,
    untrusted: bool = False,
    resource: str | tuple[str, str] | None = None,
    resource_timeout: float | None = None,
) -> Callable[[ToolFunction], ToolSpec]: ...


def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    effect: Effect | str = Effect.READ_ONLY,
    lookup: Lookup | None = None,
    compensate: Compensation | None = None,
    timeout: float = 30.0,
    attempts: int = 1,
    description: str | None = None,
    untrusted: bool = False,
    resource: str | tuple[str, str] | None = None,
    resource_timeout: float | None = None,
) -> ToolSpec | Callable[[ToolFunction], ToolSpec]:
    """Declare a tool. Use as `@tool` or `@tool(effect="idempotent_by_key", ...)`.

    The first parameter receives a `ToolContext` if it is annotated so or named `ctx`; every
    other parameter becomes a validated argument. `untrusted=True` says the tool's output
    comes from outside (web pages, e-mail, files): once it reaches an agent's context the
    agent is tainted, and its side-effecting calls need approval from then on.

    `resource="order_id"` names the argument whose value is the resource a call works on
    (key "order_id:<value>"; `resource=("order", "order_id")` gives the kind, so tools
    that name it differently share it): the first of an agent's calls to name a resource
    takes its lease until the agent ends, and another agent's call on it waits, at most
    `resource_timeout` seconds (the supervisor's default otherwise), then fails.
    """

    def build(func: ToolFunction) -> ToolSpec:
        built = _build_tool(
            func, name, effect, lookup, compensate, timeout, attempts, description, untrusted
        )
        return _with_resource(built, resource, resource_timeout)

    if fn is not None:
        return build(fn)
    return build


_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def _build_tool(
    func: ToolFunction,
    name: str | None,
    effect: Effect | str,
    lookup: Lookup | None,
    compensate: Compensation | None,
    timeout: float,
    attempts: int,
    description: str | None,
    untrusted: bool,
) -> ToolSpec:
    tool_name = name or func.__name__
    if not _NAME.match(tool_name):
        raise DefinitionError(f"tool name {tool_name!r} must match {_NAME.pattern}")
    try:
        kind = Effect(effect)
    except ValueError:
        allowed = ", ".join(e.value for e in Effect)
        raise DefinitionError(
            f"tool {tool_name}: effect {effect!r} is not one of {allowed}"
        ) from None
    if kind is Effect.RECONCILABLE and lookup is None:
        raise DefinitionError(f"tool {tool_name}: a reconcilable tool needs lookup=")
    if lookup is not None and kind is not Effect.RECONCILABLE:
        raise DefinitionError(f"tool {tool_name}: lookup= only applies to reconcilable tools")
    if compensate is not None and not kind.has_side_effects:
        raise DefinitionError(f"tool {tool_name}: a read-only tool has nothing to compensate")
    if timeout <= 0:
        raise DefinitionError(f"tool {tool_name}: timeout must be positive, got {timeout}")
    if attempts < 1:
        raise DefinitionError(f"tool {tool_name}: attempts must be at least 1, got {attempts}")
    args_model, takes_context = _arguments_model(tool_name, func)
    return ToolSpec(
        name=tool_name,
        fn=func,
        args_model=args_model,
        effect=kind,
        description=description or inspect.getdoc(func) or "",
        timeout_s=float(timeout),
        attempts=attempts,
        lookup=lookup,
        compensate=compensate,
        takes_context=takes_context,
        argument_names=tuple(args_model.model_fields),
        untrusted=untrusted,
    )


def _with_resource(
    spec: ToolSpec, resource: str | tuple[str, str] | None, timeout: float | None
) -> ToolSpec:
    """`spec` with its `resource=` and `resource_timeout=` checked and set."""
    if resource is None:
        if timeout is not None:
            raise DefinitionError(f"tool {spec.name}: resource_timeout= needs resource=")
        return spec
    if isinstance(resource, str):
        resource = (resource, resource)
    if (
        not isinstance(resource, tuple)
        or len(resource) != 2
        or not all(isinstance(part, str) and part for part in resource)
    ):
        raise DefinitionError(
            f"tool {spec.name}: resource= is an argument's name or a (kind, argument) pair,"
            f" got {resource!r}"
        )
    if resource[1] not in spec.argument_names:
        named = ", ".join(spec.argument_names) or "none"
        raise DefinitionError(
            f"tool {spec.name}: resource= names argument {resource[1]!r}, which it does not"
            f" take (its arguments: {named})"
        )
    if timeout is not None and timeout <= 0:
        raise DefinitionError(f"tool {spec.name}: resource_timeout must be positive, got {timeout}")
    return replace(
        spec,
        resource=resource,
        resource_timeout_s=None if timeout is None else float(timeout),
    )


def _arguments_model(tool_name: str, func: ToolFunction) -> tuple[type[BaseModel], bool]:
    signature = inspect.signature(func)
    try:
        hints = get_type_hints(func)
    except Exception as exc:  # an unresolvable annotation is a definition error
        raise DefinitionError(f"tool {tool_name}: cannot resolve type hints: {exc}") from exc
    params = list(signature.parameters.values())
    takes_context = bool(params) and (
        hints.get(params[0].name) is ToolContext or params[0].name == "ctx"
    )
    fields: dict[str, Any] = {}
    for param in params[1:] if takes_context else params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"tool {tool_name}: *args/**kwargs cannot be validated")
        if param.name not in hints:
            raise DefinitionError(f"tool {tool_name}: parameter {param.name!r} needs a type hint")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model = create_model(
        f"{tool_name}_arguments",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return model, takes_context


@dataclass(frozen=True)
class ScriptView:
    """What a scripted model sees when choosing its next turn: deterministic inputs only."""

    agent_id: str
    task: str
    step: int
    messages: Sequence[Message]

    def results_of(self, tool: str) -> list[str]:
        """What each call of `tool` so far gave the model, in order: its result, or the
        refusal or error the runtime told it instead ("denied: ...", "error: ...")."""
        return [m.content for m in self.messages if m.role == "tool" and m.name == tool]

    @property
    def last_tool_result(self) -> str | None:
        """The content of the most recent tool message, if the last turn called a tool."""
        for message in reversed(self.messages):
            if message.role == "tool":
                return message.content
            if message.role == "assistant":
                return None
        return None


Script = Callable[[ScriptView], Turn]


@dataclass(frozen=True)
class AgentSpec:
    """An agent definition: who it is, what it may use, what drives it."""

    name: str
    role: str
    instructions: str
    tools: tuple[ToolSpec, ...]
    model: str
    script: Script | None
    budget_usd: float | None
    max_steps: int
    model_attempts: int
    # The model's context, in characters: a longer conversation is compacted for the request.
    context_limit: int | None = None
    # Set for a team (see `domain.teams.team`): a coordinator runs it, not a model.
    team: TeamSpec | None = None

    def tool(self, name: str) -> ToolSpec | None:
        """The tool of that name, if this agent has it."""
        for spec in self.tools:
            if spec.name == name:
                return spec
        return None


def agent(
    *,
    name: str,
    role: str = "",
    instructions: str = "",
    tools: Sequence[ToolSpec] = (),
    model: str = "scripted",
    script: Script | None = None,
    budget_usd: float | None = None,
    max_steps: int = 200,
    model_attempts: int = 3,
    context_limit: int | None = None,
) -> AgentSpec:
    """Define an agent. `model="scripted"` needs `script=`, a deterministic turn function."""
    if not _NAME.match(name):
        raise DefinitionError(f"agent name {name!r} must match {_NAME.pattern}")
    seen: set[str] = set()
    for spec in tools:
        if not isinstance(spec, ToolSpec):
            raise DefinitionError(f"agent {name}: {spec!r} is not a @tool")
        if spec.name in seen:
            raise DefinitionError(f"agent {name}: tool {spec.name!r} is listed twice")
        seen.add(spec.name)
    if model == "scripted" and script is None:
        raise DefinitionError(f"agent {name}: model 'scripted' needs script=")
    if budget_usd is not None and budget_usd < 0:
        raise DefinitionError(f"agent {name}: budget_usd must not be negative")
    if context_limit is not None and context_limit < 1_000:
        raise DefinitionError(f"agent {name}: context_limit must be at least 1000 characters")
    if max_steps < 1 or model_attempts < 1:
        raise DefinitionError(f"agent {name}: max_steps and model_attempts must be at least 1")
    return AgentSpec(
        name=name,
        role=role,
        instructions=instructions,
        tools=tuple(tools),
        model=model,
        script=script,
        budget_usd=budget_usd,
        max_steps=max_steps,
        model_attempts=model_attempts,
        context_limit=context_limit,
    )
