"""A router's routing table, the row a lookup chose marked and the reason under it.

`route_table` builds the Rich renderable from plain values (rows, the chosen
row, the rows that also matched, the reason); `RoutingTableView` only asks it
again when the data or its width changes. Wide views add a column with the
addresses each prefix covers; narrow ones say "connected" for "directly
connected".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import StyleType
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from simulator.ip import Decision, Route
from simulator.tui.panes import quiet_virtual_size

#: Below this width the table is compact; from `WIDE` on it gains the "covers" column.
NARROW = 64
WIDE = 90

MATCHED = "▶"  # the row the lookup chose
CANDIDATE = "·"  # a row that matched too, and lost to a longer prefix or a lower metric


def route_table(
    router: str,
    rows: Sequence[Route],
    *,
    matched: int | None = None,
    candidates: Sequence[int] = (),
    reason: str = "",
    width: int = 80,
    title: bool = True,
    styles: Mapping[str, StyleType] | None = None,
) -> RenderableType:
    """The title (unless `title` is false), the table and the reason, for a view `width`
    cells wide.

    Row `matched` is marked ▶ and styled "matched"; the other `candidates` are
    marked · and styled "candidate". `styles` maps these roles — "title",
    "heading", "matched", "candidate", "reason", "unreachable", "muted" — to
    Rich styles; a role it leaves out is unstyled.
    """
    style = dict(styles or {})
    compact = width < NARROW
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(f"{router} routing table", style.get("title", "")))
    if not rows:
        parts.append(Text("no routes", style.get("muted", "")))
    else:
        table = Table(
            box=None,
            padding=(0, 1, 0, 0) if compact else (0, 1),  # one space between columns, or two
            pad_edge=False,
            show_edge=False,
            expand=False,
            header_style=style.get("heading", ""),
        )
        table.add_column(" #", justify="right", no_wrap=True, min_width=2)
        longest = max(len(str(route.prefix)) for route in rows)  # never cut a prefix
        table.add_column("destination", no_wrap=True, overflow="ellipsis", min_width=longest)
        table.add_column("gateway", no_wrap=True, overflow="ellipsis")
        table.add_column("iface" if compact else "interface", no_wrap=True, overflow="ellipsis")
        table.add_column("metric", justify="right", no_wrap=True, min_width=6)
        wide = width >= WIDE
        if wide:
            table.add_column("covers", no_wrap=True, overflow="ellipsis", style=style.get("muted"))
        others = set(candidates) - {matched}
        for index, route in enumerate(rows):
            if index == matched:
                mark, role = MATCHED, "matched"
            elif index in others:
                mark, role = CANDIDATE, "candidate"
            else:
                mark, role = " ", ""
            cells = [  # Text: a str cell would be read as markup
                Text(f"{mark}{index + 1}"),  # rows counted from 1, as lessons and checkpoints do
                Text(str(route.prefix)),
                Text(route.gateway(compact=compact)),
                Text(route.interface),
                Text(str(route.metric)),
            ]
            if wide:
                cells.append(Text(route.covers))
            table.add_row(*cells, style=style.get(role) if role else None)
        parts.append(table)
    if reason:
        role = "reason" if matched is not None else "unreachable"
        parts.append(Text(reason, style.get(role, "")))
    return Group(*parts)


class Drawn:
    """Lines already rendered, given to Textual as a renderable."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = max((Segment.get_line_length(line) for line in self.lines), default=0)
        return Measurement(width, width)


class RoutingTableView(Widget):
    """One router's table; the screen sets it with `set_table` (or `set_decision`).

    `show_title` puts "r1 routing table" above it (leave it off when a border
    title names the router).
    """

    virtual_size = quiet_virtual_size()  # as tall as its text: one layout a change

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "routes--title",
        "routes--heading",
        "routes--matched",
        "routes--candidate",
        "routes--reason",
        "routes--unreachable",
        "routes--muted",
    }

    DEFAULT_CSS = """
    RoutingTableView { height: auto; }
    RoutingTableView > .routes--title { text-style: bold; }
    RoutingTableView > .routes--heading { color: $text-muted; text-style: bold; }
    RoutingTableView > .routes--matched { background: $accent 40%; text-style: bold; }
    RoutingTableView > .routes--candidate { background: $primary 15%; }
    RoutingTableView > .routes--reason { color: $text; }
    RoutingTableView > .routes--unreachable { color: $text-warning; text-style: bold; }
    RoutingTableView > .routes--muted { color: $text-muted; }
    """

    def __init__(
        self,
        *,
        show_title: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.show_title = show_title
        self.router = ""
        self.rows: tuple[Route, ...] = ()
        self.matched: int | None = None
        self.candidates: tuple[int, ...] = ()
        self.reason = ""
        self._drawn: dict[tuple[object, ...], Drawn] = {}  # a few widths: measured, then painted

    def set_table(
        self,
        router: str,
        rows: Sequence[Route],
        *,
        matched: int | None = None,
        candidates: Sequence[int] = (),
        reason: str = "",
    ) -> None:
        """Show `router`'s `rows`, row `matched` highlighted, `candidates` dimly, `reason` below."""
        self.router = router
        self.rows = tuple(rows)
        self.matched = matched
        self.candidates = tuple(candidates)
        self.reason = reason
        self.refresh(layout=True)

    def set_decision(self, router: str, rows: Sequence[Route], decision: Decision | None) -> None:
        """`set_table` with a lookup's outcome (None: no lookup to show, only the table)."""
        if decision is None:
            self.set_table(router, rows)
        else:
            self.set_table(
                router,
                rows,
                matched=decision.row,
                candidates=decision.candidates,
                reason=decision.reason,
            )

    def render(self) -> RenderableType:
        # Drawn once for what it shows and its width: a Rich table is slow to lay out, and
        # Textual asks for it to measure the widget's height and again to paint it.
        width = self.size.width - self.styles.gutter.width  # not `content_size`: see `drawn`
        return self.drawn(width if width > 0 else 80)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.drawn(width).lines)

    def drawn(self, width: int) -> Drawn:
        """The table drawn `width` cells wide (cached: the layout measures it, then it paints).

        The width comes from the layout: asking for `content_size` while the screen is
        being laid out makes Textual map the whole screen again, once per call.
        """
        key = (self.router, self.rows, self.matched, self.candidates, self.reason, width)
        found = self._drawn.get(key)
        if found is not None:
            return found
        # Whole component styles: $text-muted and backgrounds with an alpha are resolved
        # against the widget's background only there.
        roles = ("title", "heading", "matched", "candidate", "reason", "unreachable", "muted")
        styles = {role: self.get_component_rich_style(f"routes--{role}") for role in roles}
        table = route_table(
            self.router,
            self.rows,
            matched=self.matched,
            candidates=self.candidates,
            reason=self.reason,
            width=width,
            title=self.show_title,
            styles=styles,
        )
        console = self.app.console
        lines = console.render_lines(table, console.options.update(width=max(width, 1)), pad=False)
        drawn = Drawn(lines)
        if len(self._drawn) > 8:
            self._drawn.clear()
        self._drawn[key] = drawn
        return drawn

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()


__all__ = ["RoutingTableView", "route_table"]
