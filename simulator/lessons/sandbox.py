"""The break-it sandbox: edit a frame's bits and bytes, let the real engine judge it.

Theory of operation
-------------------
A learner takes a frame from a lesson and breaks it: flips a header bit,
rewrites a byte, lies about the length, corrupts the payload. Each change is
an `Edit`, a small value that knows how to rewrite bytes; `presets` offers
ready-made lists of edits ("clear MASK", "set RSV1", ...).

`judge` then feeds the edited bytes to a fresh engine of the *receiving* role
— a server `Connection` for a client's frame, a client `Connection` for a
server's — after a real opening handshake, exactly as a live or simulated
peer would see them. The `Verdict` reports what the engine did (its events,
the close frame it queued, the code and the reason), says it in a line (its
`summary`: what was delivered or answered, what the receiver waits for, the
close code it failed with) and names the RFC rule behind it, found in `RULES`:
a table keyed by the `Violation` the engine reports, with a fallback on the
close code alone. Nothing here decides whether a frame is valid: only the
engine does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

from simulator.errors import WirelabError
from simulator.text import plural
from simulator.ws.close_codes import CloseCode, explain
from simulator.ws.connection import DEFAULT_MAX_SIZE, Config, Connection, Role
from simulator.ws.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
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
    FieldSpan,
    Frame,
    Opcode,
    pack_header,
    parse_frames,
)
from simulator.ws.mask import apply_mask

__all__ = [
    "RULES",
    "AnnounceLength",
    "Edit",
    "EditError",
    "FrameFacts",
    "HeaderField",
    "Preset",
    "Rule",
    "SetBits",
    "SetByte",
    "SetLength",
    "SetPayload",
    "Shape",
    "Status",
    "ToggleBit",
    "Verdict",
    "Violation",
    "announce_length",
    "apply_edits",
    "changed_offsets",
    "describe",
    "frame_facts",
    "header_fields",
    "identify",
    "judge",
    "presets",
    "read_shape",
    "rule_for",
    "set_bits",
    "set_byte",
    "set_length",
    "set_payload_bytes",
    "toggle_bit",
]


class EditError(WirelabError):
    """An edit that cannot apply to these bytes (a byte past the end, a value too big)."""


# --- reading a frame that may be broken -------------------------------------------------


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


def _payload(data: bytes, shape: Shape) -> tuple[bytes, bytes]:
    """(the payload bytes present as on the wire, the bytes after the announced end)."""
    if shape.payload_start is None or shape.end is None:
        return b"", b""
    end = shape.end
    return data[shape.payload_start : end], data[end:]


# --- edits --------------------------------------------------------------------------------

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
        payload, rest = _payload(data, shape)
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
        _, rest = _payload(data, shape)
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


# --- presets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preset:
    """A named break, ready to apply to the frame it was made for."""

    name: str
    edits: tuple[Edit, ...]
    note: str  # what it does, in a line

    def apply(self, frame: bytes) -> bytes:
        return apply_edits(frame, self.edits)


_CONTROL_PAYLOAD = b"ping"


def presets(frame_bytes: bytes, sent_by_client: bool) -> list[Preset]:
    """The ready-made breaks that apply to `frame_bytes`, most instructive first.

    Each starts from `frame_bytes` as given; a preset that needs a whole
    header is left out when the header is incomplete.
    """
    shape = read_shape(frame_bytes)
    if shape is None or shape.payload_start is None:
        return []
    found: list[Preset] = []
    payload, _ = _payload(frame_bytes, shape)
    clear = apply_mask(payload, shape.masking_key) if shape.masking_key else payload
    opcode = shape.first & OPCODE
    fin_bit = shape.first & FIN
    who = "client" if sent_by_client else "server"

    if shape.masked:
        found.append(
            Preset(
                "clear MASK",
                (toggle_bit(1, 0),),
                "the MASK bit says 0: the frame claims to be unmasked",
            )
        )
    else:
        found.append(
            Preset(
                "set MASK",
                (toggle_bit(1, 0),),
                "the MASK bit says 1: the frame claims a masking key follows",
            )
        )
    if not shape.first & RSV1:
        found.append(Preset("set RSV1", (toggle_bit(0, 1),), "RSV1 = 1 with no extension agreed"))
    found.append(
        Preset("reserved opcode 0x3", (set_bits(4, 8, 0x3),), "opcode 0x3: a reserved data opcode")
    )
    length7 = shape.second & LENGTH
    if length7 < 125:
        lie = min(length7 + 10, 125)
        found.append(
            Preset(
                "length says more than sent",
                (set_length(lie),),
                f"the length field says {lie}, but the payload is {plural(length7, 'byte')}",
            )
        )
    found.append(
        Preset(
            "invalid UTF-8 in text",
            (
                *(() if opcode == Opcode.TEXT else (set_bits(4, 8, Opcode.TEXT),)),
                set_payload_bytes(clear[:-1] + b"\xff" if clear else b"\xff"),
            ),
            "a text frame whose payload ends with 0xff, a byte UTF-8 never uses",
        )
    )
    found.append(
        Preset(
            "ping with 126-byte payload",
            (set_byte(0, FIN | Opcode.PING), set_payload_bytes(b"p" * 126)),
            "a ping carrying 126 bytes, one more than a control frame may",
        )
    )
    found.append(
        Preset(
            "fragmented ping",
            (set_byte(0, Opcode.PING), set_payload_bytes(_CONTROL_PAYLOAD)),
            "a ping with FIN = 0, as if more of it followed",
        )
    )
    found.append(
        Preset(
            "close code 1005 on the wire",
            (set_byte(0, FIN | Opcode.CLOSE), set_payload_bytes((1005).to_bytes(2, "big"))),
            "a close frame carrying 1005, a code only for reporting",
        )
    )
    if opcode in (Opcode.TEXT, Opcode.BINARY):
        big = DEFAULT_MAX_SIZE + 1
        found.append(
            Preset(
                "length over the 1 MiB limit",
                (announce_length(big),),
                f"the header announces {big} bytes, one more than the receiver accepts",
            )
        )
    found.append(
        Preset(
            "reserved opcode 0xB",
            (set_bits(4, 8, 0xB),),
            "opcode 0xB: a reserved control opcode",
        )
    )
    found.append(
        Preset(
            "continuation with no message",
            (set_bits(4, 8, Opcode.CONTINUATION),),
            "opcode 0: continues a message that was never started",
        )
    )
    if len(clear) >= 2:
        half = len(clear) // 2
        if payload[:half] and length7 < 126:
            found.append(
                Preset(
                    "length says less than sent",
                    (set_length(half),),
                    f"the length field says {half}: the rest is read as the next frame's header",
                )
            )
    found.append(
        Preset(
            "close with a 1-byte payload",
            (set_byte(0, FIN | Opcode.CLOSE), set_payload_bytes(b"\x03")),
            "a close frame whose body is one byte: half a status code",
        )
    )
    found.append(
        Preset(
            "invalid UTF-8 in close reason",
            (
                set_byte(0, FIN | Opcode.CLOSE),
                set_payload_bytes((1000).to_bytes(2, "big") + b"bye\xff"),
            ),
            "a close frame with code 1000 and a reason that is not UTF-8",
        )
    )
    found.append(
        Preset(
            "64-bit length with its top bit set",
            (announce_length((1 << 63) | len(payload), form=64),),
            "the 64-bit length's most significant bit is 1",
        )
    )
    if opcode in (Opcode.TEXT, Opcode.BINARY) and fin_bit and length7 < 126:
        found.append(
            Preset(
                "length in the 16-bit form",
                (announce_length(len(payload), form=16),),
                f"the same {plural(len(payload), 'byte')}, their length in the 16-bit form: "
                f"the {who} breaks §5.2's minimal-encoding rule",
            )
        )
    return found


# --- header fields, for the screen ------------------------------------------------------

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
_OPCODE_NAMES = {int(op): op.name.lower() for op in Opcode}


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
    payload, _ = _payload(data, shape)
    fields = []
    for span in _frame(data, shape, payload).fields():
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
        display = f"{number:#x} {_OPCODE_NAMES.get(number, 'reserved')}"
    elif span.name == "payload_length" and isinstance(number, int) and number >= LENGTH_16:
        display = f"{number} → {'16' if number == LENGTH_16 else '64'}-bit"
    return HeaderField(
        span.name, _LABELS.get(span.name, span.name), display, span.start, span.end,
        span.bits, number,
    )  # fmt: skip


def describe(data: bytes) -> str:
    """One line on the frame at the start of `data`: `Frame.__str__`, or what is missing."""
    shape = read_shape(data)
    if shape is None:
        return f"not a frame: {plural(len(data), 'byte')}, a header needs 2"
    if shape.missing:
        opcode = shape.first & OPCODE
        name = _OPCODE_NAMES.get(opcode, f"opcode {opcode:#x}").upper()
        least = "" if shape.end is not None else "at least "
        return f"{name} frame, incomplete: {least}{plural(shape.missing, 'more byte')} to come"
    payload, rest = _payload(data, shape)
    clear = apply_mask(payload, shape.masking_key) if shape.masking_key else payload
    after = f" + {plural(len(rest), 'byte')} after it" if rest else ""
    return f"{_frame(data, shape, clear)}{after}"


def _frame(data: bytes, shape: Shape, payload: bytes) -> Frame:
    """The engine's `Frame` value for the header in `data` (cut where the bytes stop)."""
    b0 = shape.first
    header_end = shape.payload_start if shape.payload_start is not None else len(data)
    return Frame(
        bool(b0 & FIN), bool(b0 & RSV1), bool(b0 & RSV2), bool(b0 & RSV3), b0 & OPCODE,
        shape.masking_key, payload, data[:header_end],
    )  # fmt: skip


# --- the rules --------------------------------------------------------------------------


class Violation(Enum):
    """A failure the engine reports: which RFC rule a frame broke.

    The engine's `ProtocolError` names its failure in words only (with the close code
    beside them), so each member's value is the engine's reason word for word, the
    failing frame's numbers left as fields: {opcode}, {length}, {close_code} and
    {limit}. `identify` fills them from the frames' own bytes (`FrameFacts`), never
    from the text, and takes the member whose words then equal the engine's. A
    `Violation` carried by the engine's errors would make that lookup unnecessary.
    """

    UNMASKED_CLIENT_FRAME = "client frame is not masked"
    MASKED_SERVER_FRAME = "server frame is masked"
    RSV_WITHOUT_EXTENSION = "RSV bits set without a negotiated extension"
    RSV_ON_CONTROL_FRAME = "RSV bits set on a control frame"
    RESERVED_OPCODE = "reserved opcode {opcode:#x}"
    LENGTH_TOP_BIT = "64-bit payload length has its most significant bit set"
    FRAGMENTED_CONTROL_FRAME = "fragmented control frame"
    CONTROL_FRAME_TOO_LONG = "control frame with a {length}-byte payload (max 125)"
    CONTINUATION_WITHOUT_MESSAGE = "continuation frame without a message to continue"
    INTERLEAVED_MESSAGE = "new data frame inside a fragmented message"
    TEXT_NOT_UTF8 = "text message is not valid UTF-8"
    CLOSE_REASON_NOT_UTF8 = "close reason is not valid UTF-8"
    CLOSE_WITH_ONE_BYTE = "close frame with a 1-byte payload"
    INVALID_CLOSE_CODE = "invalid close code {close_code}"
    MESSAGE_TOO_BIG = "message of more than {limit} bytes"
    FRAME_TOO_BIG = "frame of {length} bytes exceeds the {limit}-byte limit"


@dataclass(frozen=True, slots=True)
class FrameFacts:
    """The numbers of one frame the rules quote, read from its header and payload bytes."""

    opcode: int
    length: int | None  # as announced; None while the extended length bytes are missing
    close_code: int | None  # a close frame's status code (its first 2 payload bytes)
    limit: int  # the receiver's message size limit (`Config.max_size`)

    def words(self, template: str) -> str:
        """`template` with these numbers in its {fields}."""
        return template.format(
            opcode=self.opcode, length=self.length, close_code=self.close_code, limit=self.limit
        )


def frame_facts(data: bytes, *, limit: int) -> list[FrameFacts]:
    """The facts of every frame whose header starts in `data`, in order."""
    found: list[FrameFacts] = []
    pos = 0
    while (shape := read_shape(data[pos:])) is not None:
        opcode = shape.first & OPCODE
        code = None
        if opcode == Opcode.CLOSE:
            payload, _ = _payload(data[pos:], shape)
            clear = apply_mask(payload, shape.masking_key) if shape.masking_key else payload
            code = int.from_bytes(clear[:2], "big") if len(clear) >= 2 else None
        found.append(FrameFacts(opcode, shape.length, code, limit))
        if shape.end is None or shape.missing:
            break
        pos += shape.end
    return found


def identify(reason: str, facts: Sequence[FrameFacts]) -> tuple[Violation, FrameFacts] | None:
    """The violation the engine's `reason` reports, and the facts of the frame it is about."""
    candidates = facts or (FrameFacts(0, None, None, 0),)
    for violation in Violation:
        for fact in candidates:
            if fact.words(violation.value) == reason:
                return violation, fact
    return None


@dataclass(frozen=True, slots=True)
class Rule:
    """The RFC rule behind one `Violation`.

    `text` may quote the failing frame's numbers, as `FrameFacts.words` fills them;
    `code`, when set, is the close code the rule calls for (another code falls back
    on what that code means); `refine` picks section and text from the facts.
    """

    section: str
    text: str
    code: int | None = None
    refine: Callable[[FrameFacts], tuple[str, str]] | None = None


def _close_code_rule(facts: FrameFacts) -> tuple[str, str]:
    code = facts.close_code
    if code is None:  # pragma: no cover - the engine names a code it read
        return "§7.4", "a close frame's status code must be one an endpoint may send"
    if code in (1005, 1006, 1015):
        return "§7.4.1", (
            f"{code} is a reserved value and MUST NOT be set as a status code in a Close "
            "control frame by an endpoint (it only reports what happened)"
        )
    if code < 1000:
        return "§7.4.2", "status codes in the range 0-999 are not used"
    if code == 1004:
        return "§7.4.1", "1004 is reserved: its meaning might be defined in the future"
    if code < 3000:
        return "§7.4.2", (
            f"1000-2999 are kept for this protocol and its extensions; {code} is not "
            "defined by RFC 6455 nor registered with IANA"
        )
    return "§7.4.2", f"status codes run from 1000 to 4999; {code} is outside every range"


_TOO_BIG = Rule(
    "§10.4",
    "an implementation with limits on frame or message size MUST protect itself against "
    "exceeding them; it closes with 1009, a message too big to process (§7.4.1)",
    code=CloseCode.MESSAGE_TOO_BIG,
)

RULES: dict[Violation, Rule] = {
    Violation.UNMASKED_CLIENT_FRAME: Rule(
        "§5.1",
        "a server MUST close the connection upon receiving a frame that is not masked "
        "(a client MUST mask every frame it sends)",
    ),
    Violation.MASKED_SERVER_FRAME: Rule(
        "§5.1",
        "a server MUST NOT mask any frames it sends; a client MUST close a connection if it "
        "detects a masked frame",
    ),
    Violation.RSV_WITHOUT_EXTENSION: Rule(
        "§5.2",
        "RSV1, RSV2 and RSV3 MUST be 0 unless an extension is negotiated that defines "
        "non-zero values; otherwise the receiving endpoint MUST fail the connection",
    ),
    Violation.RSV_ON_CONTROL_FRAME: Rule(
        "§5.2",
        "RSV bits MUST be 0 unless a negotiated extension defines them, and "
        "permessage-deflate never does for control frames (RFC 7692 §6)",
    ),
    Violation.RESERVED_OPCODE: Rule(
        "§5.2",
        "opcodes 0x3-0x7 and 0xB-0xF are reserved; if an unknown opcode (here {opcode:#x}) "
        "is received, the receiving endpoint MUST fail the connection",
    ),
    Violation.LENGTH_TOP_BIT: Rule(
        "§5.2", "in the 64-bit extended payload length, the most significant bit MUST be 0"
    ),
    Violation.FRAGMENTED_CONTROL_FRAME: Rule(
        "§5.5",
        "all control frames MUST have a payload length of 125 bytes or less and MUST NOT be "
        "fragmented (a ping, pong or close always has FIN = 1)",
    ),
    Violation.CONTROL_FRAME_TOO_LONG: Rule(
        "§5.5",
        "all control frames MUST have a payload length of 125 bytes or less (this one "
        "announced {length}) and MUST NOT be fragmented",
    ),
    Violation.CONTINUATION_WITHOUT_MESSAGE: Rule(
        "§5.4",
        "a fragmented message is one frame with FIN = 0 and a text or binary opcode, then "
        "continuation frames (opcode 0), the last with FIN = 1; a continuation frame with "
        "no message open fits no such sequence",
    ),
    Violation.INTERLEAVED_MESSAGE: Rule(
        "§5.4",
        "the fragments of one message MUST NOT be interleaved between the fragments of "
        "another message unless an extension has been negotiated that can interpret the "
        "interleaving",
    ),
    Violation.TEXT_NOT_UTF8: Rule(
        "§8.1",
        "an endpoint that finds that bytes it must read as UTF-8 are not valid UTF-8 MUST "
        "fail the WebSocket connection (a text message is UTF-8, §5.6)",
        code=CloseCode.INVALID_PAYLOAD,
    ),
    Violation.CLOSE_REASON_NOT_UTF8: Rule(
        "§5.5.1",
        "after its 2-byte status code, a close frame's body is a UTF-8 reason; bytes that "
        "are not valid UTF-8 MUST fail the connection (§8.1)",
        code=CloseCode.INVALID_PAYLOAD,
    ),
    Violation.CLOSE_WITH_ONE_BYTE: Rule(
        "§5.5.1",
        "if a close frame has a body, its first two bytes MUST be a 2-byte unsigned integer "
        "(network byte order) holding a status code",
    ),
    Violation.INVALID_CLOSE_CODE: Rule("§7.4", "", refine=_close_code_rule),
    Violation.MESSAGE_TOO_BIG: _TOO_BIG,
    Violation.FRAME_TOO_BIG: _TOO_BIG,
}

# When no rule applies: what the close code alone says (RFC 6455 §7.4.1).
_BY_CODE = {
    1002: "1002 indicates that an endpoint is terminating the connection due to a protocol error",
    1003: "1003 indicates that an endpoint received a type of data it cannot accept",
    1007: "1007 indicates that an endpoint received data within a message that was not "
    "consistent with the type of the message (e.g. non-UTF-8 data within a text message)",
    1008: "1008 indicates that an endpoint received a message that violates its policy",
    1009: "1009 indicates that an endpoint received a message that is too big for it to process",
}


def rule_for(
    violation: Violation | None, close_code: int, facts: FrameFacts | None = None
) -> tuple[str, str]:
    """(section, rule) for a failure the engine reported with `close_code`.

    The rule reads "RFC 6455 §5.1: a server MUST ..."; it quotes `facts`, the failing
    frame's numbers. An unknown violation (None), or a close code other than the one
    the rule calls for, falls back on what the close code means.
    """
    rule = None if violation is None else RULES[violation]
    if rule is not None and (rule.code is None or rule.code == close_code):
        facts = facts or FrameFacts(0, None, None, 0)
        if rule.refine is not None:
            section, text = rule.refine(facts)
        else:
            section, text = rule.section, facts.words(rule.text)
        return section, f"RFC 6455 {section}: {text}"
    text = _BY_CODE.get(close_code, f"close code {close_code} means {explain(close_code)}")
    return "§7.4.1", f"RFC 6455 §7.4.1: {text}"


# --- the verdict ------------------------------------------------------------------------


Status = Literal["ACCEPTED", "REJECTED", "INCOMPLETE"]


@dataclass(frozen=True)
class Verdict:
    """What the receiving engine did with the bytes, and the RFC rule behind it.

    `summary` says in a line what happened (never empty): what was delivered or
    answered, what the receiver waits for, or the close code it failed with.
    `close_code` and `close_frame` are those of the close frame the engine queued in
    answer, if it queued one; `reason` is the engine's own words (for a failure) or a
    note; `violation` the rule the engine's failure names, when known; `waiting` is how
    many more bytes the receiver waits for when the bytes stop mid-frame; `answer` is
    every byte the engine queued (a pong, the close frame).
    """

    accepted: bool
    events: list[str]
    close_code: int | None
    reason: str
    rule: str
    section: str
    close_frame: bytes | None
    summary: str
    waiting: int | None = None
    answer: bytes = b""
    violation: Violation | None = None

    @property
    def incomplete(self) -> bool:
        return self.waiting is not None

    @property
    def status(self) -> Status:
        """One word: ACCEPTED, REJECTED or INCOMPLETE."""
        if self.waiting is not None:
            return "INCOMPLETE"
        return "ACCEPTED" if self.accepted else "REJECTED"

    @property
    def meaning(self) -> str:
        """The close code's explanation (`close_codes.explain`), or "" without one."""
        return "" if self.close_code is None else explain(self.close_code)

    @property
    def replies(self) -> list[str]:
        """The frames the engine queued in answer, one line each."""
        frames, _ = parse_frames(self.answer)
        return [str(frame) for frame in frames]

    @property
    def headline(self) -> str:
        """One line: "REJECTED · close 1002: …", "ACCEPTED · the server delivered …"."""
        return f"{self.status} · {self.summary}"


# The opening handshake every judge starts from: RFC 6455 §1.3's nonce, §5.7's masking key,
# so the same bytes always get the same answer, byte for byte.
_NONCE = b"the sample nonce"
_MASKING_KEY = bytes.fromhex("37fa213d")


def _sample_random(n: int) -> bytes:
    return _NONCE if n == 16 else (_MASKING_KEY * (n // 4 + 1))[:n]


def _open_pair(max_size: int) -> tuple[Connection, Connection]:
    """A client and a server past a real opening handshake, both OPEN, queues empty."""
    config = Config(max_size=max_size)
    client = Connection(Role.CLIENT, config=config, rng=_sample_random)
    server = Connection(Role.SERVER, config=config, rng=_sample_random)
    client.connect("server.example.com", "/chat")
    server.receive_data(client.data_to_send())
    server.events()
    server.accept()
    client.receive_data(server.data_to_send())
    client.events()
    if client.closed or server.closed:  # pragma: no cover - the engine's own handshake
        raise WirelabError("the sandbox's opening handshake failed")
    return client, server


def _waiting(data: bytes) -> tuple[int, bool]:
    """Bytes the receiver still waits for after the last whole frame in `data` (0: none),
    and whether that is exact (False: the length is still unknown, so at least that)."""
    pos = 0
    while True:
        shape = read_shape(data[pos:])
        if shape is None:
            return (2 - (len(data) - pos), False) if pos < len(data) or not pos else (0, True)
        if shape.end is None:
            return shape.missing, False
        if shape.missing:
            return shape.missing, True
        pos += shape.end


_ACCEPTED: dict[type, tuple[str, str]] = {
    TextMessage: (
        "§6.2",
        "a frame that completes a message means a WebSocket message has been received, "
        "here of type text; its UTF-8 was valid (§8.1)",
    ),
    BinaryMessage: (
        "§6.2",
        "a frame that completes a message means a WebSocket message has been received, "
        "here of type binary",
    ),
    Ping: (
        "§5.5.2",
        "upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response "
        "(with the same application data, §5.5.3)",
    ),
    Pong: (
        "§5.5.3",
        "a Pong frame MAY be sent unsolicited, as a heartbeat; no response is expected",
    ),
    CloseReceived: (
        "§5.5.1",
        "an endpoint that receives a Close frame and did not send one MUST send a Close frame "
        "in response (typically echoing the status code)",
    ),
}


def _what_happened(event: Event, receiver: str, answer: Sequence[Frame]) -> str:
    """What the receiver did on `event`, in words: what it delivered, answered, closed."""
    if isinstance(event, TextMessage):
        size = plural(len(event.data.encode("utf-8")), "byte")
        return f"the {receiver} delivered a TEXT message of {size} to its application"
    if isinstance(event, BinaryMessage):
        size = plural(len(event.data), "byte")
        return f"the {receiver} delivered a BINARY message of {size} to its application"
    if isinstance(event, Ping):
        size = plural(len(event.payload), "byte")
        if any(frame.opcode == Opcode.PONG for frame in answer):
            return f"the {receiver} answered the PING ({size}) with a PONG carrying the same data"
        return f"the {receiver} took the PING ({size}) but, closing, sent no PONG"
    if isinstance(event, Pong):
        size = plural(len(event.payload), "byte")
        return f"the {receiver} took the PONG ({size}) as a heartbeat; a PONG needs no answer"
    if isinstance(event, CloseReceived):
        if event.code == CloseCode.NO_STATUS_RCVD:
            got = "a CLOSE without a status code"
        else:
            got = f"a CLOSE with code {event.code} ({explain(event.code).split(':')[0]})"
        echoed = "echoed it" if any(f.opcode == Opcode.CLOSE for f in answer) else "sent no close"
        return f"the {receiver} got {got}, {echoed} and closed the connection"
    return f"the {receiver} reported {event}"  # pragma: no cover - no other event once OPEN


@dataclass
class _OpenMessage:
    """A fragmented message the receiver has started and not finished (RFC 6455 §5.4)."""

    opcode: int
    fragments: int
    size: int


def _still_open(frames: Sequence[Frame]) -> _OpenMessage | None:
    """The message the received frames leave open, if they end inside one."""
    message: _OpenMessage | None = None
    for frame in frames:
        if frame.opcode >= 0x8:
            continue
        if frame.opcode != Opcode.CONTINUATION:
            message = _OpenMessage(frame.opcode, 1, len(frame.payload))
        elif message is not None:
            message.fragments += 1
            message.size += len(frame.payload)
        if frame.fin:
            message = None
    return message


def _waits_for_the_rest(message: _OpenMessage, receiver: str) -> str:
    name = _OPCODE_NAMES.get(message.opcode, f"opcode {message.opcode:#x}").upper()
    which = "the first fragment" if message.fragments == 1 else f"{message.fragments} fragments"
    return (
        f"{which} of a {name} message ({plural(message.size, 'byte')} so far): the {receiver} "
        "waits for continuation frames (opcode 0x0, the last with FIN = 1) before it "
        "delivers the message"
    )


def judge(frame: bytes, *, from_client: bool = True, max_size: int = 1 << 20) -> Verdict:
    """Feed `frame` to a fresh, open engine of the receiving role and report its verdict.

    `from_client` says who sent the bytes: a server engine judges a client's
    frame, a client engine a server's. `max_size` is the receiver's message
    limit (`Config.max_size`).
    """
    client, server = _open_pair(max_size)
    receiver = server if from_client else client
    who = "server" if from_client else "client"
    received: list[Frame] = []
    receiver.on_frame = lambda direction, seen: received.append(seen)
    receiver.receive_data(bytes(frame))
    events: list[Event] = receiver.events()
    answer = receiver.data_to_send()
    answered, _ = parse_frames(answer)
    lines = [str(event) for event in events]
    close_frame, close_code = _close_of(answer)
    failure = next((e for e in events if isinstance(e, ConnectionFailed)), None)
    if failure is not None:
        found = identify(failure.reason, frame_facts(bytes(frame), limit=max_size))
        violation, facts = found if found is not None else (None, None)
        section, rule = rule_for(violation, failure.code, facts)
        code = close_code if close_code is not None else failure.code
        return Verdict(
            accepted=False, events=lines, close_code=close_code, reason=failure.reason,
            rule=rule, section=section, close_frame=close_frame,
            summary=f"close {code}: {explain(code)}", answer=answer, violation=violation,
        )  # fmt: skip
    done = [_what_happened(event, who, answered) for event in events]
    waiting, exact = (0, True) if receiver.closed else _waiting(bytes(frame))
    if waiting:
        least = "" if exact else "at least "
        more = plural(waiting, "more byte")
        waits = f"the {who} waits for {least}{more} before it acts on the frame"
        return Verdict(
            accepted=False, events=lines, close_code=close_code,
            reason=f"incomplete: the receiver waits for {least}{more}",
            rule="RFC 6455 §5.2: the payload length says how many bytes of payload data "
            "follow; the receiver acts on the frame only once all of them have arrived",
            section="§5.2", close_frame=close_frame,
            summary="; then ".join([*done, waits]),
            waiting=waiting, answer=answer,
        )  # fmt: skip
    message = None if receiver.closed else _still_open(received)
    if message is not None:
        return Verdict(
            accepted=True, events=lines, close_code=close_code,
            reason="accepted: the first fragment of a message; the receiver waits for the rest"
            if message.fragments == 1
            else "accepted: fragments of a message; the receiver waits for the rest",
            rule="RFC 6455 §5.4: a fragmented message starts with FIN = 0 and continues with "
            "continuation frames (opcode 0) until one with FIN = 1",
            section="§5.4", close_frame=close_frame,
            summary="; then ".join([*done, _waits_for_the_rest(message, who)]), answer=answer,
        )  # fmt: skip
    if not events:  # pragma: no cover - whole frames always give an event or a failure
        return Verdict(
            accepted=True, events=lines, close_code=close_code, reason="accepted",
            rule="RFC 6455 §5: the frame follows RFC 6455", section="§5",
            close_frame=close_frame, summary=f"the {who} took the bytes and reported nothing",
            answer=answer,
        )  # fmt: skip
    section, text = _ACCEPTED.get(type(events[-1]), ("§5", "the frame follows RFC 6455"))
    return Verdict(
        accepted=True, events=lines, close_code=close_code, reason=f"accepted: {lines[-1]}",
        rule=f"RFC 6455 {section}: {text}", section=section, close_frame=close_frame,
        summary="; then ".join(done), answer=answer,
    )  # fmt: skip


def _close_of(answer: bytes) -> tuple[bytes | None, int | None]:
    """The close frame among the engine's answer bytes (its wire bytes) and its code."""
    frames, _ = parse_frames(answer)
    for sent in frames:
        if sent.opcode == Opcode.CLOSE:
            code = int.from_bytes(sent.payload[:2], "big") if len(sent.payload) >= 2 else None
            return sent.raw, code
    return None, None
