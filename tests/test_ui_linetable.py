"""The keyed line table under every pane: `replace` shows exactly the rows given, in their
order, redraws the rows that changed (or all of them when a column's width changed) and keeps
the drawn lines of the others, which is what makes a tree pane taking in a sub-agent cheap."""

from __future__ import annotations

from textual.app import App, ComposeResult

from controlroom.ui.widgets.linetable import LineTable, Row


class Table(LineTable):
    COLUMNS = ("id", "state")


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Table()


def drawn(table: Table) -> list[str]:
    """The rows as drawn on screen (the header left out), trailing blanks stripped."""
    lines = ["".join(s.text for s in table.render_line(y)) for y in range(1, table.size.height)]
    return [line.rstrip() for line in lines if line.strip()]


async def test_replace_redraws_what_changed_and_keeps_the_other_lines() -> None:
    app = Host()
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(Table)
        first: list[Row] = [("a", ["├ a", "running"]), ("b", ["└ b", "running"])]
        table.replace(first)
        await pilot.pause()
        assert drawn(table) == ["├ a  running", "└ b  running"]
        kept = table._lines.get("a")
        assert kept is not None
        # A row arrives below b: b's marker changes, a's row does not (same widths).
        table.replace(
            [("a", ["├ a", "running"]), ("b", ["├ b", "running"]), ("c", ["└ c", "done"])]
        )
        await pilot.pause()
        assert drawn(table) == ["├ a  running", "├ b  running", "└ c  done"]
        assert table._lines.get("a") is kept, "an unchanged row is not drawn again"
        # Narrower rows: the column narrows and every line is drawn again.
        table.replace([("c", ["└ c", "done"])])
        await pilot.pause()
        assert drawn(table) == ["└ c  done"]
        assert table.virtual_size.width == len("└ c") + 2 + len("state"), "fits what is shown"
        assert table.highlighted_key == "c"
