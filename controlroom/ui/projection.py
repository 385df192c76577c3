"""The control room's picture of the database, kept up to date from the journal.

Headless on purpose (no Textual here): the bridge feeds it batches of journal entries and the
rows it rereads for the agents and approvals those entries touched; the panes render what it
holds. Agents and approvals are always the stored rows (the truth); the tool-call stream,
alerts, last actions and spend rates are folded from the events themselves.

Agents form a forest by `parent_id` (a team and its sub-agents, which may have their own):
the room indexes each agent's children and gives the panes the agents in tree order (each
root in submission order, followed depth-first by its descendants, children in submission
order) with the marker to draw before each id and, for an agent with sub-agents, the
roll-up of its tree's spend. A sub-agent whose parent the room has not seen yet is shown as
a root until its parent arrives.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
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
class Rollup:
    """The spend of an agent's tree: its own and all its descendants'."""

    cost_usd: float  # the turns whose cost is known
    unknown_cost_turns: int  # turns of unknown cost in the tree (the total is a lower bound)
    agents: int  # agents in the tree, itself included


@dataclass(frozen=True)
class TreeRow:
    """One agent in tree order, as the agents and budgets panes show it."""

    view: AgentView
    depth: int  # 0 for a root
    marker: str  # drawn before the id: "" for a root, "├ ", "└ ", "│ └ ", ...
    total: Rollup | None  # its tree's spend; None for an agent without sub-agents
    context: bool = False  # shown only because a descendant matches the filter


# The tree markers: a child that has siblings after it, the last child, and what stands in
# an ancestor's column below it (a line while that ancestor has siblings still to come).
BRANCH, LAST, PIPE, BLANK = "├ ", "└ ", "│ ", "  "


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
    # Each parent's sub-agents, in submission order (only agents the room holds).
    children: dict[str, list[str]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # each agent's place in `agents`
    # Bumped when an agent arrives anywhere but at the end of the tree order (a sub-agent,
    # or a parent its sub-agents arrived before): panes that append new rows must redraw.
    tree_version: int = 0

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
        self.agents = {}
        self.children = {}
        self.order = {}
        for view in agents:
            self._add(view)
        self.tree_version += 1
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
            if view.record.id in self.agents:
                self.agents[view.record.id] = view
            elif self._add(view):
                self.tree_version += 1
        for approval in approvals:
            if approval.status is ApprovalStatus.PENDING:
                self.approvals[approval.id] = approval
            else:
                self.approvals.pop(approval.id, None)

    # -- the tree of agents ----------------------------------------------------------------

    def _add(self, view: AgentView) -> bool:
        """Hold a new agent, after every other; whether it lands anywhere but at the end
        of the tree order (it is a sub-agent, or sub-agents of it arrived before it)."""
        agent_id, parent = view.record.id, view.record.parent_id
        self.agents[agent_id] = view
        self.order[agent_id] = len(self.order)
        if parent is not None and parent != agent_id:
            self.children.setdefault(parent, []).append(agent_id)
        return (parent is not None and parent in self.agents) or agent_id in self.children

    def parent_of(self, agent_id: str) -> str | None:
        """The agent's parent, if the room holds it (else the agent is shown as a root)."""
        view = self.agents.get(agent_id)
        parent = view.record.parent_id if view is not None else None
        return parent if parent is not None and parent in self.agents else None

    def ancestors(self, agent_id: str) -> list[str]:
        """The agent's parent, its parent's parent, ... up to its root."""
        found: list[str] = []
        seen = {agent_id}
        current = self.parent_of(agent_id)
        while current is not None and current not in seen:
            found.append(current)
            seen.add(current)
            current = self.parent_of(current)
        return found

    def in_tree(self, agent_id: str) -> bool:
        """Whether the agent has a parent or sub-agents (its row shows a marker or a Σ)."""
        return agent_id in self.children or self.parent_of(agent_id) is not None

    def rollup(self, agent_id: str) -> Rollup:
        """The spend of the agent's tree: its own and every descendant's."""
        cost, unknown, count = 0.0, 0, 0
        for member in [agent_id, *self._below(agent_id)]:
            view = self.agents[member]
            cost += view.cost_usd
            unknown += _unknown_turns(view)
            count += 1
        return Rollup(cost, unknown, count)

    def _below(self, agent_id: str) -> list[str]:
        """Every descendant of the agent, depth-first (each once, whatever the links)."""
        found: list[str] = []
        seen = {agent_id}
        stack = list(reversed(self.children.get(agent_id, ())))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            found.append(current)
            stack.extend(reversed(self.children.get(current, ())))
        return found

    def marker(self, agent_id: str, ancestors: Sequence[str] | None = None) -> str:
        """What the unfiltered tree draws before the agent's id (as `tree()` does);
        `ancestors`, if known, saves looking them up."""
        parts: list[str] = []
        current, own = agent_id, True
        for parent in self.ancestors(agent_id) if ancestors is None else ancestors:
            last = self.children[parent][-1] == current
            parts.append((LAST if last else BRANCH) if own else (BLANK if last else PIPE))
            current, own = parent, False
        return "".join(reversed(parts))

    def row(self, agent_id: str) -> TreeRow:
        """The agent's row in the unfiltered tree (for redrawing one row in place)."""
        view = self.agents[agent_id]
        ancestors = self.ancestors(agent_id)
        total = self.rollup(agent_id) if agent_id in self.children else None
        if not ancestors:
            return TreeRow(view, 0, "", total)
        return TreeRow(view, len(ancestors), self.marker(agent_id, ancestors), total)

    def tree(self, keep: Callable[[AgentView], bool] | None = None) -> list[TreeRow]:
        """Every agent in tree order; with `keep`, only those it keeps and their ancestors
        (marked `context`), so a sub-agent is never shown out of its tree. Roll-ups are
        always of the whole tree, whatever `keep` leaves out."""
        agents, children = self.agents, self.children
        roots = [
            agent_id
            for agent_id, view in agents.items()
            if (parent := view.record.parent_id) is None or parent not in agents
        ]
        order = self._walk(roots, None)
        totals: dict[str, tuple[float, int, int]] = {}  # only agents with sub-agents
        for agent_id, _, _ in reversed(order):
            kids = children.get(agent_id)
            if not kids:
                continue
            view = agents[agent_id]
            cost, unknown, count = view.cost_usd, _unknown_turns(view), 1
            for child in kids:
                below = totals.get(child)
                if below is None:
                    view = agents[child]
                    below = (view.cost_usd, _unknown_turns(view), 1)
                cost, unknown, count = cost + below[0], unknown + below[1], count + below[2]
            totals[agent_id] = (cost, unknown, count)
        shown: set[str] | None = None
        kept: set[str] = set()
        if keep is not None:
            shown = set()
            for agent_id, _, _ in reversed(order):
                if keep(self.agents[agent_id]):
                    kept.add(agent_id)
                    shown.add(agent_id)
                elif any(c in shown for c in self.children.get(agent_id, ())):
                    shown.add(agent_id)
            roots = [a for a, depth, _ in order if depth == 0 and a in shown]
            order = self._walk(roots, shown)
        return [
            TreeRow(
                self.agents[agent_id],
                depth,
                marker,
                Rollup(*totals[agent_id]) if agent_id in totals else None,
                keep is not None and agent_id not in kept,
            )
            for agent_id, depth, marker in order
        ]

    def subtree(self, agent_id: str) -> list[TreeRow]:
        """The agent's descendants in tree order, markers drawn from its children down."""
        rows = []
        for member, depth, marker in self._walk(self.children.get(agent_id, ()), None, 1):
            total = self.rollup(member) if member in self.children else None
            rows.append(TreeRow(self.agents[member], depth, marker, total))
        return rows

    def _walk(
        self, roots: Sequence[str], shown: set[str] | None, depth: int = 0
    ) -> list[tuple[str, int, str]]:
        """(agent, depth, marker) depth-first from `roots` (markers from `depth` on), only
        agents in `shown` if given. An agent no root leads to (its parent links loop) is
        added at the end as a root, so that no agent ever goes missing."""
        found: list[tuple[str, int, str]] = []
        seen: set[str] = set()
        children = self.children
        # (agent, depth, the columns of its ancestors, whether it is its parent's last)
        stack = [(a, depth, "", n == len(roots) - 1) for n, a in enumerate(roots)]
        stack.reverse()
        while stack:
            agent_id, level, lead, last = stack.pop()
            if agent_id in seen:
                continue
            seen.add(agent_id)
            found.append((agent_id, level, lead + (LAST if last else BRANCH) if level else ""))
            kids = children.get(agent_id)
            if kids and shown is not None:
                kids = [c for c in kids if c in shown]
            if not kids:
                continue
            below = lead + (BLANK if last else PIPE) if level else ""
            final = len(kids) - 1
            for n in range(final, -1, -1):
                stack.append((kids[n], level + 1, below, n == final))
        if shown is None and depth == 0 and len(found) < len(self.agents):
            found.extend((a, 0, "") for a in self.agents if a not in seen)
        return found


def _unknown_turns(view: AgentView) -> int:
    return view.state.unknown_cost_turns if view.state is not None else 0


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
