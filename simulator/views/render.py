"""Pure rendering: bytes, spans and rows → lines of (text, role) pieces; widgets only paint them.

The hex dump itself lives in `simulator.dissect.hexdump`: the terminal
handouts use it too.

Nothing here touches Textual. Each function returns plain tuples, so a test can
check a hex line, a bit ruler or a packet-list row without running an app.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from simulator.dissect.conversation import Direction, Turn
from simulator.dissect.hexdump import Span, bit_value
from simulator.views.inspector import Row

ELLIPSIS = "…"

# --- bit ruler --------------------------------------------------------------------------


def bit_ruler(
    data: bytes, selected: Span, fields: Sequence[tuple[str, Span]]
) -> list[tuple[str, bool]]:
    """The bytes holding `selected` in binary, its bits marked, then `name=bits` for `fields`.

    `fields` are the bit fields sharing those bytes (the selected one among
    them); pieces are (text, highlighted). Example for a WebSocket frame's
    first byte with the opcode selected: "1000 0001  fin=1 rsv1=0 rsv2=0 rsv3=0 opcode=0001".
    """
    first_byte = selected[0] // 8
    last_byte = min((max(selected[1], selected[0] + 1) - 1) // 8, len(data) - 1)
    if first_byte > last_byte:
        return []
    pieces: list[tuple[str, bool]] = []
    for byte in range(first_byte, last_byte + 1):
        if byte > first_byte:
            pieces.append(("  ", False))
        for bit in range(8):
            absolute = byte * 8 + bit
            if bit == 4:
                pieces.append((" ", selected[0] <= absolute - 1 and absolute < selected[1]))
            on = (data[byte] >> (7 - bit)) & 1
            pieces.append((str(on), selected[0] <= absolute < selected[1]))
    pieces.append(("  ", False))
    limit = (last_byte + 1) * 8
    shown = sorted(
        (span, name) for name, span in fields if span[0] >= first_byte * 8 and span[1] <= limit
    )
    for number, (span, name) in enumerate(shown):
        if number:
            pieces.append((" ", False))
        pieces.append((f"{name}={bit_value(data, span)}", span == selected))
    return _merge_flags(pieces)


def _merge_flags(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    merged: list[tuple[str, bool]] = []
    for text, flag in pieces:
        if merged and merged[-1][1] == flag:
            merged[-1] = (merged[-1][0] + text, flag)
        else:
            merged.append((text, flag))
    return merged


# --- packet list ------------------------------------------------------------------------

HEADINGS = ("No.", "Time", "Source", "Destination", "Protocol", "Length", "Info")


@dataclass(frozen=True, slots=True)
class Columns:
    """Cell widths of the packet-list columns, Info taking what is left."""

    number: int
    time: int
    src: int
    dst: int
    protocol: int
    length: int
    info: int

    def widths(self) -> tuple[int, ...]:
        return (self.number, self.time, self.src, self.dst, self.protocol, self.length, self.info)


def columns(width: int, rows: int) -> Columns:
    """Column widths for a list `width` cells wide holding `rows` rows."""
    number = max(3, len(str(rows)))
    time = 10 if width >= 100 else 8
    protocol = 9
    length = 6
    address = 22 if width >= 120 else 16 if width >= 90 else 15
    fixed = number + time + 2 * address + protocol + length + 6  # one space between columns
    return Columns(number, time, address, address, protocol, length, max(4, width - fixed))


def fit(text: str, width: int, *, right: bool = False) -> str:
    """`text` in exactly `width` cells: cut with an ellipsis, padded left or right."""
    if width <= 0:
        return ""
    text = text.replace("\n", " ")
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + ELLIPSIS
    padding = " " * (width - cell_len(text))
    return padding + text if right else text + padding


def format_time(seconds: float, width: int) -> str:
    return f"{seconds:.6f}" if width >= 10 else f"{seconds:.3f}"


def row_cells(row: Row, cols: Columns) -> list[str]:
    """A row's cells, each exactly its column's width."""
    return [
        fit(str(row.number), cols.number, right=True),
        fit(format_time(row.time, cols.time), cols.time, right=True),
        fit(row.src, cols.src),
        fit(row.dst, cols.dst),
        fit(row.protocol, cols.protocol),
        fit(str(row.length), cols.length, right=True),
        fit(row.info, cols.info),
    ]


def heading_cells(cols: Columns) -> list[str]:
    right = {0, 1, 5}
    return [
        fit(title, width, right=i in right)
        for i, (title, width) in enumerate(zip(HEADINGS, cols.widths(), strict=True))
    ]


# --- conversation -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationLine:
    text: str
    direction: Direction
    header: bool = False


def conversation_lines(turns: Sequence[Turn], width: int) -> list[ConversationLine]:
    """Turns wrapped to `width`: a header line per turn, its text, a blank line between."""
    width = max(width, 10)
    lines: list[ConversationLine] = []
    for number, turn in enumerate(turns):
        if number:
            lines.append(ConversationLine("", turn.direction))
        arrow = "▶ client" if turn.direction == "client" else "◀ server"
        lines.append(ConversationLine(fit(f"{arrow}  {turn.label}", width), turn.direction, True))
        for paragraph in turn.text.rstrip("\n").split("\n"):
            wrapped = textwrap.wrap(
                paragraph,
                width,
                replace_whitespace=False,
                drop_whitespace=False,
                break_on_hyphens=False,
            )
            for text in wrapped or [""]:
                lines.append(ConversationLine(text, turn.direction))
    return lines
