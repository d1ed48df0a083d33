"""Presets: ready-made breaks for a frame ("clear MASK", "set RSV1", ...), as lists of edits.

`presets` offers the ones that apply to a given frame, most instructive first:
each breaks one MUST of RFC 6455 (or lies about the length, or uses a longer
length form than a sender should) so that the learner sees the engine's answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.sandbox.edits import (
    Edit,
    announce_length,
    apply_edits,
    set_bits,
    set_byte,
    set_length,
    set_payload_bytes,
    toggle_bit,
)
from simulator.sandbox.model import payload_of, read_shape
from simulator.text import plural
from simulator.ws.connection import DEFAULT_MAX_SIZE
from simulator.ws.frames import FIN, LENGTH, OPCODE, RSV1, Opcode
from simulator.ws.mask import apply_mask


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
    payload, _ = payload_of(frame_bytes, shape)
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
