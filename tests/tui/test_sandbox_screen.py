"""The break-it sandbox screen at 80×24, driven by keys: presets, flips, typed values, send."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Footer, Input, OptionList, Static

from simulator.lessons import Progress, load_course
from simulator.tui.course import CourseApp
from simulator.tui.screens.sandbox import PromptScreen, SandboxScreen, hex_text
from simulator.ws.frames import serialize_frame

SIZE = (80, 24)
CLIENT_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 §5.7, masked "Hello"
SERVER_HELLO = bytes.fromhex("810548656c6c6f")


class Host(App[None]):
    """An empty app that opens the sandbox on one frame."""

    def __init__(self, frame: bytes, from_client: bool) -> None:
        super().__init__()
        self.frame = frame
        self.from_client = from_client

    def on_mount(self) -> None:
        self.push_screen(SandboxScreen(self.frame, self.from_client))


Scenario = Callable[[Pilot[None], SandboxScreen], Awaitable[None]]


def run(scenario: Scenario, frame: bytes = CLIENT_HELLO, from_client: bool = True) -> None:
    async def main() -> None:
        app = Host(frame, from_client)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SandboxScreen)
            await scenario(pilot, screen)

    asyncio.run(main())


def verdict_of(screen: SandboxScreen) -> str:
    return str(screen.query_one("#sandbox-verdict", Static).content)


async def press(pilot: Pilot[None], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


def test_a_preset_sent_shows_the_engine_s_verdict() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        assert "Enter to send" in verdict_of(screen)
        await press(pilot, "1")
        assert "clear MASK" in verdict_of(screen)
        assert screen.data[1] == 0x05  # only the MASK bit moved
        assert screen.query_one("#sandbox-bytes").border_subtitle == "1 byte edited"
        await press(pilot, "enter")
        shown = verdict_of(screen)
        assert "✗ REJECTED · close 1002: protocol error" in shown
        assert "reason  client frame is not masked" in shown
        assert "RFC 6455 §5.1: a server MUST close the connection" in shown
        assert "section RFC 6455 §5.1" in shown
        # The close frame the server queued, byte for byte: 88 1c, code 03 ea, the reason.
        assert "answer  88 1c 03 ea 63 6c 69 65 6e 74" in shown

    run(scenario)


def test_invalid_utf8_gets_1007_and_s_sends_too() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "5", "s")
        shown = verdict_of(screen)
        assert "close 1007: invalid payload data" in shown
        assert "text message is not valid UTF-8" in shown
        assert "§8.1" in shown

    run(scenario)


def test_a_length_lie_is_shown_as_incomplete() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "4", "enter")
        shown = verdict_of(screen)
        assert "… INCOMPLETE · incomplete: the receiver waits for 10 more bytes" in shown
        assert "REJECTED" not in shown and "answer" not in shown

    run(scenario)


def test_the_unchanged_frame_is_accepted_and_reset_undoes_edits() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "enter")
        assert "✓ ACCEPTED · TEXT 'Hello' [5 chars]" in verdict_of(screen)
        await press(pilot, "3")
        assert screen.data != CLIENT_HELLO
        await press(pilot, "r")
        assert screen.data == CLIENT_HELLO and screen.edits == []
        assert not screen.query_one("#sandbox-bytes").border_subtitle
        await press(pilot, "enter")
        assert "ACCEPTED" in verdict_of(screen)

    run(scenario)


def test_space_flips_the_highlighted_header_bit() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        fields = screen.query_one("#sandbox-fields", OptionList)
        assert screen.focused is fields
        await press(pilot, "down", "space")  # FIN, then RSV1
        assert screen.data[0] == 0xC1
        option = fields.get_option_at_index(1)
        assert "RSV1" in str(option.prompt) and "1" in str(option.prompt)
        await press(pilot, "enter")  # sends: Enter never selects in the lists
        assert "RSV bits set without a negotiated extension" in verdict_of(screen)
        assert "§5.2" in verdict_of(screen)

    run(scenario)


def test_a_typed_opcode_is_written_into_the_header() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "down", "down", "down", "down", "space")  # the opcode
        prompt = pilot.app.screen
        assert isinstance(prompt, PromptScreen)
        prompt.query_one(Input).value = "0xb"
        await press(pilot, "enter")
        assert pilot.app.screen is screen
        assert screen.data[0] == 0x8B
        await press(pilot, "enter")
        assert "reserved opcode 0xb" in verdict_of(screen)

    run(scenario)


def test_a_bad_typed_value_is_reported_not_raised() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "x")
        prompt = pilot.app.screen
        assert isinstance(prompt, PromptScreen)
        prompt.query_one(Input).value = "99 00"
        await press(pilot, "enter")
        assert pilot.app.screen is screen and screen.data == CLIENT_HELLO
        assert any("past the end" in n.message for n in pilot.app._notifications)

    run(scenario)


def test_a_server_frame_is_judged_by_a_client() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        title = str(screen.query_one("#sandbox-title", Static).content)
        assert "a server's frame → a real client engine" in title
        await press(pilot, "1", "enter")  # set MASK
        assert "server frame is masked" in verdict_of(screen)
        assert "a client MUST close a connection if it detects a masked frame" in verdict_of(screen)

    run(scenario, SERVER_HELLO, from_client=False)


def test_everything_fits_at_80_by_24() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "6", "enter")  # the longest frame a preset makes: 134 bytes
        width, height = SIZE
        for widget_id in ("#sandbox-title", "#sandbox-fields", "#sandbox-presets"):
            region = screen.query_one(widget_id).region
            assert region.right <= width and region.bottom <= height, widget_id
        hex_box = screen.query_one("#sandbox-bytes").region
        verdict_box = screen.query_one("#sandbox-verdict-box").region
        assert hex_box.width >= 75 and hex_box.height >= 3  # 16 bytes a row fit
        assert verdict_box.height >= 4 and verdict_box.bottom <= height - 1
        assert screen.query_one(Footer).region.y == height - 1
        assert "ping" in str(screen.query_one("#sandbox-bytes").border_title).lower()
        assert "control frame with a 126-byte payload" in verdict_of(screen)
        await press(pilot, "escape")
        assert not isinstance(pilot.app.screen, SandboxScreen)

    run(scenario)


def test_the_course_app_opens_the_sandbox(tmp_path: Path) -> None:
    async def main() -> None:
        app = CourseApp(load_course(user=False), Progress(tmp_path / "progress.json"))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.open_sandbox(serialize_frame(0x9, b"hi"), from_client=False)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SandboxScreen)
            await press(pilot, "enter")
            assert "✓ ACCEPTED · PING b'hi'" in verdict_of(screen)
            assert "§5.5.2" in verdict_of(screen)
            await press(pilot, "escape")
            assert not isinstance(app.screen, SandboxScreen)

    asyncio.run(main())


def test_hex_text_marks_the_edited_bytes() -> None:
    text = hex_text(bytes(range(18)), frozenset({1, 17}), style="bold")
    lines = text.plain.split("\n")
    assert lines[0].startswith("0000  00 01 02 03 04 05 06 07  08 09")
    assert lines[1].startswith("0010  10 11")
    marked = [text.plain[s.start : s.end] for s in text.spans if s.style == "bold"]
    assert marked == ["01", ".", "11", "."]
