"""Ask where to save what the inspector shows as a pcap file, and which packets.

With a filter applied, the choice is between every packet and the ones the filter
shows (those by default: what you see is what you save). A name that is already a
file is replaced only after a second Enter; a folder is refused.
"""

from __future__ import annotations

import os
from typing import ClassVar, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RadioButton, RadioSet, Static


class Save(NamedTuple):
    path: str
    only_shown: bool  # only the packets the filter shows


class SaveScreen(ModalScreen[Save | None]):
    """A path prompt: Enter returns the path and the choice, Escape returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, suggestion: str, count: int, shown: int | None = None, *, sockets: bool = False
    ) -> None:
        """`count` packets in all; `shown` of them pass the filter (None: no filter);
        `sockets`: the traffic was recorded at the sockets, not captured as packets."""
        super().__init__()
        self.sockets = sockets
        self.suggestion = suggestion
        self.count = count
        self.shown = shown
        self._confirmed: str | None = None  # a path the user agreed to replace

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box"):
            yield Label("Save as pcap", id="save-title")
            if self.shown is not None:
                with RadioSet(id="save-which"):
                    yield RadioButton(f"only the {self.shown:,} the filter shows", value=True)
                    yield RadioButton(f"all {self.count:,} packets")
            yield Static(
                "Socket-level traffic becomes IPv4/TCP packets (handshake, data, teardown) "
                "that Wireshark follows; .pcapng for pcapng."
                if self.sockets
                else "The packets as they were captured; .pcapng for pcapng.",
                id="save-note",
            )
            yield Input(self.suggestion, placeholder="file.pcap", id="save-path")
            yield Static("Enter saves · Escape cancels", id="save-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def only_shown(self) -> bool:
        if self.shown is None:
            return False
        return self.query_one(RadioSet).pressed_index == 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.dismiss(None)
            return
        keys = self.query_one("#save-keys", Static)
        if self.only_shown and not self.shown:
            keys.update(Text("The filter shows no packets: choose all, or Escape"))
            return
        if os.path.isdir(path):
            keys.update(Text(f"{path} is a folder: type a file name"))
            return
        if os.path.exists(path) and self._confirmed != path:
            self._confirmed = path
            keys.update(Text(f"{path} exists: Enter again replaces it · Escape cancels"))
            return
        self.dismiss(Save(path, self.only_shown))

    def action_cancel(self) -> None:
        self.dismiss(None)
