"""Dialogs that ask before acting: a typed confirmation, a note, edited arguments.

Each is opened for a target pinned by its caller (an agent id, an approval number) and
answers with what was typed; the caller acts on the pinned target, never on whatever row
the cursor is on when the answer comes back. `escape` cancels every one of them.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from controlroom.ui.literal import literal

T = TypeVar("T")
_CANCEL: list[BindingType] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]


class _Dialog(ModalScreen[T | None], Generic[T]):
    """A title, an explanation, one input line and an error line."""

    BINDINGS: ClassVar[list[BindingType]] = _CANCEL

    def __init__(
        self, title: str, explanation: str, value: str = "", placeholder: str = ""
    ) -> None:
        super().__init__()
        self._title = title
        self._explanation = explanation
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self._title, 200), classes="dialog-title")
            yield Static(literal(self._explanation, 400), classes="dialog-text")
            yield Input(self._value, placeholder=self._placeholder, id="answer")
            yield Static("", id="dialog-error", markup=False)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def refuse(self, why: str) -> None:
        """Say why the answer was not taken; the dialog stays open."""
        self.query_one("#dialog-error", Static).update(literal(why, 300))


class TypedConfirm(_Dialog[bool]):
    """Go ahead only when exactly `expected` is typed (an agent's id, or KILL)."""

    def __init__(self, title: str, explanation: str, expected: str) -> None:
        super().__init__(title, explanation, placeholder=f"type {expected}")
        self.expected = expected

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.refuse(f"type {self.expected} exactly to go ahead, or escape to cancel")


class ResolveDialog(ModalScreen[str | None]):
    """An in-doubt call: did it happen? One key answers (the call is pinned by the caller):
    `h` it happened (the agent is told so), `r` run it again with the same idempotency key,
    `a` abort it (the agent is told it did not run)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *_CANCEL,
        Binding("h", "answer('happened')", "Happened", id="resolve.happened"),
        Binding("r", "answer('retry')", "Retry", id="resolve.retry"),
        Binding("a", "answer('abort')", "Abort", id="resolve.abort"),
    ]

    def __init__(self, title: str, explanation: str) -> None:
        super().__init__()
        self._title = title
        self._explanation = explanation

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self._title, 200), classes="dialog-title")
            yield Static(literal(self._explanation, 600), classes="dialog-text")
            yield Static("h happened · r retry · a abort · escape cancel", markup=False)

    def action_answer(self, verdict: str) -> None:
        self.dismiss(verdict)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(_Dialog[str]):
    """A note to go with a decision (may be empty)."""

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class ArgumentsDialog(_Dialog[dict[str, Any]]):
    """The call's arguments as JSON, to edit before approving; the supervisor still checks
    the edited call against the tool's schema, the policy and the approver's authority."""

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            value = json.loads(event.value)
        except json.JSONDecodeError as bad:
            self.refuse(f"not JSON: {bad.msg} at column {bad.colno}")
            return
        if not isinstance(value, dict):
            self.refuse('the arguments must be a JSON object, e.g. {"amount": 40}')
            return
        self.dismiss(value)
