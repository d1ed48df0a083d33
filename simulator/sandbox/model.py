"""A frame's bytes read as far as they go, never judged: what its header announces.

The sandbox's frames may be broken on purpose: a length that lies, a header cut
short, a masking key half there. `read_shape` reads what the header *says*;
`frame_spans` cuts bytes into the frames a receiver would read, in order;
`describe` puts one frame in a line. Whether any of it is valid is for the
engine to say (`simulator.sandbox.verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.text import plural
from simulator.ws.frames import (
    FIN,
    LENGTH,
    LENGTH_16,
    LENGTH_64,
    MASK,
    OPCODE,
    RSV1,
    RSV2,
    RSV3,
    Frame,
    Opcode,
)
from simulator.ws.mask import apply_mask

OPCODE_NAMES = {int(op): op.name.lower() for op in Opcode}
_LONGEST_HEADER = 14  # 2 bytes, an 8-byte length, a 4-byte masking key


@dataclass(frozen=True, slots=True)
class Shape:
    """What a frame's header announces, read as far as the bytes go and never judged.

    `length` is None while the extended length bytes are missing; `masking_key`
    is None when MASK is clear or the key bytes are missing; `payload_start` is
    None until the whole header is present.
    """

    first: int  # header byte 0: FIN, RSV1-3, opcode
    second: int  # header byte 1: MASK, the 7-bit payload length
    length: int | None
    masking_key: bytes | None
    payload_start: int | None
    size: int  # bytes present

    @property
    def masked(self) -> bool:
        return bool(self.second & MASK)

    @property
    def header_size(self) -> int:
        """The header's size: 2, plus 2 or 8 extended length bytes, plus 4 for a key."""
        marker = self.second & LENGTH
        extended = 2 if marker == LENGTH_16 else 8 if marker == LENGTH_64 else 0
        return 2 + extended + (4 if self.masked else 0)

    @property
    def end(self) -> int | None:
        """Where the frame ends, once the header says how long it is."""
        if self.length is None:
            return None
        return self.header_size + self.length

    @property
    def missing(self) -> int:
        """Bytes the receiver still waits for before it has this frame (0: it is whole).

        While the extended length is missing, the rest of the header: a lower bound.
        """
        if self.end is None:
            return self.header_size - self.size
        return max(0, self.end - self.size)


def read_shape(data: bytes) -> Shape | None:
    """The header of the frame at the start of `data`, or None for fewer than 2 bytes."""
    if len(data) < 2:
        return None
    b0, b1 = data[0], data[1]
    marker = b1 & LENGTH
    extended = 2 if marker == LENGTH_16 else 8 if marker == LENGTH_64 else 0
    length: int | None = marker
    if extended:
        length = None
        if len(data) >= 2 + extended:
            length = int.from_bytes(data[2 : 2 + extended], "big")
    pos = 2 + extended
    key = None
    if b1 & MASK:
        if len(data) >= pos + 4:
            key = bytes(data[pos : pos + 4])
        pos += 4
    start = pos if len(data) >= pos else None
    return Shape(b0, b1, length, key, start, len(data))


def payload_of(data: bytes, shape: Shape) -> tuple[bytes, bytes]:
    """(the payload bytes present as on the wire, the bytes after the announced end)."""
    if shape.payload_start is None or shape.end is None:
        return b"", b""
    end = shape.end
    return data[shape.payload_start : end], data[end:]


def frame_spans(data: bytes) -> list[tuple[int, int]]:
    """Where each frame a receiver would read from `data` starts and ends, in order.

    Every byte is in one span; the last span may be a frame cut short (or fewer
    than 2 bytes, no header at all), and then ends where the bytes do.
    """
    spans: list[tuple[int, int]] = []
    pos, size = 0, len(data)
    while pos < size:
        shape = read_shape(data[pos : pos + _LONGEST_HEADER])
        end = size if shape is None or shape.end is None else min(size, pos + shape.end)
        spans.append((pos, end))
        pos = end
    return spans


def frame_of(data: bytes, shape: Shape, payload: bytes) -> Frame:
    """The engine's `Frame` value for the header in `data` (cut where the bytes stop)."""
    b0 = shape.first
    header_end = shape.payload_start if shape.payload_start is not None else len(data)
    return Frame(
        bool(b0 & FIN), bool(b0 & RSV1), bool(b0 & RSV2), bool(b0 & RSV3), b0 & OPCODE,
        shape.masking_key, payload, data[:header_end],
    )  # fmt: skip


def describe(data: bytes) -> str:
    """One line on the frame at the start of `data`: `Frame.__str__`, or what is missing."""
    shape = read_shape(data)
    if shape is None:
        return f"not a frame: {plural(len(data), 'byte')}, a header needs 2"
    if shape.missing:
        opcode = shape.first & OPCODE
        name = OPCODE_NAMES.get(opcode, f"opcode {opcode:#x}").upper()
        least = "" if shape.end is not None else "at least "
        return f"{name} frame, incomplete: {least}{plural(shape.missing, 'more byte')} to come"
    payload, rest = payload_of(data, shape)
    clear = apply_mask(payload, shape.masking_key) if shape.masking_key else payload
    after = f" + {plural(len(rest), 'byte')} after it" if rest else ""
    return f"{frame_of(data, shape, clear)}{after}"
