"""`wirelab serve`'s screen: the connection table follows the server, and choosing a
connection filters the packet list to its bytes."""

from __future__ import annotations

import asyncio

from rich.text import Text

from simulator.cli import _model
from simulator.live import connect, site, trace_tap
from simulator.trace import Trace
from simulator.tui.app import ServeApp
from simulator.tui.connections import ConnectionTable
from simulator.tui.filter_bar import FilterBar
from simulator.tui.packet_list import PacketList
from simulator.tui.screens.serve import ServeScreen
from tests.tui.course_support import until


def test_connections_are_listed_and_choosing_one_filters_to_it() -> None:
    trace = Trace()

    async def main() -> None:
        server = site(port=0, tap=trace_tap(trace))
        await server.start()
        app = ServeApp(_model(trace), server, source=server.url)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen
                assert isinstance(screen, ServeScreen)
                table = screen.query_one(ConnectionTable)
                echo = await connect(server.url + "echo")
                chat = await connect(server.url + "chat")
                echo.send_text("one")
                await echo.recv(5)
                await chat.recv(5)  # the welcome
                await until(pilot, lambda: len(table.rows_now) == 2, "two rows")
                await until(
                    pilot,
                    lambda: all(row.bytes_out > 0 for row in table.rows_now.values()),
                    "bytes counted",
                )
                rows = sorted(table.rows_now.values(), key=lambda row: row.number)
                assert [(row.path, row.service, row.state) for row in rows] == [
                    ("/echo", "echo", "open"),
                    ("/chat", "chat", "open"),
                ]
                assert all(row.extensions.startswith("permessage-deflate; ") for row in rows)
                session = next(s for s in server.sessions if s.path == "/echo")
                assert rows[0].bytes_in == session.bytes_in
                assert rows[0].bytes_out == session.bytes_out
                assert rows[0].peer.endswith(f":{echo.info.local[1]}")  # type: ignore[union-attr]
                # Choose the chat connection: only its records stay.
                await pilot.press("c", "down", "enter")
                packets = screen.query_one(PacketList)
                chat_records = [r.index for r in trace if r.connection == rows[1].number]
                await until(pilot, lambda: packets.count == len(chat_records), "the filter")
                assert screen.query_one(FilterBar).value == f"stream.connection == {rows[1].number}"
                assert screen.focused is packets
                # "a" shows everything again.
                await pilot.press("a")
                await until(pilot, lambda: packets.count == len(trace), "all records")
                await echo.close()
                await chat.close()
                await until(
                    pilot,
                    lambda: [row.state for row in table.rows_now.values()] == ["closed"] * 2,
                    "both closed",
                )
        finally:
            await server.shutdown()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_long_table_follows_new_connections_and_keeps_the_byte_counts_in_view() -> None:
    """Seen: a long `permessage-deflate; server_max_window_bits=12; …` cell pushed the
    byte columns off screen at 120 columns, and new connections did not scroll into
    view. A path with markup in it is shown as it is (a str cell is read as markup)."""
    trace = Trace()

    async def main() -> None:
        server = site(port=0, tap=trace_tap(trace))
        await server.start()
        app = ServeApp(_model(trace), server, source=server.url)
        clients = []
        try:
            async with app.run_test(size=(80, 30)) as pilot:
                table = app.screen.query_one(ConnectionTable)
                for n in range(12):
                    clients.append(await connect(f"{server.url}echo/[/]{n}[b]"))
                await until(pilot, lambda: len(table.rows_now) == 12, "twelve rows")
                await until(pilot, lambda: table.scroll_y == table.max_scroll_y > 0, "the end")
                text = "\n".join(
                    "".join(segment.text for segment in line)
                    for line in table.render_lines(table.region.reset_offset)
                )
                assert "/echo/[/]11[b]" in text  # the newest row, as the peer wrote it
                header = next(line for line in text.splitlines() if " peer " in line)
                assert header.strip("│ ").split()[:5] == ["#", "peer", "state", "in", "out"]
                # Scrolled up to read, the table stays there when another comes.
                table.scroll_home(animate=False)
                await pilot.pause()
                clients.append(await connect(f"{server.url}echo"))
                await until(pilot, lambda: len(table.rows_now) == 13, "a thirteenth")
                await pilot.pause()
                assert table.scroll_y == 0
                # The highlighted row's whole extensions are shown below the table.
                table.move_cursor(row=0)
                await pilot.pause()
                subtitle = Text.from_markup(str(table.border_subtitle)).plain  # as shown
                assert subtitle.startswith("/echo/[/]0[b]  permessage-deflate; ")
        finally:
            for client in clients:
                await client.close()
            await server.shutdown()

    asyncio.run(asyncio.wait_for(main(), 60))
