"""One agent in full: its conversation, its tool calls with their verdicts, its checkpoints,
the resources it created and its approvals, read from the store when opened and again when
the journal says the agent changed.

The actions here (pause, resume, terminate, quarantine) act on this screen's agent, pinned
when it opened, whatever the main screen's cursor does meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

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
from controlroom.ui.projection import call_line
from controlroom.ui.screens.base import RoomScreen
from controlroom.ui.widgets.keybar import KeyBar
from controlroom.ui.widgets.status import StatusLine

TABS = ("conversation", "calls", "checkpoints", "resources", "history")


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
    ]

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.detail: Detail | None = None
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
        yield StatusLine(id="status")
        yield KeyBar(id="keys")

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def on_mount(self) -> None:
        self.query_one("#detail-title", Static).update(literal(f"Agent {self.agent_id}", 200))
        self._load()

    @on(RoomChanged)
    def _room_changed(self, message: RoomChanged) -> None:
        if message.touched.gap or self.agent_id in message.touched.agents:
            self._load()

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
            parts = [
                f"{r.id} ({r.agent}{', ' + role if role else ''})",
                r.status.value,
                f"step {r.step}",
                f"{rows.money(view.cost_usd)} of {rows.money(budget)}",
                f"user {r.user}",
            ]
            if view.last is not None:
                parts.append(f"identity {view.last.identity}")
            if state is not None and state.tainted_by:
                parts.append(f"tainted by {state.tainted_by}")
            if state is not None and state.quarantined:
                parts.append(f"outputs held: {state.quarantined}")
            text = " · ".join(parts)
        self.query_one("#detail-title", Static).update(literal(text, 400))

    def _fill(self, table_id: str, cells: list[list[Text]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        row = table.cursor_row
        table.clear()
        for line in cells:
            table.add_row(*line)
        if cells:
            table.move_cursor(row=min(row, len(cells) - 1), animate=False)

    def action_show_tab(self, tab: str) -> None:
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
