"""How each pane's rows read: plain functions from the room's objects to table cells.

Every string that came from an agent, a tool, a model or an approver goes through `literal`,
so it is shown as written and can neither draw nor hide anything. Times are injected (`now_ms`)
so that countdowns and sparklines are stable under a fake clock.

The agents and budgets panes draw agents as a tree: a sub-agent's id follows its marker
("├ ", "└ ", "│ ", see `projection.TreeRow`), and an agent with sub-agents shows, beside its
own spend, its tree's as "Σ $1.23": its own plus every descendant's, what
`controlroom costs --by task` counts for a task. "Σ ≥$1.23" says some turns in the tree are
of unknown cost: the total is at least that. "cost/budget" is the agent's own spend against
its own budget (each agent's breaker checks that); a task's root budget also binds its whole
tree (its sub-agents pause when the tree's spend crosses it), so the budgets pane meters a
root with sub-agents by its tree's spend ("42% Σ", "tree pauses at $2.00"). An agent shown
only as the parent of a filter match is dimmed (and still drawn in full, so it reads the same
without colour).
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
from controlroom.ui.projection import AlertLine, CallLine, Rollup

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


def tree_total(total: Rollup | None) -> str:
    """An agent's tree spend ('Σ $1.23', 'Σ ≥$1.23' when some of it is unknown), '' for an
    agent without sub-agents."""
    if total is None:
        return ""
    return f"Σ {'≥' if total.unknown_cost_turns else ''}{money(total.cost_usd)}"


def tree_id(agent_id: str, marker: str = "", context: bool = False) -> Cell:
    """The id cell: the tree marker, then the id (dimmed for a filter match's parent)."""
    shown = cell(agent_id, 32)
    if isinstance(shown, str) and not context:
        return marker + shown  # the common case: a plain string (the collector ignores it)
    text = Text(marker, no_wrap=True, end="")
    text.append_text(Text(shown) if isinstance(shown, str) else shown)
    if context:
        text.stylize("dim")
    return text


def agent_cells(
    view: AgentView,
    budget: float | None,
    marked: bool,
    marker: str = "",
    total: Rollup | None = None,
    context: bool = False,
) -> list[Cell]:
    r = view.record
    state = view.state
    flags = []
    if state is not None and state.tainted_by:
        flags.append("tainted")
    if state is not None and state.quarantined:
        flags.append("quarantined")
    status = r.status.value + (f" ({', '.join(flags)})" if flags else "")
    spent = f"{money(view.cost_usd)}/{money(budget)}"
    return [
        mark(marked),
        tree_id(r.id, marker, context),
        cell(r.agent, 20),
        status,
        str(r.step),
        f"{spent} {tree_total(total)}" if total is not None else spent,
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


def budget_cells(
    view: AgentView,
    budget: float | None,
    series: list[float],
    marker: str = "",
    total: Rollup | None = None,
    context: bool = False,
) -> list[Cell]:
    spent = view.cost_usd
    unknown = view.state.unknown_cost_turns if view.state is not None else 0
    own = money(spent) + (f" +{unknown} unknown" if unknown else "")
    task = total is not None and not marker  # a task's root: its budget binds the tree
    used = total.cost_usd if total is not None and task else spent
    share = "-" if not budget else f"{used / budget:.0%}" + (" Σ" if task else "")
    breaker = "no budget" if budget is None else f"pause at {money(budget)}"
    if task and budget is not None:
        breaker = f"tree pauses at {money(budget)}"
    return [
        tree_id(view.record.id, marker, context),
        f"{own} {tree_total(total)}" if total is not None else own,
        money(budget),
        f"{meter(used, budget)} {share}",
        sparkline(series),
        breaker,
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
