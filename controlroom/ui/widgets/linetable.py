"""A keyed, read-only table drawn line by line: only the rows on screen are rendered, and a
row is rendered again only when its cells change.

Textual's `DataTable` throws its whole render cache away when any cell changes and removes
rows in time proportional to the table, so a pane of a thousand agents under 500 events a
second spent most of its time redrawing what had not changed. Here each row's line is cached
by key until the row changes; the cursor row and a changed column width are the only other
reasons to draw a line again. `replace` keeps the lines (and the measured widths) of the rows
it is given unchanged, so reordering a thousand rows (a tree pane taking in a sub-agent)
costs little more than the rows that changed.

| Key | Action |
| --- | --- |
| `j` / `down`, `k` / `up` | Next / previous row. |
| `g` / `home`, `G` / `end` | First / last row. |
| `pagedown` / `pageup` | A screen down / up. |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text  # plain text, or text with styled parts (escapes shown reversed)
Row = tuple[str, list[Cell]]
CACHED_LINES = 512  # rendered lines kept: a few screens' worth, whatever the table's size
GAP = 2  # spaces between columns
_CURSOR = Style(reverse=True)
_CURSOR_BLURRED = Style(underline=True)
_HEADER = Style(bold=True)


class LineTable(ScrollView, can_focus=True):
    """Rows of `Text` cells under a fixed header, each row named by a key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor(1)", "Down", show=False, id="row.down"),
        Binding("k,up", "cursor(-1)", "Up", show=False, id="row.up"),
        Binding("g,home", "first", "First", show=False, id="row.first"),
        Binding("G,end", "last", "Last", show=False, id="row.last"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="row.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="row.page_up"),
    ]
    COLUMNS: tuple[str, ...] = ()

    class RowHighlighted(Message):
        """The cursor is on another row (`key` None: the table is empty)."""

        def __init__(self, table: LineTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[str] = []
        self._cells: dict[str, list[Cell]] = {}
        self._widths = [len(title) for title in self.COLUMNS]
        self._row_widths: dict[str, list[int]] = {}  # each row's cells, measured
        # Each row's whole line until it changes, and as last cut to the window (scroll x,
        # width, style), so a frame that changed nothing in a row reuses it whole. Bounded:
        # only rows recently on screen are worth keeping.
        self._lines: LRUCache[str, Strip] = LRUCache(CACHED_LINES)
        self._cut: LRUCache[str, tuple[int, int, Style, Strip]] = LRUCache(CACHED_LINES)
        self._header: Strip | None = None
        self._index: dict[str, int] | None = None  # key -> position, rebuilt when needed
        self.cursor_row = 0
        self.marks: set[str] = set()

    # -- content --------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def shows(self, key: str) -> bool:
        """Whether the row of `key` is in the table (on screen or scrolled out of sight)."""
        return key in self._cells

    def shown_keys(self) -> list[str]:
        """The keys shown, top to bottom."""
        return list(self._keys)

    def get_row_at(self, row: int) -> list[Text]:
        """The cells of the row at position `row`, as `Text`."""
        return [Text(c) if isinstance(c, str) else c for c in self._cells[self._keys[row]]]

    def replace(self, rows: Sequence[Row]) -> None:
        """Show exactly `rows`, in that order, keeping the cursor on its row if it stays.
        Rows whose cells are unchanged keep their drawn lines, unless a column's width
        changed (columns fit what is shown, so they may narrow too)."""
        current = self.highlighted_key
        before, measured = self._cells, self._row_widths
        self._keys = [key for key, _ in rows]
        self._cells = dict(rows)
        self._index = None
        self._row_widths = {}
        unchanged: set[str] = set()
        for key, cells in rows:
            widths = measured.get(key)
            old = before.get(key)
            if widths is not None and (old is cells or old == cells):
                unchanged.add(key)
            else:
                widths = [_width(cell) for cell in cells]
            self._row_widths[key] = widths
        titles = [len(title) for title in self.COLUMNS]
        widths = [max(column) for column in zip(titles, *self._row_widths.values(), strict=False)]
        if widths != self._widths:
            self._widths = widths
            self._header = None
            self._lines.clear()
            self._cut.clear()
        else:
            for key in self._lines.keys() - unchanged:
                self._lines.discard(key)
            for key in self._cut.keys() - unchanged:
                self._cut.discard(key)
        self.marks &= set(self._cells)
        position = self._position(current) if current is not None else None
        self._changed(self.cursor_row if position is None else position)

    def upsert(self, rows: Iterable[Row]) -> None:
        """Update rows already shown (drawn again only if a cell changed); append new ones.
        Only the lines of changed rows on screen are repainted."""
        changed: list[str] = []
        for key, cells in rows:
            old = self._cells.get(key)
            if old == cells:
                continue
            if old is None:
                self._keys.append(key)
                if self._index is not None:
                    self._index[key] = len(self._keys) - 1
            self._cells[key] = cells
            self._lines.discard(key)
            changed.append(key)
        if not changed:
            return
        if self._widen([(key, self._cells[key]) for key in changed]):
            self._changed(self.cursor_row)
            return
        self._resize()
        top, height = round(self.scroll_y), self.scrollable_content_region.height
        for key in changed:
            position = self._position(key)
            if position is not None and top <= position < top + height:
                self.refresh_lines(position + 1)

    def drop(self, keys: Iterable[str]) -> None:
        """Remove the rows of `keys` that are shown."""
        gone = {key for key in keys if key in self._cells}
        if not gone:
            return
        current = self.highlighted_key
        before = (self._position(current) if current is not None else None) or 0
        self._keys = [key for key in self._keys if key not in gone]
        for key in gone:
            del self._cells[key]
            self._row_widths.pop(key, None)
            self._lines.discard(key)
            self._cut.discard(key)
            self.marks.discard(key)
        self._index = None
        position = self._position(current) if current is not None else None
        self._changed(before if position is None else position)  # gone: stay about there

    def _widen(self, rows: Iterable[Row]) -> bool:
        """Measure `rows` and widen columns to fit them; whether any grew (every line must
        be redrawn)."""
        widths = self._widths
        wider = False
        for key, cells in rows:
            measured = self._row_widths[key] = [_width(cell) for cell in cells]
            for n, length in enumerate(measured):
                if length > widths[n]:
                    widths[n] = length
                    wider = True
        if wider:
            self._lines.clear()
            self._header = None
        return wider

    def _position(self, key: str) -> int | None:
        if self._index is None:
            self._index = {k: n for n, k in enumerate(self._keys)}
        return self._index.get(key)

    def _resize(self) -> None:
        width = sum(self._widths) + GAP * max(0, len(self._widths) - 1)
        self.virtual_size = Size(width, len(self._keys) + 1)

    def _changed(self, cursor: int) -> None:
        """Rows moved or columns changed width: redraw every line."""
        self._resize()
        self.move_cursor(row=cursor)
        self.refresh()
        # A new virtual size takes effect at the next layout; until then the table cannot
        # scroll to a row beyond the old one.
        self.call_after_refresh(self._scroll_to_cursor)

    # -- cursor ---------------------------------------------------------------------------

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self._keys:
            return None
        return self._keys[min(self.cursor_row, len(self._keys) - 1)]

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on `row` (clamped) and scroll it into view."""
        del animate  # the cursor never animates: over SSH every frame costs
        before, old_row = self.highlighted_key, self.cursor_row
        self.cursor_row = max(0, min(row, len(self._keys) - 1))
        key = self.highlighted_key
        if not self._scroll_to_cursor():  # no scroll: only the cursor's old and new lines
            self.refresh_lines(old_row + 1)
            self.refresh_lines(self.cursor_row + 1)
        if key != before:
            self.post_message(self.RowHighlighted(self, key))

    def _scroll_to_cursor(self) -> bool:
        """Scroll so the cursor's row is on screen; whether it scrolled."""
        visible = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
            return True
        if self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)
            return True
        return False

    def on_resize(self) -> None:
        # Before its first layout the table has no height (and can scroll nowhere): the
        # cursor is brought into view once it has one, and whenever the terminal resizes.
        self.call_after_refresh(self._scroll_to_cursor)

    def visible_keys(self) -> list[str]:
        """The keys of the rows on screen now, top to bottom."""
        top = round(self.scroll_y)
        return self._keys[top : top + max(1, self.scrollable_content_region.height - 1)]

    def is_row_visible(self, row: int) -> bool:
        """Whether position `row` is on screen now."""
        top = round(self.scroll_y)
        return top <= row < top + max(1, self.scrollable_content_region.height - 1)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._keys) - 1)

    def action_page(self, direction: int) -> None:
        page = max(1, self.scrollable_content_region.height - 2)
        self.move_cursor(row=self.cursor_row + direction * page)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(row=round(self.scroll_y) + event.y - 1)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def toggle_mark(self) -> str | None:
        """Mark or unmark the highlighted row; returns its key."""
        key = self.highlighted_key
        if key is None:
            return None
        if key in self.marks:
            self.marks.discard(key)
        else:
            self.marks.add(key)
        self._show_mark(key)
        return key

    def unmark_all(self) -> None:
        marked, self.marks = self.marks, set()
        for key in marked:
            self._show_mark(key)

    def _show_mark(self, key: str) -> None:
        """Redraw the mark column (the first, titled " ", in tables that mark rows)."""
        if self.COLUMNS and self.COLUMNS[0] == " " and key in self._cells:
            cells = list(self._cells[key])
            cells[0] = "●" if key in self.marks else " "
            self.upsert([(key, cells)])

    # -- drawing --------------------------------------------------------------------------

    def _strip(self, cells: Sequence[Cell], style: Style | None = None) -> Strip:
        line = Text(no_wrap=True, end="")
        for n, (cell, width) in enumerate(zip(cells, self._widths, strict=False)):
            if n:
                line.append(" " * GAP)
            if isinstance(cell, str):
                line.append(cell)
            else:
                line.append_text(cell)
            line.append(" " * (width - _width(cell)))
        if style is not None:
            line.stylize(style)
        return Strip(line.render(self.app.console), line.cell_len)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            if self._header is None:
                self._header = self._strip([Text(title) for title in self.COLUMNS], _HEADER)
            return self._header.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        row = scroll_y + y - 1
        if row >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[row]
        cut = self._cut.get(key)
        if cut is not None and cut[:3] == (scroll_x, width, base) and key in self._lines:
            strip = cut[3]
        else:
            line = self._lines.get(key)
            if line is None:
                line = self._strip(self._cells[key])
                self._lines[key] = line
            strip = line.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
            self._cut[key] = (scroll_x, width, base, strip)
        if row == self.cursor_row:
            cursor = _CURSOR if self.has_focus else _CURSOR_BLURRED
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip


def _width(cell: Cell) -> int:
    return cell_len(cell) if isinstance(cell, str) else cell.cell_len
