"""The footer: every key of the current view with its label, wrapped onto more lines when
the terminal is narrow, so that at 80 columns no key is cut off (Textual's `Footer` keeps to
one line and hides what does not fit). A key is never separated from its label."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget

GAP = 2  # spaces between two keys


def lay_out(keys: list[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    """The keys in lines of at most `width` cells (a pair longer than that gets its own)."""
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for key, label in keys:
        size = len(key) + 1 + len(label)
        if lines[-1] and used + GAP + size > width:
            lines.append([])
            used = 0
        used += size + (GAP if lines[-1] else 0)
        lines[-1].append((key, label))
    return lines


class KeyBar(Widget):
    """Keys shown (`show=True`) by the focused widget, its screen and the app."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: list[tuple[str, str]] = []  # (key, label), in the order shown

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.screen:
            return
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            keys.append((self.app.get_key_display(binding), binding.description))
        if keys != self.keys:
            self.keys = keys
            self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(lay_out(self.keys, width))

    def render(self) -> Text:
        shown = Text(end="", no_wrap=True, overflow="ellipsis")
        for n, line in enumerate(lay_out(self.keys, self.content_size.width)):
            if n:
                shown.append("\n")
            for m, (key, label) in enumerate(line):
                if m:
                    shown.append(" " * GAP)
                shown.append(key, "bold reverse")
                shown.append(f" {label}")
        return shown
