"""The main screen: agents above, approvals waiting below, and the outcome of the last action.

Data is read in workers (started from `on_mount` and on a timer); decisions are queued
through `ui.data` and the tables change only when the store says so, never optimistically.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from controlroom.ui import data
from controlroom.ui.literal import visible
from controlroom.ui.widgets.status import StatusLine
from controlroom.ui.widgets.tables import AgentsTable, ApprovalsTable

if TYPE_CHECKING:
    from controlroom.ui.app import ControlRoomApp


class MainScreen(Screen[None]):
    """Agents and approvals, keyboard first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "decide('approve')",
            "Approve",
            id="approval.approve",
            tooltip="Approve the highlighted approval.",
        ),
        Binding(
            "d",
            "decide('deny')",
            "Deny",
            id="approval.deny",
            tooltip="Deny the highlighted approval.",
        ),
        Binding("r", "reload", "Refresh", id="view.refresh", tooltip="Reload from the database."),
    ]

    _loading = False

    def compose(self) -> ComposeResult:
        yield Static("", id="title", markup=False)
        yield AgentsTable(id="agents")
        yield ApprovalsTable(id="approvals")
        yield StatusLine(id="status")
        yield Footer()

    @property
    def control(self) -> ControlRoomApp:
        from controlroom.ui.app import ControlRoomApp

        app = self.app
        assert isinstance(app, ControlRoomApp)
        return app

    def on_mount(self) -> None:
        self.query_one(AgentsTable).border_title = "Agents"
        self.query_one(ApprovalsTable).border_title = "Approvals waiting"
        self.query_one(Static).update(self._title(None))
        self.action_reload()
        self.set_interval(self.control.refresh_s, self.action_reload)

    def _title(self, view: data.Overview | None) -> str:
        app = self.control
        where = app.db.path.name
        if view is None:
            mode = "hosting the supervisor" if app.supervisor is not None else "loading"
        elif view.mode == "hosting":
            mode = "hosting the supervisor"
        elif view.mode == "attached":
            mode = f"attached to {visible(view.owner, 60)}"
        else:
            mode = "no supervisor running"
        access = "read-only" if app.read_only else f"as {visible(app.operator, 40)}"
        return f"Control Room · {mode} · {access} · {where}"

    def action_reload(self) -> None:
        self._load()

    @work(group="load", exit_on_error=False)
    async def _load(self) -> None:
        # One read at a time, never cancelled half-way: a read cancelled inside the
        # database driver (by a newer read, or by the app exiting) can leave its connection
        # waiting on a thread that will never answer. A reload asked for meanwhile is
        # simply the next tick's.
        if self._loading:
            return
        self._loading = True
        app = self.control
        try:
            view = await asyncio.shield(
                data.overview(app.db, app.clock, hosting=app.supervisor is not None)
            )
        finally:
            self._loading = False
        self.query_one("#title", Static).update(self._title(view))
        self.query_one(AgentsTable).show(view.agents)
        self.query_one(ApprovalsTable).show(view.approvals)

    def action_decide(self, verdict: Literal["approve", "deny"]) -> None:
        status = self.query_one(StatusLine)
        if self.control.read_only:
            status.report(f"read-only: {verdict} refused, nothing queued", "refused")
            return
        approval_id = self.query_one(ApprovalsTable).highlighted_approval
        if approval_id is None:
            status.report(f"{verdict}: no approval highlighted", "refused")
            return
        self._decide(approval_id, verdict)

    @work(group="decide", exit_on_error=False)
    async def _decide(self, approval_id: int, verdict: Literal["approve", "deny"]) -> None:
        app = self.control
        status = self.query_one(StatusLine)
        command_id = await data.queue_decision(
            app.db, app.clock, app.supervisor, approval_id, verdict, app.operator
        )
        what = f"{verdict} #{approval_id}"
        status.report(f"{what}: queued (command #{command_id}), waiting for the supervisor")
        result = await data.outcome(app.db, command_id, what)
        kind: Literal["ok", "refused", "info"] = (
            "ok"
            if result.state == "applied"
            else "refused"
            if result.state == "refused"
            else "info"
        )
        shown = f"refused: {result.text}" if result.state == "refused" else result.text
        status.report(shown, kind)
        self._load()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.query_one(StatusLine).report(f"error: {type(error).__name__}: {error}", "error")
