"""A modal that shows an error from a worker, instead of a traceback."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static
from textual.worker import Worker, WorkerState

from simulator.errors import WirelabError


class ErrorScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss", "Close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Label(self.title_text, id="error-title")
            yield Static(self.message, id="error-message", markup=False)
            yield Button("OK", variant="error", id="error-ok")

    def on_mount(self) -> None:
        self.query_one("#error-ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()


def report_worker_error(event: Worker.StateChanged) -> None:
    """Show a modal for a worker that failed (worker messages do not bubble: each screen asks)."""
    worker = event.worker
    if event.state is not WorkerState.ERROR or worker.error is None:
        return
    error = worker.error
    message = str(error) or type(error).__name__
    if not isinstance(error, WirelabError):
        message = f"{type(error).__name__}: {message}"
    title = f"{worker.name or 'Background work'} failed"
    worker.node.app.push_screen(ErrorScreen(title, message))
