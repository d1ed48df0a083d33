"""The inspector app: the screen for one model, and a modal for any error a worker raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App
from textual.screen import Screen
from textual.worker import Worker

from simulator.tui.panes import quiet_scroll_bars
from simulator.tui.screens.error import report_worker_error
from simulator.tui.screens.inspector import InspectorScreen
from simulator.views.inspector import InspectorModel

if TYPE_CHECKING:
    from simulator.live import Server


class InspectorApp(App[None]):
    """`wirelab inspect FILE` and `wirelab serve`: the hex-dump inspector over a model.

    `source` names what is inspected (a file, a live server's URL); `live`
    makes an empty packet list follow the traffic as it arrives.
    """

    CSS_PATH = "inspector.tcss"
    TITLE = "wirelab inspector"

    def __init__(
        self,
        model: InspectorModel,
        *,
        source: str = "",
        empty_text: str = "",
        live: bool = False,
    ) -> None:
        super().__init__()
        quiet_scroll_bars()
        self.model = model
        self.source = source
        self.empty_text = empty_text
        self.live = live

    def get_default_screen(self) -> Screen[None]:
        return InspectorScreen(
            self.model, source=self.source, empty_text=self.empty_text, live=self.live
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_error(event)


class ServeApp(InspectorApp):
    """`wirelab serve`: the live inspector with the server's connection table."""

    TITLE = "wirelab serve"

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

    def get_default_screen(self) -> Screen[None]:
        from simulator.tui.screens.serve import ServeScreen

        return ServeScreen(
            self.model,
            self.server,
            source=self.source,
            empty_text=self.empty_text,
            kernel=self.kernel,
        )
