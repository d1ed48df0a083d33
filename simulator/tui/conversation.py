"""The conversation view: a connection's messages as turns, wrapped to the width, virtualized."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from simulator.dissect.conversation import Turn
from simulator.views.render import ConversationLine, conversation_lines


class ConversationView(ScrollView, can_focus=True):
    """Client turns in one colour, server turns in another, each under a header line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation--client",
        "conversation--server",
        "conversation--header",
    }

    DEFAULT_CSS = """
    ConversationView { overflow-x: hidden; }
    ConversationView > .conversation--client { color: $text-error; }
    ConversationView > .conversation--server { color: $text-primary; }
    ConversationView > .conversation--header { text-style: bold reverse; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.turns: Sequence[Turn] = ()
        self._lines: list[ConversationLine] = []
        self._width = 0

    def show(self, turns: Sequence[Turn]) -> None:
        self.turns = turns
        self._layout(force=True)
        self.scroll_home(animate=False)

    def _layout(self, *, force: bool = False) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if not force and width == self._width:
            return
        self._width = width
        self._lines = conversation_lines(self.turns, width)
        self.virtual_size = Size(0, len(self._lines))
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._layout()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = round(self.scroll_y) + y
        if index >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[index]
        style = base + self.get_component_rich_style(f"conversation--{line.direction}")
        if line.header:
            style += self.get_component_rich_style("conversation--header", partial=True)
        return Strip([Segment(line.text, style)]).crop_extend(0, width, base)
