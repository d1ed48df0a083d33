"""The inspector app: the screen for one model, and a modal for any error a worker raises."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen
from textual.worker import Worker

from simulator.tui.model import InspectorModel
from simulator.tui.screens.error import report_worker_error
from simulator.tui.screens.inspector import InspectorScreen


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
