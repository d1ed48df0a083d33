"""Ask where to save what the inspector shows as a pcap file."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class SaveScreen(ModalScreen[str | None]):
    """A path prompt: Enter returns the path, Escape returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, suggestion: str, count: int) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box"):
            yield Label("Save as pcap", id="save-title")
            yield Static(
                f"{self.count} records. Socket-level traffic becomes IPv4/TCP packets "
                "(handshake, data, teardown) that Wireshark follows; .pcapng for pcapng.",
                id="save-note",
            )
            yield Input(self.suggestion, placeholder="file.pcap", id="save-path")
            yield Static("Enter saves · Escape cancels", id="save-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        self.dismiss(path or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
