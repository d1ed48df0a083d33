"""The ladder diagram: packets as arrows between the lifelines of hosts and routers, one per row.

The drawing is a pure function of the data: `ladder_layout` places the
lifelines for a width, `ladder_heading` and `ladder_row` turn the node names and
one `Arrow` into (text, role) pieces, and `LadderDiagram` only paints the rows
on screen (the Line API), so a few hundred arrows cost what one screenful does.

    No.    Time client                  r1                   server
      1   0.000    │─── SYN seq=100 ────►│                      │
      2   0.005    │                     │──── SYN seq=100 ────►│
      3   0.010    │                     │◄─SYN, ACK seq=300 ac…│
      4   0.015    │    ✗─SYN, ACK seq=3…│                      │   (lost)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from simulator.tui.panes import QuietScrollView
from simulator.views.render import ELLIPSIS, fit

LIFELINE = "│"
CROSSING = "┼"  # a shaft passing over a lifeline it does not stop at
SHAFT = "─"
HEAD_RIGHT = "►"
HEAD_LEFT = "◄"
LOST = "✗"
LOOP = "↺"

#: From this width on, times are shown to the microsecond (narrower: milliseconds).
WIDE = 100

Piece = tuple[str, str]
"""A run of text and its role: number, time, heading, lifeline, arrow, label, lost or ""."""


class Arrow(NamedTuple):
    """One packet on the ladder, from lifeline `src` to lifeline `dst` (column indexes)."""

    number: int  # the packet number shown
    time: float  # seconds
    src: int
    dst: int
    label: str  # "SYN seq=100", "TEXT 'hi'"
    emphasis: bool = False  # caused by the current step
    lost: bool = False  # dropped on the way: the arrow ends in ✗ short of `dst`
    shown: str | None = None  # what the number column says, when not `number` ("" nothing)


@dataclass(frozen=True, slots=True)
class LadderLayout:
    """Where things go in a ladder `width` cells wide: the gutter, then the lifelines."""

    width: int
    number_width: int
    time_width: int
    positions: tuple[int, ...]  # the x of each lifeline, from the left edge

    @property
    def gutter(self) -> int:
        """Cells before the lifelines' area: number, time and a space after each."""
        return self.number_width + 1 + self.time_width + 1


def ladder_layout(columns: Sequence[str], width: int, *, largest_number: int = 0) -> LadderLayout:
    """Lifelines spread evenly over what the gutter leaves of `width`, names centred on them."""
    number_width = max(3, len(str(largest_number)))
    time_width = 10 if width >= WIDE else 7
    gutter = number_width + 1 + time_width + 1
    area = max(width - gutter, 1)
    count = len(columns)
    if count == 0:
        return LadderLayout(width, number_width, time_width, ())
    if count == 1:
        return LadderLayout(width, number_width, time_width, (gutter + area // 2,))
    widest = max(cell_len(name) for name in columns)
    # Room for half the widest name outside the outer lifelines, but never more than a
    # quarter of the space between two lifelines.
    margin = max(1, min((widest + 1) // 2, area // (4 * (count - 1) + 2)))
    span = max(area - 1 - 2 * margin, count - 1)
    positions = tuple(gutter + margin + round(i * span / (count - 1)) for i in range(count))
    return LadderLayout(width, number_width, time_width, positions)


def format_time(seconds: float, width: int) -> str:
    """Seconds to the microsecond in a wide gutter, to the millisecond otherwise."""
    return f"{seconds:.6f}" if width >= 10 else f"{seconds:.3f}"


def ladder_heading(layout: LadderLayout, columns: Sequence[str]) -> list[Piece]:
    """The heading row: "No." and "Time" over the gutter, each name centred on its lifeline."""
    cells = _blank(layout.width)
    roles = [""] * layout.width
    gutter = fit("No.", layout.number_width, right=True) + " "
    gutter += fit("Time", layout.time_width, right=True) + " "
    _put(cells, roles, 0, gutter, "heading")
    positions = layout.positions
    for i, (name, x) in enumerate(zip(columns, positions, strict=False)):
        left = positions[i - 1] if i > 0 else layout.gutter - 1
        right = positions[i + 1] if i + 1 < len(positions) else layout.width
        # Centred on the lifeline, clear of the neighbours' halves.
        room = max(1, 2 * min(x - left, right - x) - 1)
        text = fit(name, min(room, cell_len(name)))
        start = max(layout.gutter, min(x - cell_len(text) // 2, layout.width - cell_len(text)))
        _put(cells, roles, start, text, "heading")
    return _pieces(cells, roles)


def ladder_row(layout: LadderLayout, arrow: Arrow) -> list[Piece]:
    """One arrow's row: number, time, the lifelines, and the arrow drawn between two of them.

    The shaft runs between the lifelines of `src` and `dst` with the label in its
    middle (cut with … when it does not fit) and the head (► or ◄) against `dst`;
    a lost packet's shaft stops short and ends in ✗. Lifelines the shaft passes
    over show as ┼. An arrow from a lifeline to itself is ↺ and its label.
    """
    width = layout.width
    cells = _blank(width)
    roles = [""] * width
    printed = str(arrow.number) if arrow.shown is None else arrow.shown
    _put(cells, roles, 0, fit(printed, layout.number_width, right=True), "number")
    time = fit(format_time(arrow.time, layout.time_width), layout.time_width, right=True)
    _put(cells, roles, layout.number_width + 1, time, "time")
    positions = layout.positions
    for x in positions:
        _put(cells, roles, x, LIFELINE, "lifeline")
    if not (0 <= arrow.src < len(positions) and 0 <= arrow.dst < len(positions)):
        return _pieces(cells, roles)
    src, dst = positions[arrow.src], positions[arrow.dst]
    if src == dst:
        right = next((x for x in positions if x > src), width)
        room = right - src - 2
        if room >= 2:
            _put(cells, roles, src + 1, LOOP, "arrow")
            _put(cells, roles, src + 2, " " + fit(_printable(arrow.label), room - 1), "label")
        return _pieces(cells, roles)
    rightward = dst > src
    left, right = min(src, dst), max(src, dst)
    length = right - left - 1  # cells strictly between the two lifelines
    if length < 1:
        return _pieces(cells, roles)
    drawn = length - (max(1, min(length // 4, 4)) if arrow.lost and length >= 3 else 0)
    if arrow.lost:
        head, head_role = LOST, "lost"
    else:
        head, head_role = (HEAD_RIGHT if rightward else HEAD_LEFT), "arrow"
    shaft = _shaft(_printable(arrow.label), drawn - 1, rightward=rightward)
    start = left + 1 if rightward else right - drawn
    for x in positions:  # lifelines under the shaft, left as crossings
        if start <= x < start + drawn:
            cells[x], roles[x] = CROSSING, "arrow"
    body_start = start if rightward else start + 1
    for offset, (text, role) in enumerate(shaft):
        x = body_start + offset
        if text == SHAFT and roles[x] == "arrow":
            continue  # keep the crossing
        cells[x], roles[x] = text, role
    tip = start + drawn - 1 if rightward else start
    cells[tip], roles[tip] = head, head_role
    return _pieces(cells, roles)


def ladder_lines(columns: Sequence[str], arrows: Sequence[Arrow], width: int) -> list[str]:
    """The whole ladder as plain lines (heading first): for tests and handouts."""
    largest = max((arrow.number for arrow in arrows), default=0)
    layout = ladder_layout(columns, width, largest_number=largest)
    rows = [ladder_heading(layout, columns), *(ladder_row(layout, a) for a in arrows)]
    return ["".join(text for text, _ in row) for row in rows]


def _shaft(label: str, length: int, *, rightward: bool) -> list[tuple[str, str]]:
    """`length` cells of shaft (the head not included) with `label` on it: one (text, role)
    per cell, a wide character followed by an empty cell.

    With room, the label sits in the middle between spaces; when tight, it takes all
    but the cell next to the head, cut with an ellipsis.
    """
    if length <= 0:
        return []
    size = cell_len(label)
    if length >= size + 4:
        text = f" {label} "
        before = (length - size - 2) // 2
    elif length >= size + 2:
        text = label
        before = (length - size) // 2
    elif length >= 2 and label:
        text = _cut(label, length - 1)
        before = 0 if rightward else 1
    else:
        return [(SHAFT, "arrow")] * length
    after = length - cell_len(text) - before
    cells = [(SHAFT, "arrow")] * before
    for char in text:
        size = cell_len(char)
        if size == 0 and len(cells) > before:  # a combining mark joins the cell before it
            cells[-1] = (cells[-1][0] + char, "label")
            continue
        cells.append((char, "label"))
        if size == 2:
            cells.append(("", "label"))
    return cells + [(SHAFT, "arrow")] * after


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` cells: cut with an ellipsis, no space left before it."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1).rstrip() + ELLIPSIS


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else " " for char in text)


def _blank(width: int) -> list[str]:
    return [" "] * width


def _put(cells: list[str], roles: list[str], x: int, text: str, role: str) -> None:
    """Write `text` from cell `x` on (a wide character takes two cells), cut at the edge."""
    for char in text:
        size = cell_len(char)
        if size == 0:  # a combining mark joins the cell before it
            if x > 0:
                cells[x - 1] += char
            continue
        if x + size > len(cells):
            return
        cells[x], roles[x] = char, role
        if size == 2:
            cells[x + 1], roles[x + 1] = "", role
        x += size


def _pieces(cells: list[str], roles: list[str]) -> list[Piece]:
    pieces: list[Piece] = []
    for text, role in zip(cells, roles, strict=True):
        if pieces and pieces[-1][1] == role:
            pieces[-1] = (pieces[-1][0] + text, role)
        else:
            pieces.append((text, role))
    return pieces


class LadderDiagram(QuietScrollView, can_focus=True):
    """A sequence diagram of packets between nodes, one arrow per row, virtualized.

    The screen gives it the lifelines and arrows with `set_data`; the heading (node
    names) stays put while the rows scroll, and the view keeps the selected arrow —
    or else the current step's (emphasized) arrows — in sight. Clicking a row or
    moving the cursor with the keys selects an arrow and posts `Selected`.
    """

    @dataclass
    class Selected(Message):
        """The user picked the arrow of packet `number` (a click, or the cursor keys)."""

        number: int

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Previous packet", show=False),
        Binding("down,j", "cursor(1)", "Next packet", show=False),
        Binding("home", "edge(0)", "First packet", show=False),
        Binding("end", "edge(1)", "Last packet", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--heading",
        "ladder--gutter",
        "ladder--lifeline",
        "ladder--arrow",
        "ladder--label",
        "ladder--lost",
        "ladder--emphasis",
        "ladder--selected",
        "ladder--empty",
    }

    DEFAULT_CSS = """
    LadderDiagram { overflow-x: hidden; }
    LadderDiagram > .ladder--heading { text-style: bold; background: $panel; }
    LadderDiagram > .ladder--gutter { color: $text-muted; }
    LadderDiagram > .ladder--lifeline { color: $text-muted; }
    LadderDiagram > .ladder--arrow { color: $text; }
    LadderDiagram > .ladder--label { color: $text; }
    LadderDiagram > .ladder--lost { color: $text-error; text-style: bold; }
    LadderDiagram > .ladder--emphasis { color: $text-accent; text-style: bold; }
    LadderDiagram > .ladder--selected { background: $accent 30%; }
    LadderDiagram:focus > .ladder--selected { background: $accent 60%; }
    LadderDiagram > .ladder--empty { color: $text-muted; text-style: italic; }
    """

    def __init__(
        self,
        *,
        empty_text: str = "No packets yet.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.empty_text = empty_text
        self.columns: list[str] = []
        self.arrows: list[Arrow] = []
        self.selected: int | None = None  # the selected arrow's packet number
        self._rows: dict[int, int] = {}  # packet number → row
        self._layout: LadderLayout | None = None
        self._styles: dict[tuple[str, bool, bool], Style] = {}
        self._strips: dict[tuple[Arrow, bool, LadderLayout], Strip] = {}  # a row, drawn once

    # --- what is shown ----------------------------------------------------------------

    def set_data(
        self, columns: Sequence[str], arrows: Sequence[Arrow], selected: int | None = None
    ) -> None:
        """Show `arrows` between lifelines `columns` (left to right); highlight the arrow
        of packet number `selected`, and scroll it (or the emphasized arrows, or else the
        last arrow) into view."""
        self.columns = list(columns)
        self.arrows = list(arrows)
        self._rows = {arrow.number: row for row, arrow in enumerate(self.arrows)}
        self.selected = selected if selected in self._rows else None
        self._layout = None
        self._resized()
        if self.is_mounted:  # else the first resize reveals it (and again when resized)
            self._reveal_current()

    def select(self, number: int | None) -> None:
        """Highlight the arrow of packet `number` (silently) and scroll it into view."""
        self.selected = number if number in self._rows else None
        self._reveal_current()
        self.refresh()

    @property
    def selected_row(self) -> int | None:
        return self._rows.get(self.selected) if self.selected is not None else None

    def layout_for(self, width: int) -> LadderLayout:
        layout = self._layout
        if layout is None or layout.width != width:
            largest = max(self._rows, default=0)
            layout = self._layout = ladder_layout(self.columns, width, largest_number=largest)
        return layout

    def _resized(self) -> None:
        self.virtual_size = Size(self.view_size.width, len(self.arrows) + 1)
        self.refresh()

    # --- scrolling --------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.view_size.height - 1)  # rows under the heading

    def _reveal_current(self) -> None:
        row = self.selected_row
        if row is not None:
            self._reveal(row, row)
            return
        emphasized = [i for i, arrow in enumerate(self.arrows) if arrow.emphasis]
        if emphasized:
            self._reveal(emphasized[0], emphasized[-1])
        elif self.arrows:  # nothing new and nothing chosen: the latest packets, as they were
            self._reveal(len(self.arrows) - 1, len(self.arrows) - 1)

    def _reveal(self, first: int, last: int) -> None:
        """Scroll so rows `first`..`last` show; when they cannot all, the last of them."""
        top, page = round(self.scroll_y), self._page
        if first >= top and last < top + page:
            return
        if last - first < page:
            target = first if first < top else last - page + 1
        else:
            target = last - page + 1
        self.scroll_to(y=max(0, target), animate=False, immediate=True)

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Scrolled to the current arrow during the layout that resizes the ladder, so the
        # frame that shows it at its new height shows that arrow.
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed and self.arrows:
            self._reveal_current()
        return changed

    def on_resize(self, event: events.Resize) -> None:
        size = Size(self.view_size.width, len(self.arrows) + 1)
        if size.height == self.virtual_size.height:
            # The layout that resized the ladder painted it at its new width already (the
            # rows are drawn for the width they are painted at): no second frame for it.
            self.set_reactive(LadderDiagram.virtual_size, size)
        else:
            self._resized()
        self._reveal_current()

    # --- choosing an arrow ------------------------------------------------------------

    def _choose(self, row: int) -> None:
        if not 0 <= row < len(self.arrows):
            return
        self.selected = self.arrows[row].number
        self._reveal(row, row)
        self.refresh()
        self.post_message(self.Selected(self.selected))

    def action_cursor(self, step: int) -> None:
        if not self.arrows:
            return
        row = self.selected_row
        if row is None:
            emphasized = [i for i, arrow in enumerate(self.arrows) if arrow.emphasis]
            row = emphasized[-1 if step < 0 else 0] if emphasized else len(self.arrows)
            self._choose(min(row, len(self.arrows) - 1))
        else:
            self._choose(max(0, min(row + step, len(self.arrows) - 1)))

    def action_edge(self, end: int) -> None:
        if self.arrows:
            self._choose(len(self.arrows) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        self._choose(round(self.scroll_y) + offset.y - 1)

    # --- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.view_size.width
        base = self.rich_style
        layout = self.layout_for(width)
        if y == 0:
            style = base + self.get_component_rich_style("ladder--heading")
            pieces = ladder_heading(layout, self.columns)
            return Strip([Segment(text, style) for text, _ in pieces]).crop_extend(0, width, style)
        row = round(self.scroll_y) + y - 1
        if row >= len(self.arrows):
            if y == 1 and not self.arrows:
                style = base + self.get_component_rich_style("ladder--empty")
                return Strip([Segment(self.empty_text, style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        arrow = self.arrows[row]
        selected = arrow.number == self.selected
        key = (arrow, selected, layout)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4096:
                self._strips.clear()
            segments = [
                Segment(text, self._style(role, arrow.emphasis, selected))
                for text, role in ladder_row(layout, arrow)
            ]
            strip = Strip(segments).crop_extend(0, width, self._style("", False, selected))
            self._strips[key] = strip
        return strip

    def _style(self, role: str, emphasis: bool, selected: bool) -> Style:
        # Whole component styles (not partial ones): colours such as $text-muted and
        # backgrounds with an alpha are only resolved against the widget's background there.
        key = (role, emphasis, selected)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            kind = "gutter" if role in ("number", "time") else role
            if kind:
                style += self.get_component_rich_style(f"ladder--{kind}")
            if emphasis and role in ("number", "arrow", "label"):
                style += self.get_component_rich_style("ladder--emphasis")
            if selected:
                selection = self.get_component_rich_style("ladder--selected")
                style += Style(bgcolor=selection.bgcolor)
            self._styles[key] = style
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()
        self.refresh()


__all__ = [
    "Arrow",
    "LadderDiagram",
    "LadderLayout",
    "ladder_heading",
    "ladder_layout",
    "ladder_lines",
    "ladder_row",
]
