"""The lesson widgets: ladder diagram, routing table, TCP window — their pure renderers
first, then each widget mounted at 80×24 and 120×40."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget

import simulator.tui
from simulator.ip import Route, RoutingTable
from simulator.lessons.run import TcpSnapshot
from simulator.tui.ladder import Arrow, LadderDiagram, ladder_layout, ladder_lines, ladder_row
from simulator.tui.routes import RoutingTableView, route_table
from simulator.tui.window import ZERO_WINDOW, TcpWindowView, window_bar, window_text

LESSON_TCSS = Path(simulator.tui.__file__).parent / "lesson.tcss"
SIZES = [(80, 24), (120, 40)]

ROUTERS = ["client", "r1", "r2", "r3", "server"]
ROWS = [
    Route.parse("10.0.1.0/24", dev="eth0"),
    Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth1"),
    Route.parse("10.0.0.0/8", via="10.0.1.3", dev="eth1", metric=5),
    Route.parse("default", via="10.0.1.254", dev="eth0"),
]
OPEN = TcpSnapshot("ESTABLISHED", 65535, 20480, 45055, 65535, 1460, 0)
FULL = TcpSnapshot("ESTABLISHED", 4096, 4096, 0, 4096, 0, 0)


def plain(renderable: RenderableType, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.export_text()


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


# --- ladder: pure ---------------------------------------------------------------------


def row_text(columns: list[str], arrow: Arrow, width: int = 80) -> tuple[str, tuple[int, ...]]:
    layout = ladder_layout(columns, width, largest_number=arrow.number)
    return "".join(text for text, _ in ladder_row(layout, arrow)), layout.positions


def test_arrow_points_from_src_to_dst() -> None:
    right, x = row_text(ROUTERS, Arrow(1, 0.0, 0, 1, "SYN"))
    assert right[x[1] - 1] == "►" and right[x[0] + 1] == "─"
    assert right[x[0]] == right[x[1]] == "│"
    left, x = row_text(ROUTERS, Arrow(2, 0.005, 2, 1, "SYN, ACK"))
    assert left[x[1] + 1] == "◄" and left[x[2] - 1] == "─"
    assert "SYN, ACK" in left[x[1] : x[2]]
    assert "►" not in left and "◄" not in right


def test_gutter_shows_number_and_time_wider_time_when_wide() -> None:
    narrow, _ = row_text(ROUTERS, Arrow(7, 1.25, 0, 1, "ACK"), 80)
    wide, _ = row_text(ROUTERS, Arrow(7, 1.25, 0, 1, "ACK"), 120)
    assert narrow.split()[:2] == ["7", "1.250"]
    assert wide.split()[:2] == ["7", "1.250000"]


def test_long_label_is_cut_with_an_ellipsis_to_fit_between_lifelines() -> None:
    label = "SYN, ACK seq=300 ack=101 win=65535"
    line, x = row_text(ROUTERS, Arrow(3, 0.0, 0, 1, label))
    between = line[x[0] + 1 : x[1]]
    assert "…" in between and label not in line
    assert between.endswith("─►") and between.startswith("SYN")
    # Two lifelines far apart have room for all of it.
    line, x = row_text(["client", "server"], Arrow(3, 0.0, 1, 0, label))
    assert f" {label} " in line[x[0] : x[1]]


def test_lost_packet_ends_in_a_cross_short_of_dst() -> None:
    line, x = row_text(ROUTERS, Arrow(4, 0.0, 1, 2, "DATA", lost=True))
    between = line[x[1] + 1 : x[2]]
    assert "✗" in between and "►" not in between
    assert between.rstrip().endswith("✗") and between.endswith(" ")
    line, x = row_text(ROUTERS, Arrow(4, 0.0, 2, 1, "DATA", lost=True))
    between = line[x[1] + 1 : x[2]]
    assert between.lstrip().startswith("✗") and between.startswith(" ")


def test_arrow_over_several_lifelines_crosses_them() -> None:
    line, x = row_text(ROUTERS, Arrow(5, 0.0, 0, 4, "ACK"))
    assert line[x[4] - 1] == "►"
    assert "┼" in {line[x[1]], line[x[3]]}


def test_every_line_is_exactly_the_width() -> None:
    arrows = [
        Arrow(1, 0.0, 0, 4, "TEXT '日本語のメッセージ'"),
        Arrow(2, 0.1, 4, 0, "x" * 200, lost=True),
        Arrow(3, 0.2, 2, 2, "loop"),
    ]
    for width in (40, 80, 120):
        lines = ladder_lines(ROUTERS, arrows, width)
        assert [cell_len(line) for line in lines] == [width] * 4
        assert "r1" in lines[0] and ("server" in lines[0] or "se…" in lines[0])


# --- routing table: pure --------------------------------------------------------------


def test_matched_row_is_marked_and_styled_candidates_dimly() -> None:
    decision = RoutingTable(ROWS).lookup("10.0.2.7")
    styles = {"matched": "bold reverse", "candidate": "dim", "reason": "italic"}
    view = route_table(
        "r1",
        ROWS,
        matched=decision.row,
        candidates=decision.candidates,
        reason=decision.reason,
        styles=styles,
    )
    assert isinstance(view, Group)
    table = next(part for part in view.renderables if isinstance(part, Table))
    assert [row.style for row in table.rows] == [None, "bold reverse", "dim", "dim"]
    text = plain(view, 80)
    assert "r1 routing table" in text
    assert "10.0.2.0/24" in line_with(text, "▶2")  # rows counted from 1
    assert "10.0.0.0/8" in line_with(text, "·3") and "0.0.0.0/0" in line_with(text, "·4")
    assert "directly connected" in line_with(text, "10.0.1.0/24")
    assert "the longest prefix, /24, wins" in text.replace("\n", " ")


def test_narrow_table_is_compact_wide_one_shows_what_each_prefix_covers() -> None:
    narrow = plain(route_table("r1", ROWS, width=40), 40)
    assert "connected" in narrow and "directly connected" not in narrow
    assert "10.0.1.254" in narrow and "covers" not in narrow
    wide = plain(route_table("r1", ROWS, width=110), 110)
    assert "10.0.0.0 – 10.255.255.255" in wide and "every address" in wide


def test_no_route_reason_gets_the_unreachable_style() -> None:
    rows = ROWS[:2]
    decision = RoutingTable(rows).lookup("192.0.2.1")
    view = route_table(
        "r2", rows, reason=decision.reason, styles={"unreachable": "bold", "reason": "italic"}
    )
    assert isinstance(view, Group)
    reason = view.renderables[-1]
    assert isinstance(reason, Text) and reason.style == "bold"
    assert "destination unreachable" in reason.plain
    assert "▶" not in plain(view, 80)


# --- TCP window: pure ------------------------------------------------------------------


def test_bar_splits_the_buffer_in_proportion() -> None:
    assert window_bar(65535, 20480, 45055, 40) == (13, 27, 0)
    assert window_bar(100, 1, 99, 10) == (1, 9, 0)  # one byte still shows
    assert window_bar(4096, 3000, 0, 8) == (6, 0, 2)  # free space not advertised yet
    assert sum(window_bar(1000, 333, 333, 17)) == 17


@pytest.mark.parametrize("width", [38, 100])
def test_zero_window_is_a_warning(width: int) -> None:
    text = window_text("server", FULL, width=width, styles={"warning": "bold red"})
    assert ZERO_WINDOW in text.plain
    start = text.plain.index(ZERO_WINDOW)
    assert any(span.style == "bold red" and span.start <= start < span.end for span in text.spans)
    assert ZERO_WINDOW not in window_text("server", OPEN, width=width).plain


def test_window_text_names_the_numbers() -> None:
    wide = window_text("client", OPEN, width=100).plain
    for words in ("ESTABLISHED", "receive buffer 65535 B", "20480 B", "45055 B", "in flight 1460"):
        assert words in wide
    narrow = window_text("client", OPEN, width=38).plain
    assert "rcv_wnd 45055" in narrow and "snd_wnd 65535" in narrow
    assert window_text("client", None).plain == "client  not connected"


# --- the widgets, mounted ----------------------------------------------------------------


class Harness(App[None]):
    CSS_PATH = LESSON_TCSS

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget
        self.chosen: list[int] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_ladder_diagram_selected(self, message: LadderDiagram.Selected) -> None:
        self.chosen.append(message.number)


def shown(widget: Widget) -> str:
    """What the widget paints, as text."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.size.region))


@pytest.mark.parametrize("size", SIZES)
def test_ladder_keeps_the_step_in_view_and_clicks_select(size: tuple[int, int]) -> None:
    arrows = [
        Arrow(n, n / 100, n % 4, n % 4 + 1, f"DATA seq={n}", emphasis=n >= 70) for n in range(1, 73)
    ]

    async def main() -> None:
        ladder = LadderDiagram()
        ladder.set_data(ROUTERS, arrows, None)  # before it is mounted, as a screen would
        app = Harness(ladder)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            text = shown(ladder)
            assert "client" in text.splitlines()[0]
            assert "DATA seq=72" in text and "DATA seq=1 " not in text
            ladder.set_data(ROUTERS, arrows, 3)  # scrolled back up to packet 3
            await pilot.pause()
            assert "DATA seq=3" in shown(ladder) and "DATA seq=72" not in shown(ladder)
            top = arrows[round(ladder.scroll_y)].number
            await pilot.click(LadderDiagram, offset=(20, 2))  # the heading, then two rows
            await pilot.pause()
            assert app.chosen == [top + 1] and ladder.selected == top + 1
            await pilot.press("down")
            await pilot.pause()
            assert app.chosen == [top + 1, top + 2]

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_routing_table_view_highlights_the_decision(size: tuple[int, int]) -> None:
    async def main() -> None:
        view = RoutingTableView()
        app = Harness(view)
        async with app.run_test(size=size) as pilot:
            view.set_decision("r1", ROWS, RoutingTable(ROWS).lookup("10.0.2.7"))
            await pilot.pause()
            text = shown(view)
            assert "r1 routing table" in text and "10.0.2.0/24" in line_with(text, "▶2")
            assert "directly connected" in text
            assert ("covers" in text) == (size[0] >= 100)
            # title, heading, rows and the reason (two lines when narrow), nothing more
            assert view.size.height == len(ROWS) + (3 if size[0] >= 100 else 4)
            assert all(line.strip() for line in text.splitlines())

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_tcp_window_view_shows_a_zero_window(size: tuple[int, int]) -> None:
    async def main() -> None:
        view = TcpWindowView()
        app = Harness(view)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert "not connected" in shown(view) and view.has_class("-closed")
            view.set_snapshot("server", OPEN)
            await pilot.pause()
            assert "rcv_wnd" in shown(view) and not view.has_class("-zero-window")
            view.set_snapshot("server", FULL)
            await pilot.pause()
            assert ZERO_WINDOW in shown(view) and view.has_class("-zero-window")

    asyncio.run(main())
