"""A deterministic trace and a hand-written dissect function, so the TUI tests need no dissector.

`fake_dissect` knows just enough: records starting with an HTTP request or
status line become an "HTTP" tree; everything else is read as one small
RFC 6455-shaped frame (FIN/RSV/opcode bits, MASK and length bits, extended
length, masking key, payload), with the unmasked payload as buffer 1 when the
frame is masked. Stream records also get zero-length `tcp.srcport` and
`tcp.dstport` fields so port filters have something to match.
"""

from __future__ import annotations

from simulator.dissect import Buffer, Dissection, Field
from simulator.trace import Endpoint, Layer, Trace, WireRecord
from simulator.views.inspector import SourceModel

CLIENT = Endpoint("127.0.0.1", 50312)
SERVER = Endpoint("127.0.0.1", 8765)
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def mask(payload: bytes, key: bytes = MASK) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(
    opcode: int, payload: bytes, *, masked: bool, fin: bool = True, rsv1: bool = False
) -> bytes:
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + size.to_bytes(8, "big")
    return head + (MASK + mask(payload) if masked else payload)


def conversation_records() -> list[tuple[Endpoint, Endpoint, bytes]]:
    """An opening handshake, an echoed text message, a bad frame, and the closing handshake."""
    c, s = CLIENT, SERVER
    return [
        (c, s, REQUEST),
        (s, c, RESPONSE),
        (c, s, frame(1, b"hello", masked=True)),
        (s, c, frame(1, b"hello", masked=False)),
        (c, s, frame(2, bytes(range(40)), masked=True)),
        (s, c, frame(2, bytes(range(40)), masked=False)),
        (c, s, frame(1, b"oops", masked=True, rsv1=True)),
        (s, c, frame(8, (1002).to_bytes(2, "big") + b"RSV1 set", masked=False)),
        (c, s, frame(8, (1002).to_bytes(2, "big"), masked=True)),
    ]


def fake_trace(records: list[tuple[Endpoint, Endpoint, bytes]] | None = None) -> Trace:
    trace = Trace()
    for number, (src, dst, data) in enumerate(records or conversation_records()):
        trace.append(1000.0 + number * 0.25, Layer.STREAM, data, src=src, dst=dst, connection=1)
    return trace


def fake_model(trace: Trace | None = None) -> SourceModel:
    return SourceModel(trace if trace is not None else fake_trace(), fake_dissect)


def big_trace(count: int) -> Trace:
    trace = Trace()
    for number in range(count):
        src, dst = (CLIENT, SERVER) if number % 2 == 0 else (SERVER, CLIENT)
        payload = f"message {number}".encode()
        trace.append(
            number * 0.001,
            Layer.STREAM,
            frame(1, payload, masked=number % 2 == 0),
            src=src,
            dst=dst,
            connection=1,
        )
    return trace


# --- the fake dissector -----------------------------------------------------------------


def fake_dissect(record: WireRecord) -> Dissection:
    data = record.data
    ports = _ports(record)
    if data.startswith((b"GET ", b"HTTP/")):
        return _http(record, ports)
    return _ws(record, ports)


def _ports(record: WireRecord) -> tuple[Field, ...]:
    if record.src is None or record.dst is None:
        return ()
    return (
        Field("tcp.srcport", "Source port", 0, 0, record.src.port, str(record.src.port)),
        Field("tcp.dstport", "Destination port", 0, 0, record.dst.port, str(record.dst.port)),
    )


def _http(record: WireRecord, ports: tuple[Field, ...]) -> Dissection:
    data = record.data
    children: list[Field] = []
    position = 0
    for line in data.split(b"\r\n"):
        end = position + len(line)
        text = line.decode("latin-1")
        if not line:
            break
        if position == 0:
            name = "http.request_line" if data.startswith(b"GET ") else "http.status_line"
            children.append(
                Field(
                    name,
                    "Start line",
                    position,
                    end + 2,
                    text,
                    text,
                    explanation="The method, target and version (RFC 9112 §3).",
                )
            )
        else:
            header, _, value = text.partition(": ")
            children.append(
                Field(
                    f"http.header.{header.lower()}",
                    header,
                    position,
                    end + 2,
                    value,
                    value,
                    explanation=f"The {header} header field.",
                )
            )
        position = end + 2
    request = data.startswith(b"GET ")
    summary = "GET /chat HTTP/1.1 (upgrade)" if request else "HTTP/1.1 101 Switching Protocols"
    top = Field(
        "http",
        "Hypertext Transfer Protocol",
        0,
        len(data),
        children=tuple(children),
        explanation="An HTTP/1.1 message: start line, header fields, empty line.",
    )
    tcp = Field("tcp", "TCP stream", 0, 0, children=ports, explanation="The connection.")
    return Dissection(summary, "HTTP", (tcp, top), (Buffer(f"Record {record.number}", data),))


def _ws(record: WireRecord, ports: tuple[Field, ...]) -> Dissection:
    data = record.data
    b0, b1 = data[0], data[1]
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    length = b1 & 0x7F
    position = 2
    fields = [
        Field("ws.fin", "FIN", 0, 1, bool(b0 & 0x80), str(b0 >> 7), bits=(0, 1),
              explanation="1: the last frame of a message (RFC 6455 §5.2)."),
        Field("ws.rsv1", "RSV1", 0, 1, bool(b0 & 0x40), str((b0 >> 6) & 1), bits=(1, 2),
              explanation="Reserved for extensions; 0 unless one was negotiated.",
              problem="RSV1 set but no extension was negotiated" if b0 & 0x40 else None),
        Field("ws.rsv2", "RSV2", 0, 1, bool(b0 & 0x20), str((b0 >> 5) & 1), bits=(2, 3),
              explanation="Reserved for extensions."),
        Field("ws.rsv3", "RSV3", 0, 1, bool(b0 & 0x10), str((b0 >> 4) & 1), bits=(3, 4),
              explanation="Reserved for extensions."),
        Field("ws.opcode", "Opcode", 0, 1, opcode, f"0x{opcode:x} ({OPCODES.get(opcode, '?')})",
              bits=(4, 8), explanation="What the frame carries: 0x1 text, 0x2 binary, 0x8 close."),
        Field("ws.mask", "MASK", 1, 2, masked, str(int(masked)), bits=(8, 9),
              explanation="1: the payload is masked (every client-to-server frame)."),
        Field("ws.payload_length", "Payload length", 1, 2, length, str(length), bits=(9, 16),
              explanation="0-125: the length; 126 or 127: an extended length follows."),
    ]  # fmt: skip
    if length == 126:
        length = int.from_bytes(data[2:4], "big")
        fields.append(
            Field(
                "ws.payload_length.extended",
                "Extended payload length",
                2,
                4,
                length,
                str(length),
                explanation="The length, 16 bits.",
            )
        )
        position = 4
    elif length == 127:
        length = int.from_bytes(data[2:10], "big")
        fields.append(
            Field(
                "ws.payload_length.extended",
                "Extended payload length",
                2,
                10,
                length,
                str(length),
                explanation="The length, 64 bits.",
            )
        )
        position = 10
    buffers = [Buffer(f"Record {record.number} ({len(data)} bytes)", data)]
    unmasking: tuple[Field, ...] = ()
    if masked:
        key = data[position : position + 4]
        fields.append(
            Field(
                "ws.masking_key",
                "Masking key",
                position,
                position + 4,
                key,
                key.hex(" "),
                explanation="XORed with the payload, byte i with key[i % 4].",
            )
        )
        position += 4
    payload_end = position + length
    shown = f"{length} bytes" if length > 32 else repr(data[position:payload_end])
    fields.append(
        Field(
            "ws.payload",
            "Payload" + (" (masked)" if masked else ""),
            position,
            payload_end,
            None,
            shown,
            explanation="The application data.",
        )
    )
    if masked:
        clear = mask(data[position:payload_end], data[position - 4 : position])
        buffers.append(Buffer("Unmasked payload", clear))
        text = clear.decode("utf-8", "replace")
        unmasking = (
            Field(
                "ws.unmasked",
                "Unmasked payload",
                0,
                len(clear),
                clear,
                repr(text),
                buffer=1,
                explanation="payload[i] XOR masking_key[i % 4]: what the application sent.",
            ),
        )
    kind = OPCODES.get(opcode, "?")
    top = Field(
        "ws",
        "WebSocket",
        0,
        payload_end,
        children=tuple(fields),
        explanation="One WebSocket frame (RFC 6455 §5.2).",
    )
    tcp = Field("tcp", "TCP stream", 0, 0, children=ports, explanation="The connection.")
    problems = ("RSV1 set but no extension was negotiated",) if b0 & 0x40 else ()
    summary = f"WebSocket {kind.upper()} [FIN]{' [MASKED]' if masked else ''} {length} bytes"
    return Dissection(summary, "WebSocket", (tcp, top, *unmasking), tuple(buffers), problems)
