"""The break-it sandbox: flip a frame's bits, lie about its length, send it, read the verdict.

    Break it · a client's frame → a real server engine
    ┌ Header (space flips/edits) ─┐┌ Presets (1–9; 7 more: ↓ and space) ─┐
    │ FIN             1           ││ 1 clear MASK                        │
    │ MASK            1  …        ││ 2 set RSV1  …                       │
    └─────────────────────────────┘└─────────────────────────────────────┘
    ┌ Bytes · TEXT 'Hello' [5 bytes, masked] ──────────── 1 byte edited ┐
    │0000  81 05 37 fa 21 3d 7f 9f  4d 51 58         ..7.!=..MQX        │
    └────────────────────────────────────────────────────────────────────┘
    ┌ Verdict ───────────────────────────────────────────────────────────┐
    │ ✗ REJECTED · close 1002: protocol error …  reason · rule · answer  │
    └────────────────────────────────────────────────────────────────────┘

Every byte comes from `simulator.sandbox`: the edits rewrite the frame,
`judge` runs the real engine on it. This screen only shows what they return.
Keys 1-9 apply the first nine presets; the rest are reached in the list (↓, space).
Styles: `simulator/tui/sandbox.tcss`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from simulator.dissect.hexdump import BYTES_PER_ROW, offset_digits
from simulator.sandbox import (
    Edit,
    EditError,
    HeaderField,
    Preset,
    Status,
    Verdict,
    apply_edits,
    changed_offsets,
    describe,
    header_fields,
    judge,
    presets,
    set_byte,
    set_payload_bytes,
)
from simulator.text import plural

MAX_HEX_ROWS = 64  # a 1 KiB window on the frame; the rest is counted, not drawn
LABEL_WIDTH = 15
PRESET_KEYS = 9  # presets 1-9 have a key; the rest are picked in the list

STATUS_MARKS: dict[Status, str] = {"ACCEPTED": "✓", "REJECTED": "✗", "INCOMPLETE": "…"}
STATUS_CLASSES: dict[Status, str] = {
    "ACCEPTED": "sandbox--accepted",
    "REJECTED": "sandbox--rejected",
    "INCOMPLETE": "sandbox--waiting",
}


def presets_title(count: int) -> str:
    """The presets pane's title: which keys pick presets, and how to reach the others."""
    if not count:
        return "Presets (none for this frame)"
    if count == 1:
        return "Presets (1)"
    keys = min(count, PRESET_KEYS)
    title = f"Presets (1–{keys}"
    if count > keys:
        title += f"; {count - keys} more: ↓ and space"
    return title + ")"


def verdict_text(verdict: Verdict, *, headline_style: Style | str = "bold") -> Text:
    """The verdict as lines: the headline (what happened), then reason, rule, the answer
    frame, the events (pure)."""
    text = Text()
    text.append(f"{STATUS_MARKS[verdict.status]} {verdict.headline}", headline_style)
    rows: list[tuple[str, str]] = []
    if not verdict.accepted and not verdict.incomplete:
        rows.append(("reason", verdict.reason))
    elif verdict.close_code is not None:
        rows.append(("close", f"{verdict.close_code}: {verdict.meaning}"))
    rows.append(("rule", verdict.rule))
    rows.append(("section", verdict.citation))
    if verdict.close_frame is not None:
        rows.append(("answer", verdict.close_frame.hex(" ")))
    for reply in verdict.replies:
        rows.append(("queued", reply))
    for event in verdict.events:
        rows.append(("event", event))
    for label, value in rows:
        text.append(f"\n{label:<8}", "bold")
        text.append(value)
    return text


def hex_text(data: bytes, marked: frozenset[int], *, style: Style | str = "reverse") -> Text:
    """A hex dump of `data` with the bytes at `marked` offsets in `style` (pure)."""
    digits = offset_digits(len(data))
    text = Text(no_wrap=True, overflow="crop")
    rows = (len(data) + BYTES_PER_ROW - 1) // BYTES_PER_ROW
    for row in range(min(rows, MAX_HEX_ROWS)):
        if row:
            text.append("\n")
        start = row * BYTES_PER_ROW
        chunk = data[start : start + BYTES_PER_ROW]
        text.append(f"{start:0{digits}x}  ", "dim")
        for column in range(BYTES_PER_ROW):
            if column == BYTES_PER_ROW // 2:
                text.append(" ")
            if column < len(chunk):
                text.append(f"{chunk[column]:02x}", style if start + column in marked else "")
            else:
                text.append("  ")
            text.append(" ")
        text.append(" ")
        for column, byte in enumerate(chunk):
            char = chr(byte) if 0x20 <= byte < 0x7F else "."
            text.append(char, style if start + column in marked else "dim" if char == "." else "")
    if not data:
        text.append("No bytes.", "italic dim")
    elif rows > MAX_HEX_ROWS:
        text.append(f"\n… {plural(len(data) - MAX_HEX_ROWS * BYTES_PER_ROW, 'more byte')}", "dim")
    return text


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value: Enter returns the text, Escape returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(self.title_text, id="prompt-title", markup=False)
            yield Input(self.value, id="prompt-input")
            yield Static(
                f"{self.hint} · Enter sets it · Esc cancels", id="prompt-hint", markup=False
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SandboxScreen(Screen[None]):
    """Break a WebSocket frame and see what a real engine of the receiving side does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,s", "send", "Send", priority=True),
        Binding("space", "activate", "Flip/edit"),
        Binding("x", "edit_byte", "Byte"),
        Binding("p", "edit_payload", "Payload"),
        Binding("r", "reset", "Reset"),
        Binding("escape", "back", "Back"),
        *(
            Binding(str(n), f"preset({n})", f"Preset {n}", show=False, priority=True)
            for n in range(1, PRESET_KEYS + 1)
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sandbox--edited",
        "sandbox--accepted",
        "sandbox--rejected",
        "sandbox--waiting",
    }

    def __init__(self, frame: bytes, from_client: bool) -> None:
        super().__init__()
        self.original = bytes(frame)
        self.from_client = from_client
        self.data = self.original
        self.edits: list[Edit] = []
        self.presets: list[Preset] = presets(self.original, from_client)
        self.fields: list[HeaderField] = []
        self.verdict: Verdict | None = None
        self.note = ""

    @property
    def receiver(self) -> str:
        return "server" if self.from_client else "client"

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        sender = "client" if self.from_client else "server"
        yield Static(
            f"[b]Break it[/b] · a {sender}'s frame → a real {self.receiver} engine",
            id="sandbox-title",
        )
        with Horizontal(id="sandbox-top"):
            yield OptionList(id="sandbox-fields")
            yield OptionList(
                *(
                    Option(
                        Text(f"{n} {p.name}" if n <= PRESET_KEYS else f"  {p.name}"),
                        id=f"preset-{n}",
                    )
                    for n, p in enumerate(self.presets, 1)
                ),
                id="sandbox-presets",
            )
        with VerticalScroll(id="sandbox-bytes"):
            yield Static(id="sandbox-hex")
        with VerticalScroll(id="sandbox-verdict-box"):
            yield Static(id="sandbox-verdict")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sandbox-fields").border_title = "Header (space flips/edits)"
        self.query_one("#sandbox-presets").border_title = Text(presets_title(len(self.presets)))
        self.query_one("#sandbox-verdict-box").border_title = Text(
            f"Verdict of the {self.receiver}"
        )
        self.show_frame()
        self.query_one("#sandbox-fields", OptionList).focus()

    # --- showing ------------------------------------------------------------------

    def show_frame(self) -> None:
        """Redraw the header fields, the bytes and the verdict pane for `self.data`."""
        self.fields = header_fields(self.data)
        before = {f.name: f.display for f in header_fields(self.original)}
        edited_style = self.get_component_rich_style("sandbox--edited", partial=True)
        options = []
        for field in self.fields:
            prompt = Text(f"{field.label:<{LABEL_WIDTH}}", no_wrap=True, overflow="ellipsis")
            prompt.append(
                field.display, edited_style if before.get(field.name) != field.display else ""
            )
            options.append(Option(prompt, id=field.name))
        field_list = self.query_one("#sandbox-fields", OptionList)
        highlighted = field_list.highlighted
        field_list.set_options(options)
        if options:
            field_list.highlighted = min(highlighted or 0, len(options) - 1)
        marked = changed_offsets(self.original, self.data)
        self.query_one("#sandbox-hex", Static).update(
            hex_text(self.data, marked, style=edited_style)
        )
        box = self.query_one("#sandbox-bytes")
        # A Text: the description quotes the payload, which must not be read as markup.
        box.border_title = Text(f"Bytes · {describe(self.data)}")
        count = len(marked)
        box.border_subtitle = Text(f"{plural(count, 'byte')} edited") if count else ""
        self.show_verdict()

    def show_verdict(self) -> None:
        pane = self.query_one("#sandbox-verdict", Static)
        verdict = self.verdict
        if verdict is None:
            text = Text()
            if self.note:
                text.append(self.note + "\n", "bold")
            keys = min(len(self.presets), PRESET_KEYS)
            pick = {0: "", 1: "pick a preset (1), "}.get(keys, f"pick a preset (1–{keys}), ")
            text.append(
                f"Flip bits (space), {pick}then press Enter to send the frame "
                f"to a real {self.receiver} engine.",
                "dim",
            )
            pane.update(text)
            return
        pane.update(self.verdict_text(verdict))

    def verdict_text(self, verdict: Verdict) -> Text:
        """The verdict as lines, its headline in the style of its outcome."""
        style = self.get_component_rich_style(STATUS_CLASSES[verdict.status], partial=True)
        return verdict_text(verdict, headline_style=style)

    # --- editing ------------------------------------------------------------------

    def apply(self, edits: list[Edit] | tuple[Edit, ...], note: str = "") -> bool:
        """Add `edits` to the frame; an edit that cannot apply is reported, not raised."""
        try:
            data = apply_edits(self.data, edits)
        except EditError as error:
            self.notify(str(error), severity="error", markup=False)
            return False
        self.edits.extend(edits)
        self.data = data
        self.verdict = None
        self.note = note or "; ".join(str(edit) for edit in edits)
        self.show_frame()
        return True

    def action_preset(self, number: int) -> None:
        if not 1 <= number <= len(self.presets):
            self.notify(f"no preset {number} for this frame", severity="warning", markup=False)
            return
        preset = self.presets[number - 1]
        self.data = self.original  # a preset starts from the lesson's frame
        self.edits = []
        self.apply(preset.edits, f"Preset {number} · {preset.name}: {preset.note}.")

    def action_activate(self) -> None:
        focused = self.focused
        if isinstance(focused, OptionList):
            focused.action_select()

    @on(OptionList.OptionSelected, "#sandbox-presets")
    def preset_chosen(self, event: OptionList.OptionSelected) -> None:
        self.action_preset(event.option_index + 1)

    @on(OptionList.OptionSelected, "#sandbox-fields")
    def field_chosen(self, event: OptionList.OptionSelected) -> None:
        if not 0 <= event.option_index < len(self.fields):
            return
        field = self.fields[event.option_index]
        if field.is_flag:
            self.apply([field.flip()])
            return

        def typed(value: str | None) -> None:
            if value is None:
                return
            try:
                edits = field.edits_for(value)
            except EditError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            self.apply(edits)

        value = field.display.split(" ", 1)[0] if field.name != "masking_key" else field.display
        self.app.push_screen(PromptScreen(f"New {field.label}", field.hint, value), typed)

    def action_edit_byte(self) -> None:
        def typed(value: str | None) -> None:
            if value is None:
                return
            parts = value.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                edit = set_byte(int(parts[0], 0), int(parts[1], 16))
            except ValueError:
                self.notify(
                    "type the byte's offset and its new value in hex: 1 05", severity="error"
                )
                return
            except EditError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            self.apply([edit])

        self.app.push_screen(
            PromptScreen("Set a byte", "offset (from 0) and value in hex, e.g. 1 05"), typed
        )

    def action_edit_payload(self) -> None:
        def typed(value: str | None) -> None:
            if value is None:
                return
            if value.startswith("hex:"):
                try:
                    data = bytes.fromhex(value[4:])
                except ValueError:
                    self.notify(
                        "after hex: type pairs of hex digits, e.g. hex:ce ba ff", severity="error"
                    )
                    return
            else:
                data = value.encode("utf-8")
            self.apply([set_payload_bytes(data)])

        self.app.push_screen(
            PromptScreen(
                "New payload (masked for you if the frame is; the length follows it)",
                "text, or hex:ce ba ff for raw bytes",
            ),
            typed,
        )

    def action_reset(self) -> None:
        self.data = self.original
        self.edits = []
        self.verdict = None
        self.note = "Back to the lesson's frame."
        self.show_frame()

    # --- sending ------------------------------------------------------------------

    def action_send(self) -> None:
        self.verdict = judge(self.data, from_client=self.from_client)
        self.show_verdict()
        self.query_one("#sandbox-verdict-box", VerticalScroll).scroll_home(animate=False)

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["PromptScreen", "SandboxScreen", "hex_text", "presets_title", "verdict_text"]
