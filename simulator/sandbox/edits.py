"""Edits: small values that rewrite a frame's bytes, one change each.

Bits count from the most significant bit of byte 0, as dissectors draw them.
An edit applies to any bytes; one that cannot (a byte past the end, a header
too short for it) raises `EditError` saying why. `apply_edits` runs a list of
them in order; `changed_offsets` says which bytes they touched, for the screen.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.errors import WirelabError
from simulator.sandbox.model import payload_of, read_shape
from simulator.text import plural
from simulator.ws.frames import LENGTH_16, LENGTH_64, MASK, pack_header
from simulator.ws.mask import apply_mask


class EditError(WirelabError):
    """An edit that cannot apply to these bytes (a byte past the end, a value too big)."""


_BIT_NAMES = {0: "FIN", 1: "RSV1", 2: "RSV2", 3: "RSV3", 8: "MASK"}


def _bit_name(byte: int, bit: int) -> str:
    absolute = byte * 8 + bit
    if absolute in _BIT_NAMES:
        return f" ({_BIT_NAMES[absolute]})"
    if 4 <= absolute < 8:
        return " (opcode)"
    if 9 <= absolute < 16:
        return " (payload length)"
    return ""


@dataclass(frozen=True, slots=True)
class ToggleBit:
    """Flip one bit. Bits count from the most significant (bit 0), as dissectors draw them."""

    byte: int
    bit: int

    def apply(self, data: bytes) -> bytes:
        if not 0 <= self.byte < len(data):
            raise EditError(f"byte {self.byte} is past the end ({plural(len(data), 'byte')})")
        out = bytearray(data)
        out[self.byte] ^= 0x80 >> self.bit
        return bytes(out)

    def __str__(self) -> str:
        return f"flip byte {self.byte} bit {self.bit}{_bit_name(self.byte, self.bit)}"


@dataclass(frozen=True, slots=True)
class SetBits:
    """Write `value` into bits [start, end) of the bytes, counted from the top bit of byte 0."""

    start: int
    end: int
    value: int

    def apply(self, data: bytes) -> bytes:
        width = self.end - self.start
        if (self.end - 1) // 8 >= len(data):
            raise EditError(f"bits {self.start}–{self.end - 1} are past the end")
        out = bytearray(data)
        for i in range(width):
            absolute = self.start + i
            on = (self.value >> (width - 1 - i)) & 1
            mask = 0x80 >> (absolute % 8)
            out[absolute // 8] = (out[absolute // 8] | mask) if on else (out[absolute // 8] & ~mask)
        return bytes(out)

    def __str__(self) -> str:
        if (self.start, self.end) == (4, 8):
            return f"opcode := {self.value:#x}"
        return f"bits {self.start}–{self.end - 1} := {self.value}"


@dataclass(frozen=True, slots=True)
class SetByte:
    """Overwrite the byte at `offset` with `value`."""

    offset: int
    value: int

    def apply(self, data: bytes) -> bytes:
        if not 0 <= self.offset < len(data):
            raise EditError(f"byte {self.offset} is past the end ({plural(len(data), 'byte')})")
        out = bytearray(data)
        out[self.offset] = self.value
        return bytes(out)

    def __str__(self) -> str:
        return f"byte {self.offset} := {self.value:02x}"


@dataclass(frozen=True, slots=True)
class SetLength:
    """Rewrite the 7-bit payload length field and nothing else: a lie if it disagrees.

    126 and 127 make the receiver read the next 2 or 8 bytes as the length.
    """

    length: int

    def apply(self, data: bytes) -> bytes:
        if len(data) < 2:
            raise EditError("no payload length field: the frame has fewer than 2 bytes")
        out = bytearray(data)
        out[1] = (out[1] & MASK) | self.length
        return bytes(out)

    def __str__(self) -> str:
        return f"7-bit payload length := {self.length}"


@dataclass(frozen=True, slots=True)
class AnnounceLength:
    """Announce `length` in the header (in the 7-, 16- or 64-bit form), payload untouched.

    `form` None picks the shortest form, as a sender must (RFC 6455 §5.2);
    16 or 64 forces a longer one.
    """

    length: int
    form: int | None = None

    def apply(self, data: bytes) -> bytes:
        shape = read_shape(data)
        if shape is None or shape.payload_start is None:
            raise EditError("the header is incomplete")
        payload, rest = payload_of(data, shape)
        b1 = shape.second & MASK
        if self.form == 16:
            length = bytes((b1 | LENGTH_16,)) + self.length.to_bytes(2, "big")
        elif self.form == 64:
            length = bytes((b1 | LENGTH_64,)) + self.length.to_bytes(8, "big")
        else:
            header = pack_header(shape.first, self.length, None)
            length = bytes((header[1] | b1,)) + header[2:]
        key = shape.masking_key or b""
        return bytes((shape.first,)) + length + key + payload + rest

    def __str__(self) -> str:
        form = f" in the {self.form}-bit form" if self.form else ""
        return f"announced length := {self.length}{form}"


@dataclass(frozen=True, slots=True)
class SetPayload:
    """Replace the application data with `data`: masked with the frame's key if it has one,
    and the length rewritten to match (an honest header, in the shortest form)."""

    data: bytes

    def apply(self, data: bytes) -> bytes:
        shape = read_shape(data)
        if shape is None or shape.payload_start is None:
            raise EditError("the header is incomplete")
        if shape.masked and shape.masking_key is None:
            raise EditError("the masking key is incomplete")
        _, rest = payload_of(data, shape)
        header = pack_header(shape.first, len(self.data), shape.masking_key)
        if shape.masked and shape.masking_key is not None:
            wire = apply_mask(self.data, shape.masking_key)
        else:
            wire = self.data
        return header + wire + rest

    def __str__(self) -> str:
        shown = self.data[:12].hex(" ") + (" …" if len(self.data) > 12 else "")
        return f"payload := {shown} [{plural(len(self.data), 'byte')}]"


Edit = ToggleBit | SetBits | SetByte | SetLength | AnnounceLength | SetPayload


def toggle_bit(byte: int, bit: int) -> ToggleBit:
    """Flip bit `bit` (0 = most significant) of byte `byte`."""
    if not 0 <= bit <= 7 or byte < 0:
        raise EditError(f"no bit {bit} of byte {byte}: bits are 0 (most significant) to 7")
    return ToggleBit(byte, bit)


def set_bits(start: int, end: int, value: int) -> SetBits:
    """Write `value` into bits [start, end), counted from the top bit of byte 0."""
    if not 0 <= start < end or not 0 <= value < 1 << (end - start):
        raise EditError(f"{value} does not fit in bits {start}–{end - 1}")
    return SetBits(start, end, value)


def set_byte(offset: int, value: int) -> SetByte:
    """Overwrite byte `offset` with `value` (0-255)."""
    if offset < 0 or not 0 <= value <= 0xFF:
        raise EditError(f"a byte holds 0–255 (0x00–0xff), not {value}")
    return SetByte(offset, value)


def set_length(n: int) -> SetLength:
    """Rewrite the 7-bit payload length field only (0-127), whatever follows: a lie."""
    if not 0 <= n <= 127:
        raise EditError(f"the 7-bit payload length holds 0–127, not {n}")
    return SetLength(n)


def announce_length(n: int, *, form: int | None = None) -> AnnounceLength:
    """Announce a payload of `n` bytes (any size) while sending the same payload."""
    limit = {None: 1 << 64, 16: 1 << 16, 64: 1 << 64}.get(form)
    if limit is None or not 0 <= n < limit:
        raise EditError(f"{n} cannot be written as a {form or 'payload'}-bit length")
    return AnnounceLength(n, form)


def set_payload_bytes(data: bytes) -> SetPayload:
    """Replace the application data (unmasked) with `data`; the header tells the truth."""
    return SetPayload(bytes(data))


def apply_edits(frame: bytes, edits: Sequence[Edit]) -> bytes:
    """`frame` with every edit applied in order. Raises `EditError` if one cannot apply."""
    data = bytes(frame)
    for edit in edits:
        data = edit.apply(data)
    return data


def changed_offsets(before: bytes, after: bytes) -> frozenset[int]:
    """Offsets in `after` whose bytes are new or changed (an inserted length counts as new)."""
    if len(before) == len(after) or max(len(before), len(after)) > 8192:
        changed = {i for i, b in enumerate(after) if i >= len(before) or before[i] != b}
        return frozenset(changed)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    changed = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changed.update(range(j1, j2))
    return frozenset(changed)
