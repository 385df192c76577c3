"""Wiring: the app, its global keys, and `make_app`, the one factory the CLI and tests use."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from controlroom.clock import Clock
from controlroom.store.database import Database
from controlroom.ui.data import Pokeable
from controlroom.ui.screens.help import HelpScreen
from controlroom.ui.screens.main import MainScreen


class ControlRoomApp(App[None]):
    """The control room on one database; `supervisor` is set when this process hosts it."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "Control Room"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit; agents stay checkpointed."),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            id="app.help",
            tooltip="Show every key.",
        ),
    ]

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        operator: str,
        read_only: bool,
        supervisor: Pokeable | None,
        refresh_s: float,
    ) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.operator = operator
        self.read_only = read_only
        self.supervisor = supervisor
        self.refresh_s = refresh_s

    def on_mount(self) -> None:
        self.push_screen(MainScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def make_app(
    db: Database,
    *,
    clock: Clock,
    operator: str,
    read_only: bool = False,
    supervisor: Pokeable | None = None,
    refresh_s: float = 0.5,
) -> ControlRoomApp:
    """The control room on `db`. A `supervisor`, if given, is already started by the caller;
    the app only wakes it after queuing a command."""
    return ControlRoomApp(
        db,
        clock=clock,
        operator=operator,
        read_only=read_only,
        supervisor=supervisor,
        refresh_s=refresh_s,
    )
