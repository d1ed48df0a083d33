"""The rules a peer's frames can break, as data: which RFC section, which close code.

Every `ProtocolError` the engine raises once a connection is open names its
`Violation`, and so does the `ConnectionFailed` event that reports it. A reader
that wants to know *why* the engine refused some bytes (the sandbox, a
dissector, a test) looks at the violation, never at the words of the reason:
the reason is for people and may be reworded; the violation is the contract.

Each member carries:

    section     where the rule is written: "RFC 6455 §5.2", "RFC 7692 §6"
    close_code  the code of the close frame the engine sends when the rule is broken
    rule        the rule, in one line a learner can read after "RFC 6455 §5.2: "

A failure that breaks no rule (the transport closed, 1006) has no violation,
and neither has a failed opening handshake: its `HandshakeError` names its fault
with an HTTP status instead.
"""

from __future__ import annotations

from enum import Enum, unique

from simulator.ws.close_codes import CloseCode

_PROTOCOL = CloseCode.PROTOCOL_ERROR
_INVALID = CloseCode.INVALID_PAYLOAD
_TOO_BIG = CloseCode.MESSAGE_TOO_BIG


@unique
class Violation(Enum):
    """A rule a peer's frames broke, with its RFC section and the close code it costs."""

    section: str
    close_code: CloseCode
    rule: str

    # --- masking (RFC 6455 §5.1) ---------------------------------------------------------
    UNMASKED_CLIENT_FRAME = (
        "RFC 6455 §5.1",
        _PROTOCOL,
        "a server MUST close the connection upon receiving a frame that is not masked "
        "(a client MUST mask every frame it sends)",
    )
    MASKED_SERVER_FRAME = (
        "RFC 6455 §5.1",
        _PROTOCOL,
        "a server MUST NOT mask any frames it sends; a client MUST close a connection if it "
        "detects a masked frame",
    )
    # --- the header's bits (RFC 6455 §5.2) -------------------------------------------------
    RSV_WITHOUT_EXTENSION = (
        "RFC 6455 §5.2",
        _PROTOCOL,
        "RSV1, RSV2 and RSV3 MUST be 0 unless an extension is negotiated that defines "
        "non-zero values; otherwise the receiving endpoint MUST fail the connection",
    )
    RESERVED_OPCODE = (
        "RFC 6455 §5.2",
        _PROTOCOL,
        "opcodes 0x3-0x7 and 0xB-0xF are reserved; if an unknown opcode is received, the "
        "receiving endpoint MUST fail the connection",
    )
    RSV_ON_CONTROL_FRAME = (
        "RFC 6455 §5.2",
        _PROTOCOL,
        "RSV bits MUST be 0 unless a negotiated extension defines them, and extensions "
        "define them for data frames only: permessage-deflate's RSV1 never marks a control "
        "frame (RFC 7692 §6)",
    )
    LENGTH_TOP_BIT = (
        "RFC 6455 §5.2",
        _PROTOCOL,
        "in the 64-bit extended payload length, the most significant bit MUST be 0",
    )
    # --- control frames (RFC 6455 §5.5) ----------------------------------------------------
    FRAGMENTED_CONTROL_FRAME = (
        "RFC 6455 §5.5",
        _PROTOCOL,
        "all control frames MUST have a payload length of 125 bytes or less and MUST NOT be "
        "fragmented (a ping, pong or close always has FIN = 1)",
    )
    CONTROL_FRAME_TOO_LONG = (
        "RFC 6455 §5.5",
        _PROTOCOL,
        "all control frames MUST have a payload length of 125 bytes or less and MUST NOT be "
        "fragmented",
    )
    # --- fragmentation (RFC 6455 §5.4) -----------------------------------------------------
    CONTINUATION_WITHOUT_MESSAGE = (
        "RFC 6455 §5.4",
        _PROTOCOL,
        "a fragmented message is one frame with FIN = 0 and a text or binary opcode, then "
        "continuation frames (opcode 0), the last with FIN = 1; a continuation frame with "
        "no message open fits no such sequence",
    )
    INTERLEAVED_MESSAGE = (
        "RFC 6455 §5.4",
        _PROTOCOL,
        "the fragments of one message MUST NOT be interleaved between the fragments of "
        "another message unless an extension has been negotiated that can interpret the "
        "interleaving",
    )
    # --- close frames (RFC 6455 §5.5.1, §7.4) ----------------------------------------------
    CLOSE_WITH_ONE_BYTE = (
        "RFC 6455 §5.5.1",
        _PROTOCOL,
        "if a close frame has a body, its first two bytes MUST be a 2-byte unsigned integer "
        "(network byte order) holding a status code",
    )
    INVALID_CLOSE_CODE = (
        "RFC 6455 §7.4",
        _PROTOCOL,
        "a close frame carries a status code an endpoint may send: 1000-1003, 1007-1014 or "
        "3000-4999; 1005, 1006 and 1015 only report what happened, and 0-999, 1004 and "
        "1016-2999 are unused or reserved",
    )
    CLOSE_REASON_NOT_UTF8 = (
        "RFC 6455 §5.5.1",
        _INVALID,
        "after its 2-byte status code, a close frame's body is a UTF-8 reason; bytes that "
        "are not valid UTF-8 MUST fail the connection (§8.1)",
    )
    # --- text (RFC 6455 §8.1) --------------------------------------------------------------
    TEXT_NOT_UTF8 = (
        "RFC 6455 §8.1",
        _INVALID,
        "an endpoint that finds that bytes it must read as UTF-8 are not valid UTF-8 MUST "
        "fail the WebSocket connection (a text message is UTF-8, §5.6)",
    )
    # --- the receiver's limits (RFC 6455 §10.4) --------------------------------------------
    MESSAGE_TOO_BIG = (
        "RFC 6455 §10.4",
        _TOO_BIG,
        "an implementation with limits on frame or message size MUST protect itself against "
        "exceeding them; a message larger than the receiver accepts closes the connection "
        "with 1009, a message too big to process (§7.4.1)",
    )
    FRAME_TOO_BIG = (
        "RFC 6455 §10.4",
        _TOO_BIG,
        "an implementation with limits on frame or message size MUST protect itself against "
        "exceeding them; a frame whose header announces more than the receiver accepts is "
        "refused from its header, before any of its payload is buffered (1009)",
    )
    TOO_MANY_FRAGMENTS = (
        "RFC 6455 §10.4",
        _TOO_BIG,
        "an implementation with limits on frame or message size MUST protect itself against "
        "exceeding them; every fragment costs work even when empty, so a message in more "
        "frames than the receiver allows closes the connection with 1009",
    )
    INFLATED_TOO_BIG = (
        "RFC 6455 §10.4",
        _TOO_BIG,
        "an implementation with limits on message size MUST protect itself against "
        "exceeding them; a compressed message is inflated only up to the limit, so a small "
        "decompression bomb fails with 1009 before it costs memory",
    )
    # --- permessage-deflate (RFC 7692) -----------------------------------------------------
    RSV1_ON_CONTINUATION = (
        "RFC 7692 §6",
        _PROTOCOL,
        'only the first frame of a compressed message carries the "Per-Message Compressed" '
        "bit (RSV1); an endpoint receiving a continuation frame with it set MUST fail the "
        "connection",
    )
    CORRUPT_COMPRESSED_DATA = (
        "RFC 7692 §7.2.2",
        _INVALID,
        "the receiver appends 00 00 ff ff to a compressed message's payload and inflates it "
        "as DEFLATE data (RFC 1951); bytes that do not inflate are not data a message may "
        "carry (1007)",
    )

    def __init__(self, section: str, close_code: CloseCode, rule: str) -> None:
        self.section = section
        self.close_code = close_code
        self.rule = rule

    @property
    def rfc(self) -> str:
        """The document: "RFC 6455" or "RFC 7692"."""
        return self.section.rpartition(" ")[0]

    @property
    def clause(self) -> str:
        """The section within it: "§5.2"."""
        return self.section.rpartition(" ")[2]

    @property
    def cited(self) -> str:
        """The rule after its section: "RFC 6455 §5.2: in the 64-bit extended ..."."""
        return f"{self.section}: {self.rule}"
