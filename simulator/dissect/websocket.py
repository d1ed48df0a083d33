"""WebSocket frames (RFC 6455 §5), every header bit explained, masked payloads unmasked.

The engine's own parser (`simulator.ws.frames.FrameReader`) reads a complete
frame, and `Frame.fields()` says where each header field sits; this module
turns those spans into explained `Field`s. A frame cut short (or one the
engine refuses outright, like a 64-bit length with its top bit set) is read
here byte by byte, as far as its bytes go, with a `problem` saying what is
missing or wrong.

A masked frame's clear payload is not in the frame's bytes. Callers that can
hold it in a buffer of its own (an "unmasked payload" buffer) pass its index
as `unmasked_buffer`; the unmasking steps, the decoded text and the close
code then point there.

permessage-deflate (RFC 7692) compresses whole messages: `simulator.dissect.inflate`
inflates them, in order, and a frame is dissected with its `CompressedPart`; its
message's last frame shows the inflated bytes in a buffer of their own ("Inflated
payload").
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.dissect.fields import Buffer, Dissection, Field, FieldValue
from simulator.dissect.http import problems_of
from simulator.dissect.inflate import CompressedPart, Inflated, inflate_alone
from simulator.dissect.registry import Kind, alias, define
from simulator.text import plural
from simulator.ws.close_codes import explain, is_valid_on_wire
from simulator.ws.errors import ProtocolError
from simulator.ws.frames import (
    FIN,
    KNOWN_OPCODES,
    LENGTH,
    LENGTH_16,
    LENGTH_64,
    MASK,
    MAX_CONTROL_PAYLOAD,
    OPCODE,
    RSV1,
    RSV2,
    RSV3,
    FieldSpan,
    Frame,
    FrameReader,
    Opcode,
)
from simulator.ws.mask import apply_mask

UNMASK_SHOWN = 64  # payload bytes unmasked one by one; the rest in one step

OPCODE_NAMES = {
    0x0: "continuation",
    0x1: "text",
    0x2: "binary",
    0x8: "close",
    0x9: "ping",
    0xA: "pong",
}
OPCODE_EXPLANATIONS = {
    0x0: "Continuation: carries the next piece of a message begun by an earlier text or "
    "binary frame whose FIN bit was 0.",
    0x1: "Text: starts a text message. Its payload, once the message is complete (and "
    "decompressed, if an extension compressed it), must be valid UTF-8.",
    0x2: "Binary: starts a binary message, bytes the application interprets as it likes.",
    0x8: "Close: starts the closing handshake. It may carry a 2-byte status code and a "
    "reason; the peer answers with a close frame of its own, then TCP closes.",
    0x9: "Ping: a liveness check. The receiver must answer with a pong carrying the same "
    "payload, as soon as it can.",
    0xA: "Pong: the answer to a ping, echoing its payload. An unsolicited pong is a one-way "
    "heartbeat and needs no answer.",
}


define("ws", Kind.PROTOCOL, "WebSocket (RFC 6455): one frame")
define("ws.fin", Kind.BOOL, "FIN: the last frame of its message")
define("ws.rsv1", Kind.BOOL, "RSV1: for extensions; permessage-deflate's compressed-message bit")
define("ws.rsv2", Kind.BOOL, "RSV2: reserved for extensions, 0 unless one defines it")
define("ws.rsv3", Kind.BOOL, "RSV3: reserved for extensions, 0 unless one defines it")
define("ws.opcode", Kind.UINT, "The frame's opcode: continuation, text, binary, close, ping, pong")
define("ws.mask", Kind.BOOL, "MASK: a masking key follows (set on every client frame)")
define("ws.payload_length", Kind.UINT, "The 7-bit length; 126 and 127 announce a longer one")
define("ws.extended_payload_length", Kind.UINT, "The 16- or 64-bit payload length")
define("ws.masking_key", Kind.BYTES, "The 4 bytes a client XORs its payload with")
define("ws.payload", Kind.BYTES, "The payload, unmasked (its span: the bytes on the wire)")
define("ws.unmasking", Kind.BYTES, "The payload unmasked, step by step")
define("ws.unmasking.byte", Kind.UINT, "One payload byte unmasked: masked byte XOR key byte")
define("ws.unmasking.rest", Kind.BYTES, "The payload bytes past those unmasked one by one")
define("ws.text", Kind.TEXT, "A text frame's payload as UTF-8 (the first part, if fragmented)")
define("ws.compressed", Kind.BYTES, "A frame's part of a compressed message (RFC 7692)")
define("ws.inflated", Kind.BYTES, "A compressed message inflated (text, for a text message)")
define("ws.close.code", Kind.UINT, "A close frame's status code (RFC 6455 §7.4)")
define("ws.close.reason", Kind.TEXT, "A close frame's reason, in UTF-8 (may be empty)")
alias("ws.payload.close.status_code", Kind.UINT, "Wireshark's name for ws.close.code",
      of=("ws.close.code",))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One frame's bytes, read as far as they go."""

    spans: list[FieldSpan]  # header fields present, then the (possibly partial) payload
    b0: int | None  # the first two header bytes, if present
    b1: int | None
    key: bytes | None
    payload: bytes  # the clear payload bytes present
    length: int | None  # the payload length the header announces
    header: bytes | None  # the whole header, once all of it is present
    refused: str | None = None  # why the engine's reader refused the header: `_refusal`

    @property
    def frame_length(self) -> int | None:
        if self.length is None or self.header is None:
            return None
        return len(self.header) + self.length

    @property
    def payload_span(self) -> FieldSpan | None:
        return next((s for s in self.spans if s.name == "payload"), None)

    def frame(self) -> Frame | None:
        """The engine's `Frame`, when the bytes hold a whole one."""
        if self.b0 is None or self.header is None or self.length is None:
            return None
        if len(self.payload) < self.length:
            return None
        b0 = self.b0
        return Frame(
            bool(b0 & FIN), bool(b0 & RSV1), bool(b0 & RSV2), bool(b0 & RSV3),
            b0 & OPCODE, self.key, self.payload, self.header,
        )  # fmt: skip


def _parse(data: bytes) -> _Parsed:
    reader = FrameReader()
    reader.feed(data)
    try:
        frame = reader.next_frame()
    except ProtocolError as error:
        return _parse_partial(data, _refusal(error))
    if frame is None:
        return _parse_partial(data, None)
    header = frame.header
    return _Parsed(
        frame.fields(), header[0], header[1], frame.masking_key, frame.payload,
        len(frame.payload), header,
    )  # fmt: skip


def _refusal(error: ProtocolError) -> str:
    """Why the engine refuses a frame: the rule its violation names, and what it costs."""
    violation = error.violation
    if violation is None:
        return error.reason
    code = violation.close_code
    return (
        f"{violation.rule} ({violation.section}); it fails the connection with {code} "
        f"({explain(code).split(':')[0]})"
    )


def _parse_partial(data: bytes, refused: str | None) -> _Parsed:
    """Read a frame the engine cannot return whole: its fields as far as the bytes go."""
    n = len(data)
    spans: list[FieldSpan] = []
    b0 = data[0] if n >= 1 else None
    b1 = data[1] if n >= 2 else None
    if b0 is not None:
        spans += [
            FieldSpan("fin", 0, 1, bool(b0 & FIN), (0, 1)),
            FieldSpan("rsv1", 0, 1, bool(b0 & RSV1), (1, 2)),
            FieldSpan("rsv2", 0, 1, bool(b0 & RSV2), (2, 3)),
            FieldSpan("rsv3", 0, 1, bool(b0 & RSV3), (3, 4)),
            FieldSpan("opcode", 0, 1, b0 & OPCODE, (4, 8)),
        ]
    length = header = None
    key = None
    payload = b""
    if b1 is not None:
        spans += [
            FieldSpan("mask", 1, 2, bool(b1 & MASK), (8, 9)),
            FieldSpan("payload_length", 1, 2, b1 & LENGTH, (9, 16)),
        ]
        marker = b1 & LENGTH
        extra = 2 if marker == LENGTH_16 else 8 if marker == LENGTH_64 else 0
        if n >= 2 + extra:
            length = int.from_bytes(data[2 : 2 + extra], "big") if extra else marker
            if extra:
                spans.append(FieldSpan("extended_payload_length", 2, 2 + extra, length))
            pos = 2 + extra
            if b1 & MASK:
                if n >= pos + 4:
                    key = data[pos : pos + 4]
                    spans.append(FieldSpan("masking_key", pos, pos + 4, key))
                elif n > pos:  # part of the key: shown, though it cannot unmask anything
                    spans.append(FieldSpan("masking_key", pos, n, data[pos:n]))
                pos += 4
            if n >= pos:
                header = data[:pos]
                wire = data[pos : pos + length]
                payload = apply_mask(wire, key) if key is not None else wire
                spans.append(FieldSpan("payload", pos, pos + len(wire), payload))
    return _Parsed(spans, b0, b1, key, payload, length, header, refused)


def dissect_ws_frame(
    frame_bytes: bytes,
    *,
    buffer: int = 0,
    unmasked_buffer: int | None = None,
    offset: int = 0,
    deflate: bool | None = None,
    from_client: bool | None = None,
    part: CompressedPart | None = None,
    inflated_buffer: int | None = None,
) -> Field:
    """Dissect the one WebSocket frame at the start of `frame_bytes`.

    `frame_bytes[0]` sits at `offset` in buffer `buffer`; a masked frame's clear
    payload, if the caller keeps it, is buffer `unmasked_buffer` (from its byte 0).
    `deflate` says whether permessage-deflate was negotiated (None: not known);
    `from_client` whether a client sent the frame (None: not known). A frame of
    a compressed message comes with its `part`; on the message's last frame, the
    inflated bytes are buffer `inflated_buffer`, if the caller keeps them. Bytes
    after the frame are left out of the returned field.
    """
    return _Builder(
        _parse(frame_bytes), len(frame_bytes), buffer, unmasked_buffer, offset, deflate,
        from_client, part, inflated_buffer,
    ).field()  # fmt: skip


def websocket_dissection(
    frame_bytes: bytes,
    *,
    title: str,
    deflate: bool | None = None,
    from_client: bool | None = None,
    part: CompressedPart | None = None,
) -> Dissection:
    """One frame as a dissection: buffer 0 is the frame; then, for a masked frame, its
    unmasked payload; then, for the last frame of a compressed message, the message
    inflated.

    `part` places the frame in its compressed message (see `inflate.MessageInflater`).
    Without it, a whole frame with RSV1 set is taken for a message of its own and
    inflated alone (unless `deflate` is False: then RSV1 is a protocol error).
    """
    parsed = _parse(frame_bytes)
    buffers = [Buffer(title, frame_bytes)]
    unmasked = None
    if parsed.key is not None:
        unmasked = 1
        buffers.append(Buffer("Unmasked payload", parsed.payload))
    if part is None:
        part = _alone(parsed, deflate)
    inflated = None
    if part is not None and part.inflated is not None:
        inflated = len(buffers)
        buffers.append(Buffer("Inflated payload", part.inflated.data))
    top = _Builder(
        parsed, len(frame_bytes), 0, unmasked, 0, deflate, from_client, part, inflated
    ).field()
    fields = [top]
    if top.end < len(frame_bytes):
        fields.append(
            Field(
                "data",
                f"After the frame ({plural(len(frame_bytes) - top.end, 'byte')})",
                top.end,
                len(frame_bytes),
                value=frame_bytes[top.end :],
                explanation="Bytes past the end of this frame: the start of the next one.",
            )
        )
    return Dissection(
        summary=_summary(parsed, top, part),
        protocol="WebSocket",
        fields=tuple(fields),
        buffers=tuple(buffers),
        problems=problems_of(fields),
    )


def _alone(parsed: _Parsed, deflate: bool | None) -> CompressedPart | None:
    """A whole frame with RSV1 set, starting a data message, as a compressed message alone."""
    frame = parsed.frame()
    if frame is None or not frame.rsv1 or deflate is False:
        return None
    if frame.opcode not in (Opcode.TEXT, Opcode.BINARY):
        return None
    if not frame.fin:
        return CompressedPart(0)
    return CompressedPart(0, inflate_alone(frame.payload, text=frame.opcode == Opcode.TEXT))


def _summary(parsed: _Parsed, top: Field, part: CompressedPart | None) -> str:
    """`Frame.__str__` ("TEXT 'hi' [2 bytes]"), except for compressed and incomplete frames."""
    frame = parsed.frame()
    if frame is None:
        return f"{_opcode_name(parsed.b0)} frame ({top.problem or 'incomplete'})"
    return _frame_summary(frame, part)


def _frame_summary(frame: Frame, part: CompressedPart | None) -> str:
    """A whole frame in one line; a compressed one shows its message inflated, not its bytes."""
    if part is None or frame.opcode >= 0x8:
        return str(frame)
    inflated = part.inflated
    notes = [f"{plural(len(frame.payload), 'byte')} compressed"]
    if inflated is None:
        shown = "(compressed)"
    else:
        shown = _shown(inflated)
        origin = f" from {inflated.size}" if inflated.data or inflated.problem is None else ""
        if inflated.frames == 1:
            notes[0] += origin
        else:
            notes.append(
                f"last of {inflated.frames} frames: "
                f"{plural(inflated.compressed, 'byte')} compressed{origin}"
            )
    if frame.masked:
        notes.append("masked")
    if not frame.fin:
        notes.append("FIN=0")
    name = OPCODE_NAMES.get(frame.opcode, f"opcode {frame.opcode:#x}").upper()
    return f"{name} {shown} [{', '.join(notes)}]"


def _shown(inflated: Inflated) -> str:
    """The inflated message, briefly, for a summary line."""
    if inflated.problem is not None and not inflated.data:
        return "(cannot inflate)"
    if inflated.text:
        text, _ = _utf8(inflated.data[:160], final=False)
        return repr(text[:40])
    return repr(inflated.data[:20])


def _opcode_name(b0: int | None) -> str:
    if b0 is None:
        return "WebSocket"
    opcode = b0 & OPCODE
    return OPCODE_NAMES.get(opcode, f"opcode {opcode:#x}").upper()


def _char(byte: int) -> str:
    return f" {chr(byte)!r}" if 0x20 <= byte < 0x7F else ""


class _Builder:
    def __init__(
        self,
        parsed: _Parsed,
        available: int,
        buffer: int,
        unmasked_buffer: int | None,
        offset: int,
        deflate: bool | None,
        from_client: bool | None,
        part: CompressedPart | None = None,
        inflated_buffer: int | None = None,
    ) -> None:
        self.p = parsed
        self.available = available
        self.buffer = buffer
        self.offset = offset
        self.deflate = deflate
        self.from_client = from_client
        self.part = part
        self.inflated_buffer = inflated_buffer
        b0 = parsed.b0 or 0
        self.opcode = b0 & OPCODE
        self.fin = bool(b0 & FIN)
        self.rsv1 = bool(b0 & RSV1)
        self.control = self.opcode >= 0x8
        self.masked = parsed.key is not None
        payload = parsed.payload_span
        # Where the clear payload lives: its own buffer, or the frame's payload bytes.
        if self.masked and unmasked_buffer is not None:
            self.clear_buffer, self.clear_start = unmasked_buffer, 0
        else:
            self.clear_buffer = buffer
            self.clear_start = offset + (payload.start if payload is not None else 0)

    # --- the frame ---------------------------------------------------------------------

    def field(self) -> Field:
        p = self.p
        children = [self._header_field(span) for span in p.spans if span.name != "payload"]
        payload = p.payload_span
        if payload is not None:
            children.append(self._payload_field(payload))
            children.extend(self._content_fields())
        frame = p.frame()
        problems = []
        if p.refused:
            problems.append(f"the engine refuses this frame: {p.refused}")
        total = p.frame_length
        if frame is None:
            if total is None:
                problems.append(
                    f"truncated: the header is incomplete ({plural(self.available, 'byte')})"
                )
            else:
                problems.append(f"truncated: {self.available} of {plural(total, 'byte')}")
        end = min(total, self.available) if total is not None else self.available
        if frame is not None:
            label = f"WebSocket {_frame_summary(frame, self.part)}"
        else:
            label = f"WebSocket {_opcode_name(p.b0)} frame"
        return Field(
            "ws",
            label,
            self.offset,
            self.offset + end,
            explanation=OPCODE_EXPLANATIONS.get(
                self.opcode, "A frame with a reserved opcode, which no receiver accepts."
            ),
            children=tuple(children),
            buffer=self.buffer,
            problem="; ".join(problems) or None,
        )

    def _at(
        self,
        span: FieldSpan,
        name: str,
        label: str,
        *,
        display: str = "",
        explanation: str = "",
        value: FieldValue = None,
        children: tuple[Field, ...] = (),
        problem: str | None = None,
    ) -> Field:
        """A field at `span` of the frame (its value, unless given, is the span's)."""
        bits = span.bits
        if bits is not None:
            bits = (bits[0] + self.offset * 8, bits[1] + self.offset * 8)
        return Field(
            name, label, self.offset + span.start, self.offset + span.end,
            span.value if value is None else value, display, explanation, bits, children,
            self.buffer, problem,
        )  # fmt: skip

    def _header_field(self, span: FieldSpan) -> Field:
        name = span.name
        if name == "fin":
            return self._fin(span)
        if name == "rsv1":
            return self._rsv1(span)
        if name in ("rsv2", "rsv3"):
            return self._at(
                span,
                f"ws.{name}",
                name.upper(),
                display="1" if span.value else "0",
                explanation="Reserved for extensions. No extension in use here defines it "
                "(permessage-deflate uses only RSV1), so it must be 0 (RFC 6455 §5.2).",
                problem="set, but no negotiated extension defines it: a protocol error (1002)"
                if span.value
                else None,
            )
        if name == "opcode":
            return self._opcode(span)
        if name == "mask":
            return self._mask(span)
        if name == "payload_length":
            return self._length(span)
        if name == "extended_payload_length":
            return self._extended_length(span)
        return self._at(
            span,
            "ws.masking_key",
            "Masking key",
            display=bytes(span.value).hex(" ") if isinstance(span.value, bytes) else "",
            explanation=(
                "4 bytes a server must never send: only clients mask (RFC 6455 §5.1). "
                if self.from_client is False
                else "4 random bytes the client picks anew for each frame. "
            )
            + "Payload byte i is XORed with key byte i mod 4. Masking is not encryption: it "
            "keeps a hostile page from crafting bytes that a confused proxy would take for "
            "HTTP (RFC 6455 §5.3, §10.3).",
        )

    def _fin(self, span: FieldSpan) -> Field:
        fin = bool(span.value)
        problem = None
        if self.control and not fin:
            problem = "control frames must not be fragmented (RFC 6455 §5.5)"
        return self._at(
            span,
            "ws.fin",
            "FIN",
            display="1 (final frame of its message)" if fin else "0 (more frames follow)",
            explanation="Set on the last frame of a message. A message sent in pieces has "
            "FIN 0 on every frame but the last; control frames always have FIN 1 (RFC 6455 "
            "§5.4).",
            problem=problem,
        )

    def _rsv1(self, span: FieldSpan) -> Field:
        first_data = self.opcode in (Opcode.TEXT, Opcode.BINARY)
        explanation = (
            "Reserved for extensions; 0 unless a negotiated extension defines it (RFC 6455 "
            '§5.2). permessage-deflate (RFC 7692 §6) makes RSV1 the "Per-Message '
            'Compressed" bit: 1 on the first frame of a compressed message and only there. '
            "Continuation frames carry 0 even when their message is compressed, and control "
            "frames are never compressed, so their RSV1 is always 0."
        )
        problem = None
        if not span.value:
            display = "0"
            if self.part is not None and self.opcode == Opcode.CONTINUATION:
                display = "0 (continues a compressed message: only its first frame has RSV1)"
            elif self.control and self.deflate:
                display = "0 (control frames are never compressed)"
        elif not first_data:
            display = "1"
            problem = (
                "RSV1 is only allowed on the first frame of a data message, never on "
                "continuation or control frames (RFC 7692 §6): a protocol error (1002)"
            )
        elif self.deflate is False:
            display = "1"
            problem = "set, but no extension was negotiated: a protocol error (1002)"
        elif self.deflate:
            display = "1 (compressed message, permessage-deflate)"
        else:
            display = "1 (compressed, if permessage-deflate was negotiated)"
            explanation += (
                " The handshake is not in view: without permessage-deflate negotiated, the "
                "receiver must fail the connection (1002)."
            )
        return self._at(
            span, "ws.rsv1", "RSV1", display=display, explanation=explanation, problem=problem
        )

    def _opcode(self, span: FieldSpan) -> Field:
        opcode = self.opcode
        known = opcode in KNOWN_OPCODES
        name = OPCODE_NAMES.get(opcode, "reserved " + ("control" if opcode >= 8 else "data"))
        return self._at(
            span,
            "ws.opcode",
            "Opcode",
            display=f"{opcode:#x} ({name})",
            explanation=OPCODE_EXPLANATIONS.get(
                opcode,
                "A reserved opcode: RFC 6455 defines none here, so the receiver must fail the "
                "connection (1002). 0x3-0x7 are kept for data frames, 0xB-0xF for control.",
            ),
            problem=None if known else "reserved opcode: a protocol error (1002)",
        )

    def _mask(self, span: FieldSpan) -> Field:
        masked = bool(span.value)
        problem = None
        if self.from_client is True and not masked:
            problem = "a client must mask every frame it sends (RFC 6455 §5.1): 1002"
        elif self.from_client is False and masked:
            problem = "a server must not mask its frames (RFC 6455 §5.1): 1002"
        return self._at(
            span,
            "ws.mask",
            "MASK",
            display="1 (masked: a masking key follows)" if masked else "0 (not masked)",
            explanation="Clients must mask every frame they send; servers must never mask "
            "theirs (RFC 6455 §5.1, §5.3).",
            problem=problem,
        )

    def _length(self, span: FieldSpan) -> Field:
        marker = int(span.value or 0)
        problem = None
        if marker == LENGTH_16:
            display = "126 (the length is in the next 2 bytes)"
        elif marker == LENGTH_64:
            display = "127 (the length is in the next 8 bytes)"
        else:
            display = plural(marker, "byte")
            if self.control and marker > MAX_CONTROL_PAYLOAD:
                problem = "control frames carry at most 125 bytes (RFC 6455 §5.5)"
        return self._at(
            span,
            "ws.payload_length",
            "Payload length",
            display=display,
            explanation="Seven bits: a payload of 0-125 bytes is given here directly; 126 "
            "means a 16-bit length follows, 127 a 64-bit one (RFC 6455 §5.2).",
            problem=problem,
        )

    def _extended_length(self, span: FieldSpan) -> Field:
        length = int(span.value or 0)
        wide = span.end - span.start == 8
        problem = None
        if wide and length >> 63:
            problem = "the most significant bit must be 0 (RFC 6455 §5.2)"
        elif (wide and length <= 0xFFFF) or (not wide and length < LENGTH_16):
            problem = "not the shortest form: the length must use the fewest bytes (§5.2)"
        elif self.control:
            problem = "control frames carry at most 125 bytes (RFC 6455 §5.5)"
        return self._at(
            span,
            "ws.extended_payload_length",
            "Extended payload length",
            display=plural(length, "byte"),
            explanation=(
                "A 64-bit payload length in network byte order, for 65536 bytes or more."
                if wide
                else "A 16-bit payload length in network byte order, for 126 to 65535 bytes."
            ),
            problem=problem,
        )

    # --- the payload -------------------------------------------------------------------

    def _payload_field(self, span: FieldSpan) -> Field:
        p = self.p
        n = len(p.payload)
        head = p.payload[:UNMASK_SHOWN]  # all that is shown byte by byte
        wire = head if p.key is None else apply_mask(head, p.key)
        problem = None
        if p.length is not None and n < p.length:
            problem = f"truncated: {n} of {plural(p.length, 'byte')}"
        if self.masked:
            display = f"masked: {wire[:16].hex(' ')}" + (" …" if n > 16 else "")
            explanation = (
                "The payload as it crosses the wire, masked. The receiver XORs it with the "
                "masking key to get the application data (below)."
            )
            children: tuple[Field, ...] = (self._unmasking(wire),)
        else:
            display = wire[:16].hex(" ") + (" …" if n > 16 else "") if n else "empty"
            explanation = "The application data, sent in the clear (servers never mask)."
            children = ()
        if self.control:
            explanation += " A control frame's payload is at most 125 bytes."
        return self._at(
            span,
            "ws.payload",
            f"Payload ({plural(p.length if p.length is not None else n, 'byte')})",
            value=p.payload,
            display=display,
            explanation=explanation,
            children=children,
            problem=problem,
        )

    def _clear(
        self,
        name: str,
        label: str,
        start: int,
        end: int,
        *,
        value: FieldValue,
        display: str,
        explanation: str,
        children: tuple[Field, ...] = (),
        problem: str | None = None,
    ) -> Field:
        """A field over bytes `start:end` of the clear payload, wherever that lives."""
        return Field(
            name, label, self.clear_start + start, self.clear_start + end, value, display,
            explanation, children=children, buffer=self.clear_buffer, problem=problem,
        )  # fmt: skip

    def _unmasking(self, wire: bytes) -> Field:
        key = self.p.key or b"\x00\x00\x00\x00"
        clear = self.p.payload
        steps = [
            self._clear(
                "ws.unmasking.byte",
                f"payload[{i}]",
                i,
                i + 1,
                value=clear[i],
                display=f"{wire[i]:#04x} ⊕ {key[i % 4]:#04x} = {clear[i]:#04x}{_char(clear[i])}",
                explanation=f"Masked byte {i} XOR masking-key byte {i % 4} ({i} mod 4) gives "
                "the clear byte.",
            )
            for i in range(min(len(clear), UNMASK_SHOWN))
        ]
        if len(clear) > UNMASK_SHOWN:
            steps.append(
                self._clear(
                    "ws.unmasking.rest",
                    f"payload[{UNMASK_SHOWN}…{len(clear) - 1}]",
                    UNMASK_SHOWN,
                    len(clear),
                    value=clear[UNMASK_SHOWN:],
                    display=plural(len(clear) - UNMASK_SHOWN, "more byte")
                    + ", unmasked the same way",
                    explanation="Every byte i is XORed with masking-key byte i mod 4.",
                )
            )
        return self._clear(
            "ws.unmasking",
            "Unmasking (payload XOR masking key)",
            0,
            len(clear),
            value=clear,
            display=f"key {key.hex(' ')}, repeated every 4 bytes",
            explanation="XOR each payload byte with the key byte at its position mod 4 to get "
            "the application data. XOR twice with the same key gives back the original, so "
            "masking and unmasking are the same operation (RFC 6455 §5.3).",
            children=tuple(steps),
        )

    def _content_fields(self) -> list[Field]:
        """What the payload means: text, a close code and reason, compressed data."""
        p = self.p
        data = p.payload
        complete = p.length is not None and len(data) == p.length
        if self.part is not None and not self.control:
            return [self._compressed(data)]
        if self.opcode == Opcode.TEXT:
            return [self._text(data, final=self.fin and complete)]
        if self.opcode == Opcode.CLOSE:
            return self._close(data)
        return []

    def _text(self, data: bytes, *, final: bool) -> Field:
        text, problem = _utf8(data, final=final)
        shown = text if len(text) <= 200 else text[:200] + "…"
        return self._clear(
            "ws.text",
            "Text",
            0,
            len(data),
            value=text,
            display=repr(shown),
            explanation="The payload read as UTF-8, as the application receives it (for a "
            "fragmented message, once all its frames are joined).",
            problem=problem,
        )

    def _compressed(self, data: bytes) -> Field:
        part = self.part
        assert part is not None
        inflated = part.inflated
        explanation = (
            "permessage-deflate (RFC 7692 §7.2): the sender ran the whole message through "
            "DEFLATE, flushed it so the output ends with an empty uncompressed block (its "
            "last 4 bytes are always 00 00 ff ff) and dropped those 4 bytes (§7.2.1); the "
            "message's frames carry what is left. "
            "The receiver joins the payloads of all its frames, puts 00 00 ff ff back and "
            "inflates."
        )
        takeover = inflated.takeover if inflated is not None else None
        if takeover is False:
            explanation += (
                " No context takeover was agreed for this direction: every message starts "
                "from an empty window and inflates on its own."
            )
        else:
            explanation += (
                " Unless *_no_context_takeover was agreed for this direction, the sender "
                "keeps its compressor's window (up to 32 KiB, less if *_max_window_bits limits "
                "it) from message to message, so a "
                "message may copy strings from earlier ones: the receiver inflates them all, "
                "in order, with one decompressor (context takeover, §7.1.1)."
            )
        children: tuple[Field, ...] = ()
        problem = None
        if inflated is None:
            if part.index == 0:
                display = f"{plural(len(data), 'byte')}, the start of a compressed message"
            else:
                display = (
                    f"{plural(len(data), 'byte')}, part {part.index + 1} of a compressed message"
                )
            if not self.fin:
                display += ": inflated with its last frame"
        else:
            display = f"{plural(len(data), 'byte')} of raw DEFLATE"
            if inflated.frames > 1:
                display = (
                    f"last of {inflated.frames} frames, {plural(len(data), 'byte')}; the message: "
                    f"{inflated.ratio()}"
                )
            else:
                display += f" → {plural(inflated.size, 'byte')} inflated"
            if self.inflated_buffer is not None:
                children = (self._inflated_field(inflated),)
            else:
                problem = inflated.problem
        return self._clear(
            "ws.compressed",
            "Compressed payload (permessage-deflate)",
            0,
            len(data),
            value=data,
            display=display,
            explanation=explanation,
            children=children,
            problem=problem,
        )

    def _inflated_field(self, inflated: Inflated) -> Field:
        assert self.inflated_buffer is not None
        data = inflated.data
        value: FieldValue
        problem = inflated.problem
        if inflated.text:
            value, bad_text = _utf8(data, final=inflated.whole)
            shown = value if len(value) <= 200 else value[:200] + "…"
            detail = repr(shown)
            problem = problem or (bad_text and f"{bad_text}: 1007")
        else:
            value = data
            detail = data[:16].hex(" ") + (" …" if len(data) > 16 else "")
        if len(data) < inflated.size and not inflated.cut:
            kept = f"only the first {len(data)} of {inflated.size} inflated bytes are kept"
            problem = f"{problem}; {kept}" if problem else kept
        explanation = (
            "The message as the application receives it: the payloads of its frames joined, "
            "00 00 ff ff appended, and inflated (RFC 7692 §7.2.2)."
        )
        if inflated.text:
            explanation += " A text message must be valid UTF-8 once inflated."
        return Field(
            "ws.inflated",
            f"Inflated payload ({plural(inflated.size, 'byte')})",
            0,
            len(data),
            value,
            f"{inflated.ratio()}: {detail}" if data else inflated.ratio(),
            explanation,
            buffer=self.inflated_buffer,
            problem=problem,
        )

    def _close(self, data: bytes) -> list[Field]:
        if not data:
            return []
        if len(data) == 1:
            return [
                self._clear(
                    "ws.close.code",
                    "Status code",
                    0,
                    1,
                    value=data[0],
                    display="1 byte",
                    explanation="A close payload holds a 2-byte status code, optionally "
                    "followed by a reason, or nothing at all.",
                    problem="a 1-byte close payload is invalid (RFC 6455 §5.5.1): 1002",
                )
            ]
        code = int.from_bytes(data[:2], "big")
        fields = [
            self._clear(
                "ws.close.code",
                "Status code",
                0,
                2,
                value=code,
                display=f"{code} ({explain(code).split(':')[0]})",
                explanation=f"Why the connection is closing, as a number: {explain(code)} "
                "(RFC 6455 §7.4).",
                problem=None
                if is_valid_on_wire(code)
                else f"{code} must not be sent in a close frame (RFC 6455 §7.4): 1002",
            )
        ]
        reason, problem = _utf8(data[2:], final=True)
        if problem:
            problem += ": 1007"
        fields.append(
            self._clear(
                "ws.close.reason",
                "Reason",
                2,
                len(data),
                value=reason,
                display=repr(reason),
                explanation="A reason for people, in UTF-8; may be empty. Not meant to be "
                "shown to end users, and at most 123 bytes (RFC 6455 §5.5.1).",
                problem=problem,
            )
        )
        return fields


def _utf8(data: bytes, *, final: bool) -> tuple[str, str | None]:
    """Decode UTF-8; an unfinished character at the end is fine unless `final`."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        if not final and error.reason == "unexpected end of data":
            return data[: error.start].decode("utf-8"), None
        return data.decode("utf-8", "replace"), f"not valid UTF-8 (byte {error.start})"
