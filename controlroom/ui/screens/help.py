"""The `?` screen: the keys of the view it was opened from (its focused pane's, its screen's
and the app's, as Textual resolves them), then the `:` commands."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from controlroom.ui.commands import VOCABULARY

MOVES: tuple[tuple[str, str], ...] = (
    ("j/k, ↓/↑", "move the cursor"),
    ("g/G", "first / last row"),
    ("1-6, tab", "switch pane (agents, approvals, calls, budgets, breakers, alerts)"),
    ("esc", "close, clear the filter, then the marks"),
    ("ctrl+p", "palette: panes, agents, approvals, kill switch"),
)


def keys_of(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, what it does) for every binding of ours active on `screen` (those with an id),
    the ones the key bar shows first; moving around is summed up by MOVES."""
    found: dict[str, tuple[bool, str, str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.id or (binding.id.startswith("row.") and not binding.show):
            continue
        if binding.action in found:
            continue
        shown = binding.key_display or screen.app.get_key_display(binding) or key
        found[binding.action] = (binding.show, shown, binding.tooltip or binding.description)
    ordered = sorted(found.values(), key=lambda entry: not entry[0])  # stable: shown first
    return [(shown, what) for _, shown, what in ordered]


class HelpScreen(ModalScreen[None]):
    """The keys, one per line; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, view: Screen[object]) -> None:
        super().__init__()
        self._keys = [*keys_of(view), *MOVES]

    def compose(self) -> ComposeResult:
        width = max(len(key) for key, _ in self._keys)
        keys = "\n".join(f"{key.ljust(width)}  {what}" for key, what in self._keys)
        command_width = max(len(usage) for usage, _ in VOCABULARY)
        commands = "\n".join(f"{usage.ljust(command_width)}  {what}" for usage, what in VOCABULARY)
        with VerticalScroll(id="help"):
            yield Static("Keys of this view", classes="help-title", markup=False)
            yield Static(keys, id="help-keys", markup=False)
            yield Static("Commands (:, or ctrl+p)", classes="help-title", markup=False)
            yield Static(commands, id="help-commands", markup=False)
