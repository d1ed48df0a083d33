"""Reassembled messages (HTTP messages and WebSocket frames cut from a TCP stream), dissected.

A packet that completes messages is shown with them below its own layers:
`dissect_with_messages(record, pdus)`. `MessageDissector` remembers, per
connection, what earlier messages said (the client's `Sec-WebSocket-Key`, the
negotiated permessage-deflate, which side is the client), so later ones are
explained in context; feed it messages in stream order.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.dissect.fields import Dissection
from simulator.dissect.http import http_dissection
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.websocket import websocket_dissection
from simulator.trace.records import Endpoint, WireRecord
from simulator.trace.streams import ConnectionKey, Pdu
from simulator.ws.errors import HandshakeError
from simulator.ws.frames import parse_frames
from simulator.ws.handshake import read_head


class _Context:
    __slots__ = ("client", "deflate", "key")

    def __init__(self) -> None:
        self.key: str | None = None
        self.client: Endpoint | None = None
        self.deflate: bool | None = None


class MessageDissector:
    """Dissects messages in stream order, carrying each connection's handshake along."""

    def __init__(self) -> None:
        self._contexts: dict[ConnectionKey, _Context] = {}

    def learn(self, pdu: Pdu) -> None:
        """Note what `pdu` says about its connection (cheap); call in stream order.

        `dissect` learns too; a caller that dissects only some messages, later,
        learns from every one as it passes.
        """
        if pdu.kind == "http":
            self._learn(self._contexts.setdefault(pdu.connection, _Context()), pdu)

    def dissect(self, pdu: Pdu) -> Dissection:
        context = self._contexts.setdefault(pdu.connection, _Context())
        packets = _packet_list(pdu.packets)
        if pdu.kind == "websocket":
            title = f"WebSocket frame {pdu.src} → {pdu.dst} ({len(pdu.data)} bytes, {packets})"
            from_client = None if context.client is None else pdu.src == context.client
            return websocket_dissection(
                pdu.data, title=title, deflate=context.deflate, from_client=from_client
            )
        title = f"HTTP message {pdu.src} → {pdu.dst} ({len(pdu.data)} bytes, {packets})"
        self._learn(context, pdu)
        return http_dissection(pdu.data, title=title, key=context.key)

    @staticmethod
    def _learn(context: _Context, pdu: Pdu) -> None:
        try:
            parsed = read_head(pdu.data)
        except HandshakeError:
            return
        if parsed is None:
            return
        head = parsed[0]
        if head.start[0] == "GET" and head.get_all("Sec-WebSocket-Key"):
            context.key = head.get_all("Sec-WebSocket-Key")[0]
            context.client = pdu.src
        elif head.start[1] == "101":
            offered = ",".join(head.get_all("Sec-WebSocket-Extensions")).lower()
            context.deflate = "permessage-deflate" in offered


def dissect_with_messages(
    record: WireRecord, pdus: Iterable[Pdu], messages: MessageDissector | None = None
) -> Dissection:
    """`record` dissected, followed by the messages it completed (in stream order)."""
    messages = messages or MessageDissector()
    return combine(dissect_record(record), [messages.dissect(pdu) for pdu in pdus])


def _packet_list(indexes: tuple[int, ...]) -> str:
    numbers = [i + 1 for i in indexes]
    if len(numbers) == 1:
        return f"packet {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"packets {numbers[0]}–{numbers[-1]}"
    shown = ", ".join(map(str, numbers[:8]))
    return f"packets {shown}{', …' if len(numbers) > 8 else ''}"


def message_json(pdu: Pdu, dissection: Dissection) -> dict[str, object]:
    """A reassembled message for scripts: where it came from, its key values, its fields."""
    out: dict[str, object] = {
        "kind": pdu.kind,
        "packet": pdu.completed_in + 1,
        "packets": [i + 1 for i in pdu.packets],
        "src": str(pdu.src),
        "dst": str(pdu.dst),
        "length": len(pdu.data),
    }
    if pdu.kind == "websocket":
        frames, _ = parse_frames(pdu.data)
        if frames:
            frame = frames[0]
            out.update(
                fin=frame.fin,
                rsv1=frame.rsv1,
                rsv2=frame.rsv2,
                rsv3=frame.rsv3,
                opcode=frame.opcode,
                mask=frame.masked,
                payload_length=len(frame.payload),
                masking_key=frame.masking_key.hex() if frame.masking_key else None,
                payload=frame.payload.hex(),
            )
    else:
        first = pdu.data.split(b"\r\n", 1)[0]
        out["start_line"] = first.decode("ascii", "replace")
    out["fields"] = [field.to_json() for field in dissection.fields]
    out["problems"] = list(dissection.problems)
    return out
