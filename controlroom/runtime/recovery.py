"""Reading an unfinished step back from the journal.

After a crash an agent's checkpoint says which steps are complete; the events of the step
after it say how far that step got: whether the model turn was recorded (then it is never
requested again), which calls were started (their intent is durable) and which finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from controlroom.domain.approvals import IN_DOUBT_VERDICTS
from controlroom.domain.events import (
    ApprovalDecided,
    ApprovalExpired,
    ApprovalRequested,
    JournalEntry,
    ModelTurnRecorded,
    ResourceCreated,
    ResultQuarantined,
    ToolCallDenied,
    ToolCallFailed,
    ToolCallInDoubt,
    ToolCallStarted,
    ToolCallSucceeded,
)

OutcomeKind = Literal["succeeded", "failed", "denied", "in_doubt"]


@dataclass(frozen=True)
class Outcome:
    """A call's journaled final outcome and the text the model was (or will be) given."""

    kind: OutcomeKind
    content: str


@dataclass
class UnfinishedStep:
    """What the journal holds about a step that was not checkpointed."""

    turn: ModelTurnRecorded | None = None
    started: dict[str, ToolCallStarted] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failed_attempts: dict[str, int] = field(default_factory=dict)
    # (key, kind, resource id) of resources already recorded: a resent call re-reports them.
    resources: set[tuple[str, str, str]] = field(default_factory=set)
    # Calls whose result screening quarantined (their outcome holds the placeholder).
    quarantined: set[str] = field(default_factory=set)
    # Approvals asked for and not yet decided, and decisions not yet acted on, by call.
    awaiting: dict[str, ApprovalRequested] = field(default_factory=dict)
    decisions: dict[str, ApprovalDecided] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.turn is None


def unfinished_step(tail: list[JournalEntry], step: int) -> UnfinishedStep:
    """Fold the journal tail into what is known of `step`."""
    known = UnfinishedStep()
    for entry in tail:
        if entry.step != step:
            continue
        event = entry.event
        if isinstance(event, ModelTurnRecorded):
            known.turn = event
        elif isinstance(event, ToolCallStarted):
            known.started[event.call_id] = event
            # A retry of an in-doubt call: its start consumes the decision, and until an
            # outcome is recorded the call is in doubt again.
            decided = known.decisions.get(event.call_id)
            if decided is not None and decided.verdict in IN_DOUBT_VERDICTS:
                del known.decisions[event.call_id]
                known.outcomes.pop(event.call_id, None)
        elif isinstance(event, ToolCallSucceeded):
            known.outcomes[event.call_id] = Outcome("succeeded", event.result)
        elif isinstance(event, ToolCallDenied):
            known.outcomes[event.call_id] = Outcome("denied", f"denied: {event.reason}")
        elif isinstance(event, ToolCallFailed):
            if event.final:
                known.outcomes[event.call_id] = Outcome("failed", f"error: {event.error}")
            else:
                known.failed_attempts[event.call_id] = event.attempt
        elif isinstance(event, ToolCallInDoubt):
            known.outcomes[event.call_id] = Outcome("in_doubt", event.reason)
        elif isinstance(event, ResourceCreated):
            known.resources.add((event.key, event.resource_kind, event.resource_id))
        elif isinstance(event, ResultQuarantined):
            known.quarantined.add(event.call_id)
        elif isinstance(event, ApprovalRequested):
            known.awaiting[event.call_id] = event
        elif isinstance(event, ApprovalDecided):
            known.awaiting.pop(event.call_id, None)
            known.decisions[event.call_id] = event
        elif isinstance(event, ApprovalExpired) and event.action == "escalate":
            asked = known.awaiting.get(event.call_id)
            if asked is not None:  # still open, now in a senior approver's hands
                known.awaiting[event.call_id] = asked.model_copy(update={"tier": "escalate"})
    return known
