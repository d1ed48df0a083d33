"""The key bar at the bottom of the course's screens: the keys that fit, most needed first.

Textual's footer cuts whatever passes the right edge, so on a small terminal
the last keys (often Help and the way out) vanish; and it rebuilds a widget
per key whenever the keys change, which costs a frame. This bar is one
widget painting one line: a screen lists its keys most needed first, the bar
keeps as many as fit whole (always the help key, since help lists them all;
the app's own keys come first),
and repaints in place when the keys change. A click on a key presses it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

HELP_ACTIONS = ("help", "app.help")


class ShownKey(NamedTuple):
    """One key in the bar: what to press, what it says, the action it runs."""

    key: str
    display: str
    description: str
    action: str

    @property
    def width(self) -> int:
        """Cells it takes: the key and the description, each padded by one."""
        return len(self.display) + len(self.description) + 3


def fitting(keys: list[ShownKey], width: int) -> list[ShownKey]:
    """The keys that fit in `width` cells, in order; the help key is always kept, and
    nothing after the first key left out is shown (the order is the priority)."""
    if sum(key.width for key in keys) <= width:
        return keys
    helper = next((key for key in keys if key.action in HELP_ACTIONS), None)
    room = width - (helper.width if helper is not None else 0)
    kept: list[ShownKey] = []
    for key in keys:
        if key is helper:
            kept.append(key)
        elif key.width <= room:
            kept.append(key)
            room -= key.width
        else:
            room = -1
    return kept


class KeyBar(Widget):
    """The screen's shown keys on one line (see the module)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    _painted: tuple[ShownKey, ...] = ()  # the keys last rendered

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        self.sync()

    def sync(self) -> None:
        """Repaint if the keys to show differ from those painted. A screen calls it with
        the change that alters its keys, so the bar changes in the same frame; Textual's
        own notice comes later and then finds nothing to do."""
        if tuple(self.shown) != self._painted:
            self.refresh()

    @property
    def keys(self) -> list[ShownKey]:
        """Every key the screen shows now, one per action: the app's own first (few, and
        what sets the app apart, such as a follower's way back to the teacher), then
        the focused widget's and the screen's, in their order."""
        seen: set[str] = set()
        app_keys: list[ShownKey] = []
        out: list[ShownKey] = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            key = ShownKey(binding.key, display, binding.description, binding.action)
            (app_keys if active.node is self.app else out).append(key)
        return app_keys + out

    @property
    def shown(self) -> list[ShownKey]:
        """The keys that fit the bar's width."""
        return fitting(self.keys, self.size.width or self.app.size.width)

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        text = Text(no_wrap=True, overflow="crop")
        shown = self.shown
        self._painted = tuple(shown)
        for key in shown:
            text.append(f" {key.display} ", key_style)
            text.append(f"{key.description} ", description_style)
        return text

    def on_click(self, event: events.Click) -> None:
        x = 0
        for key in self.shown:
            if x <= event.x < x + key.width:
                self.app.simulate_key(key.key)
                return
            x += key.width


__all__ = ["KeyBar", "ShownKey", "fitting"]
