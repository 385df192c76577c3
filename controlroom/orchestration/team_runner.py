"""Running a team's coordinator: wake, read what happened, decide, commit, go back to sleep.

A team has no task while its members work (Invariant 4): its status is `waiting` and its
state is a checkpoint. The supervisor launches this runner when the team is submitted,
when a member ends, when a human decides an escalated subtask, when a member's deadline
passes, and at every start (recovery). Each run reads the members' rows and the decisions,
asks `Coordinator.advance` what to do, and makes all of it one commit: the journal events,
the new members' rows (queued, for the supervisor to pick up), approvals for escalated
subtasks, stop commands for members past their deadline, the checkpoint and the status.
Before that commit nothing has happened; after it everything has, exactly once.
"""

from __future__ import annotations

from controlroom import crashpoints
from controlroom.domain.approvals import ApprovalKind, ApprovalStatus, requested
from controlroom.domain.events import (
    AgentCompleted,
    AgentFailed,
    AgentQuarantined,
    AgentStarted,
    AgentSubmitted,
    Event,
)
from controlroom.domain.models import AgentRecord, AgentState, AgentStatus
from controlroom.domain.specs import AgentSpec
from controlroom.domain.teams import TeamSpec
from controlroom.orchestration.coordinator import (
    SETTLED,
    Coordinator,
    Decision,
    HumanDecision,
    MemberEnd,
    Screened,
)
from controlroom.orchestration.state import TeamState
from controlroom.runtime.runner import RunnerServices
from controlroom.store import approvals as approval_rows
from controlroom.store import teams as members
from controlroom.store.database import Database
from controlroom.store.queries import StoredAgent
from controlroom.store.writer import CheckpointDelta, PendingEvent, Statement

_SET_STATUS = "UPDATE agents SET status = ?, updated_ms = ?, result = ?, error = ? WHERE id = ?"


class TeamRunner:
    """One wake-up of a team (see the module docstring)."""

    def __init__(
        self, spec: AgentSpec, stored: StoredAgent, services: RunnerServices, db: Database
    ) -> None:
        assert spec.team is not None
        self.spec = spec
        self.team: TeamSpec = spec.team
        self.record: AgentRecord = stored.record
        self.agent_id = stored.record.id
        self.identity = f"agent:{self.agent_id}"
        self._state = stored.state
        self._services = services
        self._db = db
        self._budget = stored.record.budget_usd
        if self._budget is None:
            self._budget = spec.budget_usd
        # What the supervisor sets on, or reads from, any runner.
        self.recovered_after_crash = False
        self.waits_on_earlier = False
        self.step_latencies: list[float] | None = None
        self.next_deadline_ms: int | None = None
        self.started_members: list[AgentRecord] = []
        self._noted: list[Event] = []  # an operator's quarantine that arrived during this run

    # A coordinator run never waits on anything long: a pause, stop or quarantine asked
    # during one applies when it is over (the supervisor pauses a team's members itself).
    def request_pause(self, reason: str) -> None:
        pass

    def request_stop(self, *, terminate: bool = False) -> None:
        pass

    def quarantine(self, reason: str) -> None:
        if self._state is not None and self._state.quarantined is None:
            self._state.quarantined = reason
            self._noted.append(AgentQuarantined(reason=reason))

    def set_task_budget(self, budget_usd: float) -> None:
        self._budget = budget_usd

    @property
    def state(self) -> AgentState | None:
        return self._state

    async def run(self) -> AgentStatus:
        clock = self._services.clock
        now = clock.now_ms()
        first = self._state is None
        state = self._state or AgentState(
            agent_id=self.agent_id,
            agent=self.spec.name,
            intent=self.record.task,
            user=self.record.user,
            step=-1,
        )
        try:
            team = TeamState.model_validate_json(state.plan) if state.plan else TeamState()
        except ValueError as exc:  # pydantic's error spans lines; a status shows one
            said = " ".join(str(exc).split())[:300]
            return await self._fail(state, f"its checkpoint cannot be read: {said}")
        ends = await self._ends(team)
        decisions = await self._decisions(team)
        coordinator = Coordinator(
            self.agent_id,
            self.record.task,
            self.team,
            self._screen,
            budget_usd=self._budget,
            now_ms=now,
        )
        try:
            decision = coordinator.advance(team, ends, decisions)
        except Exception as exc:  # e.g. the team's definition lost a type it had planned
            why = f"the coordinator could not go on: {type(exc).__name__}: {exc}"
            return await self._fail(state, why)
        self.next_deadline_ms = team.next_deadline_ms()
        if not decision.changed and not first:
            resumed = self.record.status is not AgentStatus.WAITING
            if resumed or self._noted:  # nothing new to decide, but something to keep
                noted: list[Event] = (
                    [AgentStarted(resumed=True, step=state.step)] if resumed else []
                )
                noted += self._noted
                state.status = AgentStatus.WAITING
                await self._services.writer.commit(
                    [PendingEvent(self.agent_id, self.identity, state.step, e) for e in noted],
                    CheckpointDelta.of(self.agent_id, "[]", state),
                    [self._status(AgentStatus.WAITING)],
                )
            return AgentStatus.WAITING
        state.step += 1
        state.plan = team.model_dump_json()
        status, events, statements = self._writes(state, team, decision, now)
        if first:
            record = self.record
            opening: list[Event] = [
                AgentSubmitted(
                    agent=record.agent, task=record.task, user=record.user, budget_usd=self._budget
                ),
                AgentStarted(resumed=False, step=0),
            ]
            events = opening + events
        elif self.record.status is not AgentStatus.WAITING:
            events = [AgentStarted(resumed=True, step=state.step), *events]
        events += self._noted
        state.status = status
        await self._services.writer.commit(
            [PendingEvent(self.agent_id, self.identity, state.step, e) for e in events],
            CheckpointDelta.of(self.agent_id, "[]", state),
            statements,
        )
        self._state = state
        self.started_members = [
            AgentRecord(
                id=spawn.child,
                agent=spawn.agent,
                task=spawn.brief,
                user=self.record.user,
                budget_usd=spawn.budget_usd,
                status=AgentStatus.QUEUED,
                submitted_ms=now,
                updated_ms=now,
                parent_id=self.agent_id,
                tainted_by=spawn.tainted_by,
            )
            for spawn in decision.spawns
        ]
        crashpoints.reached("after-team-commit", self.spec.name)
        return status

    async def _fail(self, state: AgentState, error: str) -> AgentStatus:
        """End the team (only the team: its members' ends are theirs) with `error`, its
        checkpoint as it was: a coordinator's failure must not stop the supervisor."""
        state.step += 1
        state.status = AgentStatus.FAILED
        state.error = error
        await self._services.writer.commit(
            [PendingEvent(self.agent_id, self.identity, state.step, AgentFailed(error=error))],
            CheckpointDelta.of(self.agent_id, "[]", state),
            [self._status(AgentStatus.FAILED, error=error)],
        )
        self._state = state
        return AgentStatus.FAILED

    # -- reading ---------------------------------------------------------------------------

    async def _ends(self, team: TeamState) -> dict[str, MemberEnd]:
        if not team.active:
            return {}
        rows = await members.member_rows(self._db, [run.child for run in team.active])
        return {
            child: MemberEnd(status, result, error, tainted_by)
            for child, (status, result, error, tainted_by) in rows.items()
            if status in SETTLED
        }

    async def _decisions(self, team: TeamState) -> dict[int, HumanDecision]:
        asked = [e.approval_id for e in team.subtasks if e.approval_id is not None]
        decided: dict[int, HumanDecision] = {}
        if not asked:
            return decided
        for approval in await approval_rows.by_ids(self._db, asked):
            decision = approval.decision
            if approval.status is ApprovalStatus.EXPIRED:
                decided[approval.id] = HumanDecision("expired", "expiry")
            elif approval.status is ApprovalStatus.DECIDED and decision is not None:
                decided[approval.id] = HumanDecision(
                    decision.verdict, ", ".join(decision.approvers), decision.note, decision.message
                )
        return decided

    def _screen(self, text: str) -> Screened:
        level = self._services.gate.policy(self.spec).screening
        if level == "off":
            return Screened(False, 0.0, ())
        # Imported on first use, as the runner does: its rules cost every CLI command.
        from controlroom.governance.screening import screen_or_hold

        verdict = screen_or_hold(text, level)
        return Screened(verdict.flagged, verdict.score, verdict.reasons)

    # -- writing ---------------------------------------------------------------------------

    def _writes(
        self, state: AgentState, team: TeamState, decision: Decision, now: int
    ) -> tuple[AgentStatus, list[Event], list[Statement]]:
        events = list(decision.events)
        statements: list[Statement] = [
            members.start_member(
                spawn.child,
                spawn.agent,
                spawn.brief,
                self.record.user,
                spawn.budget_usd,
                self.agent_id,
                now,
                spawn.tainted_by,
            )
            for spawn in decision.spawns
        ]
        statements += [members.stop_member(child, self.agent_id, now) for child in decision.stop]
        desk = self._services.desk
        for subtask_id, why in decision.escalations:
            entry = team.subtask(subtask_id)
            approval = desk.request(
                kind=ApprovalKind.SUBTASK,
                record=self.record,
                step=state.step,
                call_id=f"{subtask_id}#{entry.runs}",
                tool="subtask",
                arguments={
                    "subtask": subtask_id,
                    "type": entry.subtask.type,
                    "brief": entry.subtask.brief,
                },
                why=why,
                reason=f"team {self.agent_id} could not get subtask {subtask_id} done",
                tier="escalate",
                now_ms=now,
            )
            entry.approval_id = approval.id
            events.append(requested(approval))
            statements += desk.writes(approval, now)
        state.plan = team.model_dump_json()
        if decision.outcome == "completed":
            status = AgentStatus.QUARANTINED if state.quarantined else AgentStatus.COMPLETED
            state.result = decision.result
            events.append(AgentCompleted(result=decision.result or ""))
            statements.append(self._status(status, result=decision.result, error=state.quarantined))
        elif decision.outcome == "failed":
            status = AgentStatus.FAILED
            state.error = decision.error
            events.append(AgentFailed(error=decision.error or "failed"))
            statements.append(self._status(status, error=decision.error))
        else:
            status = AgentStatus.WAITING
            statements.append(self._status(status))
        return status, events, statements

    def _status(
        self, status: AgentStatus, result: str | None = None, error: str | None = None
    ) -> Statement:
        now = self._services.clock.now_ms()
        return Statement(_SET_STATUS, (status.value, now, result, error, self.agent_id))
