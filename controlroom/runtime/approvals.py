"""Asking for a human decision: approval records, their ids, and the notifications that
announce them.

An approval is created by the runner when a call needs a human (its tier, taint, a loop,
quarantine) or when a crash left a call in doubt. The record, its `ApprovalRequested`
event, the outbox rows that notify approvers and the agent's new status are one commit:
after it, the agent's task ends and nothing of it stays in memory (Invariant 4).
"""

from __future__ import annotations

import hashlib
import itertools
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlroom.domain.approvals import Approval, ApprovalKind, Notification
from controlroom.domain.models import AgentRecord
from controlroom.governance import authority
from controlroom.governance.gate import Gate
from controlroom.governance.policy import NotificationKind
from controlroom.runtime.keys import canonical_json
from controlroom.store import approvals as approval_rows
from controlroom.store import outbox
from controlroom.store.writer import Statement

# What is kept of the agent's own words about a call (its turn's text): enough to judge.
REASON_CHARS = 1000


def call_digest(tool: str, arguments: dict[str, Any]) -> str:
    """What a decision is bound to: the tool and its canonical arguments."""
    return hashlib.sha256(f"{tool}\n{canonical_json(arguments)}".encode()).hexdigest()


class ApprovalDesk:
    """Makes approval records and what goes with them (see the module docstring).

    Ids are small integers an operator can type: this supervisor holds the database's
    lease, so counting on from the highest recorded id is unique.
    """

    def __init__(self, gate: Gate, db_path: Path) -> None:
        self._gate = gate
        self._db_path = db_path
        self._ids = itertools.count(1)

    def start_after(self, highest_id: int) -> None:
        self._ids = itertools.count(highest_id + 1)

    def request(
        self,
        *,
        kind: ApprovalKind,
        record: AgentRecord,
        step: int,
        call_id: str,
        tool: str,
        arguments: dict[str, Any],
        why: str,
        reason: str,
        tier: str,
        now_ms: int,
    ) -> Approval:
        """A new pending approval for a call (not yet recorded: see `writes`)."""
        policies = self._gate.policies
        policy = policies.for_agent(record.agent)
        amount = authority.amount_of(policy, tool, arguments)
        in_doubt = kind is ApprovalKind.IN_DOUBT
        # An in-doubt call is never settled by a deadline; an escalated one only if the
        # policy would deny it then (there is nobody above to escalate to).
        settings = policy.approval
        expires = not in_doubt and (tier != "escalate" or settings.on_expiry == "deny")
        allowed = authority.allowed_approvers(policies, record.agent, tier, amount)
        return Approval(
            id=next(self._ids),
            kind=kind,
            agent_id=record.id,
            agent=record.agent,
            task=record.task,
            user=record.user,
            step=step,
            call_id=call_id,
            tool=tool,
            arguments=arguments,
            digest=call_digest(tool, arguments),
            reason=reason[:REASON_CHARS],
            why=why,
            tier=tier,
            amount=amount,
            approvers_allowed=allowed or (),
            approvals_required=1
            if in_doubt
            else authority.approvals_required(policy, tier, amount),
            requested_ms=now_ms,
            expires_ms=now_ms + int(settings.expires_after_s * 1000) if expires else None,
            on_expiry=settings.on_expiry,
        )

    def writes(self, approval: Approval, now_ms: int) -> list[Statement]:
        """The record and its notifications, to commit with its event."""
        kind: NotificationKind = (
            "in_doubt"
            if approval.kind is ApprovalKind.IN_DOUBT
            else "escalated"
            if approval.tier == "escalate"
            else "approval_requested"
        )
        return [
            approval_rows.insert(approval),
            *self.notify(kind, self.notification(approval, kind, now_ms), now_ms),
        ]

    def notify(
        self, kind: NotificationKind, notification: Notification, now_ms: int
    ) -> list[Statement]:
        """Outbox rows for every route that takes `kind`.

        A `log` route's row is delivered by journaling it (`notification_sent`, channel
        "log"): nothing leaves the machine, but the notification is on the record; a
        `notify`-tier call has no other event saying that someone was told.
        """
        return [
            outbox.enqueue(route.model_dump_json(), notification, now_ms)
            for route in self._gate.policies.notify
            if kind in route.kinds
        ]

    def notification(self, approval: Approval, kind: NotificationKind, now_ms: int) -> Notification:
        """What an approver needs to decide `approval`, and the commands that decide it."""
        what = f"{approval.tool}({_arguments_line(approval.arguments)})"
        money = f" (${approval.amount:,.2f})" if approval.amount is not None else ""
        if kind == "in_doubt":
            subject = f"In doubt #{approval.id}: {approval.agent_id} {approval.tool}{money}"
        elif approval.kind is ApprovalKind.SUBTASK:
            subtask = approval.arguments.get("subtask", "?")
            subject = f"Escalated #{approval.id}: {approval.agent_id} subtask {subtask} failed"
        elif kind == "escalated":
            subject = f"Escalated #{approval.id}: {approval.agent_id} {approval.tool}{money}"
        else:
            subject = f"Approval #{approval.id}: {approval.agent_id} wants {approval.tool}{money}"
        lines = [
            f"agent: {approval.agent_id} ({approval.agent}), for {approval.user or 'unknown'}",
            f"task: {approval.task}",
            f"call: {what}",
            f"why: {approval.why}",
        ]
        if approval.reason:
            lines.append(f"agent's reason: {approval.reason}")
        if approval.approvals_required > 1:
            lines.append(f"needs {approval.approvals_required} distinct approvers")
        if approval.approvers_allowed:
            lines.append(f"may decide: {', '.join(approval.approvers_allowed)}")
        if approval.expires_ms is not None:
            action = "denied" if approval.on_expiry == "deny" else "escalated"
            lines.append(f"{action} if undecided by {_utc(approval.expires_ms)}")
        return Notification(
            kind=kind,
            subject=subject,
            lines=tuple(lines),
            commands=self.commands(approval),
            approval_id=approval.id,
            agent_id=approval.agent_id,
            tool=approval.tool,
            arguments=approval.arguments,
            tier=approval.tier,
            amount=approval.amount,
            expires_ms=approval.expires_ms,
            created_ms=now_ms,
        )

    def ran(
        self, record: AgentRecord, tool: str, arguments: dict[str, Any], result: str, now_ms: int
    ) -> Notification:
        """A `notify`-tier call ran: what it did, and how to stop the agent if it should not
        have."""
        policy = self._gate.policies.for_agent(record.agent)
        amount = authority.amount_of(policy, tool, arguments)
        money = f" (${amount:,.2f})" if amount is not None else ""
        return Notification(
            kind="notified",
            subject=f"Notice: {record.id} ran {tool}{money}",
            lines=(
                f"agent: {record.id} ({record.agent}), for {record.user or 'unknown'}",
                f"task: {record.task}",
                f"call: {tool}({_arguments_line(arguments)})",
                f"result: {_clipped(result)}",
            ),
            commands=(f"controlroom pause {record.id} {self._db_flag()}",),
            agent_id=record.id,
            tool=tool,
            arguments=arguments,
            tier="notify",
            amount=amount,
            created_ms=now_ms,
        )

    def breaker(self, agent_id: str, cause: str, detail: str, now_ms: int) -> Notification:
        """A breaker tripped: the agent is paused (or quarantined) with its state kept."""
        return Notification(
            kind="breaker",
            subject=f"Breaker tripped: {agent_id} ({cause})",
            lines=(detail,),
            commands=(
                f"controlroom resume {agent_id} {self._db_flag()}",
                f"controlroom terminate {agent_id} {self._db_flag()}",
            ),
            agent_id=agent_id,
            created_ms=now_ms,
        )

    def _db_flag(self) -> str:
        return f"--db {shlex.quote(str(self._db_path))}"

    def commands(self, approval: Approval) -> tuple[str, ...]:
        """Shell commands that decide `approval` on this database."""
        db = self._db_flag()
        n = approval.id
        if approval.kind is ApprovalKind.IN_DOUBT:
            return (
                f"controlroom resolve {n} happened --result 'WHAT IT RETURNED' {db}",
                f"controlroom resolve {n} retry {db}",
                f"controlroom resolve {n} abort {db}",
            )
        if approval.kind is ApprovalKind.SUBTASK:
            return (
                f"controlroom approve {n} --note 'WHY' {db}  # run the subtask again",
                f"controlroom deny {n} --note 'WHY' {db}  # skip it",
                f"controlroom respond {n} 'ITS RESULT' {db}",
            )
        commands = [
            f"controlroom approve {n} --note 'WHY' {db}",
            f"controlroom deny {n} --note 'WHY' {db}",
        ]
        if approval.tier == "escalate":
            commands.append(f"controlroom complete {n} 'THE RESULT' {db}")
        return tuple(commands)


def _arguments_line(arguments: dict[str, Any], limit: int = 300) -> str:
    text = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clipped(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
