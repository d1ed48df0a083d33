"""How students join the class: the addresses to type and a QR code of the browser's."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

DARK, LIGHT = "#000000", "#ffffff"


def qr_text(data: str, border: int = 2) -> Text:
    """A QR code of `data` in half blocks, two modules a character cell: black on
    white whatever the terminal's colours (a phone's camera needs dark on light)."""
    import segno

    rows = [list(row) for row in segno.make(data, error="m").matrix_iter(border=border)]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    text = Text(no_wrap=True)
    cells = {
        (upper, lower): Style(color=DARK if upper else LIGHT, bgcolor=DARK if lower else LIGHT)
        for upper in (0, 1)
        for lower in (0, 1)
    }
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        for upper, lower in zip(top, bottom, strict=True):
            text.append("▀", cells[(int(bool(upper)), int(bool(lower)))])
        text.append("\n")
    text.rstrip()
    return text


class JoinScreen(ModalScreen[None]):
    """The class's join addresses, for the TUI and for a browser, and the QR code."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,o,enter,q", "dismiss", "Close"),
    ]

    def __init__(self, addresses: list[str], following: int) -> None:
        super().__init__()
        self.addresses = addresses
        self.following = following

    def compose(self) -> ComposeResult:
        first = self.addresses[0]
        words = Text.assemble(
            ("Join the class", "bold"), f" · {self.following} following\n",
            "In a terminal:  ", (f"wirelab follow {first}", "bold"), "\n",
            "In a browser:   ", (f"http://{first}", "bold"),
        )  # fmt: skip
        others = self.addresses[1:]
        if others:
            words.append("\nAlso reachable at: " + ", ".join(others))
        with Vertical(id="join-box"):
            yield Static(words, id="join-words")
            tall = self.app.size.height >= 26
            yield Static(qr_text(f"http://{first}", border=2 if tall else 1), id="join-qr")
            yield Static("Escape or o: back to the lesson", id="join-hint")


__all__ = ["JoinScreen", "qr_text"]
