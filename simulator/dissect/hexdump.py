"""A hex dump as pure data: bytes and spans → lines of (text, kind, state) pieces.

Used by the inspector's hex pane and by `wirelab dissect`; rendering reads only
the rows it shows, so a 16 MiB buffer costs what is on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

Span = tuple[int, int]  # [start, end) in bytes, or in bits for bit spans

BYTES_PER_ROW = 16  # the width most dumps use; a narrow pane may show 8 (or 4) a row
HIDDEN_BYTE = "··"  # a byte held back (a checkpoint's answer), in the hex columns


def offset_digits(size: int) -> int:
    """How many hex digits the offset column needs for a buffer of `size` bytes (at least 4)."""
    return max(4, len(f"{max(size - 1, 0):x}"))


def hex_width(digits: int, per_row: int = BYTES_PER_ROW) -> int:
    """Cells in one hex-dump line: offset, `per_row` bytes in two groups, ASCII."""
    return digits + 2 + per_row * 3 + 2 + per_row


def row_count(size: int, per_row: int = BYTES_PER_ROW) -> int:
    return (size + per_row - 1) // per_row


def fitting_row(width: int, digits: int) -> int:
    """The most bytes a row may show (16, 8 or 4) for a line to fit in `width` cells."""
    for per_row in (BYTES_PER_ROW, 8, 4):
        if hex_width(digits, per_row) <= width:
            return per_row
    return 4


def _hex_column(digits: int, column: int, per_row: int = BYTES_PER_ROW) -> int:
    return digits + 2 + 3 * column + (1 if column >= per_row // 2 else 0)


def _ascii_column(digits: int, per_row: int = BYTES_PER_ROW) -> int:
    return digits + 2 + per_row * 3 + 2


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text in a rendered line; `kind` picks the style, `state` adds to it."""

    text: str
    kind: str  # "offset", "hex", "ascii", "dot" (an unprintable byte in ASCII), "gap", "hidden"
    state: str = ""  # "", "highlight" (the selected field's bytes), "cursor" or "highlight cursor"


def hex_line(
    data: bytes,
    row: int,
    *,
    digits: int,
    highlight: Span | None = None,
    cursor: int | None = None,
    per_row: int = BYTES_PER_ROW,
    hidden: Span | None = None,
) -> list[Piece]:
    """Line `row` of a hex dump of `data`: reads only the `per_row` bytes it shows.

    Bytes in `hidden` show as "··" and "·" (kind "hidden"): a value held back.
    """
    start = row * per_row
    chunk = data[start : start + per_row]
    lo, hi = highlight if highlight is not None else (0, 0)
    shut, to = hidden if hidden is not None else (0, 0)

    def state(offset: int) -> str:
        marked = "highlight" if lo <= offset < hi else ""
        if offset == cursor:
            return f"{marked} cursor".lstrip()
        return marked

    pieces = [Piece(f"{start:0{digits}x}", "offset"), Piece("  ", "gap")]
    for column in range(per_row):
        offset = start + column
        if column < len(chunk):
            if shut <= offset < to:
                pieces.append(Piece(HIDDEN_BYTE, "hidden", state(offset)))
            else:
                pieces.append(Piece(f"{chunk[column]:02x}", "hex", state(offset)))
        else:
            pieces.append(Piece("  ", "gap"))
        if column == per_row - 1:
            break
        joined = lo <= offset and offset + 1 < hi and column + 1 < len(chunk)
        gap = "  " if column == per_row // 2 - 1 else " "
        pieces.append(Piece(gap, "gap", "highlight" if joined else ""))
    pieces.append(Piece("  ", "gap"))
    for column, byte in enumerate(chunk):
        if shut <= start + column < to:
            pieces.append(Piece(HIDDEN_BYTE[0], "hidden", state(start + column)))
            continue
        char = chr(byte) if 0x20 <= byte < 0x7F else "."
        kind = "ascii" if 0x20 <= byte < 0x7F else "dot"
        pieces.append(Piece(char, kind, state(start + column)))
    return _merge(pieces)


_ASCII = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))  # unprintable: "."


def plain_hex_row(data: bytes, row: int, *, digits: int) -> str:
    """Line `row` of a 16-byte-a-row dump of `data` as plain text, the same characters as
    `hex_line`'s pieces joined (the unstyled form, for text output)."""
    start = row * BYTES_PER_ROW
    chunk = data[start : start + BYTES_PER_ROW]
    half = BYTES_PER_ROW // 2
    left, right = chunk[:half].hex(" "), chunk[half:].hex(" ")
    ascii = chunk.translate(_ASCII).decode("ascii")
    return f"{start:0{digits}x}  {left:<{half * 3 - 1}}  {right:<{half * 3 - 1}}  {ascii}"


def _merge(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if merged and merged[-1].kind == piece.kind and merged[-1].state == piece.state:
            merged[-1] = Piece(merged[-1].text + piece.text, piece.kind, piece.state)
        else:
            merged.append(piece)
    return merged


def byte_at(x: int, *, digits: int, per_row: int = BYTES_PER_ROW) -> int | None:
    """Which byte of a row (from 0) cell `x` of a hex-dump line shows, or None."""
    for column in range(per_row):
        left = _hex_column(digits, column, per_row)
        if left <= x < left + 2:
            return column
    ascii_left = _ascii_column(digits, per_row)
    if ascii_left <= x < ascii_left + per_row:
        return x - ascii_left
    return None


def where(start: int, end: int, bits: Span | None = None) -> str:
    """Where a field is, in words: "bytes 2–5", or for header bits "byte 0, bits 4–7".

    Bits are counted from the top bit of the first byte they touch, as RFC
    diagrams draw them: "bytes 12–13, bits 4–15" for TCP's data offset and flags.
    """
    if bits is not None:
        first, last = bits
        low_byte, high_byte = first // 8, (max(last, first + 1) - 1) // 8
        place = f"byte {low_byte}" if low_byte == high_byte else f"bytes {low_byte}–{high_byte}"
        low, high = first - low_byte * 8, last - 1 - low_byte * 8
        return place + (f", bit {low}" if low == high else f", bits {low}–{high}")
    if end <= start:
        return f"at byte {start}"
    return f"byte {start}" if end - start == 1 else f"bytes {start}–{end - 1}"


def bit_value(data: bytes, bits: Span) -> str:
    """Bits [start, end) of `data`, counted from the most significant bit of byte 0, as 0/1."""
    first, last = bits
    return "".join(str((data[i // 8] >> (7 - i % 8)) & 1) for i in range(first, last))
