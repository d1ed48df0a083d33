"""The packet list: one row per record, virtualized (only the rows on screen are rendered)."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from simulator.tui.messages import RecordChosen, RecordHighlighted
from simulator.views.inspector import InspectorModel
from simulator.views.render import columns, heading_cells, row_cells


class PacketList(ScrollView, can_focus=True):
    """Rows of an `InspectorModel`, all of them or the positions a filter kept.

    The first line is the column heading and stays put; the rest scroll. The
    cursor is a position in the rows shown; the list posts `RecordHighlighted`
    with the record's index whenever the record under the cursor changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Previous", show=False),
        Binding("down,j", "cursor(1)", "Next", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First packet", show=False),
        Binding("end", "last", "Last packet (and follow new ones)", show=False),
        Binding("enter", "choose", "Fields", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "packet-list--heading",
        "packet-list--cursor",
        "packet-list--problem",
        "packet-list--bad-tcp",
        "packet-list--protocol",
        "packet-list--empty",
    }

    DEFAULT_CSS = """
    PacketList { overflow-x: hidden; }
    PacketList > .packet-list--heading { text-style: bold; background: $panel; }
    PacketList > .packet-list--cursor { background: $accent 30%; }
    PacketList:focus > .packet-list--cursor { background: $accent; color: $text; }
    PacketList > .packet-list--problem { color: $text-error; }
    /* Wireshark's default colouring rule "Bad TCP": red on black. */
    PacketList > .packet-list--bad-tcp { color: #ff5f5f; background: #121212; }
    PacketList > .packet-list--protocol { text-style: bold; }
    PacketList > .packet-list--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(-1, repaint=False, init=False)
    """The position of the cursor among the rows shown; -1 when there are none."""

    def __init__(
        self,
        model: InspectorModel,
        *,
        empty_text: str = "No packets.",
        tail: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self.empty_text = empty_text
        self.tail = tail  # an empty list follows the rows that arrive (live traffic)
        self._positions: list[int] | None = None  # record indices a filter kept; None: all
        self._length = 0  # rows of the model the list knows about
        self._announced: int | None = None

    # --- what is shown ----------------------------------------------------------------

    @property
    def count(self) -> int:
        """Rows shown."""
        return self._length if self._positions is None else len(self._positions)

    @property
    def known_length(self) -> int:
        """Rows of the model the list knows about (filtered or not)."""
        return self._length

    @property
    def filtered(self) -> bool:
        return self._positions is not None

    @property
    def shown_records(self) -> list[int] | None:
        """The record indexes a filter shows (so far); None when no filter is applied."""
        return None if self._positions is None else list(self._positions)

    def record_at(self, position: int) -> int:
        return position if self._positions is None else self._positions[position]

    @property
    def record(self) -> int | None:
        """The record index under the cursor."""
        return self.record_at(self.cursor) if 0 <= self.cursor < self.count else None

    def grow(self, length: int) -> None:
        """The model now has `length` rows (unfiltered view: they are all shown)."""
        if length == self._length:
            return
        before = self.count
        self._length = length
        if self._positions is None:
            self._rows_added(before)

    def show_all(self, *, keep: int | None = None) -> None:
        """Drop the filter; keep the cursor on record `keep` if given."""
        self._positions = None
        self._resized()
        target = keep if keep is not None and keep < self._length else self.count - 1
        self._set_cursor(target)

    def show_positions(self, positions: list[int]) -> None:
        """Show only these records (a filter's matches so far; more may be added)."""
        self._positions = list(positions)
        self._resized()
        self._set_cursor(0 if self._positions else -1)

    def add_positions(self, positions: list[int]) -> None:
        """More matches of the filter, after those shown."""
        if self._positions is None or not positions:
            return
        before = self.count
        self._positions.extend(positions)
        self._rows_added(before)

    def go_to_record(self, index: int) -> bool:
        """Put the cursor on record `index` if it is shown."""
        if self._positions is None:
            if 0 <= index < self._length:
                self._set_cursor(index)
                return True
            return False
        try:
            self._set_cursor(self._positions.index(index))
        except ValueError:
            return False
        return True

    def _rows_added(self, before: int) -> None:
        # Follow new rows when the cursor was on the last one; an empty list starts at
        # the first row (a capture opening), or follows too when it is live.
        following = before > 0 and self.cursor == before - 1
        self._resized()
        if following or (before == 0 and self.tail):
            self._set_cursor(self.count - 1)
        elif self.cursor < 0 and self.count:
            self._set_cursor(0)
        self.refresh()

    def _resized(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.count + 1)
        self.refresh()

    def _set_cursor(self, position: int) -> None:
        position = max(-1, min(position, self.count - 1))
        if position == self.cursor:
            self._announce()
            self._reveal()
        else:
            self.cursor = position

    # --- the cursor -------------------------------------------------------------------

    def watch_cursor(self) -> None:
        self._reveal()
        self.refresh()
        self._announce()

    def _announce(self) -> None:
        record = self.record
        if record != self._announced:
            self._announced = record
            self.post_message(RecordHighlighted(record))

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _reveal(self) -> None:
        if self.cursor < 0:
            return
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + self._page:
            self.scroll_to(y=self.cursor - self._page + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        if self.count:
            self._set_cursor(max(0, self.cursor + step))

    def action_page(self, direction: int) -> None:
        if self.count:
            self._set_cursor(max(0, self.cursor + direction * self._page))

    def action_first(self) -> None:
        if self.count:
            self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(self.count - 1)

    def action_choose(self) -> None:
        if self.record is not None:
            self.post_message(RecordChosen(self.record))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        position = round(self.scroll_y) + offset.y - 1
        if position < self.count:
            self._set_cursor(position)
            if event.chain >= 2:
                self.action_choose()

    def on_resize(self, event: events.Resize) -> None:
        self._resized()
        self._reveal()

    # --- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        cols = columns(width, self._length)
        if y == 0:
            style = base + self.get_component_rich_style("packet-list--heading")
            return Strip([Segment(" ".join(heading_cells(cols)), style)]).crop_extend(
                0, width, style
            )
        position = round(self.scroll_y) + y - 1
        if position >= self.count:
            if y == 1 and self.count == 0:
                style = base + self.get_component_rich_style("packet-list--empty")
                text = self.empty_text
                return Strip([Segment(text, style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        row = self.model.row(self.record_at(position))
        style = base
        if row.bad_tcp:
            style += self.get_component_rich_style("packet-list--bad-tcp")
        if row.problem:
            style += self.get_component_rich_style("packet-list--problem")
        if position == self.cursor:
            style += self.get_component_rich_style("packet-list--cursor")
        cells = row_cells(row, cols)
        protocol = style + self.get_component_rich_style("packet-list--protocol", partial=True)
        segments = [Segment(" ".join(cells[:4]) + " ", style), Segment(cells[4], protocol)]
        segments.append(Segment(" " + " ".join(cells[5:]), style))
        return Strip(segments).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()
