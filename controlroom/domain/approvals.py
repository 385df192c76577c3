"""Approvals: a call waiting for a human, the decision that settles it, and what an
approver is told.

The approval record is the truth: notifications are only views of it, and a decision is
bound to the exact call it was asked for (`digest`, over the tool and its canonical
arguments). An in-doubt call (a non-idempotent call whose outcome a crash made unknown) is
settled through the same record.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlroom.domain.events import ApprovalRequested

Verdict = Literal[
    # on a call that needs approval
    "approve",
    "deny",
    "respond",
    # on an escalated call: the operator takes the task over and marks it done
    "complete",
    # on an in-doubt call
    "happened",
    "retry",
    "abort",
]
CALL_VERDICTS: tuple[Verdict, ...] = ("approve", "deny", "respond")
ESCALATION_VERDICTS: tuple[Verdict, ...] = ("approve", "deny", "respond", "complete")
IN_DOUBT_VERDICTS: tuple[Verdict, ...] = ("happened", "retry", "abort")
SUBTASK_VERDICTS: tuple[Verdict, ...] = ("approve", "deny", "respond")


class ApprovalKind(StrEnum):
    CALL = "call"  # a proposed call whose tier (or taint, loop, quarantine) needs a human
    IN_DOUBT = "in_doubt"  # a started call whose outcome is unknown
    # A team's subtask its members could not do: approve runs it again, deny skips it,
    # respond gives its result.
    SUBTASK = "subtask"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    DECIDED = "decided"
    EXPIRED = "expired"  # past its deadline and denied (policy `on_expiry = "deny"`)
    CANCELLED = "cancelled"  # its agent was terminated or taken over first

    @property
    def is_open(self) -> bool:
        return self is ApprovalStatus.PENDING


class Decision(BaseModel):
    """How an approval was settled, and by whom.

    `arguments` is set when an approver edited the call's arguments; `message` is what the
    agent is told instead of a result (`respond`) and `result` what an operator says an
    in-doubt call returned (`happened`) or a taken-over task produced (`complete`).
    """

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    approvers: tuple[str, ...]
    note: str = ""
    arguments: dict[str, Any] | None = None
    message: str = ""
    result: str = ""
    decided_ms: int = 0


class Approval(BaseModel):
    """One request for a human decision (a row of the `approvals` table)."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: ApprovalKind
    agent_id: str
    agent: str
    task: str
    user: str
    step: int
    call_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    digest: str
    # What the agent said when it proposed the call (the turn's text), and why it needs a
    # human (the rule, the taint, the loop, the crash).
    reason: str = ""
    why: str = ""
    tier: str = "approve"
    amount: float | None = None
    # Who may decide it, as the policy names them (empty: anyone), and how many distinct
    # approvers must approve (two for the highest risk, when policy says so).
    approvers_allowed: tuple[str, ...] = ()
    approvals_required: int = 1
    endorsed_by: tuple[str, ...] = ()  # approvers so far, under the two-person rule
    requested_ms: int
    expires_ms: int | None = None
    on_expiry: Literal["deny", "escalate"] = "escalate"
    status: ApprovalStatus = ApprovalStatus.PENDING
    decision: Decision | None = None

    def settled(self) -> str:
        """How a closed approval was settled, as a refusal tells it."""
        decision = self.decision
        if self.status is ApprovalStatus.CANCELLED:
            return "cancelled"
        if decision is None:
            return self.status.value
        if self.status is ApprovalStatus.EXPIRED:
            return "expired and was denied"
        return f"already decided: {decision.verdict} by {', '.join(decision.approvers)}"

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """The decisions this approval accepts."""
        if self.kind is ApprovalKind.IN_DOUBT:
            return IN_DOUBT_VERDICTS
        if self.kind is ApprovalKind.SUBTASK:
            return SUBTASK_VERDICTS
        return ESCALATION_VERDICTS if self.tier == "escalate" else CALL_VERDICTS


class Notification(BaseModel):
    """What an approver (or on-call engineer) is sent: enough to decide without opening
    the control room, and the commands that decide it.

    `subject` is one line; `lines` are the details in order; `commands` are shell commands
    (`controlroom approve 7 --db ...`). Renderers for Slack, generic JSON and e-mail take
    only this.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["approval_requested", "escalated", "in_doubt", "notified", "breaker", "expired"]
    subject: str
    lines: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    approval_id: int | None = None
    agent_id: str = ""
    tool: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    tier: str = ""
    amount: float | None = None
    expires_ms: int | None = None
    created_ms: int = 0


def requested(approval: Approval) -> ApprovalRequested:
    """The journal event that announces `approval` (committed with its record)."""
    return ApprovalRequested(
        approval_id=approval.id,
        approval_kind=approval.kind.value,
        call_id=approval.call_id,
        tool=approval.tool,
        arguments=approval.arguments,
        digest=approval.digest,
        tier=approval.tier,
        why=approval.why,
        reason=approval.reason,
        amount=approval.amount,
        approvals_required=approval.approvals_required,
        expires_ms=approval.expires_ms,
    )
