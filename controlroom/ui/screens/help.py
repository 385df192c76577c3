"""The `?` screen: every key of the control room and what it does."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "move between the agents and approvals panes"),
    ("j / k, down / up", "move the cursor"),
    ("a", "approve the highlighted approval"),
    ("d", "deny the highlighted approval"),
    ("r", "reload from the database now"),
    ("?", "this help"),
    ("q", "quit (agents stay checkpointed)"),
)


class HelpScreen(ModalScreen[None]):
    """The keys, one per line; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        width = max(len(key) for key, _ in KEYS)
        lines = "\n".join(f"{key.ljust(width)}  {what}" for key, what in KEYS)
        with Vertical(id="help"):
            yield Static("Keys", id="help-title", markup=False)
            yield Static(lines, id="help-keys", markup=False)
