"""Snapshots of the inspector at 80×24 and 120×40 on the fake model, and of a real session.

Update them with `pytest tests/tui/test_snapshots.py --snapshot-update`, and only
after looking at the report (or at the SVGs in __snapshots__).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from simulator.cli import _model
from simulator.trace import Trace
from simulator.trace.pcap import open_capture
from simulator.tui.app import InspectorApp
from simulator.tui.filter_bar import FilterBar
from simulator.tui.screens.inspector import InspectorScreen
from tests.tui.fakes import fake_model
from tests.tui.sessions import TEXT_PACKET, session_pcap

SnapCompare = Callable[..., bool]
SIZES = [(80, 24), (120, 40)]

# Packet 3 (a masked "hello"): its tree shows TCP stream and WebSocket, both closed (the
# fake's unmasked payload is a top-level field in a buffer of its own, like a reassembled
# message), then the unmasked payload. The tree starts with no field selected: the first
# "down" selects its first line. Open WebSocket with space, then down to the opcode:
# FIN, RSV1-3, opcode.
TO_OPCODE = ["down", "down", "2", "down", "down", "space", *["down"] * 5]


def app() -> InspectorApp:
    return InspectorApp(fake_model(), source="handshake-and-echo.pcap")


async def no_blink(pilot: Pilot[None]) -> None:
    pilot.app.query_one(FilterBar).cursor_blink = False


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_opcode_bits_selected(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Packet 3's opcode: its byte highlighted, its bits on the ruler, its explanation."""
    assert snap_compare(app(), press=TO_OPCODE, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_unmasked_payload_buffer(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The unmasked payload: the hex pane switched to buffer 2 and says so."""
    assert snap_compare(app(), press=["down", "down", "2", "end"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_invalid_filter(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """A filter missing its value: red border and the column of the problem."""
    keys = ["slash", *"ws.opcode =="]
    assert snap_compare(app(), press=keys, terminal_size=size, run_before=no_blink)


def test_filtered_list(snap_compare: SnapCompare) -> None:
    """ws.opcode == text applied: three packets shown of nine."""
    keys = ["slash", *"ws.opcode == text", "enter", "wait:200"]
    assert snap_compare(app(), press=keys, terminal_size=(120, 40), run_before=no_blink)


def test_problem_packet(snap_compare: SnapCompare) -> None:
    """Packet 7 sets RSV1: red in the list, a warning in the tree and the explanation."""
    keys = ["down"] * 6 + ["2", "down", "down", "space", "down", "down"]  # open WebSocket: RSV1
    assert snap_compare(app(), press=keys, terminal_size=(120, 40))


def test_real_session_opcode(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """A recorded session (tests/tui/sessions.py), packet 8: the masked text frame it completed
    open below its closed IP and TCP layers and named by its buffer, the opcode selected (its
    byte in the frame's buffer, its bits on the ruler); Info without the addresses."""
    capture = open_capture(session_pcap(tmp_path / "session.pcap"))

    async def to_opcode(pilot: Pilot[None]) -> None:
        # The packet, then the tree: Frame, IPv4, TCP, WebSocket, FIN, RSV1-3, opcode.
        await pilot.press(*["down"] * TEXT_PACKET, "2", *["down"] * 9)
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, InspectorScreen) and screen.record == TEXT_PACKET
        assert screen.field is not None and screen.field.name == "ws.opcode"

    inspector = InspectorApp(_model(capture), source="session.pcap")
    try:
        assert snap_compare(inspector, run_before=to_opcode, terminal_size=(120, 40))
    finally:
        capture.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_follow_stream(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(app(), press=["f", "wait:200"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(app(), press=["question_mark"], terminal_size=size)


def test_waiting_for_live_traffic(snap_compare: SnapCompare) -> None:
    live = InspectorApp(
        fake_model(Trace()),
        source="live · ws://127.0.0.1:8765/",
        empty_text="Waiting for traffic: connect a client to ws://127.0.0.1:8765/",
        live=True,
    )
    assert snap_compare(live, terminal_size=(80, 24))
