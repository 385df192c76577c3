"""Wiring: the app, its global keys, the journal bridge's worker, and `make_app`, the one
factory the CLI, the tests and the benchmark use."""

from __future__ import annotations

import asyncio
import gc
from typing import ClassVar, Literal

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from controlroom.clock import Clock
from controlroom.store.database import Database
from controlroom.ui import data
from controlroom.ui.bridge import Bridge, RoomChanged
from controlroom.ui.definitions import Definitions
from controlroom.ui.palette import ControlRoomCommands
from controlroom.ui.projection import Room, Touched
from controlroom.ui.screens.agent import AgentScreen
from controlroom.ui.screens.help import HelpScreen
from controlroom.ui.screens.main import MainScreen

SUPERVISION_EVERY_S = 2.0  # how often the title rechecks who supervises the database


class ControlRoomApp(App[None]):
    """The control room on one database; `supervisor` is set when this process hosts it."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "Control Room"
    COMMANDS: ClassVar = {ControlRoomCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit; agents stay checkpointed."),
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            id="app.palette",
            tooltip="Jump to a pane or an agent, decide an approval, pull the kill switch.",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            id="app.help",
            tooltip="Show every key of this view.",
        ),
    ]

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        operator: str,
        read_only: bool,
        supervisor: data.Pokeable | None,
        refresh_s: float,
        definitions: Definitions,
        freeze_after_load: bool,
    ) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.operator = operator
        self.read_only = read_only
        self.supervisor = supervisor
        self.refresh_s = refresh_s
        self.definitions = definitions
        self.freeze_after_load = freeze_after_load
        self.room = Room()
        self.bridge = Bridge(db, self.room)
        self.ready = False  # the first full read is done
        self.mode: data.Mode | Literal["loading"] = "hosting" if supervisor else "loading"
        self.owner = "this process" if supervisor else ""
        self.batches = 0  # batches folded in since the app opened (for tests and the bench)
        self._reload_asked = False

    def on_mount(self) -> None:
        self.push_screen(MainScreen())
        self._follow()

    @work(group="bridge", exclusive=True, exit_on_error=False)
    async def _follow(self) -> None:
        """Open the room, then fold in the journal a few times a second."""
        self.mode, self.owner = await asyncio.shield(
            data.supervision(self.db, self.clock, self.supervisor is not None)
        )
        touched = await asyncio.shield(self.bridge.open())
        self.ready = True
        self._publish(touched)
        if self.freeze_after_load:
            self.call_after_refresh(_freeze_what_was_loaded)
        since_check = 0.0
        while True:
            if since_check >= SUPERVISION_EVERY_S:
                since_check = 0.0
                self.mode, self.owner = await asyncio.shield(
                    data.supervision(self.db, self.clock, self.supervisor is not None)
                )
            if self._reload_asked:
                self._reload_asked = False
                touched = await asyncio.shield(self.bridge.open())
            else:
                touched = await self.bridge.next_batch(self.refresh_s)
                since_check += self.refresh_s
            if touched.anything:
                self._publish(touched)

    def _publish(self, touched: Touched) -> None:
        self.batches += 1
        for screen in self.screen_stack:
            screen.post_message(RoomChanged(touched))

    def reload(self) -> None:
        """Reread everything at the next batch (as after a gap in the journal)."""
        self._reload_asked = True

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def open_agent(self, agent_id: str) -> None:
        """Show an agent's detail screen (esc comes back)."""
        if agent_id not in self.room.agents:
            main = self.main_screen
            if main is not None:
                main.status.report(f"no agent {agent_id!r}", "refused")
            return
        self.push_screen(AgentScreen(agent_id))

    @property
    def main_screen(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "bridge":
            main = self.main_screen
            if main is not None:
                error = event.worker.error
                main.status.report(
                    f"error: the journal feed stopped: {type(error).__name__}: {error}", "error"
                )


def _freeze_what_was_loaded() -> None:
    """Move everything alive after the first screen (the room's rows, their cells, the
    widgets) out of the collector's sight: they live as long as the screen, and a full
    collection re-scanning a thousand agents' rows froze the screen for 100-200 ms under
    load. Reference counting still frees them when they are replaced."""
    gc.collect()
    gc.freeze()


def make_app(
    db: Database,
    *,
    clock: Clock,
    operator: str,
    read_only: bool = False,
    supervisor: data.Pokeable | None = None,
    refresh_s: float = 0.25,
    definitions: Definitions | None = None,
    freeze_after_load: bool = False,
) -> ControlRoomApp:
    """The control room on `db`. A `supervisor`, if given, is already started by the caller;
    the app only wakes it after queuing a command. `definitions` (the agents and policies)
    give roles and budgets; without them budgets are the tasks' own. `freeze_after_load` is
    the host process's choice (the `controlroom` command makes it; tests do not)."""
    return ControlRoomApp(
        db,
        clock=clock,
        operator=operator,
        read_only=read_only,
        supervisor=supervisor,
        refresh_s=refresh_s,
        definitions=definitions or Definitions(),
        freeze_after_load=freeze_after_load,
    )
