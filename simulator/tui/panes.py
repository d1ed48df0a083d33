"""Containers and text panes that lay the screen out once per change, not twice.

After a layout Textual gives every resized widget its new size, and a widget
whose scrollable (virtual) size changed asks for another layout: for a
container that never scrolls, or a text that is as tall as its content, that
second pass finds nothing to move and only repaints the screen again — a
frame's worth of time on every lesson step that shows or hides a pane. These
classes keep their virtual size without asking for it; their own size still
comes from the layout as usual. (A container's virtual size only changes in a
layout, which updates its scroll bars right after: a scrolling one is safe too.)
"""

from __future__ import annotations

from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.reactive import Reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarCorner
from textual.widget import Widget
from textual.widgets import Static


def quiet_virtual_size() -> Reactive[Size]:
    """`Widget.virtual_size`, without a layout or a repaint when it changes (one for each
    class): a widget whose size changed is painted anew by the layout that resized it."""
    return Reactive(Size(0, 0), layout=False, repaint=False)


def quiet_scroll_bars() -> None:
    """Scroll bars too: a scroll bar resized with its pane asks for another layout of the
    screen, which moves nothing (scroll bars hold no widgets) and paints every pane once
    more. Textual makes its own scroll bars, so the class itself is given the quiet size;
    done once, for the whole app."""
    for bar in (ScrollBar, ScrollBarCorner):
        if "virtual_size" not in vars(bar):
            quiet = quiet_virtual_size()
            bar.virtual_size = quiet
            quiet.__set_name__(bar, "virtual_size")


class OneFrameScreen(Screen[None]):
    """A screen whose update paints, in the same frame, what its own layout asked to repaint.

    Laying the screen out gives resized panes their size, shows the scroll bars a pane
    now needs and moves their thumbs; each of these asks for a repaint, which Textual
    otherwise paints one frame (and one more pass over the screen) later. Here those
    widgets are painted with the rest of the update: one frame per change.
    """

    # Focus moving (the focused pane hidden by a step) restyles the widgets it leaves and
    # enters, which repaint themselves: not the whole screen again.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    _shown: frozenset[Widget] = frozenset()  # the widgets the last update painted

    def _compositor_refresh(self) -> None:
        compositor = self._compositor
        shown = frozenset(compositor.visible_widgets)
        if shown != self._shown:
            # A pane came or went: paint the whole screen, not only what the layout says
            # moved (Textual can miss the area a pane leaves or takes).
            self._shown = shown
            compositor._dirty_regions.add(self.size.region)
        late = {
            widget
            for widget in compositor.visible_widgets
            if getattr(widget, "_repaint_required", False)
        }
        if late:
            for widget in late:
                widget._repaint_required = False
            compositor.update_widgets(late)
        super()._compositor_refresh()


class Column(Vertical):
    """A `Vertical` that never scrolls (see the module)."""

    virtual_size = quiet_virtual_size()


class Row(Horizontal):
    """A `Horizontal` that never scrolls (see the module)."""

    virtual_size = quiet_virtual_size()


class Box(Container):
    """A `Container` that never scrolls (see the module)."""

    virtual_size = quiet_virtual_size()


class Scroll(VerticalScroll):
    """A `VerticalScroll` (see the module)."""

    virtual_size = quiet_virtual_size()


class QuietScrollView(ScrollView):
    """A `ScrollView` whose size comes from the stylesheet, never from its content: when
    what it shows grows or shrinks (a longer ladder, another packet's bytes), it updates
    its scroll bars and repaints itself, with no layout of the screen — unless a scroll
    bar comes or goes, which does lay it out."""

    virtual_size = quiet_virtual_size()

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)
            self.refresh()

    @property
    def view_size(self) -> Size:
        """The size of what shows of the content (inside the frame, the padding and the scroll
        bars): `scrollable_content_region`'s, read without asking the screen for the
        region, which costs a search of its map on every line painted."""
        width, height = self.container_size
        return Size(
            max(0, width - self.scrollbar_size_vertical),
            max(0, height - self.scrollbar_size_horizontal),
        )


class TextPane(Static):
    """A `Static` as tall as its text, never scrolled (see the module)."""

    virtual_size = quiet_virtual_size()


__all__ = [
    "Box",
    "Column",
    "OneFrameScreen",
    "QuietScrollView",
    "Row",
    "Scroll",
    "TextPane",
    "quiet_scroll_bars",
    "quiet_virtual_size",
]
