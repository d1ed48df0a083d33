"""`wirelab serve`: the inspector following a live server, with its connections on top.

Choosing a connection (Enter, or a click) sets the filter to its bytes: the
socket-level chunks (`stream.connection`) and, with `--capture`, the kernel's
packets of its client port. `a` shows every connection again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from simulator.dissect.filters import compile_filter
from simulator.tui.connections import ConnectionRow, ConnectionTable
from simulator.tui.filter_bar import FilterBar
from simulator.tui.screens.inspector import InspectorScreen

if TYPE_CHECKING:
    from simulator.live import Server
    from simulator.views.inspector import InspectorModel

REFRESH_SECONDS = 0.5


def connection_filter(row: ConnectionRow, *, kernel: bool) -> str:
    """The display filter that shows one connection's records."""
    text = f"stream.connection == {row.number}"
    if kernel:
        text += f" or tcp.port == {row.peer_port}"
    return text


class ServeScreen(InspectorScreen):
    """The live inspector plus the server's connection table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "focus('#connections')", "Connections"),
        Binding("a", "show_all", "All connections", show=False),
        *InspectorScreen.BINDINGS,
    ]

    def __init__(
        self,
        model: InspectorModel,
        server: Server,
        *,
        source: str = "",
        empty_text: str = "",
        kernel: bool = False,
    ) -> None:
        super().__init__(model, source=source, empty_text=empty_text, live=True)
        self.server = server
        self.kernel = kernel

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            yield widget
            if isinstance(widget, FilterBar):
                yield ConnectionTable(self.server, id="connections")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REFRESH_SECONDS, self.query_one(ConnectionTable).refresh_rows)

    @on(ConnectionTable.Chosen)
    def connection_chosen(self, event: ConnectionTable.Chosen) -> None:
        text = "" if event.row is None else connection_filter(event.row, kernel=self.kernel)
        bar = self.query_one(FilterBar)
        bar.value = text
        bar.applied = text
        self.apply_filter(compile_filter(text))
        self.packets.focus()

    def action_show_all(self) -> None:
        self.connection_chosen(ConnectionTable.Chosen(None))
