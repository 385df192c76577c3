"""One line saying what the last action came to: queued, applied, refused, read-only."""

from __future__ import annotations

from typing import Literal

from textual.widgets import Static

from controlroom.ui.literal import literal

Kind = Literal["info", "ok", "refused", "error"]


class StatusLine(Static):
    """The outcome of the last action; its text may come from the supervisor, so literal."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.message = ""
        self.kind: Kind = "info"

    def report(self, message: str, kind: Kind = "info") -> None:
        """Show `message`, styled by `kind` (classes `-ok`, `-refused`, `-error`)."""
        self.message = message
        self.kind = kind
        for other in ("info", "ok", "refused", "error"):
            self.set_class(other == kind, f"-{other}")
        self.update(literal(message, 300), layout=False)  # one line, whatever it says
