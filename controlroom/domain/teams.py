"""Teams: a task run by a planner, specialists and a critic, and the typed messages they pass.

A team is declared like an agent (`team(...)` returns an `AgentSpec` whose `team` is set),
so it is submitted, listed, budgeted and governed by name like any agent. Its members are
agent definitions named by the team; each runs as its own journaled sub-agent (own identity,
allowlist, budget share). What passes between them is a typed message: the planner answers
with a `Plan`, each specialist with a text result, the critic with a `Review`, and nothing
one agent says reaches another before the coordinator has validated it and screened it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlroom.domain.specs import AgentSpec, DefinitionError

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# No "-" in a subtask's id: members are named `<team>.<id>-<run>` and `<id>-review-<run>`,
# so an id with one could name another subtask's member.
_SUBTASK_ID = r"^[a-z0-9][a-z0-9_]{0,31}$"

AfterFailures = Literal["skip", "escalate"]


@dataclass(frozen=True)
class TeamSpec:
    """Who plays each part and the limits the coordinator keeps.

    `specialists` maps each subtask type the planner may use to the agent that does it.
    A result the critic rejects is redone with its feedback up to `max_revisions` times (then
    the last one stands, with the critic's objection noted). A member that fails, times out
    or answers garbage is retried `failure_retries` times, then `after_failures` decides:
    skip the subtask with a note, or escalate it to a human (approve: retry; deny: skip; or
    respond with the result). `specialist_share` is the part of the task's budget each
    specialist may spend by itself (the whole tree always stops at the task's budget).
    """

    planner: str
    specialists: Mapping[str, str]
    critic: str | None = None
    max_subtasks: int = 8
    max_revisions: int = 1
    failure_retries: int = 1
    after_failures: AfterFailures = "escalate"
    member_timeout_s: float | None = None
    specialist_share: float | None = None
    message_chars: int = 8_000
    members: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        named = [self.planner, *self.specialists.values()]
        if self.critic is not None:
            named.append(self.critic)
        object.__setattr__(self, "members", tuple(dict.fromkeys(named)))


def team(
    *,
    name: str,
    planner: str,
    specialists: Mapping[str, str],
    critic: str | None = None,
    role: str = "coordinator",
    instructions: str = "",
    budget_usd: float | None = None,
    max_subtasks: int = 8,
    max_revisions: int = 1,
    failure_retries: int = 1,
    after_failures: AfterFailures = "escalate",
    member_timeout_s: float | None = None,
    specialist_share: float | None = None,
    message_chars: int = 8_000,
) -> AgentSpec:
    """Define a team: a task is planned by `planner`, each subtask done by the specialist of
    its type and reviewed by `critic`, and the results synthesized by `planner`."""
    if not _NAME.match(name):
        raise DefinitionError(f"team name {name!r} must match {_NAME.pattern}")
    if not specialists:
        raise DefinitionError(f"team {name}: needs at least one specialist")
    for kind, member in {"planner": planner, "critic": critic or planner, **specialists}.items():
        if not _TYPE.match(kind) or not _NAME.match(member):
            raise DefinitionError(f"team {name}: {kind!r} -> {member!r} is not a valid name")
    if max_subtasks < 1 or max_revisions < 0 or failure_retries < 0:
        raise DefinitionError(
            f"team {name}: max_subtasks must be at least 1, retries and revisions not negative"
        )
    if after_failures not in ("skip", "escalate"):
        raise DefinitionError(f"team {name}: after_failures must be 'skip' or 'escalate'")
    if specialist_share is not None and not 0 < specialist_share <= 1:
        raise DefinitionError(f"team {name}: specialist_share must be in (0, 1]")
    if member_timeout_s is not None and member_timeout_s <= 0:
        raise DefinitionError(f"team {name}: member_timeout_s must be positive")
    if budget_usd is not None and budget_usd < 0:
        raise DefinitionError(f"team {name}: budget_usd must not be negative")
    if message_chars < 100:
        raise DefinitionError(f"team {name}: message_chars must be at least 100")
    spec = TeamSpec(
        planner=planner,
        specialists=dict(specialists),
        critic=critic,
        max_subtasks=max_subtasks,
        max_revisions=max_revisions,
        failure_retries=failure_retries,
        after_failures=after_failures,
        member_timeout_s=member_timeout_s,
        specialist_share=specialist_share,
        message_chars=message_chars,
    )
    return AgentSpec(
        name=name,
        role=role,
        instructions=instructions,
        tools=(),
        model="team",
        script=None,
        budget_usd=budget_usd,
        max_steps=10_000,
        model_attempts=1,
        team=spec,
    )


def check_members(specs: Mapping[str, AgentSpec]) -> str | None:
    """Why the loaded definitions cannot run their teams (a member is not defined, or is
    itself a team), or None."""
    for spec in specs.values():
        if spec.team is None:
            continue
        for member in spec.team.members:
            found = specs.get(member)
            if found is None:
                return f"team {spec.name}: member {member!r} is not a defined agent"
            if found.team is not None:
                return f"team {spec.name}: member {member!r} is a team, not an agent"
    return None


# -- the messages -----------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Subtask(_Message):
    """One piece of the plan: what to do (`brief`) and which kind of specialist does it."""

    id: str = Field(pattern=_SUBTASK_ID)
    type: str
    brief: str = Field(min_length=1, max_length=4_000)


class Plan(_Message):
    """The planner's answer in the planning phase."""

    subtasks: list[Subtask] = Field(min_length=1)


class Review(_Message):
    """The critic's answer on one result."""

    verdict: Literal["accept", "reject"]
    feedback: str = Field(default="", max_length=4_000)


class BadMessage(ValueError):
    """A member's answer is not the message its part calls for (said in one line)."""


def read_plan(text: str, spec: TeamSpec) -> Plan:
    """The plan in a planner's answer, checked against the team: known types, unique ids,
    no more subtasks than allowed."""
    plan = _parse(Plan, text, "plan")
    ids = [s.id for s in plan.subtasks]
    if len(set(ids)) != len(ids):
        raise BadMessage("plan: subtask ids must be unique")
    if len(ids) > spec.max_subtasks:
        raise BadMessage(f"plan: {len(ids)} subtasks, at most {spec.max_subtasks} allowed")
    unknown = sorted({s.type for s in plan.subtasks} - set(spec.specialists))
    if unknown:
        raise BadMessage(
            f"plan: no specialist for subtask type(s) {', '.join(unknown)}"
            f" (known: {', '.join(sorted(spec.specialists))})"
        )
    return plan


def read_review(text: str) -> Review:
    return _parse(Review, text, "review")


def read_result(text: str | None, spec: TeamSpec) -> str:
    """A specialist's (or the synthesis's) result: non-empty text within the size limit."""
    if text is None or not text.strip():
        raise BadMessage("result: empty")
    if len(text) > spec.message_chars:
        raise BadMessage(f"result: {len(text)} characters, at most {spec.message_chars}")
    return text


M = TypeVar("M", bound=_Message)


def _parse(model: type[M], text: str, what: str) -> M:
    """`model` from the JSON object in `text` (bare, or fenced in ``` as models like to)."""
    body = _json_object(text)
    if body is None:
        raise BadMessage(f"{what}: no JSON object in the answer")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        raise BadMessage(f"{what}: {where}: {first['msg']}") from None


def _json_object(text: str) -> str | None:
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end < start:
        return None
    body = text[start : end + 1]
    try:
        json.loads(body)
    except ValueError:
        return None
    return body
