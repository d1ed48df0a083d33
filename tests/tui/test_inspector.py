"""The inspector driven like a user would: keys and mouse through Pilot, on a fake model
(and, for what depends on the real dissectors, on a recorded session)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets.tree import TreeNode

import simulator.tui.hex_view
from simulator.cli import _model
from simulator.dissect import Dissection, Field
from simulator.dissect.conversation import Turn
from simulator.dissect.hexdump import hex_line
from simulator.network.scenarios import run_built_in
from simulator.trace import Layer, Trace, WireRecord
from simulator.trace.pcap import open_capture
from simulator.tui.app import InspectorApp
from simulator.tui.bit_ruler import BitRuler
from simulator.tui.conversation import ConversationView
from simulator.tui.explanation import ExplanationBar
from simulator.tui.field_tree import FieldTree
from simulator.tui.filter_bar import FilterBar
from simulator.tui.hex_view import HexView
from simulator.tui.packet_list import PacketList
from simulator.tui.screens.error import ErrorScreen
from simulator.tui.screens.follow import FollowScreen
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.inspector import InspectorScreen
from simulator.views.inspector import Row, SourceModel
from tests.tui.fakes import CLIENT, SERVER, big_trace, fake_dissect, fake_model, fake_trace, frame
from tests.tui.sessions import TEXT_PACKET, session_pcap

Scenario = Callable[[Pilot[None]], Awaitable[None]]


def run(app: InspectorApp, scenario: Scenario, size: tuple[int, int] = (120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


def screen_of(pilot: Pilot[None]) -> InspectorScreen:
    screen = pilot.app.screen_stack[0]
    assert isinstance(screen, InspectorScreen)
    return screen


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their messages land."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def tree_to(pilot: Pilot[None], name: str, *, limit: int = 40) -> None:
    """Focus the field tree and press down until the field called `name` is selected."""
    screen = screen_of(pilot)
    await pilot.press("2")
    await pilot.press("home")
    await pilot.pause()
    for _ in range(limit):
        if screen.field is not None and screen.field.name == name:
            return
        await pilot.press("down")
        await pilot.pause()
    raise AssertionError(f"no field {name!r} in the tree")


async def open_node(pilot: Pilot[None], name: str) -> None:
    """Select the field called `name` (closed) in the tree and open it with the space bar."""
    await tree_to(pilot, name)
    node = screen_of(pilot).query_one(FieldTree).cursor_node
    assert node is not None and node.allow_expand and not node.is_expanded
    await pilot.press("space")
    await pilot.pause()
    assert node.is_expanded


def below(node: TreeNode[Field]) -> Iterator[TreeNode[Field]]:
    """Every node under `node`, depth first."""
    for child in node.children:
        yield child
        yield from below(child)


def top_level(tree: FieldTree) -> list[tuple[str, bool]]:
    """The tree's first-level branches: (field name, open)."""
    return [
        (node.data.name, node.is_expanded)
        for node in tree.root.children
        if node.data is not None and node.allow_expand
    ]


# --- the three panes --------------------------------------------------------------------


def test_starts_on_the_first_packet() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        assert pilot.app.focused is screen.query_one(PacketList)
        assert screen.record == 0
        assert screen.dissection is not None and screen.dissection.protocol == "HTTP"
        hex_view = screen.query_one(HexView)
        assert hex_view.data == screen.model.dissect(0).buffers[0].data
        assert "GET /chat HTTP/1.1 (upgrade)" in str(screen.query_one(ExplanationBar).render())

    run(InspectorApp(fake_model()), scenario)


def test_arrow_keys_and_clicks_select_rows() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("down", "down")
        await pilot.pause()
        assert screen.record == 2
        assert screen.dissection is not None and screen.dissection.protocol == "WebSocket"
        await pilot.press("end")
        await pilot.pause()
        assert screen.record == 8
        await pilot.press("home")
        await pilot.pause()
        assert screen.record == 0
        # border (1) + heading (1) + row 5 (index 4)
        await pilot.click(PacketList, offset=(10, 6))
        await pilot.pause()
        assert screen.record == 4
        assert screen.query_one(PacketList).cursor == 4

    run(InspectorApp(fake_model()), scenario)


def test_clicking_a_field_highlights_its_bytes_and_double_clicking_a_row_opens_its_fields() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.click(PacketList, offset=(10, 4), times=2)  # packet 3
        await pilot.pause()
        assert screen.record == 2
        tree = screen.query_one(FieldTree)
        assert pilot.app.focused is tree
        # TCP stream and WebSocket are closed (the fake's unmasked payload is a top-level
        # field in a buffer of its own, like a reassembled message): a click on
        # WebSocket's arrow (border, then line 2) opens it, selecting nothing
        assert top_level(tree) == [("tcp", False), ("ws", False)]
        await pilot.click(FieldTree, offset=(1, 2))
        await pilot.pause()
        assert top_level(tree) == [("tcp", False), ("ws", True)]
        assert tree.cursor_line == -1  # nothing selected
        # border (1) + line 10: TCP stream, WebSocket, FIN, RSV1-3, opcode, MASK,
        # payload length, masking key
        await pilot.click(FieldTree, offset=(10, 10))
        await pilot.pause()
        assert screen.field is not None and screen.field.name == "ws.masking_key"
        assert screen.query_one(HexView).highlight == (2, 6)

    run(InspectorApp(fake_model()), scenario)


def test_enter_on_a_packet_goes_to_its_fields() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.focused, FieldTree)

    run(InspectorApp(fake_model()), scenario)


def test_selecting_a_field_highlights_its_bytes_and_shows_its_bits() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("down", "down")  # the masked "hello"
        await open_node(pilot, "ws")
        await tree_to(pilot, "ws.masking_key")
        hex_view = screen.query_one(HexView)
        assert hex_view.highlight == (2, 6)
        assert hex_view.cursor == 2
        assert not screen.query_one(BitRuler).has_class("-bits")
        assert "ws.masking_key  bytes 2–5" in str(screen.query_one(ExplanationBar).render())

        await tree_to(pilot, "ws.opcode")
        assert hex_view.highlight == (0, 1)
        ruler = screen.query_one(BitRuler)
        assert ruler.has_class("-bits")
        assert str(ruler.render()) == "bits 1000 0001  fin=1 rsv1=0 rsv2=0 rsv3=0 opcode=0001"
        explanation = str(screen.query_one(ExplanationBar).render())
        assert explanation.startswith("ws.opcode  byte 0, bits 4–7  What the frame carries")

    run(InspectorApp(fake_model()), scenario)


def test_a_field_in_another_buffer_switches_the_hex_pane() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("down", "down")
        await open_node(pilot, "ws")
        await tree_to(pilot, "ws.unmasked")
        hex_view = screen.query_one(HexView)
        assert hex_view.buffer == 1
        assert hex_view.data == b"hello"
        assert hex_view.highlight == (0, 5)
        assert str(screen.query_one("#bytes").border_title) == (
            "Bytes 2/2 (b: next) · Unmasked payload"
        )
        # back to a field of the frame itself
        await pilot.press("up")
        await pilot.pause()
        assert hex_view.buffer == 0
        assert screen.field is not None and screen.field.name == "ws.payload"
        assert hex_view.highlight == (6, 11)
        # 'b' cycles the buffers by hand
        await pilot.press("b")
        await pilot.pause()
        assert hex_view.buffer == 1 and hex_view.highlight is None

    run(InspectorApp(fake_model()), scenario)


def test_moving_the_hex_cursor_selects_the_field_that_owns_the_byte() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("down", "down")
        await pilot.press("3")  # focus the hex pane
        hex_view = screen.query_one(HexView)
        assert pilot.app.focused is hex_view
        await pilot.press("right")
        await settle(pilot)
        assert hex_view.cursor == 0  # the cursor appears on the first byte
        assert screen.field is not None and screen.field.name == "ws.opcode"
        await pilot.press("right", "right")
        await settle(pilot)
        assert hex_view.cursor == 2
        assert screen.field is not None and screen.field.name == "ws.masking_key"
        assert hex_view.highlight == (2, 6)
        await pilot.press("right")  # still inside the key: the selection stays
        await settle(pilot)
        assert hex_view.cursor == 3 and hex_view.highlight == (2, 6)
        tree = screen.query_one(FieldTree)
        assert tree.field is screen.field
        # a click on the ASCII column of byte 8 (payload)
        await pilot.click(HexView, offset=(4 + 2 + 48 + 2 + 8, 0))
        await settle(pilot)
        assert hex_view.cursor == 8
        assert screen.field is not None and screen.field.name == "ws.payload"
        assert hex_view.highlight == (6, 11)
        # and on the hex digits of byte 1 (MASK and payload length share it: the last wins)
        await pilot.click(HexView, offset=(4 + 2 + 3, 0))
        await settle(pilot)
        assert hex_view.cursor == 1
        assert screen.field is not None and screen.field.name == "ws.payload_length"

    run(InspectorApp(fake_model()), scenario)


def test_the_selected_field_stays_when_moving_to_the_next_packet() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        tree = screen.query_one(FieldTree)
        await pilot.press("down", "down")
        await open_node(pilot, "ws")
        await tree_to(pilot, "ws.opcode")
        await pilot.press("1", "down")
        await settle(pilot)
        assert screen.record == 3
        assert screen.field is not None and screen.field.name == "ws.opcode"
        assert tree.field is screen.field
        assert screen.query_one(HexView).highlight == (0, 1)
        # packet 5 is masked: its WebSocket layer starts closed, and opens for the field
        await pilot.press("down")
        await settle(pilot)
        assert screen.record == 4
        assert screen.field is not None and screen.field.name == "ws.opcode"
        assert tree.field is screen.field
        assert top_level(tree) == [("tcp", False), ("ws", True)]
        assert screen.query_one(HexView).highlight == (0, 1)

    run(InspectorApp(fake_model()), scenario)


def test_problems_are_marked_in_the_tree() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.click(PacketList, offset=(10, 8))  # packet 7: RSV1 set
        await pilot.pause()
        assert screen.record == 6
        await open_node(pilot, "ws")
        await tree_to(pilot, "ws.rsv1")
        tree = screen.query_one(FieldTree)
        assert tree.cursor_node is not None
        assert "⚠ RSV1 set but no extension was negotiated" in str(tree.cursor_node.label)
        assert "⚠ RSV1 set" in str(screen.query_one(ExplanationBar).render())

    run(InspectorApp(fake_model()), scenario)


def run_session(tmp_path: Path, scenario: Scenario) -> None:
    """`scenario` on the recorded session (tests/tui/sessions.py), dissected as `inspect` does."""
    capture = open_capture(session_pcap(tmp_path / "session.pcap"))
    try:
        run(InspectorApp(_model(capture), source="session.pcap"), scenario)
    finally:
        capture.close()


def test_the_tree_opens_the_messages_a_packet_completed_or_else_its_top_layer(
    tmp_path: Path,
) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        tree = screen.query_one(FieldTree)
        # packet 1, a SYN, completes no message: its top-most layer is open
        assert screen.record == 0
        assert top_level(tree) == [("frame", False), ("ip", False), ("tcp", True)]
        # packet 4 completes the upgrade request: that is open, the packet's layers closed
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert top_level(tree) == [("frame", False), ("ip", False), ("tcp", False), ("http", True)]
        # packet 8 completes the text frame: open all the way down (the unmasking too)
        await pilot.press(*["down"] * (TEXT_PACKET - 3))
        await pilot.pause()
        assert screen.record == TEXT_PACKET
        assert top_level(tree) == [("frame", False), ("ip", False), ("tcp", False), ("ws", True)]
        frame = tree.root.children[-1]
        assert [n.data.name for n in below(frame) if n.data and n.allow_expand] == [
            "ws.payload",
            "ws.unmasking",
        ]
        assert all(node.is_expanded for node in below(frame) if node.allow_expand)
        # nothing is selected until the user picks a field
        assert tree.cursor_line == -1 and screen.field is None

    run_session(tmp_path, scenario)


def test_a_branch_names_the_buffer_it_moves_into_and_its_fields_do_not(tmp_path: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        tree = screen.query_one(FieldTree)
        await pilot.press(*["down"] * TEXT_PACKET)
        await pilot.pause()
        labels = {n.data.name: str(n.label) for n in below(tree.root) if n.data is not None}
        # the frame (buffer 2, not the packet's bytes), without the size and packet numbers
        # the Bytes title gives
        assert labels["ws"] == (
            "WebSocket TEXT 'hello, wirelab' [14 bytes, masked]"
            "  [WebSocket frame 127.0.0.1:50000 → 127.0.0.1:8765]"
        )
        # within the frame, the unmasking steps and the text are in a third buffer
        assert labels["ws.unmasking"] == (
            "Unmasking (payload XOR masking key): key c4 bb 86 c3, repeated every 4 bytes"
            "  [Unmasked payload]"
        )
        assert labels["ws.text"] == "Text: 'hello, wirelab'  [Unmasked payload]"
        # and nothing else says where it is: it is where its parent is
        for node in below(tree.root):
            parent = node.parent.data if node.parent is not None else None
            if node.data is not None and parent is not None and parent.buffer == node.data.buffer:
                assert str(node.label) == str(node.data), node.data.name

    run_session(tmp_path, scenario)


# --- filter -----------------------------------------------------------------------------


def test_the_filter_validates_as_you_type_and_applies_on_enter() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        packets = screen.query_one(PacketList)
        bar = screen.query_one(FilterBar)
        await pilot.press("slash")
        assert pilot.app.focused is bar
        await pilot.press(*"ws.opcode ==")
        await pilot.pause()
        assert bar.has_class("-invalid")
        assert bar.border_subtitle == "✗ column 13: expected a value after '=='"
        await pilot.press("enter")  # not applied
        await settle(pilot)
        assert packets.count == 9 and not packets.filtered
        await pilot.press(*" text")
        await pilot.pause()
        assert not bar.has_class("-invalid")
        assert bar.border_subtitle == "Enter applies"
        await pilot.press("enter")
        await settle(pilot)
        # Read afresh: mypy still holds the focused bar and the unfiltered list from above.
        focused: Widget | None = pilot.app.focused
        filtered: bool = packets.filtered
        assert focused is packets
        assert filtered
        assert [packets.record_at(i) for i in range(packets.count)] == [2, 3, 6]
        assert screen.record == 2
        assert "3 shown" in str(packets.border_subtitle)
        # a different filter: the cursor goes to the first match
        await pilot.press("slash", "ctrl+u", *"tcp.port == 8765 and not ws", "enter")
        await settle(pilot)
        assert [packets.record_at(i) for i in range(packets.count)] == [0, 1]
        # clearing it shows everything, and the cursor stays on its packet
        await pilot.press("down")
        await pilot.pause()
        assert screen.record == 1
        await pilot.press("slash", "ctrl+u", "enter")
        await settle(pilot)
        assert not packets.filtered and packets.count == 9
        assert screen.record == 1

    run(InspectorApp(fake_model()), scenario)


def test_a_filter_with_no_match_empties_the_panes() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("slash", *"udp", "enter")
        await settle(pilot)
        assert screen.query_one(PacketList).count == 0
        assert screen.record is None and screen.dissection is None
        assert screen.query_one(HexView).data == b""

    run(InspectorApp(fake_model()), scenario)


def test_the_filter_bar_completes_field_names_and_refuses_unknown_ones() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        bar = screen_of(pilot).query_one(FilterBar)
        await pilot.press("slash", *"http.ho")
        await pilot.pause()
        await pilot.pause()  # the suggestion comes from a worker
        await pilot.press("tab")
        await pilot.pause()
        assert bar.value == "http.host" and pilot.app.focused is bar
        await pilot.press("ctrl+u", *"tcp.port == 80 and http.hots")
        await pilot.pause()
        assert bar.has_class("-invalid")
        assert bar.border_subtitle == (
            "✗ column 20: no field is called 'http.hots'; did you mean http.host or http.date "
            "or http.body?"
        )
        await pilot.press("ctrl+u", *"frame.len > 1", "tab")  # nothing to complete: moves on
        await pilot.pause()
        assert pilot.app.focused is not bar

    run(InspectorApp(fake_model()), scenario)


def test_escape_leaves_the_filter_bar() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("slash", "q")  # q types, it does not quit
        await pilot.pause()
        bar = screen_of(pilot).query_one(FilterBar)
        assert bar.value == "q"
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.focused is not bar

    run(InspectorApp(fake_model()), scenario)


def test_filtering_a_large_trace_runs_in_a_worker_with_progress() -> None:
    count = 20_000

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        packets = screen.query_one(PacketList)
        # Every status shown, not samples of it: with the worker holding the GIL, the
        # test's own pauses may not come round before the filter is done.
        seen: list[str] = []
        show_status = screen.show_status

        def recording() -> None:
            show_status()
            seen.append(str(packets.border_subtitle))

        screen.show_status = recording  # type: ignore[method-assign]
        await pilot.press("slash", *"tcp.srcport == 8765", "enter")
        await pilot.pause()
        deadline = time.monotonic() + 60
        while screen._filtering and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await settle(pilot)
        assert packets.count == count // 2
        assert packets.record_at(0) == 1 and packets.record_at(packets.count - 1) == count - 1
        # progress along the way, from the worker (0% is shown when the filter starts)
        assert any(re.search(r"filtering [1-9]\d?%", text) for text in seen), seen
        assert "filtering" not in seen[-1]

    run(InspectorApp(SourceModel(big_trace(count), fake_dissect)), scenario)


# --- other screens ----------------------------------------------------------------------


def test_follow_stream_shows_the_conversation() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("down", "f")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, FollowScreen)
        view = screen.query_one(ConversationView)
        assert len(view.turns) == 9
        assert [turn.direction for turn in view.turns[:2]] == ["client", "server"]
        assert "9 messages: 5 from the client" in str(screen.query_one("#follow-title").render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, InspectorScreen)

    run(InspectorApp(fake_model()), scenario)


def test_help_lists_the_keys() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, HelpScreen)
        console = Console(width=100, record=True)
        console.print(screen.table)
        shown = console.export_text()
        for words in ("Follow stream", "Next buffer", "Byte left", "Last packet", "contains"):
            assert words in shown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, InspectorScreen)

    run(InspectorApp(fake_model()), scenario)


class BrokenConversation(SourceModel):
    def conversation(self, index: int) -> list[Turn]:
        raise RuntimeError("the reassembler fell over")


def test_a_worker_error_opens_a_modal_not_a_traceback() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("f")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.title_text == "Following the stream failed"
        assert screen.message == "RuntimeError: the reassembler fell over"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, FollowScreen)
        assert pilot.app.is_running

    run(InspectorApp(BrokenConversation(fake_trace(), fake_dissect)), scenario)


# --- live and large ---------------------------------------------------------------------


def test_a_live_trace_shows_new_rows_and_follows_them_from_the_last_row() -> None:
    trace = Trace()

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        packets = screen.query_one(PacketList)
        assert packets.count == 0
        record: int | None = screen.record  # not screen.record: mypy would keep it None
        assert record is None
        for src, dst, data in [(CLIENT, SERVER, frame(1, b"a", masked=True)),
                               (SERVER, CLIENT, frame(1, b"a", masked=False))]:  # fmt: skip
            trace.append(time.time(), Layer.STREAM, data, src=src, dst=dst, connection=1)
        await pilot.pause(0.3)
        assert packets.count == 2
        assert screen.record == 1  # live: an empty list follows the traffic
        trace.append(time.time(), Layer.STREAM, frame(9, b"", masked=True), src=CLIENT, dst=SERVER)
        await pilot.pause(0.3)
        assert packets.count == 3 and screen.record == 2
        # off the last row, the cursor stays put
        await pilot.press("up")
        await pilot.pause()
        trace.append(
            time.time(), Layer.STREAM, frame(10, b"", masked=False), src=SERVER, dst=CLIENT
        )
        await pilot.pause(0.3)
        assert packets.count == 4 and screen.record == 1
        assert "4 packets" in str(packets.border_subtitle)

    run(InspectorApp(fake_model(trace), live=True), scenario)


def test_a_live_trace_under_a_filter_adds_matching_rows() -> None:
    trace = fake_trace()

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        packets = screen.query_one(PacketList)
        await pilot.press("slash", *"ws.opcode == 9", "enter")
        await settle(pilot)
        assert packets.count == 0
        trace.append(9.0, Layer.STREAM, frame(9, b"", masked=True), src=CLIENT, dst=SERVER)
        trace.append(9.1, Layer.STREAM, frame(10, b"", masked=False), src=SERVER, dst=CLIENT)
        await pilot.pause(0.3)
        await settle(pilot)
        assert [packets.record_at(i) for i in range(packets.count)] == [9]

    run(InspectorApp(fake_model(trace)), scenario)


class CountingModel(SourceModel):
    def __init__(self, trace: Trace) -> None:
        super().__init__(trace, fake_dissect)
        self.rows_asked: set[int] = set()

    def row(self, index: int) -> Row:
        self.rows_asked.add(index)
        return super().row(index)


def test_a_hundred_thousand_rows_render_only_what_is_on_screen() -> None:
    model = CountingModel(big_trace(100_000))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        packets = screen.query_one(PacketList)
        assert packets.count == 100_000
        started = time.monotonic()
        await pilot.press("end")
        await pilot.pause()
        assert screen.record == 99_999
        for _ in range(20):
            await pilot.press("pageup")
        await pilot.pause()
        assert time.monotonic() - started < 10
        visible = packets.scrollable_content_region.height
        assert len(model.rows_asked) < 25 * visible
        assert not [i for i in model.rows_asked if visible * 2 < i < 90_000]
        assert "100,000 packets" in str(packets.border_subtitle)

    run(InspectorApp(model), scenario)


def test_a_16_mib_buffer_renders_only_the_rows_on_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = bytes(range(256)) * (16 << 12)  # 16 MiB
    trace = Trace()
    trace.append(0.0, Layer.STREAM, frame(2, payload, masked=False), src=SERVER, dst=CLIENT)
    rendered: list[int] = []
    original = hex_line  # what simulator.tui.hex_view imported

    def counting(data: bytes, row: int, **options: object) -> object:
        rendered.append(row)
        return original(data, row, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(simulator.tui.hex_view, "hex_line", counting)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        hex_view = screen.query_one(HexView)
        assert len(hex_view.data) == len(payload) + 10
        height = hex_view.scrollable_content_region.height
        assert len(rendered) <= 3 * height
        await tree_to(pilot, "ws.payload")
        assert hex_view.highlight == (10, len(payload) + 10)
        await pilot.press("3", "end")
        await pilot.pause()
        assert hex_view.cursor == len(hex_view.data) - 1
        assert max(rendered) == (len(hex_view.data) - 1) // 16
        assert len(rendered) <= 20 * height

    run(InspectorApp(fake_model(trace)), scenario)


# --- sizes ------------------------------------------------------------------------------


def test_resizing_restacks_the_panes() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        fields, hex_pane = screen.query_one("#fields"), screen.query_one("#bytes")

        def stacked() -> bool:
            # fields above bytes, both the full width, the fields 3 parts of 5 (±1 line)
            width = screen.size.width
            ratio = abs(fields.region.height * 2 - hex_pane.region.height * 3)
            return (
                fields.region.bottom == hex_pane.region.y
                and fields.region.width == hex_pane.region.width == width
                and ratio <= 5
            )

        # 120×40: stacked, so the field tree gets the whole width
        assert screen.has_class("-narrow") and screen.has_class("-tall")
        assert stacked()
        await pilot.resize_terminal(150, 40)
        await pilot.pause()
        assert screen.has_class("-wide") and not screen.has_class("-narrow")
        assert fields.region.y == hex_pane.region.y  # side by side
        assert fields.region.right == hex_pane.region.x
        assert hex_pane.region.width == 77
        await pilot.resize_terminal(149, 40)
        await pilot.pause()
        assert screen.has_class("-narrow") and stacked()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.has_class("-narrow") and screen.has_class("-short")
        assert stacked()
        assert screen.query_one(HexView).scrollable_content_region.width >= 72  # 16 bytes fit
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert screen.has_class("-wide") and screen.has_class("-tall")
        assert fields.region.y == hex_pane.region.y

    run(InspectorApp(fake_model()), scenario)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 40)])
def test_the_first_frame_is_laid_out_for_the_terminal_size(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """The size classes are set before the first layout, not one frame after it:
    the panes do not jump, and the hex pane is drawn at one height only."""
    heights: set[int] = set()
    render_line = HexView.render_line

    def watched(self: HexView, y: int) -> Strip:
        heights.add(self.scrollable_content_region.height)
        return render_line(self, y)

    monkeypatch.setattr(HexView, "render_line", watched)

    async def scenario(pilot: Pilot[None]) -> None:
        assert heights == {screen_of(pilot).query_one(HexView).scrollable_content_region.height}

    run(InspectorApp(fake_model()), scenario, size=size)


def test_a_record_whose_dissector_fails_still_shows_its_bytes() -> None:
    def broken(record: WireRecord) -> Dissection:
        if record.index == 1:
            raise KeyError("no such field")
        return fake_dissect(record)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        await pilot.press("down")
        await pilot.pause()
        assert screen.dissection is not None
        assert screen.dissection.problems == ("dissector error: KeyError('no such field')",)
        assert screen.query_one(HexView).data.startswith(b"HTTP/1.1 101")

    run(InspectorApp(SourceModel(fake_trace(), broken)), scenario)


def test_tcp_analysis_marks_the_info_column_and_colours_bad_tcp(tmp_path: Path) -> None:
    """The slow reader's zero windows, probes and full window are marked first in the Info
    column and coloured as Wireshark's "Bad TCP" rule does; window updates are marked
    but not coloured (the rule leaves them out)."""
    path = tmp_path / "slow.pcap"
    run_built_in("flow-control-slow-reader", 0).write_pcap(path)
    capture = open_capture(path)
    capture.index()

    async def scenario(pilot: Pilot[None]) -> None:
        packets = screen_of(pilot).query_one(PacketList)
        model = packets.model
        rows = [model.row(i) for i in range(len(model))]
        zero = [r for r in rows if r.info.startswith("[TCP ZeroWindow] ")]
        updates = [r for r in rows if r.info.startswith("[TCP Window Update] ")]
        assert zero and updates
        assert all(r.bad_tcp for r in zero) and not any(r.bad_tcp for r in updates)
        assert re.match(r"\[TCP ZeroWindow\] 80 → 49152 \[ACK\] ", zero[0].info)
        marked = [r for r in rows if r.info.startswith("[")]
        assert not any(r.bad_tcp for r in rows if r not in marked)
        # drawn red on black, the cursor elsewhere
        bad = packets.get_component_rich_style("packet-list--bad-tcp")
        line = packets.render_line(1 + zero[0].number - 1)  # below the heading
        assert any(s.style is not None and s.style.bgcolor == bad.bgcolor for s in line)
        assert bad.color is not None and bad.bgcolor is not None

    try:
        run(InspectorApp(_model(capture), source="slow.pcap"), scenario)
    finally:
        capture.close()


def test_a_filter_with_markup_in_it_is_shown_as_typed() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        screen = screen_of(pilot)
        bar = screen.query_one(FilterBar)
        await pilot.press("slash", *'ws "[/]"')  # invalid: the error quotes it
        await pilot.pause()
        # (read back as markup: "\[" is a "[" shown)
        assert "[/]" in str(bar.border_subtitle).replace("\\[", "[")
        await pilot.press("ctrl+u", *'ws.text == "[/b]"', "enter")  # valid: the title shows it
        await settle(pilot)
        shown = str(screen.query_one(PacketList).border_subtitle).replace("\\[", "[")
        assert '(ws.text == "[/b]")' in shown

    run(InspectorApp(fake_model()), scenario)
