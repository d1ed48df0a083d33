"""`w` in the inspector saves what it shows as a pcap: socket records become packets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input

from simulator.cli import _model
from simulator.trace import Endpoint, Layer, Trace
from simulator.trace.pcap import open_capture
from simulator.trace.segments import tcp_segment
from simulator.tui.app import InspectorApp
from simulator.tui.screens.save import SaveScreen

CLIENT = Endpoint("127.0.0.1", 50000)
SERVER = Endpoint("127.0.0.1", 8765)


def _trace() -> Trace:
    trace = Trace()
    trace.append(1.0, Layer.STREAM, b"GET / HTTP/1.1\r\n\r\n", src=CLIENT, dst=SERVER, connection=1)
    trace.append(
        1.5, Layer.STREAM, b"HTTP/1.1 400 Bad\r\n\r\n", src=SERVER, dst=CLIENT, connection=1
    )
    return trace


def test_w_saves_the_records_as_packets_where_the_user_says(tmp_path: Path) -> None:
    target = tmp_path / "session.pcap"

    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="live · test", live=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("w")
            await pilot.pause()
            assert isinstance(pilot.app.screen, SaveScreen)
            assert pilot.app.screen.query_one(Input).value == "wirelab-live.pcap"
            pilot.app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            for _ in range(100):  # bounded: the save runs in a worker thread
                await pilot.pause(0.05)
                if target.exists():
                    break
            await pilot.app.workers.wait_for_complete()

    asyncio.run(asyncio.wait_for(main(), 60))
    with open_capture(str(target)) as capture:
        capture.index()
        segments = [tcp_segment(capture.record(i)) for i in range(len(capture))]
    payload = b"".join(s.payload for s in segments if s is not None and s.src == CLIENT)
    assert payload == b"GET / HTTP/1.1\r\n\r\n"
    assert len(segments) > 2, "a handshake and a teardown around the two writes"


def test_escape_cancels_the_save(tmp_path: Path) -> None:
    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="rec.pcap")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("w")
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, SaveScreen)
            assert screen.query_one(Input).value == "rec-saved.pcap"
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, SaveScreen)

    asyncio.run(asyncio.wait_for(main(), 60))
    assert list(tmp_path.iterdir()) == []
