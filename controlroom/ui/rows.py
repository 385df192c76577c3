"""How each pane's rows read: plain functions from the room's objects to table cells.

Every string that came from an agent, a tool, a model or an approver goes through `literal`,
so it is shown as written and can neither draw nor hide anything. Times are injected (`now_ms`)
so that countdowns and sparklines are stable under a fake clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.text import Text

from controlroom.domain.approvals import Approval, ApprovalKind
from controlroom.domain.events import JournalEntry
from controlroom.domain.models import AgentStatus
from controlroom.store.agent_views import AgentView
from controlroom.ui.literal import cell, literal
from controlroom.ui.projection import AlertLine, CallLine

Cell = str | Text  # a table cell: plain text, or escaped text with its escapes marked

SPARKS = "▁▂▃▄▅▆▇█"
HELD = frozenset(
    {
        AgentStatus.PAUSED,
        AgentStatus.AWAITING_APPROVAL,
        AgentStatus.ESCALATED,
        AgentStatus.IN_DOUBT,
        AgentStatus.FAILED,
    }
)


def local_time(ms: int, seconds_only: bool = False) -> str:
    """Epoch milliseconds (UTC) as local wall time."""
    when = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone()
    return when.strftime("%H:%M:%S" if seconds_only else "%Y-%m-%d %H:%M:%S")


def countdown(expires_ms: int | None, now_ms: int) -> str:
    """'in 4m 05s', 'overdue 12s' or '-'."""
    if expires_ms is None:
        return "-"
    left = (expires_ms - now_ms) // 1000
    span = abs(left)
    hours, rest = divmod(span, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
    return f"in {text}" if left >= 0 else f"overdue {text}"


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def meter(spent: float, budget: float | None, width: int = 10) -> str:
    """A bar of `width` cells filled in proportion to the budget spent."""
    if budget is None or budget <= 0:
        return "·" * width
    filled = min(width, round(width * spent / budget))
    return "█" * filled + "·" * (width - filled)


def sparkline(series: list[float]) -> str:
    """One block per value, scaled to the largest (blank where nothing was spent)."""
    top = max(series, default=0.0)
    if top <= 0:
        return " " * len(series)
    return "".join(
        " " if v <= 0 else SPARKS[min(len(SPARKS) - 1, int(v / top * len(SPARKS)))] for v in series
    )


def last_action(entry: JournalEntry | None) -> str:
    """The agent's latest journal event, in a few words."""
    if entry is None:
        return "-"
    event = entry.event
    tool = getattr(event, "tool", "")
    return f"{event.kind} {tool}".strip()


def credential(identity: str) -> str:
    """The credential part of an identity ('agent:x/abc123' -> 'abc123')."""
    return identity.rpartition("/")[2] if "/" in identity else identity


def mark(marked: bool) -> str:
    return "●" if marked else " "


def agent_cells(view: AgentView, budget: float | None, marked: bool) -> list[Cell]:
    r = view.record
    state = view.state
    flags = []
    if state is not None and state.tainted_by:
        flags.append("tainted")
    if state is not None and state.quarantined:
        flags.append("quarantined")
    status = r.status.value + (f" ({', '.join(flags)})" if flags else "")
    return [
        mark(marked),
        cell(r.id, 32),
        cell(r.agent, 20),
        status,
        str(r.step),
        f"{money(view.cost_usd)}/{money(budget)}",
        cell(last_action(view.last), 40),
        cell(credential(view.last.identity) if view.last else "-", 16),
        cell(r.error or r.result or r.task, 100),
    ]


def approval_cells(approval: Approval, now_ms: int, marked: bool) -> list[Cell]:
    kind = "in doubt" if approval.kind is ApprovalKind.IN_DOUBT else approval.tier
    endorsed = (
        f" {len(approval.endorsed_by)}/{approval.approvals_required}"
        if approval.approvals_required > 1
        else ""
    )
    return [
        mark(marked),
        str(approval.id),
        cell(approval.agent_id, 32),
        cell(approval.tool, 24),
        money(approval.amount),
        cell(kind + endorsed, 16),
        countdown(approval.expires_ms, now_ms),
        cell(_compact(approval.arguments), 100),
    ]


def approval_context(approval: Approval, now_ms: int, tainted_by: str | None) -> Text:
    """Everything an approver needs to decide, in five lines (each clipped, never wrapped,
    so the pane keeps room for its table)."""
    kind = "in doubt: did it happen?" if approval.kind is ApprovalKind.IN_DOUBT else approval.tier
    who = ", ".join(approval.approvers_allowed) or "any operator"
    if approval.approvals_required > 1:
        endorsed = ", ".join(approval.endorsed_by) or "nobody yet"
        who += f" ({approval.approvals_required} needed; so far {endorsed})"
    expires = f"expires {countdown(approval.expires_ms, now_ms)}, then {approval.on_expiry}"
    lines: list[tuple[str, Text]] = [
        (
            f"#{approval.id}",
            literal(f"{kind} · {approval.tool} · {money(approval.amount)} · {expires}", 300),
        ),
        (
            "agent",
            literal(
                f"{approval.agent_id} ({approval.agent}) step {approval.step}"
                f" · taint {tainted_by or 'none'} · who {who}",
                300,
            ),
        ),
        ("args", literal(_compact(approval.arguments), 400)),
        ("why", literal(approval.why or "-", 300)),
        ("said", literal(approval.reason or "-", 300)),
    ]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for n, (label, value) in enumerate(lines):
        if n:
            text.append("\n")
        text.append(f"{label:<6}", "bold")
        text.append_text(value)
    return text


def call_cells(line: CallLine) -> list[Cell]:
    return [
        local_time(line.ts_ms, seconds_only=True),
        cell(line.agent_id, 32),
        cell(line.tool or "-", 24),
        cell(line.verdict, 24),
        cell(line.why, 160),
    ]


def budget_cells(view: AgentView, budget: float | None, series: list[float]) -> list[Cell]:
    spent = view.cost_usd
    unknown = view.state.unknown_cost_turns if view.state is not None else 0
    share = "-" if not budget else f"{spent / budget:.0%}"
    return [
        cell(view.record.id, 32),
        money(spent) + (f" +{unknown} unknown" if unknown else ""),
        money(budget),
        f"{meter(spent, budget)} {share}",
        sparkline(series),
        f"pause at {money(budget)}" if budget is not None else "no budget",
    ]


def breaker_cells(view: AgentView, why: str) -> list[Cell]:
    state = view.state
    held = view.record.status.value
    if state is not None and state.quarantined:
        held += ", outputs held"
    return [
        cell(view.record.id, 32),
        cell(view.record.agent, 20),
        held,
        cell(why or view.record.error or "-", 160),
    ]


def alert_cells(line: AlertLine) -> list[Cell]:
    return [
        local_time(line.ts_ms, seconds_only=True),
        cell(line.agent_id or "supervisor", 32),
        cell(line.kind, 14),
        cell(line.text, 160),
    ]


def is_held(view: AgentView) -> bool:
    """Whether the breakers pane lists this agent: stopped, waiting or outputs held."""
    quarantined = view.state is not None and view.state.quarantined is not None
    return view.record.status in HELD or quarantined


def _compact(arguments: dict[str, object]) -> str:
    return json.dumps(arguments, ensure_ascii=False, sort_keys=True, default=str)
