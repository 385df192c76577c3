"""Reading a policy directory: every problem found, one line each, naming where it is.

A policy is checked against the agent definitions it governs: an unknown agent, tool or
argument is an error (a typo must never widen or silently drop a rule), and so are tier
rules that would give one call two different tiers. Problems are collected across all
files so an operator fixes them in one pass; each names the file, the line where it can be
found, the field path and the offending value.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from controlroom.domain.specs import AgentSpec
from controlroom.errors import ControlRoomError
from controlroom.governance.policy import (
    DEFAULT_POLICY,
    AgentPolicy,
    ApproverRule,
    EndpointConfig,
    NotificationRoute,
    PolicyFile,
    Price,
    UserBudget,
)

T = TypeVar("T")


class PolicyError(ControlRoomError):
    """A policy directory with problems; `problems` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicySet:
    """The policies of every agent, merged from a directory's files."""

    agents: dict[str, AgentPolicy] = field(default_factory=dict)
    approvers: tuple[ApproverRule, ...] = ()
    notify: tuple[NotificationRoute, ...] = ()
    files: tuple[Path, ...] = ()
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)  # by model, e.g. "openai:gpt-4o"
    endpoints: dict[str, EndpointConfig] = field(default_factory=dict)  # beyond the defaults
    users: dict[str, UserBudget] = field(default_factory=dict)

    def daily_budget(self, user: str) -> float | None:
        """What `user`'s agents may spend together today, if a policy says."""
        line = self.users.get(user) or self.users.get("*")
        return None if line is None else line.daily_budget_usd

    def for_agent(self, name: str) -> AgentPolicy:
        return self.agents.get(name, DEFAULT_POLICY)

    def members(self, who: str) -> tuple[str, ...]:
        """The people `who` names: a role's members, or `who` itself."""
        return self.roles.get(who, (who,))


def load_policies(directory: Path, agents: Mapping[str, AgentSpec]) -> PolicySet:
    """Every `*.toml` in `directory`, validated against `agents`; raises PolicyError."""
    if not directory.is_dir():
        raise PolicyError([f"{directory}: policies directory does not exist"])
    problems: list[str] = []
    merged: dict[str, AgentPolicy] = {}
    defined_in: dict[str, Path] = {}
    approvers: list[ApproverRule] = []
    notify: list[NotificationRoute] = []
    roles: dict[str, tuple[str, ...]] = {}
    role_defined_in: dict[str, Path] = {}
    prices: dict[str, Price] = {}
    price_defined_in: dict[str, Path] = {}
    endpoints: dict[str, EndpointConfig] = {}
    endpoint_defined_in: dict[str, Path] = {}
    users: dict[str, UserBudget] = {}
    user_defined_in: dict[str, Path] = {}
    files = tuple(sorted(directory.glob("*.toml")))
    for path in files:
        parsed = _read(path, problems)
        if parsed is None:
            continue
        policy, text = parsed
        checker = _Checker(path, text, agents, problems)
        for name, agent_policy in policy.agent.items():
            if name in defined_in:
                checker.report(("agent", name), f"already defined in {defined_in[name]}")
                continue
            if checker.agent(name, agent_policy):
                merged[name] = agent_policy
                defined_in[name] = path
        for index, rule in enumerate(policy.approvers):
            for agent_name in rule.agents or ():
                if agent_name not in agents:
                    checker.report(
                        ("approvers", index, "agents"), _unknown_agent(agent_name, agents)
                    )
        endpoints_ok: dict[str, EndpointConfig] = {}
        for name, endpoint in policy.endpoints.items():
            if name == "scripted" or ":" in name:
                checker.report(("endpoints", name), "cannot be told from a model string")
            else:
                endpoints_ok[name] = endpoint
        _merge_once("roles", policy.roles, roles, role_defined_in, checker)
        _merge_once("prices", policy.prices, prices, price_defined_in, checker)
        _merge_once("endpoints", endpoints_ok, endpoints, endpoint_defined_in, checker)
        _merge_once("users", policy.users, users, user_defined_in, checker)
        approvers.extend(policy.approvers)
        notify.extend(policy.notify)
    if problems:
        raise PolicyError(problems)
    return PolicySet(
        merged, tuple(approvers), tuple(notify), files, roles, prices, endpoints, users
    )


def _merge_once(
    section: str,
    found: Mapping[str, T],
    merged: dict[str, T],
    defined_in: dict[str, Path],
    checker: _Checker,
) -> None:
    """Add one file's `[section.NAME]` entries; a name another file defined is a problem."""
    for name, value in found.items():
        if name in defined_in:
            checker.report((section, name), f"already defined in {defined_in[name]}")
            continue
        merged[name] = value
        defined_in[name] = checker.path


def _read(path: Path, problems: list[str]) -> tuple[PolicyFile, str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: unreadable ({exc})")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column \d+\)", message)
        line = f":{where.group(1)}" if where else ""
        reason = re.sub(r" \(at line.*\)", "", message)
        problems.append(f"{path}{line}: TOML syntax: {reason}")
        return None
    try:
        return PolicyFile.model_validate(data), text
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            value = _value(error.get("input"))
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{_where(path, text, loc)}: {_path(loc)}: {message}{value}")
        return None


class _Checker:
    """The checks of one file's agent policies against the agent definitions."""

    def __init__(
        self, path: Path, text: str, agents: Mapping[str, AgentSpec], problems: list[str]
    ) -> None:
        self.path = path
        self.text = text
        self.agents = agents
        self.problems = problems

    def report(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append(f"{_where(self.path, self.text, loc)}: {_path(loc)}: {message}")

    def agent(self, name: str, policy: AgentPolicy) -> bool:
        """Report what is wrong with `policy`; True if nothing is."""
        before = len(self.problems)
        spec = self.agents.get(name)
        if spec is None:
            self.report(("agent", name), _unknown_agent(name, self.agents))
            return False
        base = ("agent", name)
        for index, tool in enumerate(policy.tools or ()):
            self._tool(spec, tool, (*base, "tools", index))
        for tool in policy.tool_rates:
            self._tool(spec, tool, (*base, "tool_rates", tool))
        for index, rule in enumerate(policy.tiers):
            where = (*base, "tiers", index)
            if self._tool(spec, rule.tool, (*where, "tool")) and rule.argument is not None:
                self._argument(spec, rule.tool, rule.argument, (*where, "argument"))
        for index, outbound in enumerate(policy.outbound):
            where = (*base, "outbound", index)
            tools = [outbound.tool] if outbound.tool else [t.name for t in spec.tools]
            if outbound.tool is not None and not self._tool(spec, outbound.tool, (*where, "tool")):
                continue
            if not any(outbound.argument in _arguments(spec, tool) for tool in tools):
                self.report(
                    (*where, "argument"),
                    f"no tool of agent {name} takes an argument {outbound.argument!r}",
                )
        self._contradictions(policy, base)
        return len(self.problems) == before

    def _tool(self, spec: AgentSpec, tool: str, loc: tuple[str | int, ...]) -> bool:
        if spec.tool(tool) is not None:
            return True
        known = ", ".join(t.name for t in spec.tools) or "none"
        self.report(loc, f"{tool!r} is not a tool of agent {spec.name} (its tools: {known})")
        return False

    def _argument(
        self, spec: AgentSpec, tool: str, argument: str, loc: tuple[str | int, ...]
    ) -> None:
        names = _arguments(spec, tool)
        if argument not in names:
            self.report(
                loc, f"tool {tool} has no argument {argument!r} (its arguments: {', '.join(names)})"
            )

    def _contradictions(self, policy: AgentPolicy, base: tuple[str, ...]) -> None:
        rules = list(enumerate(policy.tiers))
        for position, (i, first) in enumerate(rules):
            for j, second in rules[position + 1 :]:
                if (
                    first.tool == second.tool
                    and first.tier != second.tier
                    and first.overlaps(second)
                ):
                    self.report(
                        (*base, "tiers", j),
                        f"contradicts tiers[{i}]: a call can match both "
                        f"({first.describe()}; {second.describe()})",
                    )


def _arguments(spec: AgentSpec, tool: str) -> tuple[str, ...]:
    found = spec.tool(tool)
    return found.argument_names if found is not None else ()


def _unknown_agent(name: str, agents: Mapping[str, AgentSpec]) -> str:
    known = ", ".join(sorted(agents)) or "none loaded"
    return f"no agent named {name!r} is defined (agents: {known})"


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def _value(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    shown = repr(value)
    return f" (value {shown[:60] + '...' if len(shown) > 60 else shown})"


def _where(path: Path, text: str, loc: tuple[Any, ...]) -> str:
    """`path:line` where the line holding `loc` can be found, else `path`."""
    line = _line_of(text, loc)
    return f"{path}:{line}" if line else str(path)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best effort: the line of the table (or array-of-tables entry) nearest to `loc`, and
    within it the line assigning `loc`'s last key. None when it cannot be told."""
    lines = text.splitlines()
    headers: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        match = _HEADER.match(line)
        if match:
            headers.append((number, match.group(1).replace('"', "").replace(" ", "")))
    best: tuple[int, int] | None = None  # (header line, index into loc after the header)
    keys = [str(part) for part in loc]
    for end in range(len(loc), 0, -1):
        if isinstance(loc[end - 1], int):
            continue
        name = ".".join(str(part) for part in loc[:end] if not isinstance(part, int))
        nth = loc[end] if end < len(loc) and isinstance(loc[end], int) else 0
        matching = [number for number, header in headers if header == name]
        if len(matching) > nth:
            best = (matching[nth], end + (1 if end < len(loc) and isinstance(loc[end], int) else 0))
            break
    start = best[0] if best else 0
    rest = [key for key in keys[best[1] if best else 0 :] if not key.isdigit()]
    if not rest:
        return start or None
    following = [number for number, _ in headers if number > start]
    stop = following[0] if following else len(lines) + 1
    assignment = re.compile(rf"^\s*\"?{re.escape(rest[0])}\"?\s*=")
    for number in range(start + 1, stop):
        if assignment.match(lines[number - 1]):
            return number
    return start or None
