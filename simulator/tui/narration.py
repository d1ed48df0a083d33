"""The step's narration: its title, Markdown prose, and preformatted blocks never re-wrapped.

Prose wraps to the pane. A preformatted block (a diagram, a frame layout) keeps
its lines as written: the lesson screen widens the pane for it where it can,
and where it cannot the narration scrolls sideways while the prose still wraps
to the visible width. Rich's Markdown would word-wrap a code block into
garbage, so preformatted blocks are plain `Text` with wrapping off.

The view is virtualized (the Line API): a step's blocks are rendered to lines
once for a width and cached, and only the rows on screen are painted, so
changing steps never asks the layout to measure Markdown.

Lesson text is Markdown, never Rich markup: a `[b]` in a lesson shows as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from simulator.tui.panes import QuietScrollView
from simulator.views.lesson import Block

CACHED_STEPS = 32  # steps' rendered lines kept (a lesson has fewer)


class Prose:
    """Markdown rendered at most `width` cells wide, whatever width it is offered."""

    def __init__(self, markdown: Markdown, width: int) -> None:
        self.markdown = markdown
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(options.max_width, self.width)
        yield from console.render(self.markdown, options.update_width(width))


class Narration(QuietScrollView, can_focus=True):
    """A step's blocks, scrolled with the keys or the wheel; `show` sets them."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"narration--title", "narration--pre"}

    DEFAULT_CSS = """
    Narration { scrollbar-size: 1 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.blocks: tuple[Block, ...] = ()
        self._markdown: dict[str, Markdown] = {}
        self._lines: list[list[Segment]] = []
        self._strips: list[Strip] = []  # one per line, made once
        self._rendered: tuple[tuple[Block, ...], int, Style] | None = None
        # Steps rendered ahead (see `prepare`) or before: going back is a lookup too.
        self._cache: dict[tuple[tuple[Block, ...], int, Style], list[list[Segment]]] = {}

    @property
    def widest(self) -> int:
        """The widest preformatted line."""
        return max((block.width for block in self.blocks), default=0)

    def show(self, blocks: Sequence[Block]) -> None:
        """Show `blocks` from the top (the same blocks again: nothing changes)."""
        blocks = tuple(blocks)
        if blocks == self.blocks:
            return
        self.blocks = blocks
        self._render_lines()
        self.scroll_to(0, 0, animate=False, immediate=True)

    @property
    def text_width(self) -> int:
        """Where prose wraps: the visible width of the text."""
        width = self.view_size.width
        if width <= 0:
            width = self.size.width - self.styles.gutter.width
        return max(width, 1)

    def prepare(self, blocks: Sequence[Block]) -> None:
        """Render `blocks` now, at the width shown now, for a step about to be shown."""
        self._lines_for(tuple(blocks), self.text_width, self.rich_style)

    def _lines_for(self, blocks: tuple[Block, ...], width: int, base: Style) -> list[list[Segment]]:
        key = (blocks, width, base)
        lines = self._cache.get(key)
        if lines is None:
            widest = max((block.width for block in blocks), default=0)
            console = self.app.console
            options = console.options.update(width=max(width, widest), height=None)
            renderable = self._renderable(blocks, width)
            lines = console.render_lines(renderable, options, style=base, pad=False)
            if len(self._cache) >= CACHED_STEPS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = lines
        return lines

    def _render_lines(self) -> None:
        width = self.text_width
        base = self.rich_style
        key = (self.blocks, width, base)
        if key == self._rendered:
            return
        self._rendered = key
        self._lines = self._lines_for(self.blocks, width, base)
        self._strips = [Strip(line) for line in self._lines]
        size = Size(max(width, self.widest), len(self._lines))
        if size != self.virtual_size:
            self.virtual_size = size
        self.refresh()

    def _renderable(self, blocks: tuple[Block, ...], width: int) -> RenderableType:
        title_style = self.get_component_rich_style("narration--title", partial=True)
        pre_style = self.get_component_rich_style("narration--pre", partial=True)
        parts: list[RenderableType] = []
        for block in blocks:
            if parts:
                parts.append(Text())  # a blank line between blocks, as between paragraphs
            if block.title:
                parts.append(Text(block.text, style=title_style))
            elif block.preformatted:
                parts.append(Text(block.text, style=pre_style, no_wrap=True, overflow="ignore"))
            else:
                markdown = self._markdown.get(block.text)
                if markdown is None:
                    markdown = self._markdown[block.text] = Markdown(block.text, hyperlinks=False)
                parts.append(Prose(markdown, width))
        return Group(*parts)

    def plain_lines(self) -> list[str]:
        """Every line of the narration as text (for tests and checks)."""
        return ["".join(segment.text for segment in line).rstrip() for line in self._lines]

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Wrapped for the new width during the layout that gives it, so the frame that
        # shows the pane at its new size shows the text wrapped for it.
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed and self.blocks:
            self._render_lines()
        return changed

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted and self.blocks:
            self._rendered = None
            self._cache.clear()
            self._render_lines()

    def render_line(self, y: int) -> Strip:
        width = self.view_size.width
        base = self.rich_style
        row = round(self.scroll_y) + y
        if row >= len(self._strips):
            return Strip.blank(width, base)
        x = round(self.scroll_x)
        return self._strips[row].crop_extend(x, x + width, base)


__all__ = ["Narration", "Prose"]
