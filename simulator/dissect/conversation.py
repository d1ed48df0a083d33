"""A connection's messages as conversation turns: who spoke, and what they said.

The follow-stream view shows these. Nothing here reads a header bit by hand:
an HTTP message's head is read by `simulator.http.read_head` (the parser
the engine and the reassembler use), a WebSocket frame by
`simulator.ws.frames`, and the client is the side that sent the upgrade
request or, failing that, the side that masks its frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from simulator.dissect.fields import Dissection
from simulator.dissect.inflate import Inflated
from simulator.dissect.stream_view import StreamDissector
from simulator.http import Head, HttpError, read_head
from simulator.text import plural
from simulator.trace.records import Endpoint, Layer, RecordSource, WireRecord
from simulator.trace.streams import Pdu
from simulator.ws.close_codes import explain
from simulator.ws.errors import ProtocolError
from simulator.ws.frames import KNOWN_OPCODES, Frame, Opcode, parse_frames

Direction = Literal["client", "server"]

HEAD_END = b"\r\n\r\n"  # RFC 9112 §2.1: the empty line that ends a message's head
SHOWN_HEX = 256  # bytes of a binary payload shown as hex


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation, for the follow-stream view."""

    direction: Direction  # who spoke: the side that opened the connection is the client
    label: str  # "packet 4 · 127.0.0.1:50312 → 127.0.0.1:8765 · 5 bytes"
    text: str  # the message, as text a person can read


DissectFunction = Callable[[WireRecord], Dissection]
ConversationFunction = Callable[[RecordSource, int, DissectFunction], list[Turn]]
"""(source, index, dissect) → the turns of record `index`'s connection; runs in a worker.

`source` is the model's own source (a `Capture` keeps its connection index);
`dissect` is the model's cached dissect function."""


def printable(data: bytes, *, limit: int = 64 * 1024) -> str:
    """Bytes as text a person can read: ASCII as is, other bytes as '·'.

    Line ends are kept when the bytes look like text (nearly all printable), so
    an HTTP head reads as lines while a binary frame stays on one.
    """
    shown = data[:limit]
    texty = sum(0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D) for b in shown) >= 0.9 * len(shown)
    keep = (0x09, 0x0A) if texty else ()
    text = "".join(
        chr(b) if 0x20 <= b < 0x7F or b in keep else ("" if texty and b == 0x0D else "·")
        for b in shown
    )
    if len(data) > limit:
        text += f"\n… {len(data) - limit:,} more bytes"
    return text


def stream_conversation(source: RecordSource, index: int, dissect: DissectFunction) -> list[Turn]:
    """The records of the connection `index` belongs to, one turn per read or write.

    Works for `Layer.STREAM` records (grouped by `connection`). Captured
    packets need the stream reassembler (`message_conversation`); here they
    give no turns.
    """
    del dissect  # one turn per record: nothing inside the records is read
    chosen = source.record(index)
    if chosen.layer is not Layer.STREAM or chosen.connection is None:
        return []
    turns: list[Turn] = []
    client = None
    for i in range(len(source)):
        record = source.record(i)
        if record.connection != chosen.connection or record.layer is not Layer.STREAM:
            continue
        if client is None:
            client = record.src  # the side that wrote first opened the connection
        size = len(record.data)
        turns.append(
            Turn(
                direction="client" if record.src == client else "server",
                label=f"packet {record.number} · {record.src} → {record.dst} · "
                f"{plural(size, 'byte')}",
                text=printable(record.data),
            )
        )
    return turns


def message_conversation(stream: StreamDissector) -> ConversationFunction:
    """Turns from the messages reassembled out of a connection (HTTP, then WebSocket frames).

    A connection with no such messages falls back to one turn per read or write
    (`stream_conversation`).
    """

    def conversation(source: RecordSource, index: int, dissect: DissectFunction) -> list[Turn]:
        pdus = stream.messages(index)
        if not pdus:
            return stream_conversation(source, index, dissect)
        messages = [_read(pdu) for pdu in pdus]
        client = _client_of(messages)
        return [_turn(message, client, stream.inflated(message.pdu)) for message in messages]

    return conversation


@dataclass(frozen=True, slots=True)
class _Message:
    """A reassembled message as the engine's parsers read it."""

    pdu: Pdu
    head: Head | None = None  # an HTTP message's head
    head_length: int = 0  # its bytes, up to and including the empty line
    frame: Frame | None = None  # a WebSocket frame


def _read(pdu: Pdu) -> _Message:
    """`pdu` read by the parser of its kind; bytes it cannot read are kept as they are."""
    try:
        if pdu.kind == "http":
            parsed = read_head(pdu.data)
            if parsed is None:
                return _Message(pdu)
            head, head_length = parsed
            return _Message(pdu, head=head, head_length=head_length)
        frames, _ = parse_frames(pdu.data)
    except (HttpError, ProtocolError):  # a head or a frame the parsers refuse
        return _Message(pdu)
    return _Message(pdu, frame=frames[0] if frames else None)


def _client_of(messages: Sequence[_Message]) -> Endpoint:
    for message in messages:
        if message.head is not None and message.head.start[0] == "GET":
            return message.pdu.src  # the opening handshake is a GET (RFC 6455 §4.1)
    for message in messages:
        if message.frame is not None and message.frame.masked:
            return message.pdu.src  # RFC 6455 §5.3: a client masks every frame, a server none
    return messages[0].pdu.src


def _turn(message: _Message, client: Endpoint, inflated: Inflated | None = None) -> Turn:
    pdu = message.pdu
    direction: Direction = "client" if pdu.src == client else "server"
    packets = pdu.packets
    where = (
        f"packet {packets[0] + 1}"
        if len(packets) == 1
        else (f"packets {packets[0] + 1}–{packets[-1] + 1}")
    )
    if pdu.kind == "http":
        size = plural(len(pdu.data), "byte")
        return Turn(direction, f"{where} · HTTP · {size}", _http_text(message))
    frame = message.frame
    if frame is None:
        return Turn(direction, f"{where} · WebSocket", printable(pdu.data))
    name = Opcode(frame.opcode).name if frame.opcode in KNOWN_OPCODES else f"{frame.opcode:#x}"
    fin = "" if frame.fin else ", FIN=0"
    label = f"{where} · {name} · {plural(len(frame.payload), 'byte')}{fin}"
    if frame.opcode == Opcode.CLOSE and len(frame.payload) >= 2:
        # RFC 6455 §5.5.1: a close payload starts with a 2-byte status code, then a reason.
        code = int.from_bytes(frame.payload[:2], "big")
        text = f"close code {code} ({explain(code)}) {printable(frame.payload[2:])}".rstrip()
    elif inflated is not None:
        # The last frame of a compressed message (RFC 7692): show what it inflates to.
        label += f" · compressed, inflates to {plural(inflated.size, 'byte')}"
        text = printable(inflated.data) if inflated.text else _hex(inflated.data)
    elif frame.opcode == Opcode.BINARY or frame.rsv1:
        text = _hex(frame.payload)
    else:
        text = printable(frame.payload)
    return Turn(direction, label, text)


def _http_text(message: _Message) -> str:
    """The head as lines, then the body after a blank line, if there is one."""
    data = message.pdu.data
    if message.head is None:  # a head the engine cannot read: the bytes as they are
        return printable(data)
    head = data[: message.head_length - len(HEAD_END)]
    body = data[message.head_length :]
    return printable(head) + (f"\n\n{printable(body)}" if body else "")


def _hex(data: bytes) -> str:
    return data[:SHOWN_HEX].hex(" ") + (" …" if len(data) > SHOWN_HEX else "")
