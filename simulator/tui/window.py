"""One TCP endpoint's receive buffer as a bar, the window it advertises, and its sending side.

The bar is the whole receive buffer: bytes received and waiting for the
application (█), the window the endpoint advertises, `rcv_wnd` (░), and free
space it does not advertise yet (╌): receiver silly-window-syndrome avoidance
(RFC 9293 §3.8.6.2.2) moves the window's right edge only in large steps. A
zero window means the peer must stop sending, and is drawn in the warning
colour.

`window_bar` and `window_text` are pure; `TcpWindowView` only paints their
result for its width.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.console import RenderableType
from rich.style import StyleType
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from simulator.lessons.run import TcpSnapshot
from simulator.tui.panes import quiet_virtual_size

READABLE = "█"
WINDOW = "░"
HELD = "╌"
HIDDEN = "▒"  # free space whose window is held back until a checkpoint is answered
WARNING = "⚠"

#: From this width on, each part of the bar gets its own line and a few words.
WIDE = 72

ZERO_WINDOW = "window 0: the sender must stop"
PEER_ZERO_WINDOW = "the peer's window is 0: this side must wait"


class Bar(NamedTuple):
    """Cells of a bar for each part of the receive buffer."""

    readable: int
    window: int
    held: int


def window_bar(receive_buffer: int, readable: int, rcv_wnd: int, width: int) -> Bar:
    """Split `width` cells in proportion to the buffer's parts.

    A part of at least one byte gets at least one cell, so a single byte waiting
    or a window of 1 still shows; the advertised window is at most the free space
    (any excess only shows in the numbers).
    """
    if width <= 0 or receive_buffer <= 0:
        return Bar(0, 0, 0)
    readable = max(0, min(readable, receive_buffer))
    free = receive_buffer - readable
    window = max(0, min(rcv_wnd, free))
    held = free - window

    def cells(part: int) -> int:
        return max(1, round(part * width / receive_buffer)) if part > 0 else 0

    parts = [cells(readable), cells(window), cells(held)]
    # Rounding may overshoot or undershoot: settle the difference on the largest part.
    while sum(parts) != width:
        largest = max(range(3), key=lambda i: (parts[i], i == 1))
        step = 1 if sum(parts) < width else -1
        if step < 0 and parts[largest] <= 1:
            break
        parts[largest] += step
    return Bar(*parts)


Item = list[tuple[str, str]]
"""A run of (text, role) pieces kept on one line."""


def window_text(
    side: str,
    snapshot: TcpSnapshot | None,
    *,
    width: int = 80,
    styles: Mapping[str, StyleType] | None = None,
    hidden: bool = False,
) -> Text:
    """`side`'s receive buffer, window and sending numbers as lines for `width` cells.

    Wide (from `WIDE` cells): one line per part of the bar, with a few words each.
    Narrow: the numbers only, a line broken between items, never inside one.
    `styles` maps roles — "side", "state", "readable", "window", "held",
    "warning", "muted" — to Rich styles; a role it leaves out is unstyled.
    `hidden`: the window sizes are a checkpoint's answer: the bar shows the free
    space as one part and every window size is "?".
    """
    if hidden and snapshot is not None:
        return _hidden_text(side, snapshot, width=width, styles=styles or {})
    style = dict(styles or {})
    text = Text()

    def flow(items: list[Item], separator: str = "  ") -> None:
        column = 0
        for item in items:
            size = sum(cell_len(piece) for piece, _ in item)
            if column and column + cell_len(separator) + size > width:
                text.append("\n")
                column = 0
            elif column:
                text.append(separator)
                column += cell_len(separator)
            for piece, role in item:
                text.append(piece, style.get(role, ""))
            column += size
        text.append("\n")

    if snapshot is None:
        flow([[(side, "side")], [("not connected", "muted")]])
        text.rstrip()
        return text
    wide = width >= WIDE
    zero = snapshot.rcv_wnd == 0
    filled = "warning" if zero else "readable"
    free = max(0, snapshot.receive_buffer - snapshot.readable)
    held = max(0, free - snapshot.rcv_wnd)

    heading: Item = [(side, "side"), ("  ", ""), (snapshot.state, "state")]
    buffer = f"{'receive buffer' if wide else 'buffer'} {snapshot.receive_buffer} B"
    if wide:  # the buffer's size at the right edge, over the end of the bar
        used = sum(cell_len(piece) for piece, _ in heading) + cell_len(buffer)
        heading.append((" " * max(2, width - used), ""))
        flow([[*heading, (buffer, "muted")]])
    else:
        flow([heading, [(buffer, "muted")]])

    bar = window_bar(snapshot.receive_buffer, snapshot.readable, snapshot.rcv_wnd, max(width, 1))
    text.append(READABLE * bar.readable, style.get(filled, ""))
    text.append(WINDOW * bar.window, style.get("window", ""))
    text.append(HELD * bar.held, style.get("warning" if zero else "held", ""))
    text.append("\n")

    if wide:
        digits = max(len(str(n)) for n in (snapshot.readable, snapshot.rcv_wnd, held))
        flow([[(READABLE, filled), (f" readable  {snapshot.readable:>{digits}} B", ""),
               ("  waiting for the application to read", "muted")]])  # fmt: skip
        if zero:
            flow([[(WINDOW, "window"), (f" rcv_wnd   {0:>{digits}} B", "warning"),
                   (f"  {WARNING} {ZERO_WINDOW}", "warning")]])  # fmt: skip
        else:
            flow([[(WINDOW, "window"), (f" rcv_wnd   {snapshot.rcv_wnd:>{digits}} B", ""),
                   ("  the window it advertises", "muted")]])  # fmt: skip
        flow([[(HELD, "held"), (f" held back {held:>{digits}} B", ""),
               ("  free, not advertised yet (SWS avoidance)", "muted")]])  # fmt: skip
        flow(
            [
                [("sending  ", "muted"), (f"snd_wnd {snapshot.snd_wnd} B", ""),
                 (" (peer's window)", "muted")],
                *_congestion(snapshot, wide=True),
                [(f"in flight {snapshot.in_flight} B", "")],
                [(f"unsent {snapshot.unsent} B", "")],
            ],
            " · ",
        )  # fmt: skip
    else:
        parts = [
            [(READABLE, filled), (f" readable {snapshot.readable}", "")],
            [(WINDOW, "window"), (f" rcv_wnd {snapshot.rcv_wnd}", "warning" if zero else "")],
        ]
        if held:
            parts.append([(HELD, "held"), (f" held back {held}", "")])
        flow(parts)
        if zero:
            flow([[(f"{WARNING} {ZERO_WINDOW}", "warning")]])
        flow(
            [
                [(f"snd_wnd {snapshot.snd_wnd}", "")],
                *_congestion(snapshot, wide=False),
                [(f"in flight {snapshot.in_flight}", "")],
                [(f"unsent {snapshot.unsent}", "")],
            ]
        )
    if snapshot.snd_wnd == 0:
        words = (
            f"{PEER_ZERO_WINDOW} (it sends zero-window probes)"
            if wide
            else "peer's window 0: must wait"
        )
        flow([[(f"{WARNING} {words}", "warning")]])
    text.rstrip()
    return text


def _congestion(snapshot: TcpSnapshot, *, wide: bool) -> list[Item]:
    """The congestion window (and the threshold, once set): this side sends at most
    min(cwnd, snd_wnd) beyond what is acknowledged (RFC 5681 §3)."""
    if snapshot.cwnd is None:
        return []
    unit = " B" if wide else ""
    items: list[Item] = [[(f"cwnd {snapshot.cwnd}{unit}", "")]]
    if snapshot.ssthresh is not None:
        items.append([(f"ssthresh {snapshot.ssthresh}{unit}", "")])
    limit = min(snapshot.cwnd, snapshot.snd_wnd)
    which = "cwnd" if snapshot.cwnd < snapshot.snd_wnd else "snd_wnd"
    items.append([(f"may send {limit}{unit}", ""), (f" ({which} limits)", "muted")])
    return items


def _hidden_text(
    side: str, snapshot: TcpSnapshot, *, width: int, styles: Mapping[str, StyleType]
) -> Text:
    """The buffer without its window sizes (see `window_text`)."""
    text = Text()
    free = max(0, snapshot.receive_buffer - snapshot.readable)
    text.append(side, styles.get("side", ""))
    text.append(f"  {snapshot.state}  ", styles.get("state", ""))
    text.append(f"buffer {snapshot.receive_buffer} B\n", styles.get("muted", ""))
    bar = window_bar(snapshot.receive_buffer, snapshot.readable, free, max(width, 1))
    text.append(READABLE * bar.readable, styles.get("readable", ""))
    text.append(HIDDEN * (bar.window + bar.held), styles.get("muted", ""))
    text.append("\n")
    words = [
        f"{READABLE} readable {snapshot.readable} B",
        f"{HIDDEN} rcv_wnd ? · snd_wnd ?",
        f"in flight {snapshot.in_flight} B · unsent {snapshot.unsent} B",
    ]
    column = 0
    for word in words:
        if column and column + 2 + cell_len(word) > width:
            text.append("\n")
            column = 0
        elif column:
            text.append("  ")
            column += 2
        text.append(word)
        column += cell_len(word)
    text.append("\n")
    text.append("The window sizes are the checkpoint's answer.", styles.get("muted", ""))
    return text


class TcpWindowView(Widget):
    """One side's receive buffer and windows; the screen sets it with `set_snapshot`.

    The widget has the class `-zero-window` while the side advertises a zero
    window and `-closed` while it is not connected, for the screen's styles.
    """

    virtual_size = quiet_virtual_size()  # as tall as its text: one layout a change

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tcp-window--side",
        "tcp-window--state",
        "tcp-window--readable",
        "tcp-window--window",
        "tcp-window--held",
        "tcp-window--warning",
        "tcp-window--muted",
    }

    DEFAULT_CSS = """
    TcpWindowView { height: auto; }
    TcpWindowView > .tcp-window--side { text-style: bold; }
    TcpWindowView > .tcp-window--state { color: $text-accent; text-style: bold; }
    TcpWindowView > .tcp-window--readable { color: $primary; }
    TcpWindowView > .tcp-window--window { color: $accent; }
    TcpWindowView > .tcp-window--held { color: $text-muted; }
    TcpWindowView > .tcp-window--warning { color: $text-warning; text-style: bold; }
    TcpWindowView > .tcp-window--muted { color: $text-muted; }
    """

    def __init__(
        self,
        side: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.side = side
        self.snapshot: TcpSnapshot | None = None
        self.hidden = False
        self.set_class(True, "-closed")

    def set_snapshot(
        self, side: str, snapshot: TcpSnapshot | None, *, hidden: bool = False
    ) -> None:
        """Show `side`'s ("client", "server") endpoint; None: it is not connected.
        `hidden`: its window sizes are held back (a checkpoint asks for one)."""
        if (side, snapshot, hidden) == (self.side, self.snapshot, self.hidden):
            return
        self.side = side
        self.snapshot = snapshot
        self.hidden = hidden
        self.set_class(snapshot is None, "-closed")
        self.set_class(self.zero_window and not hidden, "-zero-window")
        self.refresh(layout=True)

    @property
    def zero_window(self) -> bool:
        return self.snapshot is not None and self.snapshot.rcv_wnd == 0

    def render(self) -> RenderableType:
        width = self.size.width - self.styles.gutter.width  # not `content_size`: see routes
        return self.text(width if width > 0 else 80)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.text(width).split())

    def text(self, width: int) -> Text:
        """The widget's lines for `width` cells."""
        # Whole component styles: $text-muted is resolved against the background only there.
        roles = ("side", "state", "readable", "window", "held", "warning", "muted")
        styles = {role: self.get_component_rich_style(f"tcp-window--{role}") for role in roles}
        return window_text(self.side, self.snapshot, width=width, styles=styles, hidden=self.hidden)


__all__ = ["PEER_ZERO_WINDOW", "ZERO_WINDOW", "Bar", "TcpWindowView", "window_bar", "window_text"]
