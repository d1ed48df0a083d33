"""The break-it sandbox screen at 80×24, driven by keys: presets, flips, typed values, send."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Footer, Input, OptionList, Static

import simulator.tui
from simulator.lessons import Progress, load_course
from simulator.sandbox import judge
from simulator.tui.course import CourseApp
from simulator.tui.messages import OpenSandbox
from simulator.tui.screens.sandbox import (
    PromptScreen,
    SandboxScreen,
    hex_text,
    presets_title,
    verdict_text,
)
from simulator.ws.frames import serialize_frame
from tests.lessons.sandbox_frames import varied_frames

SANDBOX_TCSS = Path(simulator.tui.__file__).parent / "sandbox.tcss"
SIZE = (80, 24)
CLIENT_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 §5.7, masked "Hello"
SERVER_HELLO = bytes.fromhex("810548656c6c6f")


class Host(App[None]):
    """An empty app that opens the sandbox on one frame, with the sandbox's styles."""

    CSS_PATH = SANDBOX_TCSS

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
        assert "… INCOMPLETE · the server waits for 10 more bytes before it acts on" in shown
        assert "REJECTED" not in shown and "answer" not in shown

    run(scenario)


def test_the_unchanged_frame_is_accepted_and_reset_undoes_edits() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "enter")
        assert "✓ ACCEPTED · the server delivered a TEXT message of 5 bytes" in verdict_of(screen)
        assert "event   TEXT 'Hello' [5 chars]" in verdict_of(screen)
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
            app.post_message(OpenSandbox(serialize_frame(0x9, b"hi"), from_client=False))
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SandboxScreen)
            await press(pilot, "enter")
            assert "✓ ACCEPTED · the client answered the PING (2 bytes) with a PONG" in (
                verdict_of(screen)
            )
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


# --- every preset the title promises is on screen ---------------------------------------

SIZES = [(80, 24), (100, 30), (120, 40)]
_RUN = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
    r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)


def screen_lines(svg: str, width: int) -> list[str]:
    """The characters of an `export_screenshot()`, one string per terminal line."""
    cell = None
    runs: dict[int, dict[int, str]] = {}
    for x, length, line, content in _RUN.findall(svg):
        text = html.unescape(content).replace("\xa0", " ")
        if cell is None and text:
            cell = float(length) / len(text)
        runs.setdefault(int(line), {})[int(float(x) / (cell or 1) + 0.5)] = text
    lines = []
    for number in range(max(runs, default=-1) + 1):
        row = [" "] * width
        for column, text in runs.get(number, {}).items():
            row[column : column + len(text)] = text
        lines.append("".join(row)[:width])
    return lines


def promised(title: str) -> int:
    """How many presets have a key, by the pane's title: "Presets (1–9; …)" promises 9."""
    match = re.match(r"Presets \(1(?:–(\d))?[;)]", title)
    assert match, title
    return int(match.group(1) or 1)


def test_the_presets_title_tells_the_truth() -> None:
    assert presets_title(17) == "Presets (1–9; 8 more: ↓ and space)"
    assert presets_title(9) == "Presets (1–9)"
    assert presets_title(4) == "Presets (1–4)"
    assert presets_title(1) == "Presets (1)"
    assert presets_title(0) == "Presets (none for this frame)"
    assert [promised(presets_title(n)) for n in (17, 9, 4, 1)] == [9, 9, 4, 1]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize(
    ("frame", "from_client"),
    [(CLIENT_HELLO, True), (SERVER_HELLO, False), (serialize_frame(0x9, b"?"), False)],
    ids=["client-text", "server-text", "server-ping"],
)
def test_every_preset_the_title_names_is_on_screen(
    size: tuple[int, int], frame: bytes, from_client: bool
) -> None:
    async def main() -> None:
        app = Host(frame, from_client)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SandboxScreen)
            pane = screen.query_one("#sandbox-presets", OptionList)
            title = str(pane.border_title)
            lines = screen_lines(app.export_screenshot(), size[0])
            region = pane.region
            inside = [line[region.x : region.right] for line in lines[region.y : region.bottom]]
            assert title in inside[0]  # the whole title, not cut short
            for number, preset in enumerate(screen.presets[: promised(title)], 1):
                shown = f"{number} {preset.name}"
                assert any(shown in line for line in inside[1:-1]), (shown, inside)
            # ... and every header field too.
            fields = screen.query_one("#sandbox-fields", OptionList).region
            rows = "\n".join(
                line[fields.x : fields.right] for line in lines[fields.y : fields.bottom]
            )
            for field in screen.fields:
                assert field.label in rows, field.label

    asyncio.run(main())


# --- every verdict says what happened after the dot -------------------------------------


def test_every_verdict_shown_says_what_happened() -> None:
    wrong = []
    for name, wire, from_client in varied_frames():
        headline = verdict_text(judge(wire, from_client=from_client)).plain.split("\n", 1)[0]
        mark_and_status, dot, what = headline.partition(" · ")
        if mark_and_status not in ("✓ ACCEPTED", "✗ REJECTED", "… INCOMPLETE"):
            wrong.append(f"{name}: {headline!r}")
        elif not dot or not what.strip():
            wrong.append(f"{name}: nothing after the dot: {headline!r}")
    assert not wrong, "\n".join(wrong)


def test_a_first_fragment_says_the_server_waits_for_the_rest() -> None:
    async def scenario(pilot: Pilot[None], screen: SandboxScreen) -> None:
        await press(pilot, "space", "enter")  # FIN, the first field, := 0; send
        assert screen.data[0] == 0x01
        shown = verdict_of(screen).split("\n", 1)[0]
        assert shown == (
            "✓ ACCEPTED · the first fragment of a TEXT message (5 bytes so far): the server "
            "waits for continuation frames (opcode 0x0, the last with FIN = 1) before it "
            "delivers the message"
        )

    run(scenario)
