"""Typed journal events: each is a fact, named in the past tense.

The runtime journals these and publishes the very same objects after they are durable, so
the UI and the JSON log show exactly what the database holds. `kind` is the stored
discriminator; payload fields are stored as JSON in `events.data`.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

from controlroom.domain.models import ToolCall, Usage


class Event(BaseModel):
    """Base of every journal event."""

    model_config = ConfigDict(frozen=True)

    kind: ClassVar[str] = ""


class AgentSubmitted(Event):
    kind: ClassVar[str] = "agent_submitted"
    agent: str
    task: str
    user: str
    budget_usd: float | None = None


class AgentStarted(Event):
    kind: ClassVar[str] = "agent_started"
    resumed: bool
    step: int


class CredentialIssued(Event):
    """The agent holds a new short-lived credential: the events that follow, attributed to
    `agent:<id>/<credential>`, were made under it."""

    kind: ClassVar[str] = "credential_issued"
    credential: str
    expires_ms: int


class ModelTurnRecorded(Event):
    kind: ClassVar[str] = "model_turn"
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage


class ContextCompacted(Event):
    """The conversation outgrew the model's context: the request leaves out `dropped`
    earlier messages (the journal keeps them all; the task is never left out)."""

    kind: ClassVar[str] = "context_compacted"
    dropped: int
    kept: int
    chars: int


class ModelTurnFailed(Event):
    kind: ClassVar[str] = "model_turn_failed"
    attempt: int
    error: str


class ModelTurnLost(Event):
    """A model request that was (or may have been) sent and never answered into the
    journal: abandoned by a pause or a stop, or in flight when the supervisor died. The turn
    is requested again; whether the provider billed this one is unknown, so its cost is
    counted as unknown rather than guessed."""

    kind: ClassVar[str] = "model_turn_lost"
    model: str
    reason: str


class ToolCallDenied(Event):
    kind: ClassVar[str] = "tool_call_denied"
    call_id: str
    tool: str
    reason: str


class ToolCallStarted(Event):
    kind: ClassVar[str] = "tool_call_started"
    call_id: str
    tool: str
    key: str
    arguments: dict[str, Any]


class ToolCallSucceeded(Event):
    kind: ClassVar[str] = "tool_call_succeeded"
    call_id: str
    tool: str
    key: str
    result: str
    reconciled: bool = False


class ToolCallFailed(Event):
    """A failed attempt; `final` means no retry follows and the agent is told or stops."""

    kind: ClassVar[str] = "tool_call_failed"
    call_id: str
    tool: str
    key: str
    attempt: int
    error: str
    final: bool


class ToolCallInDoubt(Event):
    """A non-idempotent call started and its outcome is unknown: an operator must decide."""

    kind: ClassVar[str] = "tool_call_in_doubt"
    call_id: str
    tool: str
    key: str
    arguments: dict[str, Any]
    reason: str


class ResourceWaited(Event):
    """A call names a resource (its tool's `resource=`) whose lease another live agent,
    `holder`, holds: the call waits until that agent ends (or the wait's bound passes)."""

    kind: ClassVar[str] = "resource_waited"
    call_id: str
    tool: str
    resource: str
    holder: str


class ResourceAcquired(Event):
    """The agent took the lease on `resource` (after waiting `waited_ms`, if it waited): no
    other agent's call on it runs until this agent has ended."""

    kind: ClassVar[str] = "resource_acquired"
    call_id: str
    tool: str
    resource: str
    waited_ms: int = 0


class ResourceConflict(Event):
    """A call waited its bound (`waited_ms`) for a resource `holder` kept: it failed
    without running, and the model was told."""

    kind: ClassVar[str] = "resource_conflict"
    call_id: str
    tool: str
    resource: str
    holder: str
    waited_ms: int


class MonitorAlert(Event):
    """Behavioural monitoring saw something: `level` says what was done about it."""

    kind: ClassVar[str] = "monitor_alert"
    monitor: str
    level: str
    tool: str
    detail: str


class ResultQuarantined(Event):
    """Injection screening flagged a tool's result: the model was given a placeholder
    instead (the call's `tool_call_succeeded` holds what the model saw); the original is
    kept here for the operator's review."""

    kind: ClassVar[str] = "result_quarantined"
    call_id: str
    tool: str
    score: float
    reasons: tuple[str, ...]
    original: str


class BreakerTripped(Event):
    """A breaker tripped on its own (`cause`: budget, rate, loop, injection, failures) and
    did `action` (pause, quarantine): the alert an on-call engineer is woken by."""

    kind: ClassVar[str] = "breaker_tripped"
    cause: str
    action: str
    detail: str


class AgentQuarantined(Event):
    """From now on the agent's outputs are held for review: it runs on, but its
    side-effecting calls need approval and its final result is not released."""

    kind: ClassVar[str] = "agent_quarantined"
    reason: str


class ApprovalRequested(Event):
    """A call waits for a human (`kind` "call"), or a call's outcome is unknown and an
    operator must say what happened (`kind` "in_doubt"). `digest` binds the decision to
    exactly this call: tool and canonical arguments."""

    kind: ClassVar[str] = "approval_requested"
    approval_id: int
    approval_kind: str
    call_id: str
    tool: str
    arguments: dict[str, Any]
    digest: str
    tier: str
    why: str
    reason: str = ""
    amount: float | None = None
    approvals_required: int = 1
    expires_ms: int | None = None


class ApprovalEndorsed(Event):
    """One of the two approvals a two-person rule requires."""

    kind: ClassVar[str] = "approval_endorsed"
    approval_id: int
    call_id: str
    approver: str
    note: str = ""


class ApprovalDecided(Event):
    """An approval was settled: what the agent does with its call follows from `verdict`
    (approve, deny, respond, complete; happened, retry, abort for an in-doubt call)."""

    kind: ClassVar[str] = "approval_decided"
    approval_id: int
    call_id: str
    digest: str
    verdict: str
    approvers: tuple[str, ...]
    note: str = ""
    arguments: dict[str, Any] | None = None
    message: str = ""
    result: str = ""


class ApprovalExpired(Event):
    """An approval passed its deadline: it was denied or escalated (`action`), never
    approved."""

    kind: ClassVar[str] = "approval_expired"
    approval_id: int
    call_id: str
    action: str


class ApprovalCancelled(Event):
    """An approval can no longer be decided (its agent was terminated or taken over)."""

    kind: ClassVar[str] = "approval_cancelled"
    approval_id: int
    call_id: str
    reason: str


class DecisionRefused(Event):
    """A decision was refused (an approver not allowed, an approval unknown or already
    decided, a bad webhook request): `via` says where it came from."""

    kind: ClassVar[str] = "decision_refused"
    approval_id: int | None
    operator: str
    via: str
    reason: str


class AgentSuspended(Event):
    """The agent waits for decisions on `approvals`: its task ended, its state is in the
    checkpoint and the journal (`status`: awaiting_approval or escalated)."""

    kind: ClassVar[str] = "agent_suspended"
    approvals: tuple[int, ...]
    status: str


class NotificationSent(Event):
    kind: ClassVar[str] = "notification_sent"
    notification_id: int
    channel: str
    target: str
    subject: str
    attempts: int


class NotificationFailed(Event):
    """A notification could not be delivered; what it told of is unaffected (the approval
    record is the truth) and the failure is shown to operators."""

    kind: ClassVar[str] = "notification_failed"
    notification_id: int
    channel: str
    target: str
    subject: str
    attempts: int
    reason: str


class ResourceCreated(Event):
    kind: ClassVar[str] = "resource_created"
    tool: str
    resource_kind: str
    resource_id: str
    key: str


class ResourceCompensated(Event):
    kind: ClassVar[str] = "resource_compensated"
    tool: str
    resource_kind: str
    resource_id: str
    ok: bool
    error: str = ""


class AgentPaused(Event):
    kind: ClassVar[str] = "agent_paused"
    reason: str


class AgentResumed(Event):
    kind: ClassVar[str] = "agent_resumed"
    reason: str


class AgentCompleted(Event):
    kind: ClassVar[str] = "agent_completed"
    result: str


class AgentFailed(Event):
    kind: ClassVar[str] = "agent_failed"
    error: str


class AgentTerminated(Event):
    kind: ClassVar[str] = "agent_terminated"
    reason: str
    compensated: int


class ModelBreakerChanged(Event):
    """A model endpoint's circuit breaker moved (closed, open: turns fail at once without a
    request; half-open: one probe after a cool-down)."""

    kind: ClassVar[str] = "model_breaker_changed"
    endpoint: str
    previous: str
    state: str
    consecutive_failures: int
    reason: str


class MemberAssigned(Event):
    """A team's coordinator gave a member its part: sub-agent `child` runs `agent` as the
    `role` (planner, specialist, critic, synthesizer), on `subtask` for a specialist or a
    critic, for the `attempt`-th time."""

    kind: ClassVar[str] = "member_assigned"
    child: str
    agent: str
    role: str
    subtask: str = ""
    attempt: int = 1
    tainted_by: str | None = None  # its brief carries output untrusted content had reached


class MemberReported(Event):
    """What the coordinator made of a member's end (the structured error a parent gets):
    `outcome` is ok, failed (it failed, was terminated or timed out), invalid (its answer is
    not the message its part calls for) or held (its output is quarantined); `action` is
    what the team does about it (continue, retry, revise, skip, escalate, fail)."""

    kind: ClassVar[str] = "member_reported"
    child: str
    role: str
    subtask: str = ""
    status: str
    outcome: str
    action: str
    detail: str = ""


class MessageQuarantined(Event):
    """Injection screening flagged what a member said: the original is kept here, and the
    members it was meant for are given a placeholder instead."""

    kind: ClassVar[str] = "message_quarantined"
    child: str
    subtask: str = ""
    score: float
    reasons: tuple[str, ...]
    original: str


class TeamPlanned(Event):
    """The planner's plan, as validated: each subtask's id, type and brief."""

    kind: ClassVar[str] = "team_planned"
    subtasks: list[dict[str, str]]


class SubtaskReviewed(Event):
    kind: ClassVar[str] = "subtask_reviewed"
    subtask: str
    verdict: str
    feedback: str = ""


class SubtaskSettled(Event):
    """A subtask is done with: its result `accepted`, or `skipped` (with why)."""

    kind: ClassVar[str] = "subtask_settled"
    subtask: str
    outcome: str
    note: str = ""


class BudgetChanged(Event):
    """An operator set the task's budget (`budget_usd`): the budget breaker trips on the
    new line from now on."""

    kind: ClassVar[str] = "budget_changed"
    budget_usd: float
    operator: str


class OperatorActed(Event):
    """An operator command was applied (or refused), with who gave it."""

    kind: ClassVar[str] = "operator_action"
    command: str
    target: str
    operator: str
    outcome: str


class SupervisorStarted(Event):
    kind: ClassVar[str] = "supervisor_started"
    pid: int
    host: str
    took_over_from: str = ""


class ChainHeadSigned(Event):
    """The supervisor signed the journal up to `head_id` (see store/anchor.py)."""

    kind: ClassVar[str] = "chain_head_signed"
    head_id: int
    head_hash: str
    signed_ms: int
    signature: str


class PolicyLoaded(Event):
    """A changed policy directory was validated and is enforced from now on."""

    kind: ClassVar[str] = "policy_loaded"
    directory: str
    files: list[str]


class PolicyRejected(Event):
    """A changed policy directory has problems: the last good policies stay enforced."""

    kind: ClassVar[str] = "policy_rejected"
    directory: str
    problems: list[str]


class SupervisorStopped(Event):
    kind: ClassVar[str] = "supervisor_stopped"
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        AgentSubmitted,
        AgentStarted,
        CredentialIssued,
        ModelTurnRecorded,
        ContextCompacted,
        ModelTurnFailed,
        ModelTurnLost,
        ToolCallDenied,
        ToolCallStarted,
        ToolCallSucceeded,
        ToolCallFailed,
        ToolCallInDoubt,
        ResourceWaited,
        ResourceAcquired,
        ResourceConflict,
        MonitorAlert,
        ResultQuarantined,
        BreakerTripped,
        AgentQuarantined,
        ApprovalRequested,
        ApprovalEndorsed,
        ApprovalDecided,
        ApprovalExpired,
        ApprovalCancelled,
        DecisionRefused,
        AgentSuspended,
        NotificationSent,
        NotificationFailed,
        ResourceCreated,
        ResourceCompensated,
        AgentPaused,
        AgentResumed,
        AgentCompleted,
        AgentFailed,
        AgentTerminated,
        MemberAssigned,
        MemberReported,
        MessageQuarantined,
        TeamPlanned,
        SubtaskReviewed,
        SubtaskSettled,
        BudgetChanged,
        ModelBreakerChanged,
        OperatorActed,
        SupervisorStarted,
        ChainHeadSigned,
        PolicyLoaded,
        PolicyRejected,
        SupervisorStopped,
    )
}


def event_json(event: Event) -> str:
    """The stored JSON of an event's payload (what `model_dump_json` gives, minus its
    keyword-argument handling, which costs more than the serialisation on the hot path)."""
    return event.__pydantic_serializer__.to_json(event).decode()


def decode_event(kind: str, data: str) -> Event:
    """Rebuild a typed event from its stored kind and JSON payload."""
    return EVENT_TYPES[kind].model_validate_json(data)


class JournalEntry(NamedTuple):
    """An event as stored: its position in the journal, time, and who it is about.

    A named tuple: one is made for every journaled event, and it is immutable either way.
    """

    id: int
    ts_ms: int
    agent_id: str
    identity: str
    step: int
    event: Event

    def as_log_record(self) -> dict[str, Any]:
        """The flat JSON object `controlroom run` prints for this entry."""
        return {
            "id": self.id,
            "ts_ms": self.ts_ms,
            "agent_id": self.agent_id,
            "identity": self.identity,
            "step": self.step,
            "kind": self.event.kind,
            **self.event.model_dump(mode="json"),
        }
