"""A frame's header fields as the sandbox's screen shows them, and how to edit each one.

The spans are the engine's own (`Frame.fields()`); a header that lies shows
what it says, not what arrived. `HeaderField.edits_for` turns what the learner
types into edits, or an `EditError` with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.sandbox.edits import (
    Edit,
    EditError,
    ToggleBit,
    announce_length,
    set_bits,
    set_byte,
    set_length,
    toggle_bit,
)
from simulator.sandbox.model import OPCODE_NAMES, frame_of, payload_of, read_shape
from simulator.ws.frames import LENGTH_16, FieldSpan

_LABELS = {
    "fin": "FIN",
    "rsv1": "RSV1",
    "rsv2": "RSV2",
    "rsv3": "RSV3",
    "opcode": "opcode",
    "mask": "MASK",
    "payload_length": "payload length",
    "extended_payload_length": "ext. length",
    "masking_key": "masking key",
}


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field as the sandbox shows it, and how to edit it."""

    name: str  # the frames module's name: "fin", "opcode", "masking_key", ...
    label: str  # "FIN", "payload length", ...
    display: str  # "1", "0x1 text", "37 fa 21 3d"
    start: int  # byte span, end exclusive
    end: int
    bits: tuple[int, int] | None  # absolute bit span for the sub-byte fields
    value: int | bytes

    @property
    def is_flag(self) -> bool:
        """A one-bit field: flipped, not typed."""
        return self.bits is not None and self.bits[1] - self.bits[0] == 1

    @property
    def hint(self) -> str:
        """What to type to edit it."""
        return {
            "opcode": "opcode, 0–15 (e.g. 3 or 0xb)",
            "payload_length": "7-bit length, 0–127 (126/127 announce an extended length)",
            "extended_payload_length": "payload length to announce, any size",
            "masking_key": "4 bytes of masking key in hex (e.g. 37 fa 21 3d)",
        }.get(self.name, "")

    def flip(self) -> ToggleBit:
        """The edit that flips this one-bit field."""
        if self.bits is None or not self.is_flag:
            raise EditError(f"{self.label} is not a single bit")
        return toggle_bit(self.bits[0] // 8, self.bits[0] % 8)

    def edits_for(self, text: str) -> tuple[Edit, ...]:
        """The edits that write what the learner typed; raises `EditError` with a hint."""
        text = text.strip()
        if self.is_flag:
            value = _number(text, self.hint or "0 or 1")
            if value not in (0, 1):
                raise EditError(f"{self.label} is one bit: 0 or 1")
            return () if value == self.value else (self.flip(),)
        if self.name == "opcode":
            return (set_bits(4, 8, _number(text, self.hint)),)
        if self.name == "payload_length":
            return (set_length(_number(text, self.hint)),)
        if self.name == "extended_payload_length":
            form = 16 if self.end - self.start == 2 else 64
            return (announce_length(_number(text, self.hint), form=form),)
        if self.name == "masking_key":
            key = _hex_bytes(text, self.hint)
            if len(key) != 4:
                raise EditError(f"a masking key is 4 bytes, not {len(key)}")
            return tuple(set_byte(self.start + i, b) for i, b in enumerate(key))
        raise EditError(f"{self.label} cannot be edited")


def _number(text: str, hint: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise EditError(f"not a number: {text!r} (expected {hint})") from None


def _hex_bytes(text: str, hint: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError:
        raise EditError(f"not hex bytes: {text!r} (expected {hint})") from None


def header_fields(data: bytes) -> list[HeaderField]:
    """The header fields present in `data`, with the engine's own spans (`Frame.fields()`)."""
    shape = read_shape(data)
    if shape is None:
        return []
    payload, _ = payload_of(data, shape)
    fields = []
    for span in frame_of(data, shape, payload).fields():
        if span.name == "payload" or span.end > len(data):
            continue
        if span.name == "extended_payload_length":
            span = replace(span, value=shape.length)
        fields.append(_header_field(span))
    return fields


def _header_field(span: FieldSpan) -> HeaderField:
    value = span.value
    if isinstance(value, bool):
        number: int | bytes = int(value)
        display = str(number)
    elif isinstance(value, bytes):
        number, display = value, value.hex(" ")
    else:
        number = value or 0
        display = str(number)
    if span.name == "opcode" and isinstance(number, int):
        display = f"{number:#x} {OPCODE_NAMES.get(number, 'reserved')}"
    elif span.name == "payload_length" and isinstance(number, int) and number >= LENGTH_16:
        display = f"{number} → {'16' if number == LENGTH_16 else '64'}-bit"
    return HeaderField(
        span.name, _LABELS.get(span.name, span.name), display, span.start, span.end,
        span.bits, number,
    )  # fmt: skip
