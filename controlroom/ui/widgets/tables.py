"""The agents and approvals tables: rows rendered literally, the cursor kept across reloads.

| Key | Action |
| --- | --- |
| `j` / `down` | Next row. |
| `k` / `up` | Previous row. |
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from controlroom.domain.approvals import Approval
from controlroom.domain.models import AgentRecord
from controlroom.ui.literal import literal


def local_time(ms: int) -> str:
    """Epoch milliseconds (UTC) as local wall time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


class _Rows(DataTable[Text]):
    """A read-only table whose rows are replaced wholesale and whose cursor follows its row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="row.down"),
        Binding("k", "cursor_up", "Up", show=False, id="row.up"),
    ]
    COLUMNS: tuple[str, ...] = ()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_columns(*self.COLUMNS)

    def replace_rows(self, rows: Sequence[tuple[str, list[Text]]]) -> None:
        """Show `rows` (key, cells), keeping the cursor on the same key if it is still there."""
        current = self.highlighted_key
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if current in keys:
            self.move_cursor(row=keys.index(current), animate=False)

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if self.row_count == 0 or not self.is_valid_row_index(self.cursor_row):
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key is None else str(key)


class AgentsTable(_Rows):
    """Every agent: id, definition, status, step, and its error, result or task."""

    COLUMNS = ("id", "agent", "status", "step", "note")

    def show(self, records: Sequence[AgentRecord]) -> None:
        """Render `records`."""
        self.replace_rows(
            [
                (
                    r.id,
                    [
                        literal(r.id, 40),
                        literal(r.agent, 30),
                        Text(r.status.value),
                        Text(str(r.step)),
                        literal(r.error or r.result or r.task, 120),
                    ],
                )
                for r in records
            ]
        )


class ApprovalsTable(_Rows):
    """Approvals waiting: the call, its tier and amount, and when it expires."""

    COLUMNS = ("id", "agent id", "tool", "amount", "tier", "expires", "arguments")

    def show(self, approvals: Sequence[Approval]) -> None:
        """Render `approvals`."""
        self.replace_rows(
            [
                (
                    str(a.id),
                    [
                        Text(str(a.id)),
                        literal(a.agent_id, 40),
                        literal(a.tool, 30),
                        Text(f"${a.amount:,.2f}" if a.amount is not None else "-"),
                        literal(a.tier, 12),
                        Text(local_time(a.expires_ms) if a.expires_ms is not None else "-"),
                        literal(json.dumps(a.arguments, ensure_ascii=False, sort_keys=True), 120),
                    ],
                )
                for a in approvals
            ]
        )

    @property
    def highlighted_approval(self) -> int | None:
        """The id of the approval under the cursor, if any."""
        key = self.highlighted_key
        return None if key is None else int(key)
