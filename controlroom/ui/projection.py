"""The control room's picture of the database, kept up to date from the journal.

Headless on purpose (no Textual here): the bridge feeds it batches of journal entries and the
rows it rereads for the agents and approvals those entries touched; the panes render what it
holds. Agents and approvals are always the stored rows (the truth); the tool-call stream,
alerts, last actions and spend rates are folded from the events themselves.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from controlroom.domain import events as ev
from controlroom.domain.approvals import Approval, ApprovalStatus
from controlroom.domain.events import JournalEntry
from controlroom.store.agent_views import AgentView

STREAM_LINES = 2_000  # the newest tool-call lines kept (the journal keeps all of them)
ALERT_LINES = 500
SPEND_BUCKET_MS = 10_000  # one sparkline bar per 10 s of spending
SPEND_BUCKETS = 30  # five minutes of spending


@dataclass(frozen=True)
class CallLine:
    """One verdict on one tool call, as the stream shows it."""

    event_id: int
    ts_ms: int
    agent_id: str
    call_id: str
    tool: str
    verdict: str  # started, ok, failed, denied, in doubt, waiting, decided, quarantined
    why: str


@dataclass(frozen=True)
class AlertLine:
    """Something an on-call engineer should look at."""

    event_id: int
    ts_ms: int
    agent_id: str
    kind: str  # loop, rate, injection, breaker, notification, failed, in doubt, policy, ...
    text: str


@dataclass
class Spend:
    """An agent's spending per time bucket, for the sparkline."""

    buckets: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=SPEND_BUCKETS))

    def add(self, ts_ms: int, cost: float) -> None:
        bucket = ts_ms // SPEND_BUCKET_MS
        if self.buckets and self.buckets[-1][0] == bucket:
            self.buckets[-1] = (bucket, self.buckets[-1][1] + cost)
        else:
            self.buckets.append((bucket, cost))

    def series(self, now_ms: int) -> list[float]:
        """Spending per bucket over the last SPEND_BUCKETS buckets up to `now_ms`, zeros
        where nothing was spent (oldest first)."""
        last = now_ms // SPEND_BUCKET_MS
        by_bucket = dict(self.buckets)
        return [by_bucket.get(b, 0.0) for b in range(last - SPEND_BUCKETS + 1, last + 1)]


@dataclass(frozen=True)
class Touched:
    """What one batch changed, so each pane redraws only what it must."""

    agents: frozenset[str] = frozenset()
    approvals: frozenset[int] = frozenset()
    calls: int = 0  # new stream lines
    alerts: int = 0  # new alert lines
    gap: bool = False  # entries were missed: panes should redraw from the store

    @property
    def anything(self) -> bool:
        return bool(self.agents or self.approvals or self.calls or self.alerts or self.gap)


@dataclass
class Room:
    """Everything the panes show."""

    agents: dict[str, AgentView] = field(default_factory=dict)  # in submission order
    approvals: dict[int, Approval] = field(default_factory=dict)  # pending only
    calls: deque[CallLine] = field(default_factory=lambda: deque(maxlen=STREAM_LINES))
    alerts: deque[AlertLine] = field(default_factory=lambda: deque(maxlen=ALERT_LINES))
    spend: dict[str, Spend] = field(default_factory=dict)
    held_why: dict[str, str] = field(default_factory=dict)  # why each agent was last stopped
    # Model endpoints whose breaker is not closed, with its latest move.
    model_breakers: dict[str, ev.ModelBreakerChanged] = field(default_factory=dict)
    last_event_id: int = 0

    def reset(
        self,
        agents: Sequence[AgentView],
        approvals: Sequence[Approval],
        since: int,
        model_breakers: Iterable[ev.ModelBreakerChanged] = (),
    ) -> None:
        """Start over from a full read (at open, on a reload, or after the journal ran far
        ahead): the rows as read, and the stream and alerts to be refolded from the
        journal entries after `since`."""
        self.agents = {view.record.id: view for view in agents}
        self.approvals = {a.id: a for a in approvals if a.status is ApprovalStatus.PENDING}
        self.model_breakers = {}
        for change in model_breakers:
            self._breaker_moved(change)
        self.calls.clear()
        self.alerts.clear()
        self.spend.clear()
        self.held_why.clear()
        self.last_event_id = since

    def absorb(self, entries: Iterable[JournalEntry]) -> Touched:
        """Fold new journal entries into the stream, alerts and spending; returns the agents
        and approvals whose stored rows must be reread (`refresh`)."""
        agents: set[str] = set()
        approvals: set[int] = set()
        calls = alerts = 0
        for entry in entries:
            if entry.id <= self.last_event_id:
                continue
            self.last_event_id = entry.id
            if entry.agent_id:
                agents.add(entry.agent_id)
            event = entry.event
            approval_id = getattr(event, "approval_id", None)
            if isinstance(approval_id, int):
                approvals.add(approval_id)
            if isinstance(event, ev.ModelTurnRecorded) and event.usage.cost_usd:
                self.spend.setdefault(entry.agent_id, Spend()).add(
                    entry.ts_ms, event.usage.cost_usd
                )
            if isinstance(event, ev.ModelBreakerChanged):
                self._breaker_moved(event)
            elif isinstance(event, ev.SupervisorStarted):
                self.model_breakers.clear()  # a new supervisor's breakers start closed
            why = held_why(entry)
            if why is not None:
                self.held_why[entry.agent_id] = why
            line = call_line(entry)
            if line is not None:
                self.calls.append(line)
                calls += 1
            alert = alert_line(entry)
            if alert is not None:
                self.alerts.append(alert)
                alerts += 1
        return Touched(frozenset(agents), frozenset(approvals), calls, alerts)

    def _breaker_moved(self, change: ev.ModelBreakerChanged) -> None:
        if change.state == "closed":
            self.model_breakers.pop(change.endpoint, None)
        else:
            self.model_breakers[change.endpoint] = change

    def refresh(self, agents: Sequence[AgentView], approvals: Sequence[Approval]) -> None:
        """Replace the rows reread for a batch: an approval no longer pending leaves."""
        for view in agents:
            self.agents[view.record.id] = view
        for approval in approvals:
            if approval.status is ApprovalStatus.PENDING:
                self.approvals[approval.id] = approval
            else:
                self.approvals.pop(approval.id, None)


def call_line(entry: JournalEntry) -> CallLine | None:
    """The stream line for a tool-call event (None for other events)."""
    event = entry.event

    def line(call_id: str, tool: str, verdict: str, why: str) -> CallLine:
        return CallLine(entry.id, entry.ts_ms, entry.agent_id, call_id, tool, verdict, why)

    match event:
        case ev.ToolCallDenied():
            return line(event.call_id, event.tool, "denied", event.reason)
        case ev.ToolCallStarted():
            return line(event.call_id, event.tool, "started", _compact(event.arguments))
        case ev.ToolCallSucceeded():
            verdict = "reconciled" if event.reconciled else "ok"
            return line(event.call_id, event.tool, verdict, event.result)
        case ev.ToolCallFailed():
            verdict = "failed" if event.final else f"retrying (attempt {event.attempt})"
            return line(event.call_id, event.tool, verdict, event.error)
        case ev.ToolCallInDoubt():
            return line(event.call_id, event.tool, "in doubt", event.reason)
        case ev.ApprovalRequested():
            why = f"#{event.approval_id} {event.tier}: {event.why}"
            return line(event.call_id, event.tool, "waiting", why)
        case ev.ApprovalDecided():
            who = ", ".join(event.approvers)
            note = f": {event.note}" if event.note else ""
            why = f"#{event.approval_id} by {who}{note}"
            return line(event.call_id, "", event.verdict, why)
        case ev.ApprovalExpired():
            return line(event.call_id, "", f"expired, {event.action}", f"#{event.approval_id}")
        case ev.ResultQuarantined():
            why = f"score {event.score:.2f}: {', '.join(event.reasons)}"
            return line(event.call_id, event.tool, "quarantined", why)
        case _:
            return None


def held_why(entry: JournalEntry) -> str | None:
    """Why an agent was stopped, paused, suspended or had its outputs held by this event."""
    event = entry.event
    match event:
        case ev.BreakerTripped():
            return f"{event.cause} breaker: {event.detail}"
        case ev.AgentPaused():
            return event.reason
        case ev.AgentQuarantined():
            return f"outputs held: {event.reason}"
        case ev.AgentSuspended():
            waiting = ", ".join(f"#{n}" for n in event.approvals)
            return f"waiting on approval {waiting}"
        case ev.ToolCallInDoubt():
            return f"{event.tool} in doubt: {event.reason}"
        case ev.AgentTerminated():
            return event.reason
        case _:
            return None


def alert_line(entry: JournalEntry) -> AlertLine | None:
    """The alert for an event an on-call engineer must see (None for the others)."""
    event = entry.event

    def alert(kind: str, text: str) -> AlertLine:
        return AlertLine(entry.id, entry.ts_ms, entry.agent_id, kind, text)

    match event:
        case ev.MonitorAlert():
            return alert(event.monitor, f"{event.level}: {event.tool}: {event.detail}")
        case ev.BreakerTripped():
            return alert("breaker", f"{event.cause} breaker, {event.action}: {event.detail}")
        case ev.ResultQuarantined():
            return alert("injection", f"{event.tool} result quarantined ({event.score:.2f})")
        case ev.AgentQuarantined():
            return alert("quarantine", event.reason)
        case ev.NotificationFailed():
            return alert("notification", f"{event.channel} to {event.target}: {event.reason}")
        case ev.ToolCallInDoubt():
            return alert("in doubt", f"{event.tool}: {event.reason}")
        case ev.AgentFailed():
            return alert("failed", event.error)
        case ev.ApprovalExpired():
            return alert("expired", f"approval #{event.approval_id} {event.action}")
        case ev.DecisionRefused():
            return alert("refused", f"{event.operator} via {event.via}: {event.reason}")
        case ev.PolicyRejected():
            return alert("policy", "; ".join(event.problems))
        case ev.ContextCompacted():
            return alert("context", f"{event.dropped} earlier message(s) left out of requests")
        case ev.ModelBreakerChanged():
            return alert(
                "model", f"{event.endpoint} {event.previous} -> {event.state}: {event.reason}"
            )
        case _:
            return None


def _compact(arguments: dict[str, object]) -> str:
    return json.dumps(arguments, ensure_ascii=False, sort_keys=True, default=str)
