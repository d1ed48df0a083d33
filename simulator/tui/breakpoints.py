"""Size classes for a screen (`-narrow`/`-wide`, `-short`/`-tall`), set before its first layout.

Textual sets a screen's breakpoint classes on its first Resize, after a first
frame laid out without them: the panes would jump. Every screen with
breakpoints calls `apply_breakpoints` when it mounts, and Textual keeps the
classes up to date from then on.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen


def apply_breakpoints(screen: Screen[Any]) -> None:
    """Give `screen` the classes its HORIZONTAL_ and VERTICAL_BREAKPOINTS name for the
    app's size now."""
    width, height = screen.app.size
    classes: dict[str, bool] = {}
    for size, breakpoints in (
        (width, screen.HORIZONTAL_BREAKPOINTS or []),
        (height, screen.VERTICAL_BREAKPOINTS or []),
    ):
        reached = max((at for at, _ in breakpoints if size >= at), default=None)
        classes.update({name: at == reached for at, name in breakpoints})
    screen.update_classes(classes, animate=False)


__all__ = ["apply_breakpoints"]
