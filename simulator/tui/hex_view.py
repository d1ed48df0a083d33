"""The hex pane: offset, bytes in hex (16 a row, or 8 where that does not fit), ASCII;
renders only the rows on screen."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.strip import Strip

from simulator.dissect.hexdump import (
    BYTES_PER_ROW,
    Span,
    byte_at,
    fitting_row,
    hex_line,
    hex_width,
    offset_digits,
)
from simulator.dissect.hexdump import row_count as rows_for
from simulator.tui.messages import HexCursorMoved
from simulator.tui.panes import QuietScrollView


class HexView(QuietScrollView, can_focus=True):
    """A hex dump of one buffer with a highlighted span and a byte cursor.

    The screen sets the buffer (`show`), the span (`highlight`) and, silently,
    the cursor; when the *user* moves the cursor (keys, mouse) the view posts
    `HexCursorMoved` so the screen can select the field that owns the byte.
    A span `hidden` (a checkpoint's answer) shows as "··" until it is answered.
    Rows hold 16 bytes, or 8 (then 4) when the pane is too narrow for 16.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1)", "Byte left", show=False),
        Binding("right,l", "move(1)", "Byte right", show=False),
        Binding("up,k", "row(-1)", "Row up", show=False),
        Binding("down,j", "row(1)", "Row down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First byte", show=False),
        Binding("end", "edge(1)", "Last byte", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "hex-view--offset",
        "hex-view--dot",
        "hex-view--highlight",
        "hex-view--cursor",
        "hex-view--empty",
        "hex-view--hidden",
    }

    DEFAULT_CSS = """
    HexView > .hex-view--offset { color: $text-muted; }
    HexView > .hex-view--dot { color: $text-muted; }
    HexView > .hex-view--highlight { background: $primary 60%; color: $text; text-style: bold; }
    HexView > .hex-view--cursor { text-style: bold underline; }
    HexView:focus > .hex-view--cursor { background: $warning; color: $background; }
    HexView > .hex-view--empty { color: $text-muted; text-style: italic; }
    HexView > .hex-view--hidden { color: $text-warning; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.data = b""
        self.buffer = 0
        self.buffer_name = ""
        self.highlight: Span | None = None
        self.hidden: Span | None = None
        self.cursor: int | None = None
        self.per_row = BYTES_PER_ROW
        self._digits = offset_digits(0)
        self._styles: dict[tuple[str, str], Style] = {}

    # --- what is shown ----------------------------------------------------------------

    def show(
        self, data: bytes, *, buffer: int = 0, name: str = "", hidden: Span | None = None
    ) -> None:
        """Show `data` (buffer number `buffer` of the dissection), from the top; bytes
        `hidden` are held back. The same bytes again keep the scroll position."""
        same = data is self.data and buffer == self.buffer and hidden == self.hidden
        self.data = data
        self.buffer = buffer
        self.buffer_name = name
        self.hidden = hidden
        if same:
            return
        self.highlight = None
        self.cursor = None
        self._digits = offset_digits(len(data))
        self._fit()
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def _fit(self) -> None:
        """Bytes a row for the pane's width, and the scrollable size that follows."""
        width = self.view_size.width
        self.per_row = fitting_row(width, self._digits) if width > 0 else BYTES_PER_ROW
        size = Size(hex_width(self._digits, self.per_row), rows_for(len(self.data), self.per_row))
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self, event: events.Resize) -> None:
        """A pane shown again (or resized) keeps its lit bytes in sight."""
        self._fit()
        if self.highlight is not None:
            self._reveal(*self.highlight)

    def set_highlight(self, span: Span | None, *, reveal: bool = True) -> None:
        """Highlight bytes [start, end); the cursor joins the span unless it is already in it."""
        self.highlight = span if span is not None and span[0] < span[1] else None
        if self.highlight is not None:
            start, end = self.highlight
            if self.cursor is None or not start <= self.cursor < end:
                self.cursor = start if start < len(self.data) else None
            if reveal:  # (a pane resized or shown later does it then: see `on_resize`)
                self._reveal(start, end)
        self.refresh()

    def _reveal(self, start: int, end: int) -> None:
        """Scroll so bytes [start, end) show, centred where the buffer allows."""
        height = self.view_size.height
        if height <= 0:  # not laid out yet: `on_resize` reveals it once it is
            return
        first_row = start // self.per_row
        last_row = max(first_row, (end - 1) // self.per_row)
        top = round(self.scroll_y)
        if first_row >= top and last_row < top + height:
            return
        if last_row - first_row < height:
            middle = (first_row + last_row) // 2
            target = middle - (height - 1) // 2
        else:
            target = first_row
        target = max(0, min(target, rows_for(len(self.data), self.per_row) - height))
        self.scroll_to(y=target, animate=False, immediate=True)

    # --- the cursor -------------------------------------------------------------------

    def move_cursor(self, offset: int, *, announce: bool = True) -> None:
        """Put the cursor on byte `offset` (clamped); tell the screen if `announce`."""
        if not self.data:
            return
        offset = max(0, min(offset, len(self.data) - 1))
        self.cursor = offset
        self._reveal(offset, offset + 1)
        self.refresh()
        if announce:
            self.post_message(HexCursorMoved(self.buffer, offset))

    def action_row(self, direction: int) -> None:
        self.action_move(direction * self.per_row)

    def action_move(self, step: int) -> None:
        start = self.cursor if self.cursor is not None else 0
        self.move_cursor(start + step if self.cursor is not None else start)

    def action_page(self, direction: int) -> None:
        height = max(1, self.view_size.height)
        self.move_cursor((self.cursor or 0) + direction * height * self.per_row)

    def action_edge(self, end: int) -> None:
        self.move_cursor(len(self.data) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        column = byte_at(offset.x + round(self.scroll_x), digits=self._digits, per_row=self.per_row)
        if column is None:
            return
        byte = (round(self.scroll_y) + offset.y) * self.per_row + column
        if byte < len(self.data):
            self.move_cursor(byte)

    # --- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.view_size.width
        base = self.rich_style
        row = round(self.scroll_y) + y
        if not self.data:
            if y == 0:
                style = base + self.get_component_rich_style("hex-view--empty")
                return Strip([Segment("No bytes.", style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if row >= rows_for(len(self.data), self.per_row):
            return Strip.blank(width, base)
        pieces = hex_line(
            self.data,
            row,
            digits=self._digits,
            highlight=self.highlight,
            cursor=self.cursor,
            per_row=self.per_row,
            hidden=self.hidden,
        )
        segments = [Segment(p.text, self._piece_style(base, p.kind, p.state)) for p in pieces]
        x = round(self.scroll_x)
        return Strip(segments).crop_extend(x, x + width, base)

    def _piece_style(self, base: Style, kind: str, state: str) -> Style:
        key = (kind, state)
        style = self._styles.get(key)
        if style is None:
            style = base
            if kind in ("offset", "dot", "hidden"):
                style += self.get_component_rich_style(f"hex-view--{kind}")
            for part in state.split():
                style += self.get_component_rich_style(f"hex-view--{part}", partial=True)
            self._styles[key] = style
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self.refresh()
