"""One agent in full: its conversation, its tool calls with their verdicts, its checkpoints,
the resources it created and its approvals, read from the store when opened and again when
the journal says the agent changed.

An agent with sub-agents (a team) also has a Team tab, where the screen opens: every
descendant in tree order with its status, step and spend, and the tree's total; it is drawn
from the room (already up to date with every batch), so it follows the sub-agents as they
arrive and work. `enter` there opens a sub-agent; a sub-agent's title names its parent,
which `u` opens.

The actions here (pause, resume, terminate, quarantine) act on this screen's agent, pinned
when it opened, whatever the main screen's cursor does meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.widgets.data_table import ColumnKey

from controlroom.domain.approvals import Approval
from controlroom.domain.events import JournalEntry, ModelTurnRecorded
from controlroom.domain.models import Message, Resource, ToolCall
from controlroom.store import agent_views, queries
from controlroom.store import approvals as approval_rows
from controlroom.store.agent_views import AgentView, CheckpointView
from controlroom.store.database import Database
from controlroom.ui import rows
from controlroom.ui.bridge import RoomChanged
from controlroom.ui.literal import literal, literal_block
from controlroom.ui.projection import Rollup, call_line
from controlroom.ui.screens.base import RoomScreen
from controlroom.ui.widgets.keybar import KeyBar
from controlroom.ui.widgets.status import StatusLine

TABS = ("conversation", "calls", "checkpoints", "resources", "history", "team")


@dataclass(frozen=True)
class Detail:
    """Everything the detail screen shows, read at one moment."""

    view: AgentView | None
    messages: list[Message]
    in_progress: list[JournalEntry]  # the unfinished step's events (e.g. a turn that waits)
    journal: list[JournalEntry]
    checkpoints: list[CheckpointView]
    resources: list[Resource]
    approvals: list[Approval]


async def read_detail(db: Database, agent_id: str) -> Detail:
    views = await agent_views.agent_views(db, [agent_id])
    stored = await queries.load_agent(db, agent_id)
    return Detail(
        views[0] if views else None,
        stored.messages if stored is not None else [],
        stored.tail if stored is not None else [],
        await agent_views.agent_journal(db, agent_id),
        await agent_views.agent_checkpoints(db, agent_id),
        await queries.resources(db, agent_id),
        await approval_rows.listed(db, agent_id=agent_id),
    )


def _table(id: str, *columns: str) -> DataTable[Text]:
    table: DataTable[Text] = DataTable(id=id, cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    return table


class TeamTable(DataTable[Text]):
    """The Team tab's table, whose `enter` (shown in the key bar) opens a sub-agent."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Open",
            id="detail.open_member",
            tooltip="Open the highlighted sub-agent's detail.",
        ),
    ]


class AgentScreen(RoomScreen):
    """The detail of one agent."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        *(
            Binding(str(n), f"show_tab('{tab}')", tab.title(), show=False, id=f"detail.{tab}")
            for n, tab in enumerate(TABS, start=1)
        ),
        Binding("p", "command('pause')", "Pause", id="detail.pause"),
        Binding("r", "command('resume')", "Resume", id="detail.resume"),
        Binding("t", "command('terminate')", "Terminate", id="detail.terminate"),
        Binding("x", "command('quarantine')", "Quarantine", id="detail.quarantine"),
        Binding("y", "copy_id", "Copy id", id="detail.copy"),
        Binding(
            "u",
            "open_parent",
            "Parent",
            id="detail.parent",
            tooltip="Open the agent this sub-agent works for.",
        ),
    ]

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.detail: Detail | None = None
        self.members: frozenset[str] = frozenset()  # the sub-agents shown on the Team tab
        self._tree_seen = -1  # the room's tree_version the Team tab was drawn from
        self._team_columns: list[ColumnKey] = []
        self._loading = False
        self._again = False

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title", markup=False)
        with TabbedContent(id="detail-tabs"):
            with TabPane("1 Conversation", id="conversation"), VerticalScroll():
                yield Static("", id="messages", markup=False)
            with TabPane("2 Calls", id="calls"):
                yield _table("detail-calls", "time", "step", "tool", "verdict", "why")
            with TabPane("3 Checkpoints", id="checkpoints"):
                yield _table(
                    "detail-checkpoints", "event", "step", "+msgs", "cost", "tokens in/out"
                )
            with TabPane("4 Resources", id="resources"):
                yield _table("detail-resources", "id", "tool", "kind", "resource", "status")
            with TabPane("5 Approvals", id="history"):
                yield _table("detail-approvals", "id", "tool", "tier", "status", "settled")
            with TabPane("6 Team", id="team"):
                yield Static("", id="team-summary", markup=False)
                team = TeamTable(id="detail-team", cursor_type="row", zebra_stripes=True)
                self._team_columns = team.add_columns("id", "agent", "status", "step", "cost")
                yield team
        yield StatusLine(id="status")
        yield KeyBar(id="keys")

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def on_mount(self) -> None:
        self.query_one("#detail-title", Static).update(literal(f"Agent {self.agent_id}", 200))
        self._show_team()
        if self.members:  # a team opens on its members
            self.query_one(TabbedContent).active = "team"
            self.query_one("#detail-team", DataTable).focus()
        self._load()

    @property
    def parent_id(self) -> str | None:
        view = self.control.room.agents.get(self.agent_id)
        return view.record.parent_id if view is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_parent":
            return self.parent_id is not None  # shown for a sub-agent only
        return True

    @on(RoomChanged)
    def _room_changed(self, message: RoomChanged) -> None:
        touched = message.touched
        if touched.gap or self.agent_id in touched.agents:
            self._load()
        if touched.gap or self.control.room.tree_version != self._tree_seen:
            self._show_team()
        elif self.agent_id in touched.agents or not self.members.isdisjoint(touched.agents):
            self._update_team(touched.agents)

    @work(group="detail", exit_on_error=False)
    async def _load(self) -> None:
        # One read at a time, never cancelled half-way (see MainScreen); a change seen
        # meanwhile is read right after.
        if self._loading:
            self._again = True
            return
        self._loading = True
        try:
            while True:
                self._again = False
                detail = await asyncio.shield(read_detail(self.control.db, self.agent_id))
                self.show(detail)
                if not self._again:
                    break
        finally:
            self._loading = False

    def show(self, detail: Detail) -> None:
        self.detail = detail
        self._show_title(detail.view)
        self.query_one("#messages", Static).update(
            _conversation(detail.messages, detail.in_progress)
        )
        self._fill("detail-calls", _call_rows(detail.journal))
        self._fill(
            "detail-checkpoints",
            [
                [
                    Text(str(c.event_id)),
                    Text(str(c.step)),
                    Text(str(c.messages_added)),
                    Text(rows.money(c.state.cost_usd)),
                    Text(f"{c.state.input_tokens}/{c.state.output_tokens}"),
                ]
                for c in detail.checkpoints
            ],
        )
        self._fill(
            "detail-resources",
            [
                [
                    Text(str(r.id)),
                    literal(r.tool, 24),
                    literal(r.kind, 20),
                    literal(r.resource_id, 60),
                    Text(r.status),
                ]
                for r in detail.resources
            ],
        )
        self._fill(
            "detail-approvals",
            [
                [
                    Text(str(a.id)),
                    literal(a.tool, 24),
                    literal(a.tier, 12),
                    Text(a.status.value),
                    literal(a.settled() if a.decision is not None else "-", 80),
                ]
                for a in detail.approvals
            ],
        )

    def _show_title(self, view: AgentView | None) -> None:
        if view is None:
            text = f"Agent {self.agent_id}: not found"
        else:
            r = view.record
            budget = self.control.definitions.budget(r)
            state = view.state
            role = self.control.definitions.role(r.agent)
            parts = [f"{r.id} ({r.agent}{', ' + role if role else ''})"]
            if r.parent_id is not None:
                parts.append(f"sub-agent of {r.parent_id}")
            parts += [
                r.status.value,
                f"step {r.step}",
                f"{rows.money(view.cost_usd)} of {rows.money(budget)}",
            ]
            if self.members:
                total = self.control.room.rollup(self.agent_id)
                parts.append(f"{rows.tree_total(total)} with {total.agents - 1} sub-agent(s)")
            parts.append(f"user {r.user}")
            if view.last is not None:
                parts.append(f"identity {view.last.identity}")
            if state is not None and state.tainted_by:
                parts.append(f"tainted by {state.tainted_by}")
            if state is not None and state.quarantined:
                parts.append(f"outputs held: {state.quarantined}")
            text = " · ".join(parts)
        self.query_one("#detail-title", Static).update(literal(text, 400))

    def _show_team(self) -> None:
        """The Team tab, from the room: every descendant in tree order and the tree's
        total; hidden for an agent without sub-agents."""
        room = self.control.room
        self._tree_seen = room.tree_version
        members = room.subtree(self.agent_id) if self.agent_id in room.agents else []
        self.members = frozenset(row.view.record.id for row in members)
        tabs = self.query_one(TabbedContent)
        if not members:
            tabs.hide_tab("team")
            return
        tabs.show_tab("team")
        table = self.query_one("#detail-team", DataTable)
        current = _row_key(table)
        table.clear()
        for row in members:
            table.add_row(
                Text(row.marker) + literal(row.view.record.id, 48),
                *_member_cells(row.view, row.total),
                key=row.view.record.id,
            )
        if current in self.members:
            table.move_cursor(row=table.get_row_index(current), animate=False)
        self._show_team_total()

    def _update_team(self, touched: frozenset[str]) -> None:
        """Redraw in place the Team rows of the sub-agents in `touched` and of their
        ancestors below this agent (whose Σ moved with them); the tree is as drawn."""
        room = self.control.room
        changed: set[str] = set()
        for agent_id in touched & self.members:
            changed.add(agent_id)
            changed.update(a for a in room.ancestors(agent_id) if a in self.members)
        table = self.query_one("#detail-team", DataTable)
        for agent_id in changed:
            total = room.rollup(agent_id) if agent_id in room.children else None
            cells = _member_cells(room.agents[agent_id], total)
            for column, cell in zip(self._team_columns[1:], cells, strict=True):
                table.update_cell(agent_id, column, cell)
        self._show_team_total()

    def _show_team_total(self) -> None:
        """What the sub-agents are doing and what the tree spent, above the Team rows."""
        room = self.control.room
        total = room.rollup(self.agent_id)
        own = room.agents[self.agent_id].cost_usd
        statuses = Counter(room.agents[a].record.status.value for a in self.members)
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        unknown = (
            f"; {total.unknown_cost_turns} turn(s) of unknown cost left out"
            if total.unknown_cost_turns
            else ""
        )
        summary = (
            f"{len(self.members)} sub-agent(s): {counts}\n"
            f"{rows.tree_total(total)} for the tree: {rows.money(own)} its own, "
            f"{rows.money(total.cost_usd - own)} its sub-agents'{unknown}"
        )
        self.query_one("#team-summary", Static).update(literal_block(summary, 600))
        if self.detail is not None:
            self._show_title(self.detail.view)

    @on(DataTable.RowSelected, "#detail-team")
    def _member_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.control.open_agent(event.row_key.value)

    def action_open_parent(self) -> None:
        parent = self.parent_id
        if parent is None:
            return
        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None
        if isinstance(below, AgentScreen) and below.agent_id == parent:
            self.app.pop_screen()  # came down from the parent: go back up
        else:
            self.control.open_agent(parent)

    def _fill(self, table_id: str, cells: list[list[Text]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        row = table.cursor_row
        table.clear()
        for line in cells:
            table.add_row(*line)
        if cells:
            table.move_cursor(row=min(row, len(cells) - 1), animate=False)

    def action_show_tab(self, tab: str) -> None:
        if tab == "team" and not self.members:
            self.status.report(f"{self.agent_id} has no sub-agents")
            return
        self.query_one(TabbedContent).active = tab

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.agent_id)
        self.status.report(f"copied {self.agent_id} (OSC 52)", "ok")

    def action_command(self, command: str) -> None:
        main = self.control.main_screen
        if main is None:
            return
        if command == "terminate":
            main.confirm_terminate(self.agent_id)
        else:
            main.agent_command(command, [self.agent_id])  # type: ignore[arg-type]


def _conversation(messages: list[Message], in_progress: list[JournalEntry]) -> Text:
    """Each message under its role, shown literally (newlines kept), then the model turn of
    the step in progress (a turn whose calls wait for approval is not in the checkpoint
    yet, but it is what the approver needs to read)."""
    shown = Text(end="")
    for message in messages[-200:]:
        label = message.role + (f" ({message.name})" if message.name else "")
        _say(shown, label, message.content, message.tool_calls)
    for entry in in_progress:
        if isinstance(entry.event, ModelTurnRecorded):
            label = f"assistant (step {entry.step}, in progress)"
            _say(shown, label, entry.event.text, entry.event.tool_calls)
    return shown if shown.plain else Text("no durable step yet")


def _say(shown: Text, label: str, content: str, calls: tuple[ToolCall, ...]) -> None:
    if shown.plain:
        shown.append("\n\n")
    shown.append(f"{label}\n", "bold")
    shown.append_text(literal_block(content, 4_000))
    for call in calls:
        arguments = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True, default=str)
        shown.append("\n→ ")
        shown.append_text(literal(f"{call.name} {arguments}", 400))


def _member_cells(view: AgentView, total: Rollup | None) -> list[Text]:
    """A Team row after its id: agent, status, step, cost (and its own tree's Σ)."""
    r = view.record
    spent = rows.money(view.cost_usd)
    return [
        literal(r.agent, 20),
        Text(r.status.value),
        Text(str(r.step)),
        Text(f"{spent} {rows.tree_total(total)}" if total is not None else spent),
    ]


def _row_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the table's cursor, if any."""
    if table.row_count == 0:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def _call_rows(journal: list[JournalEntry]) -> list[list[Text]]:
    found = []
    for entry in journal:
        line = call_line(entry)
        if line is not None:
            found.append(
                [
                    Text(rows.local_time(line.ts_ms, seconds_only=True)),
                    Text(str(entry.step)),
                    literal(line.tool or "-", 24),
                    literal(line.verdict, 24),
                    literal(line.why, 200),
                ]
            )
    return found
