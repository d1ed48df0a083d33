"""`w` in the inspector saves what it shows as a pcap: socket records become packets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from simulator.cli import _model
from simulator.dissect.filters import compile_filter
from simulator.network.scenarios import run_built_in
from simulator.trace import Endpoint, Layer, Trace
from simulator.trace.pcap import open_capture
from simulator.trace.segments import tcp_segment
from simulator.tui.app import InspectorApp
from simulator.tui.screens.inspector import InspectorScreen
from simulator.tui.screens.save import SaveScreen

CLIENT = Endpoint("127.0.0.1", 50000)
SERVER = Endpoint("127.0.0.1", 8765)


def _trace() -> Trace:
    trace = Trace()
    trace.append(1.0, Layer.STREAM, b"GET / HTTP/1.1\r\n\r\n", src=CLIENT, dst=SERVER, connection=1)
    trace.append(
        1.5,
        Layer.STREAM,
        b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n",
        src=SERVER,
        dst=CLIENT,
        connection=1,
    )
    return trace


def save_note(screen: Any) -> object:
    return screen.query_one("#save-note", Static).content


def test_a_capture_is_saved_as_captured(tmp_path: Path) -> None:
    """Only socket-level records are turned into packets: a capture's note says so."""
    path = tmp_path / "in.pcap"
    run_built_in("lost-segment", 0).write_pcap(path)

    async def main() -> None:
        with open_capture(str(path)) as capture:
            capture.index()
            async with InspectorApp(_model(capture)).run_test(size=(80, 24)) as pilot:
                await pilot.press("w")
                await pilot.pause()
                note = str(save_note(pilot.app.screen))
                assert "as they were captured" in note and "Socket" not in note

    asyncio.run(asyncio.wait_for(main(), 60))


def test_w_saves_the_records_as_packets_where_the_user_says(tmp_path: Path) -> None:
    target = tmp_path / "session.pcap"

    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="live · test", live=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("w")
            await pilot.pause()
            assert isinstance(pilot.app.screen, SaveScreen)
            assert pilot.app.screen.query_one(Input).value == "wirelab-live.pcap"
            assert "Socket-level traffic becomes" in str(save_note(pilot.app.screen))
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
            screen = await _prompt(pilot)
            assert screen.query_one(Input).value == "rec-saved.pcap"
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(pilot.app.screen, SaveScreen)

    asyncio.run(asyncio.wait_for(main(), 60))
    assert list(tmp_path.iterdir()) == []


async def _prompt(pilot: Any) -> SaveScreen:
    """Press `w`: the prompt."""
    await pilot.press("w")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SaveScreen)
    return screen


async def _save_with(
    pilot: Any, path: Path, *, keys: tuple[str, ...] = (), confirm: bool = False
) -> None:
    """Press `w`, type `path`, press `keys` (e.g. to change the choice), Enter (twice with
    `confirm`), then wait for the save to finish."""
    screen = await _prompt(pilot)
    screen.query_one(Input).value = str(path)
    for key in keys:
        await pilot.press(key)
    await pilot.press("enter")
    if confirm:
        await pilot.pause()
        assert "exists: Enter again replaces it" in str(screen.query_one("#save-keys").render())
        screen.query_one(Input).focus()
        await pilot.press("enter")
    await pilot.pause()
    assert not isinstance(pilot.app.screen, SaveScreen)
    await pilot.app.workers.wait_for_complete()


def _client_payload(path: Path) -> bytes:
    with open_capture(str(path)) as capture:
        capture.index()
        segments = [tcp_segment(capture.record(i)) for i in range(len(capture))]
    return b"".join(s.payload for s in segments if s is not None and s.src == CLIENT)


def test_with_a_filter_w_saves_the_packets_it_shows_or_all_when_asked(tmp_path: Path) -> None:
    """Seen: `w` wrote all 20 packets while the filter showed none."""
    shown, every = tmp_path / "shown.pcap", tmp_path / "every.pcap"

    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="rec.pcap")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = pilot.app.screen
            assert isinstance(screen, InspectorScreen)
            screen.apply_filter(compile_filter("http.response.code == 400"))
            for _ in range(100):  # bounded: the filter runs in a worker
                await pilot.pause(0.02)
                if screen.packets.count == 1:
                    break
            await _save_with(pilot, shown)
            await _save_with(pilot, every, keys=("shift+tab", "down", "enter", "tab"))

    asyncio.run(asyncio.wait_for(main(), 60))
    assert _client_payload(shown) == b""  # the response alone
    assert _client_payload(every) == b"GET / HTTP/1.1\r\n\r\n"


def test_a_file_that_exists_is_replaced_only_after_a_second_enter(tmp_path: Path) -> None:
    target = tmp_path / "old.pcap"
    target.write_bytes(b"keep me")

    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="rec.pcap")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _prompt(pilot)
            screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await pilot.pause()
            assert pilot.app.screen is screen and target.read_bytes() == b"keep me"
            await pilot.press("escape")
            await pilot.pause()
            await _save_with(pilot, target, confirm=True)

    asyncio.run(asyncio.wait_for(main(), 60))
    assert _client_payload(target) == b"GET / HTTP/1.1\r\n\r\n"


def test_a_file_that_cannot_be_written_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "x.pcap"

    async def main() -> None:
        app = InspectorApp(_model(_trace()), source="rec.pcap")
        async with app.run_test(size=(80, 24)) as pilot:
            await _save_with(pilot, target)
            messages = [n.message for n in pilot.app._notifications]
            assert any(str(target.parent) in m for m in messages), messages
            assert pilot.app.is_running

    asyncio.run(asyncio.wait_for(main(), 60))
    assert not target.exists()
