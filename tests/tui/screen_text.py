"""What a running app shows, as text: the whole screen, or a widget's part of it."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App
from textual.geometry import Region
from textual.widget import Widget


def screen_lines(app: App[Any]) -> list[str]:
    """Every row of the screen as it is painted now (modals over their screens included)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(update)
    lines = console.export_text(styles=False).split("\n")
    lines = [line.ljust(width)[:width] for line in lines[:height]]
    return lines + [" " * width] * (height - len(lines))


def blank(lines: list[str], *regions: Region) -> list[str]:
    """`lines` with every cell inside `regions` made a space."""
    out = list(lines)
    for region in regions:
        for y in range(max(0, region.y), min(len(out), region.bottom)):
            row = out[y]
            left, right = max(0, region.x), min(len(row), region.right)
            out[y] = row[:left] + " " * max(0, right - left) + row[right:]
    return out


def region_text(lines: list[str], region: Region) -> list[str]:
    """The rows of `region` in `lines`."""
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


def widget_text(app: App[Any], widget: Widget) -> str:
    """What `widget` shows on the screen now (its visible region), rows joined by newlines."""
    return "\n".join(region_text(screen_lines(app), widget.region))


def shown(widget: Widget) -> bool:
    """Whether `widget` and every container above it is displayed."""
    node: Widget | None = widget
    while node is not None:
        if not node.display:
            return False
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return True


__all__ = ["blank", "region_text", "screen_lines", "shown", "widget_text"]
