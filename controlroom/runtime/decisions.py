"""Applying decisions to approvals, exactly once, and letting deadlines pass.

Decisions arrive as commands in the database (from the CLI, the control room or a signed
webhook) and the supervisor applies them one at a time, so two approvers deciding at the
same moment are simply first and second: the second finds the approval decided and is
refused. Each decision, with the mark on the command that carried it and the agent's
resumption, is one commit: a crash leaves either all of it or none, and a command applied
before a crash is never applied again.

The check of who may decide is made here, with the policies this supervisor enforces,
whatever process sent the decision. Edited arguments go through the gate's policy checks
as if the agent had proposed them, and the approver must be allowed to approve the call
they make.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple, get_args

from controlroom.clock import Clock
from controlroom.domain.approvals import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Decision,
    Verdict,
)
from controlroom.domain.events import (
    AgentCompleted,
    AgentResumed,
    ApprovalCancelled,
    ApprovalDecided,
    ApprovalEndorsed,
    ApprovalExpired,
    DecisionRefused,
    Event,
)
from controlroom.domain.models import AgentStatus, ToolCall
from controlroom.domain.specs import AgentSpec
from controlroom.governance import authority
from controlroom.governance.gate import Gate, arguments_dict
from controlroom.runtime.approvals import ApprovalDesk
from controlroom.store import approvals as approval_rows
from controlroom.store import queries, resource_leases
from controlroom.store.database import Database
from controlroom.store.writer import JournalWriter, PendingEvent, Statement

_MARK_COMMAND = "UPDATE commands SET status = ?, applied_ms = ?, outcome = ? WHERE id = ?"
_SET_STATUS = "UPDATE agents SET status = ?, updated_ms = ?, error = ? WHERE id = ?"
_COMPLETE = "UPDATE agents SET status = ?, updated_ms = ?, result = ?, error = NULL WHERE id = ?"
_SUSPENDED = (AgentStatus.AWAITING_APPROVAL, AgentStatus.ESCALATED)
_WAITING = (*_SUSPENDED, AgentStatus.IN_DOUBT)
_VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


class BadDecision(ValueError):
    """A decision command whose payload cannot be a decision (said in one line)."""


@dataclass(frozen=True)
class DecisionRequest:
    """A decision as someone asked for it (not yet checked)."""

    approval_id: int
    verdict: Verdict
    operator: str
    note: str = ""
    arguments: dict[str, Any] | None = None
    message: str = ""
    result: str = ""
    via: str = "cli"

    @classmethod
    def from_command(
        cls, target: str, operator: str, payload: dict[str, Any] | None
    ) -> DecisionRequest:
        """Read a `decide` command; raises BadDecision."""
        try:
            approval_id = int(target)
        except ValueError:
            raise BadDecision(f"{target!r} is not an approval id") from None
        payload = payload or {}
        verdict = payload.get("verdict")
        if verdict not in _VERDICTS:
            raise BadDecision(f"unknown verdict {verdict!r} (one of {', '.join(_VERDICTS)})")
        arguments = payload.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise BadDecision("edited arguments must be a JSON object")
        texts = {name: payload.get(name) or "" for name in ("note", "message", "result", "via")}
        if not all(isinstance(value, str) for value in texts.values()):
            raise BadDecision("note, message, result and via must be strings")
        return cls(
            approval_id,
            verdict,
            operator,
            note=texts["note"],
            arguments=arguments,
            message=texts["message"],
            result=texts["result"],
            via=texts["via"] or "cli",
        )


class Applied(NamedTuple):
    """What applying a decision did: the outcome an operator reads, whether it was
    refused, and the agent to launch (it has every decision it waited for)."""

    outcome: str
    refused: bool
    resume: str | None = None


class Decisions:
    """Applies decisions and expiries for a supervisor (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        writer: JournalWriter,
        clock: Clock,
        gate: Gate,
        desk: ApprovalDesk,
        agents: dict[str, AgentSpec],
        identity: str,
    ) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._gate = gate
        self._desk = desk
        self._agents = agents
        self._identity = identity
        # Decisions, deadlines and cancellations read an approval, then write it: one at a
        # time, or a deadline passing as a decision arrives could settle an approval twice.
        self._lock = asyncio.Lock()

    async def decide(self, request: DecisionRequest, command_id: int | None) -> Applied:
        """Check and apply one decision; the command (if any) is marked in the same commit."""
        async with self._lock:
            return await self._decide(request, command_id)

    async def _decide(self, request: DecisionRequest, command_id: int | None) -> Applied:
        approval = await approval_rows.get(self._db, request.approval_id)
        why = await self._refusal(request, approval)
        if why is not None:
            await self.refuse(request.approval_id, request.operator, request.via, why, command_id)
            return Applied(f"refused: {why}", True)
        assert approval is not None
        operator = request.operator
        identity = f"operator:{operator}"
        now = self._clock.now_ms()
        if request.verdict == "approve" and approval.approvals_required > 1:
            endorsed = (*approval.endorsed_by, operator)
            if len(endorsed) < approval.approvals_required:
                updated = approval.model_copy(update={"endorsed_by": endorsed})
                outcome = (
                    f"approval #{approval.id}: {len(endorsed)} of "
                    f"{approval.approvals_required} approvals recorded ({', '.join(endorsed)}); "
                    "another, different approver must approve too"
                )
                event = ApprovalEndorsed(
                    approval_id=approval.id,
                    call_id=approval.call_id,
                    approver=operator,
                    note=request.note,
                )
                await self._commit(
                    [PendingEvent(approval.agent_id, identity, approval.step, event)],
                    [approval_rows.update(updated), *_marked(command_id, outcome, now)],
                )
                return Applied(outcome, False)
            approvers = endorsed
        else:
            approvers = (operator,)
        decision = Decision(
            verdict=request.verdict,
            approvers=approvers,
            note=request.note,
            arguments=request.arguments,
            message=request.message,
            result=request.result,
            decided_ms=now,
        )
        decided = approval.model_copy(
            update={"status": ApprovalStatus.DECIDED, "decision": decision}
        )
        events: list[PendingEvent] = [
            PendingEvent(approval.agent_id, identity, approval.step, _decided_event(decided))
        ]
        statements = [approval_rows.update(decided)]
        outcome = _describe(decided)
        resume: str | None = None
        if request.verdict == "complete":
            events, statements = await self._complete(decided, events, statements, identity)
        else:
            resume, others = await self._resumption(decided, events, statements, identity)
            if others:
                outcome += f"; the agent waits for {others} other decision(s)"
        statements += _marked(command_id, outcome, now)
        await self._commit(events, statements)
        return Applied(outcome, False, resume)

    async def refuse(
        self, approval_id: int | None, operator: str, via: str, why: str, command_id: int | None
    ) -> None:
        """Journal a refused decision (and mark its command)."""
        approval = await approval_rows.get(self._db, approval_id) if approval_id else None
        event = DecisionRefused(approval_id=approval_id, operator=operator, via=via, reason=why)
        await self._commit(
            [
                PendingEvent(
                    approval.agent_id if approval else "",
                    f"operator:{operator}",
                    approval.step if approval else 0,
                    event,
                )
            ],
            _marked(command_id, f"refused: {why}", self._clock.now_ms(), status="refused"),
        )

    async def _refusal(self, request: DecisionRequest, approval: Approval | None) -> str | None:
        """Why the decision may not be applied, or None."""
        if approval is None:
            return f"no approval #{request.approval_id}"
        if not approval.status.is_open:
            return f"approval #{approval.id} is {approval.settled()}"
        if request.verdict not in approval.verdicts:
            what = {
                ApprovalKind.IN_DOUBT: "an in-doubt call",
                ApprovalKind.SUBTASK: "a team's escalated subtask",
            }.get(approval.kind, f"a call of the {approval.tier} tier")
            return (
                f"approval #{approval.id} is for {what}: decide it with "
                f"{' / '.join(approval.verdicts)}, not {request.verdict}"
            )
        policies = self._gate.policies
        tier = "approve" if approval.kind is ApprovalKind.IN_DOUBT else approval.tier
        refused = authority.refusal(
            policies, approval.agent, tier, approval.amount, request.operator
        )
        if refused is not None:
            return refused
        if request.operator in approval.endorsed_by:
            return (
                f"{request.operator} has already approved #{approval.id}; the two-person rule "
                "needs another approver"
            )
        if request.arguments is not None:
            return self._edit_refusal(request, approval)
        return None

    def _edit_refusal(self, request: DecisionRequest, approval: Approval) -> str | None:
        """Why edited arguments may not be approved, or None."""
        assert request.arguments is not None
        if request.verdict != "approve":
            return "only an approval can edit the call's arguments"
        if approval.approvals_required > 1:
            return (
                "a call that needs two approvers cannot be edited: deny it; the agent may ask again"
            )
        spec = self._agents.get(approval.agent)
        if spec is None:
            return f"agent definition {approval.agent!r} is not loaded: cannot check the edit"
        edited = ToolCall(id=approval.call_id, name=approval.tool, arguments=request.arguments)
        verdict = self._gate.review(spec, edited, approved=True)
        if not verdict.allowed or verdict.tool is None or verdict.arguments is None:
            return f"edited arguments refused: {verdict.reason}"
        policies = self._gate.policies
        policy = policies.for_agent(approval.agent)
        named = arguments_dict(verdict.tool, verdict.arguments)
        tier = policy.tier_for(approval.tool, named)
        amount = authority.amount_of(policy, approval.tool, named)
        refused = authority.refusal(policies, approval.agent, tier, amount, request.operator)
        if refused is not None:
            return f"edited arguments: {refused}"
        if authority.approvals_required(policy, tier, amount) > 1:
            return "the edited call would need two approvers: deny it and let it be asked again"
        return None

    async def _resumption(
        self,
        decided: Approval,
        events: list[PendingEvent],
        statements: list[Statement],
        identity: str,
    ) -> tuple[str | None, int]:
        """Add the agent's resumption to the commit if this was its last open decision.

        Returns the agent to launch (if any) and how many other decisions it waits for.
        """
        others = [
            a
            for a in await approval_rows.listed(
                self._db, [ApprovalStatus.PENDING], decided.agent_id
            )
            if a.id != decided.id
        ]
        record = await queries.get_agent(self._db, decided.agent_id)
        if record is not None and record.status is AgentStatus.WAITING:
            # A team: it reads the decision itself when woken, whatever else it waits on.
            return decided.agent_id, len(others)
        if others or record is None or record.status not in _WAITING:
            return None, len(others)
        now = self._clock.now_ms()
        statements.append(
            Statement(_SET_STATUS, (AgentStatus.RUNNING.value, now, None, decided.agent_id))
        )
        reason = f"decision on #{decided.id}"
        events.append(PendingEvent(decided.agent_id, identity, 0, AgentResumed(reason=reason)))
        return decided.agent_id, 0

    async def _complete(
        self,
        decided: Approval,
        events: list[PendingEvent],
        statements: list[Statement],
        identity: str,
    ) -> tuple[list[PendingEvent], list[Statement]]:
        """An operator took an escalated task over and says what it produced."""
        assert decided.decision is not None
        result = decided.decision.result
        now = self._clock.now_ms()
        await self._cancellations(
            decided.agent_id, f"the task was completed by {identity}", identity, events, statements
        )
        events.append(PendingEvent(decided.agent_id, identity, 0, AgentCompleted(result=result)))
        statements.append(
            Statement(_COMPLETE, (AgentStatus.COMPLETED.value, now, result, decided.agent_id))
        )
        # Its resources are free (a waiter finds out at its next look: runtime/leases.py).
        statements += resource_leases.released(decided.agent_id, AgentStatus.COMPLETED)
        return events, statements

    async def cancel(self, agent_id: str, reason: str) -> None:
        """Cancel the agent's open approvals (it was terminated)."""
        async with self._lock:
            events: list[PendingEvent] = []
            statements: list[Statement] = []
            await self._cancellations(agent_id, reason, self._identity, events, statements)
            if events:
                await self._commit(events, statements)

    async def _cancellations(
        self,
        agent_id: str,
        reason: str,
        identity: str,
        events: list[PendingEvent],
        statements: list[Statement],
    ) -> None:
        """Add the cancellation of the agent's open approvals to a commit (an approval
        being decided in the same commit is no longer open in it, so it is left out)."""
        decided = {e.event.approval_id for e in events if isinstance(e.event, ApprovalDecided)}
        for approval in await approval_rows.listed(self._db, [ApprovalStatus.PENDING], agent_id):
            if approval.id not in decided:
                event, statement = _cancelled(approval, reason)
                events.append(PendingEvent(agent_id, identity, approval.step, event))
                statements.append(statement)

    async def resume_if_settled(self, agent_id: str) -> bool:
        """Resume a waiting agent none of whose approvals is open any more (its decisions
        arrived while it was running); True if it was."""
        async with self._lock:
            if await approval_rows.listed(self._db, [ApprovalStatus.PENDING], agent_id):
                return False
            record = await queries.get_agent(self._db, agent_id)
            if record is None or record.status not in _SUSPENDED:
                return False
            now = self._clock.now_ms()
            await self._commit(
                [PendingEvent(agent_id, self._identity, 0, AgentResumed(reason="all decided"))],
                [Statement(_SET_STATUS, (AgentStatus.RUNNING.value, now, None, agent_id))],
            )
            return True

    async def expire(self) -> list[str]:
        """Settle approvals past their deadline: deny or escalate, never approve.

        Returns the agents that can resume (their last decision was a denial).
        """
        async with self._lock:
            return await self._expire()

    async def _expire(self) -> list[str]:
        now = self._clock.now_ms()
        resumed: list[str] = []
        for approval in await approval_rows.overdue(self._db, now):
            identity = self._identity
            if approval.on_expiry == "deny" or approval.tier == "escalate":
                decision = Decision(
                    verdict="deny",
                    approvers=("expiry",),
                    note="no decision before the deadline",
                    decided_ms=now,
                )
                expired = approval.model_copy(
                    update={"status": ApprovalStatus.EXPIRED, "decision": decision}
                )
                events = [
                    PendingEvent(
                        approval.agent_id,
                        identity,
                        approval.step,
                        ApprovalExpired(
                            approval_id=approval.id, call_id=approval.call_id, action="deny"
                        ),
                    ),
                    PendingEvent(
                        approval.agent_id, identity, approval.step, _decided_event(expired)
                    ),
                ]
                statements = [approval_rows.update(expired)]
                agent, _others = await self._resumption(expired, events, statements, identity)
                await self._commit(events, statements)
                if agent is not None:
                    resumed.append(agent)
                continue
            await self._escalate(approval, identity, now)
        return resumed

    async def _escalate(self, approval: Approval, identity: str, now: int) -> None:
        """Hand an overdue approval to whoever may decide the escalate tier."""
        policies = self._gate.policies
        policy = policies.for_agent(approval.agent)
        allowed = authority.allowed_approvers(policies, approval.agent, "escalate", approval.amount)
        escalated = approval.model_copy(
            update={
                "tier": "escalate",
                "expires_ms": None,
                "approvers_allowed": allowed or (),
                "approvals_required": authority.approvals_required(
                    policy, "escalate", approval.amount
                ),
                "endorsed_by": (),
            }
        )
        record = await queries.get_agent(self._db, approval.agent_id)
        statements = [approval_rows.update(escalated)]
        if record is not None and record.status is AgentStatus.AWAITING_APPROVAL:
            statements.append(
                Statement(
                    _SET_STATUS,
                    (AgentStatus.ESCALATED.value, now, None, approval.agent_id),
                )
            )
        notice = self._desk.notification(escalated, "escalated", now)
        statements += self._desk.notify("escalated", notice, now)
        event = ApprovalExpired(
            approval_id=approval.id, call_id=approval.call_id, action="escalate"
        )
        await self._commit(
            [PendingEvent(approval.agent_id, identity, approval.step, event)], statements
        )

    async def _commit(self, events: list[PendingEvent], statements: list[Statement]) -> None:
        await self._writer.commit(events, statements=statements)


def _cancelled(approval: Approval, reason: str) -> tuple[Event, Statement]:
    """The event and write that cancel an open approval."""
    row = approval.model_copy(update={"status": ApprovalStatus.CANCELLED})
    event = ApprovalCancelled(approval_id=approval.id, call_id=approval.call_id, reason=reason)
    return event, approval_rows.update(row)


def _decided_event(approval: Approval) -> ApprovalDecided:
    decision = approval.decision
    assert decision is not None
    return ApprovalDecided(
        approval_id=approval.id,
        call_id=approval.call_id,
        digest=approval.digest,
        verdict=decision.verdict,
        approvers=decision.approvers,
        note=decision.note,
        arguments=decision.arguments,
        message=decision.message,
        result=decision.result,
    )


def _marked(
    command_id: int | None, outcome: str, now_ms: int, status: str = "applied"
) -> list[Statement]:
    if command_id is None:
        return []
    return [Statement(_MARK_COMMAND, (status, now_ms, outcome, command_id))]


def _describe(approval: Approval) -> str:
    decision = approval.decision
    assert decision is not None
    who = ", ".join(decision.approvers)
    what = {
        "approve": "approved" + (" with edited arguments" if decision.arguments else ""),
        "deny": "denied",
        "respond": "answered with a message",
        "complete": "completed by hand",
        "happened": "resolved: it happened",
        "retry": "resolved: retry with the same key",
        "abort": "resolved: aborted",
    }[decision.verdict]
    return f"approval #{approval.id} ({approval.agent_id} {approval.tool}) {what} by {who}"
