"""Follow stream: one connection's messages as a conversation."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker

from simulator.dissect.conversation import Turn
from simulator.tui.conversation import ConversationView
from simulator.tui.screens.error import report_worker_error
from simulator.views.inspector import InspectorModel


class FollowScreen(Screen[None]):
    """The conversation record `index` belongs to, worked out in a thread."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f", "app.pop_screen", "Back to the packets"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, model: InspectorModel, index: int) -> None:
        super().__init__()
        self.model = model
        self.index = index

    def compose(self) -> ComposeResult:
        yield Static(f"Follow stream · packet {self.index + 1}", id="follow-title")
        yield ConversationView(id="conversation")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(ConversationView)
        view.loading = True
        view.focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, name="Following the stream")
    def load(self) -> list[Turn]:
        turns = self.model.conversation(self.index)
        self.app.call_from_thread(self.show, turns)
        return turns

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.is_finished:
            self.query_one(ConversationView).loading = False
        report_worker_error(event)

    def show(self, turns: list[Turn]) -> None:
        view = self.query_one(ConversationView)
        view.loading = False
        title = self.query_one("#follow-title", Static)
        if not turns:
            title.update(
                f"Follow stream · packet {self.index + 1} is not part of a connection "
                "this inspector can follow yet"
            )
        else:
            clients = sum(turn.direction == "client" for turn in turns)
            title.update(
                f"Follow stream · packet {self.index + 1} · {len(turns)} messages: "
                f"{clients} from the client (▶), {len(turns) - clients} from the server (◀)"
            )
        view.show(turns)
