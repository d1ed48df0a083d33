"""The inspector on a real echo server in its own event loop (what `wirelab serve` runs),
on a capture that indexes itself in the background, and the `inspect` command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from simulator.cli import build_parser
from simulator.errors import WirelabError
from simulator.live import connect, site, trace_tap
from simulator.trace import Trace, WireRecord
from simulator.tui.app import InspectorApp
from simulator.tui.packet_list import PacketList
from simulator.tui.screens.error import ErrorScreen
from simulator.tui.screens.inspector import InspectorScreen
from simulator.views.inspector import SourceModel, raw_dissection
from tests.tui.fakes import fake_dissect, fake_trace

BIN = Path(sys.executable).parent


def test_the_inspector_follows_a_live_server_in_the_same_loop() -> None:
    trace = Trace()

    async def main() -> None:
        server = site(port=0, tap=trace_tap(trace))
        await server.start()
        app = InspectorApp(SourceModel(trace, raw_dissection), source=server.url, live=True)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = pilot.app.screen_stack[0]
                assert isinstance(screen, InspectorScreen)
                packets = screen.query_one(PacketList)
                client = await connect(server.url)
                client.send_text("hello")
                assert str(await client.recv(timeout=5)) == "TEXT 'hello' [5 chars]"
                await client.close()
                # request, 101, text, echo, close, close (reads may merge under load)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and (
                    len(trace) < 6 or packets.count != len(trace) or screen.record != 5
                ):
                    await pilot.pause(0.1)
                assert packets.count == len(trace) == 6
                assert screen.record == 5  # followed the traffic
                assert screen.dissection is not None
                assert screen.dissection.buffers[0].data == trace[5].data
                await pilot.press("f")
                await pilot.app.workers.wait_for_complete()
                await pilot.pause()
                view = pilot.app.screen.query_one("#conversation")
                turns = view.turns  # type: ignore[attr-defined]
                assert [turn.direction for turn in turns] == ["client", "server"] * 3
        finally:
            await server.shutdown()

    asyncio.run(main())


class SlowCapture:
    """Indexes a record per step, slowly, like a large pcap."""

    def __init__(self, initial: int) -> None:
        self.trace = fake_trace()
        self.visible = initial
        self.size = 9000
        self.done = False
        self.problems: list[str] = []

    @property
    def bytes_indexed(self) -> int:
        return self.visible * 1000

    def __len__(self) -> int:
        return self.visible

    def record(self, index: int) -> WireRecord:
        return self.trace.record(index)

    def index_steps(self, batch: int) -> Iterator[int]:
        while self.visible < len(self.trace):
            time.sleep(0.2)
            self.visible += 1
            if self.visible == len(self.trace):
                self.problems.append("packet 9: cut short (captured 8 of 10 bytes)")
            yield self.visible
        self.done = True


@pytest.mark.parametrize(("initial", "cursor"), [(3, 0), (0, 8)])
def test_background_indexing_shows_progress_and_rows_as_they_come(
    initial: int, cursor: int
) -> None:
    """A capture opened with some packets indexed stays on packet 1; one opened empty
    has its cursor on the last row as rows arrive, so it follows them."""
    capture = SlowCapture(initial)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen_stack[0]
        assert isinstance(screen, InspectorScreen)
        packets = screen.query_one(PacketList)
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while not capture.done and time.monotonic() < deadline:
            seen.add(str(packets.border_subtitle))
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        assert packets.count == 9
        assert any("indexing" in text for text in seen), seen
        assert "indexing" not in str(packets.border_subtitle)
        assert screen.record == cursor
        notes = [n.message for n in pilot.app._notifications]
        assert "packet 9: cut short (captured 8 of 10 bytes)" in notes
        assert "⚠ 1 problem" in str(packets.border_subtitle)

    async def main() -> None:
        app = InspectorApp(SourceModel(capture, fake_dissect))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


class BrokenCapture(SlowCapture):
    def index_steps(self, batch: int) -> Iterator[int]:
        yield 1
        raise WirelabError("capture.pcap: the file ends in the middle of packet 4")


def test_an_indexing_failure_opens_a_modal() -> None:
    async def main() -> None:
        app = InspectorApp(SourceModel(BrokenCapture(3), fake_dissect))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            screen = pilot.app.screen
            assert isinstance(screen, ErrorScreen)
            assert screen.title_text == "Indexing the capture failed"
            assert screen.message == "capture.pcap: the file ends in the middle of packet 4"
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, InspectorScreen)
            assert pilot.app.screen.query_one(PacketList).count == 3

    asyncio.run(main())


# --- the command line -------------------------------------------------------------------


def wirelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wirelab"), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_inspect_is_a_command() -> None:
    args = build_parser().parse_args(["inspect", "capture.pcap"])
    assert args.command == "inspect" and args.file == "capture.pcap"


def test_inspect_a_missing_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = wirelab("inspect", str(tmp_path / "nothing.pcap"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"wirelab: no such file: {tmp_path / 'nothing.pcap'}"


def test_inspect_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a capture\n")
    result = wirelab("inspect", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("wirelab: ")


def test_wirelab_alone_still_prints_help() -> None:
    result = wirelab()
    assert result.returncode == 0
    assert "inspect" in result.stdout and "serve" in result.stdout
