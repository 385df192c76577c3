"""The panes' tables: which columns each shows and which keys act on its rows.

Each pane adds its own keys (approve, pause, ...) as bindings to `screen.*` actions, so the
key bar shows the keys of the pane in focus. Rows are keyed by what they show (agent id,
approval id, event id) and drawn by `LineTable`, which redraws only rows that changed.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from controlroom.ui.widgets.linetable import LineTable, Row

__all__ = [
    "AgentsTable",
    "AlertsTable",
    "ApprovalsTable",
    "BreakersTable",
    "BudgetsTable",
    "CallsTable",
    "Row",
    "SyncTable",
]

_ROW: list[BindingType] = [
    *LineTable.BINDINGS,
    Binding("enter", "screen.open_agent", "Open", id="row.detail", tooltip="The agent's detail."),
    Binding("y", "screen.copy_id", "Copy", id="row.copy", tooltip="Copy the id (OSC 52)."),
]
_MARK: list[BindingType] = [
    Binding("space", "screen.toggle_mark", "Mark", id="row.mark", tooltip="Mark for bulk."),
]
_AGENT_ACTIONS: list[BindingType] = [
    Binding(
        "p",
        "screen.agent_command('pause')",
        "Pause",
        id="agent.pause",
        tooltip="Pause the agent (or the marked ones) at its next step, state kept.",
    ),
    Binding(
        "r",
        "screen.agent_command('resume')",
        "Resume",
        id="agent.resume",
        tooltip="Resume the agent (or the marked ones) from its checkpoint.",
    ),
    Binding(
        "t",
        "screen.terminate",
        "Terminate",
        id="agent.terminate",
        tooltip="Terminate the agent, compensating what it did (type its id).",
    ),
    Binding(
        "x",
        "screen.agent_command('quarantine')",
        "Quarantine",
        id="agent.quarantine",
        tooltip="Hold the agent's outputs for review; it runs on.",
    ),
]


class SyncTable(LineTable):
    """A pane's table; `PANE` names the pane for the command line and the help."""

    BINDINGS: ClassVar[list[BindingType]] = _ROW
    PANE = ""


class AgentsTable(SyncTable):
    """Every agent: identity, status, step, spend against budget, last action."""

    PANE = "agents"
    BINDINGS: ClassVar[list[BindingType]] = [*_ROW, *_MARK, *_AGENT_ACTIONS]
    COLUMNS = (" ", "id", "agent", "status", "step", "cost/budget", "last action", "cred", "note")


class ApprovalsTable(SyncTable):
    """Approvals waiting (calls to approve and calls in doubt)."""

    PANE = "approvals"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_ROW,
        *_MARK,
        Binding(
            "a",
            "screen.decide('approve')",
            "Approve",
            id="approval.approve",
            tooltip="Approve the highlighted approval (or every marked one).",
        ),
        Binding(
            "d",
            "screen.decide('deny')",
            "Deny",
            id="approval.deny",
            tooltip="Deny with a note (marked ones: type DENY).",
        ),
        Binding(
            "e",
            "screen.edit_and_approve",
            "Edit",
            id="approval.edit",
            tooltip="Edit the call's arguments, then approve the edited call.",
        ),
    ]
    COLUMNS = (" ", "id", "agent id", "tool", "amount", "tier", "expires", "arguments")


class CallsTable(SyncTable):
    """The tool-call stream, newest last: each call's verdicts and why."""

    PANE = "calls"
    COLUMNS = ("time", "agent id", "tool", "verdict", "why")


class BudgetsTable(SyncTable):
    """Spend against budget per agent, its recent rate and where its breaker trips."""

    PANE = "budgets"
    COLUMNS = ("agent id", "spent", "budget", "meter", "rate (2 min)", "breaker")


class BreakersTable(SyncTable):
    """Agents stopped, waiting or with outputs held, and why."""

    PANE = "breakers"
    BINDINGS: ClassVar[list[BindingType]] = [*_ROW, *_AGENT_ACTIONS]
    COLUMNS = ("agent id", "agent", "state", "why")


class AlertsTable(SyncTable):
    """Loops, injections, rate limits, breakers, failed notifications, newest last."""

    PANE = "alerts"
    COLUMNS = ("time", "agent id", "kind", "alert")
