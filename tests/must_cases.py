"""Every MUST of RFC 6455 a server enforces on a client's frames, as wire bytes and the close code.

Shared by the engine tests (bytes fed to a `Connection`) and the live tests (the
same bytes written to a real socket): one table, two layers. Each case names the
`Violation` the engine must report for it: a case is decided by that value, never
by the words of the engine's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.ws.frames import serialize_frame
from simulator.ws.violations import Violation

KEY = bytes.fromhex("37fa213d")  # RFC 6455 §5.7's example masking key
LIMIT = 1 << 20  # the default max message size


def masked(opcode: int, payload: bytes = b"", **flags: bool) -> bytes:
    """A client frame, masked as a client must."""
    return serialize_frame(opcode, payload, masking_key=KEY, **flags)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


@dataclass(frozen=True)
class MustCase:
    id: str
    wire: bytes  # what a misbehaving client sends after the handshake
    close_code: int  # what the server must answer with
    rule: str  # the RFC 6455 section that says MUST
    violation: Violation  # what the engine reports it as


CASES = [
    MustCase(
        "unmasked-client-frame",
        serialize_frame(0x1, b"hi"),
        1002,
        "§5.1",
        Violation.UNMASKED_CLIENT_FRAME,
    ),
    MustCase(
        "rsv1-without-extension",
        masked(0x1, b"hi", rsv1=True),
        1002,
        "§5.2",
        Violation.RSV_WITHOUT_EXTENSION,
    ),
    MustCase(
        "rsv2-without-extension",
        masked(0x2, b"hi", rsv2=True),
        1002,
        "§5.2",
        Violation.RSV_WITHOUT_EXTENSION,
    ),
    MustCase(
        "rsv3-without-extension",
        masked(0x1, b"hi", rsv3=True),
        1002,
        "§5.2",
        Violation.RSV_WITHOUT_EXTENSION,
    ),
    MustCase("reserved-data-opcode-3", masked(0x3, b"x"), 1002, "§5.2", Violation.RESERVED_OPCODE),
    MustCase(
        "reserved-control-opcode-b", masked(0xB, b"x"), 1002, "§5.2", Violation.RESERVED_OPCODE
    ),
    MustCase(
        "control-frame-over-125",
        masked(0x9, b"p" * 126),
        1002,
        "§5.5",
        Violation.CONTROL_FRAME_TOO_LONG,
    ),
    MustCase(
        "fragmented-control-frame",
        masked(0x9, b"p", fin=False),
        1002,
        "§5.5",
        Violation.FRAGMENTED_CONTROL_FRAME,
    ),
    MustCase(
        "continuation-without-start",
        masked(0x0, b"lo"),
        1002,
        "§5.4",
        Violation.CONTINUATION_WITHOUT_MESSAGE,
    ),
    MustCase(
        "data-frame-inside-fragmented-message",
        masked(0x1, b"Hel", fin=False) + masked(0x1, b"lo"),
        1002,
        "§5.4",
        Violation.INTERLEAVED_MESSAGE,
    ),
    MustCase(
        "64-bit-length-high-bit",
        bytes([0x82, 0xFF]) + (1 << 63 | 5).to_bytes(8, "big") + KEY,
        1002,
        "§5.2",
        Violation.LENGTH_TOP_BIT,
    ),
    MustCase(
        "invalid-utf8-text", masked(0x1, b"\xce\xba\xff"), 1007, "§8.1", Violation.TEXT_NOT_UTF8
    ),
    MustCase(
        "invalid-utf8-across-fragments",
        masked(0x1, b"caf\xc3", fin=False) + masked(0x0, b"\x28"),
        1007,
        "§8.1",
        Violation.TEXT_NOT_UTF8,
    ),
    MustCase(
        "invalid-utf8-close-reason",
        masked(0x8, close_payload(1000, b"\xff")),
        1007,
        "§5.5.1",
        Violation.CLOSE_REASON_NOT_UTF8,
    ),
    MustCase(
        "close-payload-one-byte",
        masked(0x8, b"\x03"),
        1002,
        "§5.5.1",
        Violation.CLOSE_WITH_ONE_BYTE,
    ),
    *(
        MustCase(
            f"invalid-close-code-{code}",
            masked(0x8, close_payload(code)),
            1002,
            "§7.4",
            Violation.INVALID_CLOSE_CODE,
        )
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
    ),
    MustCase(
        "message-over-limit-from-header",
        # Only the header: the limit is decided before any payload is buffered.
        bytes([0x82, 0xFF]) + (LIMIT + 1).to_bytes(8, "big") + KEY,
        1009,
        "§10.4",
        Violation.MESSAGE_TOO_BIG,
    ),
    MustCase(
        "fragmented-message-over-limit",
        masked(0x2, b"\x00" * (LIMIT // 2), fin=False)
        + masked(0x0, b"\x00" * (LIMIT // 2), fin=False)
        + bytes([0x80, 0x81])
        + KEY,  # one byte more than the limit, announced in a header
        1009,
        "§10.4",
        Violation.MESSAGE_TOO_BIG,
    ),
]
