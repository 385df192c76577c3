"""The main screen: six panes (agents, approvals, tool calls, budgets, breakers, alerts), an
alerts strip, the outcome of the last action, and the `/` filter and `:` command line.

Wide terminals (120x36 and up) show the panes together; smaller ones fold them into tabs,
one pane at a time, switched with the number keys or tab. Rows come from the app's `Room`,
redrawn only where a `RoomChanged` batch touched them. Operator actions are queued through
`ui.data`; the panes change when the supervisor's result comes back through the journal,
never optimistically.

The agents and budgets panes list agents as a tree (`Room.tree`): a batch redraws the rows
of the agents it touched and of their ancestors (whose "Σ" tree spend moved with them) in
place, and appends a new root at the bottom, where the tree order puts it; a new sub-agent
(which lands inside the tree, and may change its elder sibling's marker) redraws the two
panes whole. The filter keeps the agents that match and, dimmed, their ancestors, so a
matching sub-agent is never shown out of its tree; with a filter on, a batch that touches
an agent of a tree, or shows an agent not shown before, redraws the two panes whole (a few
rows, since the filter keeps few).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static, Tab, Tabs
from textual.worker import Worker, WorkerState

from controlroom.domain.approvals import Approval, ApprovalKind, Verdict
from controlroom.ui import data, rows
from controlroom.ui.bridge import RoomChanged
from controlroom.ui.commands import PANES, Command, CommandError, parse
from controlroom.ui.literal import literal, visible
from controlroom.ui.projection import SPEND_BUCKET_MS, Touched, TreeRow
from controlroom.ui.screens.base import RoomScreen
from controlroom.ui.screens.dialogs import (
    ArgumentsDialog,
    NoteDialog,
    ResolveDialog,
    TypedConfirm,
)
from controlroom.ui.widgets.keybar import KeyBar
from controlroom.ui.widgets.status import Kind, StatusLine
from controlroom.ui.widgets.tables import (
    AgentsTable,
    AlertsTable,
    ApprovalsTable,
    BreakersTable,
    BudgetsTable,
    CallsTable,
    Row,
    SyncTable,
)

if TYPE_CHECKING:
    from controlroom.store.agent_views import AgentView

TITLES = {
    "agents": "1 Agents",
    "approvals": "2 Approvals",
    "calls": "3 Tool calls",
    "budgets": "4 Budgets",
    "breakers": "5 Breakers",
    "alerts": "6 Alerts",
}
SHOWN_LINES = 500  # stream and alert rows kept on screen (the journal keeps them all)
AgentCommand = Literal["pause", "resume", "quarantine"]
T = TypeVar("T")


_RESOLUTIONS: dict[str, Verdict] = {"happened": "happened", "retry": "retry", "abort": "abort"}


def _in_doubt(approval: Approval | None) -> bool:
    return approval is not None and approval.kind is ApprovalKind.IN_DOUBT


def _newest(lines: Sequence[T], count: int) -> list[T]:
    """The last `count` of `lines`, oldest first, without copying the rest."""
    return list(itertools.islice(reversed(lines), count))[::-1]


class MainScreen(RoomScreen):
    """Every pane, keyboard first."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"show_pane('{pane}')", TITLES[pane][2:], show=False, id=f"pane.{pane}")
            for n, pane in enumerate(PANES, start=1)
        ),
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, id="pane.next"),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", show=False, id="pane.previous"),
        Binding(
            "slash",
            "prompt('filter')",
            "Filter",
            key_display="/",
            id="view.filter",
            tooltip="Show only rows that mention a text (agent id or name, status, tool).",
        ),
        Binding(
            "colon",
            "prompt('command')",
            "Cmd",
            key_display=":",
            id="view.command",
            tooltip="Command line: :agents, :approve 3, :pause ID, :kill-switch, :help.",
        ),
        Binding(
            "K",
            "kill_switch",
            "Kill",
            id="breaker.kill_switch",
            tooltip="Kill switch: pause every agent (type KILL).",
        ),
        Binding("escape", "clear", "Clear", show=False, id="view.clear"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="view.reload"),
    ]

    pane: str = "agents"
    _shown_text: dict[str, Text]
    filter_text: str = ""
    _tree_drawn = -1  # the room's tree_version when the agents panes were last redrawn whole
    # The cells last made for each agent's rows, with what they were made from.
    _made: dict[str, tuple[AgentView, tuple[object, ...], list[rows.Cell], list[rows.Cell]]]
    _prompt_mode: Literal["filter", "command"] = "filter"

    def compose(self) -> ComposeResult:
        self._shown_text = {}
        self._made = {}
        yield Static("", id="title", markup=False)
        yield Static("", id="alerts-strip", markup=False)
        yield Tabs(*(Tab(TITLES[p], id=f"tab-{p}") for p in PANES), id="tabs")
        with Vertical(id="panes"):
            with Vertical(id="pane-agents", classes="pane -active"):
                yield AgentsTable(id="agents")
            with Vertical(id="pane-approvals", classes="pane"):
                yield ApprovalsTable(id="approvals")
                yield Static("", id="approval-context", markup=False)
            with Vertical(id="pane-calls", classes="pane"):
                yield CallsTable(id="calls")
            with Vertical(id="pane-budgets", classes="pane"):
                yield BudgetsTable(id="budgets")
            with Vertical(id="pane-breakers", classes="pane"):
                yield BreakersTable(id="breakers")
            with Vertical(id="pane-alerts", classes="pane"):
                yield AlertsTable(id="alerts")
        yield Input(id="prompt")
        yield StatusLine(id="status")
        yield KeyBar(id="keys")

    def table(self, pane: str) -> SyncTable:
        return self.query_one(f"#{pane}", SyncTable)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def on_mount(self) -> None:
        for pane in PANES:
            self.query_one(f"#pane-{pane}").border_title = TITLES[pane]
        self.query_one("#prompt", Input).display = False
        self.show_title()
        if self.control.ready:
            self.redraw(Touched(gap=True))
        self.table("agents").focus()
        self.set_interval(1.0, self._tick)

    # -- drawing ------------------------------------------------------------------------

    def show_title(self) -> None:
        app = self.control
        mode = {
            "hosting": "hosting the supervisor",
            "attached": f"attached to {visible(app.owner, 60)}",
            "no supervisor": "no supervisor running",
            "loading": "loading",
        }[app.mode]
        access = "read-only" if app.read_only else f"as {visible(app.operator, 40)}"
        shown = f" · filter {visible(self.filter_text, 30)!r}" if self.filter_text else ""
        where = app.db.path.name
        self._set("#title", literal(f"Control Room · {mode} · {access} · {where}{shown}", 400))

    @on(RoomChanged)
    def _room_changed(self, message: RoomChanged) -> None:
        self.redraw(message.touched)

    def redraw(self, touched: Touched) -> None:
        """Bring the panes up to date with what `touched` says changed."""
        room = self.control.room
        if touched.gap:
            self._replace_all()
        else:
            self._update_agents([a for a in touched.agents if a in room.agents])
            self._update_approvals(touched.approvals)
            self._append_lines(touched.calls, touched.alerts)
        self._show_strip()
        self._show_context()
        self.show_title()

    def _matches(self, *texts: str) -> bool:
        needle = self.filter_text.lower()
        return not needle or any(needle in text.lower() for text in texts)

    def _agent_matches(self, view: AgentView) -> bool:
        r = view.record
        return self._matches(r.id, r.agent, r.status.value, r.user)

    def _agent_rows(self, tree: list[TreeRow]) -> tuple[list[Row], list[Row], list[Row]]:
        """The agents, budgets and breakers rows of `tree` (the breakers pane lists the
        held agents the filter keeps, without their tree).

        A row's cells are made again only when what they show changed: its agent's stored
        row (a new view each time it is reread), marker, roll-up, mark, or the spend bucket
        its sparkline ends in; so redrawing a pane whole (a sub-agent arriving in a tree)
        makes only the rows that changed."""
        app = self.control
        now = app.clock.now_ms()
        bucket = now // SPEND_BUCKET_MS
        marks = self.table("agents").marks
        made = self._made
        agents: list[Row] = []
        budgets: list[Row] = []
        held: list[Row] = []
        for row in tree:
            view, marker, total, context = row.view, row.marker, row.total, row.context
            key = view.record.id
            spend = app.room.spend.get(key)
            stamp = (marker, total, key in marks, context, bucket if spend is not None else 0)
            last = made.get(key)
            if last is not None and last[0] is view and last[1] == stamp:
                agent, budgeted = last[2], last[3]
            else:
                budget = app.definitions.budget(view.record)
                agent = rows.agent_cells(view, budget, key in marks, marker, total, context)
                series = spend.series(now) if spend is not None else [0.0] * 12
                budgeted = rows.budget_cells(view, budget, series[-12:], marker, total, context)
                made[key] = (view, stamp, agent, budgeted)
            agents.append((key, agent))
            budgets.append((key, budgeted))
            if not row.context and rows.is_held(view):
                why = app.room.held_why.get(key, "")
                held.append((key, rows.breaker_cells(view, why)))
        return agents, budgets, held

    def _replace_agents(self) -> None:
        """Redraw the agents, budgets and breakers panes whole, in tree order."""
        room = self.control.room
        self._tree_drawn = room.tree_version
        agents, budgets, held = self._agent_rows(
            room.tree(self._agent_matches if self.filter_text else None)
        )
        self.table("agents").replace(agents)
        self.table("budgets").replace(budgets)
        self.table("breakers").replace(held)

    def _replace_all(self) -> None:
        room = self.control.room
        self._replace_agents()
        self.table("approvals").replace(self._approval_rows(list(room.approvals)))
        calls = [c for c in room.calls if self._matches(c.agent_id, c.tool)][-SHOWN_LINES:]
        alerts = [a for a in room.alerts if self._matches(a.agent_id, a.kind)][-SHOWN_LINES:]
        for pane, lines in (
            ("calls", [(str(c.event_id), rows.call_cells(c)) for c in calls]),
            ("alerts", [(str(a.event_id), rows.alert_cells(a)) for a in alerts]),
        ):
            table = self.table(pane)
            table.replace(lines)
            table.move_cursor(row=table.row_count - 1, animate=False)  # follow the newest

    def _update_agents(self, ids: list[str]) -> None:
        """Redraw the rows of the agents in `ids` (and of their ancestors) in place, append
        new roots, and redraw the panes whole when rows must move (see the module)."""
        room = self.control.room
        if room.tree_version != self._tree_drawn:
            self._replace_agents()
            return
        if not ids:
            return
        if room.children:  # an ancestor's Σ moves with its descendants' spend
            ids = list(dict.fromkeys(a for i in ids for a in (i, *room.ancestors(i))))
        views = [room.agents[a] for a in ids]
        shown = [v for v in views if self._agent_matches(v)]
        hidden = [v.record.id for v in views if not self._agent_matches(v)]
        table = self.table("agents")
        new = [v for v in shown if not table.shows(v.record.id)]
        if self.filter_text and (new or any(room.in_tree(a) for a in ids)):
            self._replace_agents()
            return
        if len(new) > 1:  # new roots, appended in submission order
            shown.sort(key=lambda v: room.order[v.record.id])
        agents, budgets, held = self._agent_rows([room.row(v.record.id) for v in shown])
        table.upsert(agents)
        self.table("budgets").upsert(budgets)
        breakers = self.table("breakers")
        breakers.upsert(held)
        held_keys = {key for key, _ in held}
        breakers.drop([v.record.id for v in shown if v.record.id not in held_keys])
        for pane in ("agents", "budgets", "breakers"):
            self.table(pane).drop(hidden)

    def _approval_rows(self, ids: list[int]) -> list[Row]:
        room = self.control.room
        now = self.control.clock.now_ms()
        marks = self.table("approvals").marks
        found: list[Row] = []
        for approval_id in ids:
            approval = room.approvals.get(approval_id)
            if approval is not None and self._matches(
                approval.agent_id, approval.agent, approval.tool
            ):
                key = str(approval_id)
                found.append((key, rows.approval_cells(approval, now, key in marks)))
        return found

    def _update_approvals(self, ids: frozenset[int]) -> None:
        if not ids:
            return
        table = self.table("approvals")
        present = self._approval_rows(sorted(ids))
        table.upsert(present)
        kept = {key for key, _ in present}
        table.drop([str(i) for i in ids if str(i) not in kept])

    def _append_lines(self, calls: int, alerts: int) -> None:
        room = self.control.room
        if calls:
            new_calls = [c for c in _newest(room.calls, calls) if self._matches(c.agent_id, c.tool)]
            self._append("calls", [(str(c.event_id), rows.call_cells(c)) for c in new_calls])
        if alerts:
            new_alerts = [
                a for a in _newest(room.alerts, alerts) if self._matches(a.agent_id, a.kind)
            ]
            self._append("alerts", [(str(a.event_id), rows.alert_cells(a)) for a in new_alerts])

    def _append(self, pane: str, new: list[Row]) -> None:
        """Add lines at the bottom, drop the oldest beyond SHOWN_LINES, and follow the newest
        line if the cursor was on the last one."""
        if not new:
            return
        table = self.table(pane)
        following = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        table.upsert(new)
        excess = table.row_count - SHOWN_LINES
        if excess > 0:
            table.drop(table.shown_keys()[:excess])
        if following:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def _show_strip(self) -> None:
        room = self.control.room
        waiting = len(room.approvals)
        held = sum(1 for v in room.agents.values() if rows.is_held(v))
        parts = [f"{waiting} approval(s) waiting", f"{held} agent(s) held"]
        if room.model_breakers:
            moved = room.model_breakers.values()
            parts.append("model breaker " + ", ".join(f"{b.endpoint} {b.state}" for b in moved))
        if room.alerts:
            latest = room.alerts[-1]
            who = latest.agent_id or "supervisor"
            parts.append(
                f"{len(room.alerts)} alert(s), latest {rows.local_time(latest.ts_ms, True)} "
                f"{latest.kind} {who}: {latest.text}"
            )
        else:
            parts.append("no alerts")
        self._set("#alerts-strip", literal(" · ".join(parts), 400))
        alerting = bool(room.alerts or room.model_breakers)
        self.query_one("#alerts-strip").set_class(alerting, "-alerting")

    def _show_context(self) -> None:
        room = self.control.room
        key = self.table("approvals").highlighted_key
        approval = room.approvals.get(int(key)) if key is not None else None
        if approval is None:
            self._set("#approval-context", Text("no approval highlighted"))
            return
        view = room.agents.get(approval.agent_id)
        taint = view.state.tainted_by if view is not None and view.state is not None else None
        self._set(
            "#approval-context",
            rows.approval_context(approval, self.control.clock.now_ms(), taint),
        )

    def _set(self, selector: str, text: Text) -> None:
        """Show `text` in one of the screen's fixed-height lines, unless it shows it already
        (most batches change none of them). Their height never depends on their text, so
        no layout of the screen is needed."""
        if self._shown_text.get(selector) != text:
            self._shown_text[selector] = text
            self.query_one(selector, Static).update(text, layout=False)

    @on(SyncTable.RowHighlighted, "#approvals")
    def _approval_highlighted(self) -> None:
        self._show_context()

    def _tick(self) -> None:
        """Once a second: the countdowns on screen and the title (hosting, attached, who).
        Rows scrolled out of sight get theirs when they next change or come into view."""
        approvals = self.table("approvals")
        approvals.upsert(self._approval_rows([int(key) for key in approvals.visible_keys()]))
        self._show_context()
        self.show_title()

    # -- panes and focus ----------------------------------------------------------------

    def action_show_pane(self, pane: str) -> None:
        self.pane = pane
        for name in PANES:
            self.query_one(f"#pane-{name}").set_class(name == pane, "-active")
        self.query_one("#tabs", Tabs).active = f"tab-{pane}"
        self.table(pane).focus()

    def action_cycle_pane(self, step: int) -> None:
        index = (PANES.index(self.pane) + step) % len(PANES)
        self.action_show_pane(PANES[index])

    @on(Tabs.TabActivated, "#tabs")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        pane = (event.tab.id or "").removeprefix("tab-")
        if pane in PANES and pane != self.pane:
            self.action_show_pane(pane)

    def on_descendant_focus(self) -> None:
        focused = self.focused
        if isinstance(focused, SyncTable) and self.pane != focused.PANE:
            self.action_show_pane(focused.PANE)

    # -- filter and command line --------------------------------------------------------

    def action_prompt(self, mode: Literal["filter", "command"]) -> None:
        self._prompt_mode = mode
        prompt = self.query_one("#prompt", Input)
        prompt.value = self.filter_text if mode == "filter" else ""
        prompt.placeholder = (
            "filter: agent id, name, status or tool (enter to apply, empty for all)"
            if mode == "filter"
            else "command: agents, approve 3, pause refunds-1, kill-switch, help ..."
        )
        prompt.border_title = "/" if mode == "filter" else ":"
        prompt.display = True
        prompt.focus()

    def _close_prompt(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.display = False
        self.table(self.pane).focus()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_prompt()
        if self._prompt_mode == "filter":
            self.set_filter(event.value.strip())
            return
        try:
            command = parse(event.value)
        except CommandError as bad:
            self.status.report(str(bad), "refused")
            return
        self.run_command(command)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.show_title()
        self.redraw(Touched(gap=True))
        self.status.report(f"filter {text!r}" if text else "filter cleared")

    def run_command(self, command: Command) -> None:
        """Carry out a parsed `:` command (or a palette entry)."""
        verb = command.verb
        if verb in PANES:
            self.action_show_pane(verb)
        elif verb == "help":
            self.control.action_help()
        elif verb == "quit":
            self.control.exit()
        elif verb == "filter":
            self.set_filter(command.text)
        elif verb == "agent":
            self.control.open_agent(command.target)
        elif verb == "kill-switch":
            self.action_kill_switch()
        elif verb == "terminate":
            self.confirm_terminate(command.target)
        elif verb in ("pause", "resume", "quarantine"):
            self.agent_command(verb, [command.target])  # type: ignore[arg-type]
        elif verb == "approve":
            self.decide([int(command.target)], "approve", "")
        elif verb == "deny":
            self.decide([int(command.target)], "deny", command.text)

    def action_clear(self) -> None:
        prompt = self.query_one("#prompt", Input)
        if prompt.display:
            self._close_prompt()
        elif self.filter_text:
            self.set_filter("")
        else:
            self.clear_marks()

    def action_reload(self) -> None:
        self.control.reload()

    # -- row actions --------------------------------------------------------------------

    def _focused_table(self) -> SyncTable:
        return self.table(self.pane)

    def highlighted_agent(self) -> str | None:
        """The agent of the highlighted row, whatever the pane."""
        table = self._focused_table()
        key = table.highlighted_key
        if key is None:
            return None
        room = self.control.room
        if table.PANE in ("agents", "budgets", "breakers"):
            return key
        if table.PANE == "approvals":
            approval = room.approvals.get(int(key))
            return approval.agent_id if approval is not None else None
        lines = room.calls if table.PANE == "calls" else room.alerts
        return next((line.agent_id for line in lines if str(line.event_id) == key), None)

    def action_open_agent(self) -> None:
        agent_id = self.highlighted_agent()
        if agent_id:
            self.control.open_agent(agent_id)
        else:
            self.status.report("no agent on this row", "refused")

    def action_copy_id(self) -> None:
        table = self._focused_table()
        key = table.highlighted_key
        if key is None:
            self.status.report("nothing to copy", "refused")
            return
        copied = (
            key if table.PANE != "calls" and table.PANE != "alerts" else self.highlighted_agent()
        )
        if copied is None:
            return
        self.app.copy_to_clipboard(copied)
        self.status.report(f"copied {copied} (OSC 52)", "ok")

    def action_toggle_mark(self) -> None:
        key = self._focused_table().toggle_mark()
        marks = self._focused_table().marks
        if key is not None:
            self.status.report(f"{len(marks)} marked")

    def _refused_read_only(self, what: str) -> bool:
        if self.control.read_only:
            self.status.report(f"read-only: {what} refused, nothing queued", "refused")
            return True
        return False

    def _agent_targets(self) -> list[str]:
        table = self._focused_table()
        if table.PANE == "agents" and table.marks:
            return [key for key in table.shown_keys() if key in table.marks]
        agent_id = self.highlighted_agent()
        return [agent_id] if agent_id else []

    def action_agent_command(self, command: AgentCommand) -> None:
        targets = self._agent_targets()
        if not targets:
            self.status.report(f"{command}: no agent highlighted", "refused")
            return
        self.agent_command(command, targets)

    def agent_command(self, command: AgentCommand, targets: list[str]) -> None:
        if self._refused_read_only(command):
            return
        self._queue_commands(command, targets)

    def action_terminate(self) -> None:
        agent_id = self.highlighted_agent()
        if agent_id is None:
            self.status.report("terminate: no agent highlighted", "refused")
            return
        self.confirm_terminate(agent_id)

    def confirm_terminate(self, agent_id: str) -> None:
        if self._refused_read_only("terminate"):
            return
        dialog = TypedConfirm(
            f"Terminate {agent_id}?",
            "Its reversible actions are compensated (newest first) and it stops for good. "
            f"Type {agent_id} to confirm.",
            agent_id,
        )

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._queue_commands("terminate", [agent_id])
            else:
                self.status.report(f"terminate {agent_id} cancelled")

        self.app.push_screen(dialog, answered)

    def action_kill_switch(self) -> None:
        if self._refused_read_only("kill switch"):
            return
        dialog = TypedConfirm(
            "Kill switch: pause every agent now?",
            "Every agent stops at its next safe point with its state kept; resume them one "
            "by one. Type KILL to confirm.",
            "KILL",
        )

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._queue_commands("kill-switch", ["*"])
            else:
                self.status.report("kill switch cancelled")

        self.app.push_screen(dialog, answered)

    def _approval_targets(self) -> list[int]:
        table = self.table("approvals")
        if table.marks:
            return [int(key) for key in table.shown_keys() if key in table.marks]
        key = table.highlighted_key
        return [int(key)] if key is not None else []

    def action_decide(self, verdict: Literal["approve", "deny"]) -> None:
        if self._refused_read_only(verdict):
            return
        targets = self._approval_targets()
        if not targets:
            self.status.report(f"{verdict}: no approval highlighted", "refused")
            return
        room = self.control.room
        in_doubt = [n for n in targets if _in_doubt(room.approvals.get(n))]
        if in_doubt:
            if len(targets) > 1 or verdict != "approve":
                self.status.report(
                    f"#{in_doubt[0]} is a call in doubt: resolve it alone, with a "
                    "(happened, retry or abort)",
                    "refused",
                )
                return
            self._resolve(targets[0])
            return
        if verdict == "approve":
            self.decide(targets, "approve", "")
            return
        if len(targets) == 1:
            self.app.push_screen(
                NoteDialog(
                    f"Deny approval #{targets[0]}?",
                    "A note for the agent and the audit record (enter to deny, escape to cancel).",
                    placeholder="why (optional)",
                ),
                lambda note: self._deny_with(targets, note),
            )
            return
        listed = ", ".join(f"#{n}" for n in targets)
        self.app.push_screen(
            TypedConfirm(
                f"Deny {len(targets)} approvals?",
                f"Deny {listed}. Type DENY to confirm.",
                "DENY",
            ),
            lambda confirmed: self._deny_with(targets, "bulk deny" if confirmed else None),
        )

    def _resolve(self, approval_id: int) -> None:
        approval = self.control.room.approvals[approval_id]
        arguments = json.dumps(approval.arguments, ensure_ascii=False, sort_keys=True)
        dialog = ResolveDialog(
            f"#{approval_id}: did {approval.tool} happen?",
            f"{approval.agent_id} called {approval.tool} {arguments} and its outcome is "
            f"unknown ({approval.why}). Check the system it acts on, then answer.",
        )

        def answered(answer: str | None) -> None:
            verdict = _RESOLUTIONS.get(answer or "")
            if verdict is not None:
                self.decide([approval_id], verdict, "")
            else:
                self.status.report(f"#{approval_id} left in doubt")

        self.app.push_screen(dialog, answered)

    def _deny_with(self, targets: list[int], note: str | None) -> None:
        if note is None:
            self.status.report("deny cancelled")
            return
        self.decide(targets, "deny", note)

    def action_edit_and_approve(self) -> None:
        if self._refused_read_only("edit"):
            return
        key = self.table("approvals").highlighted_key
        approval = self.control.room.approvals.get(int(key)) if key is not None else None
        if approval is None:
            self.status.report("edit: no approval highlighted", "refused")
            return
        if _in_doubt(approval):
            self.status.report(f"#{approval.id} is a call in doubt: a resolves it", "refused")
            return
        pinned = approval.id
        self.app.push_screen(
            ArgumentsDialog(
                f"Edit the arguments of #{pinned} ({approval.tool}), then approve",
                "JSON object; enter approves the edited call, escape cancels.",
                value=json.dumps(approval.arguments, ensure_ascii=False, sort_keys=True),
            ),
            lambda arguments: (
                self.decide([pinned], "approve", "", arguments)
                if arguments is not None
                else self.status.report("edit cancelled")
            ),
        )

    def decide(
        self,
        targets: list[int],
        verdict: Verdict,
        note: str,
        arguments: dict[str, object] | None = None,
    ) -> None:
        if self._refused_read_only(verdict):
            return
        self._queue_decisions(targets, verdict, note, arguments)

    @work(group="act", exit_on_error=False)
    async def _queue_decisions(
        self,
        targets: list[int],
        verdict: Verdict,
        note: str,
        arguments: dict[str, object] | None,
    ) -> None:
        app = self.control
        self.clear_marks()
        queued = []
        for approval_id in targets:
            command_id = await data.queue_decision(
                app.db,
                app.clock,
                app.supervisor,
                approval_id,
                verdict,
                app.operator,
                note,
                arguments,
            )
            queued.append((command_id, f"{verdict} #{approval_id}"))
        await self._report(queued)

    @work(group="act", exit_on_error=False)
    async def _queue_commands(self, command: data.CommandName, targets: list[str]) -> None:
        app = self.control
        self.clear_marks()
        queued = []
        for target in targets:
            command_id = await data.queue_command(
                app.db,
                app.clock,
                app.supervisor,
                command,
                target,
                app.operator,
            )
            queued.append((command_id, f"{command} {target}" if target != "*" else command))
        await self._report(queued)

    async def _report(self, queued: list[tuple[int, str]]) -> None:
        what = ", ".join(w for _, w in queued)
        if self.control.mode == "no supervisor":
            numbers = ", ".join(f"#{c}" for c, _ in queued)
            self.status.report(f"{what}: queued ({numbers}); applied when a supervisor starts")
            return
        self.status.report(f"{what}: queued, waiting for the supervisor")
        outcomes = [await data.outcome(self.control.db, c, w) for c, w in queued]
        refused = [o for o in outcomes if o.state == "refused"]
        pending = [o for o in outcomes if o.state == "pending"]
        kind: Kind = "refused" if refused else "info" if pending else "ok"
        if len(outcomes) == 1:
            one = outcomes[0]
            refused_text = one.text if one.text.startswith("refused") else f"refused: {one.text}"
            text = refused_text if one.state == "refused" else one.text
        else:
            applied = len(outcomes) - len(refused) - len(pending)
            text = f"{applied} applied, {len(refused)} refused, {len(pending)} not yet applied"
            if refused:
                text += f"; first refusal: {refused[0].text}"
        self.status.report(text, kind)

    def clear_marks(self) -> None:
        """Unmark every marked row (their targets, if any, were pinned already)."""
        for pane in ("agents", "approvals"):
            table = self.table(pane)
            table.unmark_all()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.status.report(f"error: {type(error).__name__}: {error}", "error")
