"""A team's coordinator state: the plan, where each subtask stands, which members run.

It is the team's checkpoint (kept as JSON in `AgentState.plan`), written in the same commit
as the sub-agents a decision starts, so after a crash the coordinator knows exactly which
members it started and which of their ends it has already acted on: none is started twice,
none is lost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controlroom.domain.teams import Subtask

Role = Literal["planner", "specialist", "critic", "synthesizer"]
Phase = Literal["planning", "working", "synthesizing", "done", "failed"]
SubtaskStatus = Literal["working", "reviewing", "escalated", "accepted", "skipped"]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberRun(_State):
    """A member the team waits on."""

    child: str
    role: Role
    subtask: str = ""
    deadline_ms: int | None = None


class SubtaskState(_State):
    subtask: Subtask
    status: SubtaskStatus = "working"
    runs: int = 0  # specialist runs started
    failures: int = 0  # member failures since the last fresh start (retries count these)
    revisions: int = 0  # results redone after the critic rejected them
    reviews: int = 0  # critic runs started
    result: str | None = None  # the latest result, as screened
    tainted_by: str | None = None  # where untrusted content reached that result, if it did
    feedback: str = ""  # the critic's latest objection, as screened
    feedback_tainted_by: str | None = None
    note: str = ""  # why it was skipped, or what a human said
    approval_id: int | None = None  # while escalated

    @property
    def settled(self) -> bool:
        return self.status in ("accepted", "skipped")


class TeamState(_State):
    phase: Phase = "planning"
    planner_runs: int = 0
    synthesis_runs: int = 0
    failures: int = 0  # planner or synthesizer failures in a row
    subtasks: list[SubtaskState] = Field(default_factory=list)
    active: list[MemberRun] = Field(default_factory=list)

    def subtask(self, subtask_id: str) -> SubtaskState:
        for entry in self.subtasks:
            if entry.subtask.id == subtask_id:
                return entry
        raise KeyError(subtask_id)

    def next_deadline_ms(self) -> int | None:
        deadlines = [run.deadline_ms for run in self.active if run.deadline_ms is not None]
        return min(deadlines) if deadlines else None
