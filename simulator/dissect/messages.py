"""Reassembled messages (HTTP messages and WebSocket frames cut from a TCP stream), dissected.

A packet that completes messages is shown with them below its own layers:
`dissect_with_messages(record, pdus)`. `MessageDissector` remembers, per
connection, what earlier messages said (the client's `Sec-WebSocket-Key`, the
negotiated permessage-deflate and its parameters, which side is the client), so
later ones are explained in context; feed it messages in stream order.

permessage-deflate (RFC 7692) needs more than context: with context takeover a
compressed message may copy bytes from earlier messages of the same direction,
so it can only be inflated after all of them, in order. `learn` does that work
once per frame, in stream order, and keeps each compressed frame's
`CompressedPart` (the message inflated, on its last frame); `dissect` then
shows the same result however often, and in whatever order, a view asks.
Inflated bytes kept for display are bounded: at most `INFLATE_LIMIT` per
message, and once `KEEP_BUDGET` bytes are kept in all, only the first
`KEEP_HEAD` bytes of each later message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from simulator.dissect.fields import JSON_VALUE_LIMIT, Dissection
from simulator.dissect.http import http_dissection
from simulator.dissect.inflate import NOT_CAPTURED, CompressedPart, Inflated, MessageInflater
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.websocket import websocket_dissection
from simulator.http import HttpError, read_head
from simulator.text import plural
from simulator.trace.records import Endpoint, WireRecord
from simulator.trace.streams import ConnectionKey, Pdu
from simulator.ws.errors import HandshakeError, ProtocolError
from simulator.ws.extensions import parse_extensions
from simulator.ws.frames import Opcode, parse_frames

KEEP_BUDGET = 256 << 20  # inflated bytes kept for display, all messages together
KEEP_HEAD = 4096  # ... and past that budget, per message
MESSAGES_SHOWN = 32  # dissected per packet; the packet says how many more it completed

_PartKey = tuple[ConnectionKey, Endpoint, int]  # connection, sender, stream offset


class _Context:
    __slots__ = ("client", "deflate", "key", "no_takeover")

    def __init__(self) -> None:
        self.key: str | None = None
        self.client: Endpoint | None = None
        self.deflate: bool | None = None  # None: the 101 response was not seen
        self.no_takeover: set[str] = set()  # "server" and/or "client" (RFC 7692 §7.1.1)


class _Direction:
    """One direction of a connection, as far as it has been learnt."""

    __slots__ = ("inflater", "next_offset", "open", "open_compressed")

    def __init__(self) -> None:
        self.next_offset: int | None = None  # where the next message starts, once known
        self.inflater: MessageInflater | None = None
        self.open = 0  # frames of a fragmented data message so far (0: none in progress)
        self.open_compressed = False  # ... and whether it is compressed


class MessageDissector:
    """Dissects messages in stream order, carrying each connection's handshake along."""

    def __init__(self, *, keep: bool = True) -> None:
        # keep=False: a message's inflated bytes are let go once it is dissected, for a
        # caller that dissects each message once, in order (`wirelab dissect`).
        self.keep = keep
        self._contexts: dict[ConnectionKey, _Context] = {}
        self._directions: dict[tuple[ConnectionKey, Endpoint], _Direction] = {}
        self._parts: dict[_PartKey, CompressedPart] = {}
        self._kept = 0  # inflated bytes kept in `_parts`

    def learn(self, pdu: Pdu) -> None:
        """Note what `pdu` says about its connection; call in stream order.

        `dissect` learns too, so a caller that dissects every message in order
        need not call this; a caller that dissects only some messages, later,
        learns from every one as it passes. A message is learnt once: learning it
        again (or one before it in its direction) changes nothing.
        """
        context = self._contexts.setdefault(pdu.connection, _Context())
        direction = self._directions.setdefault((pdu.connection, pdu.src), _Direction())
        expected = direction.next_offset
        if expected is not None and pdu.stream_offset < expected:
            return  # learnt already
        gap = expected is not None and pdu.stream_offset > expected
        direction.next_offset = pdu.stream_offset + len(pdu.data)
        if pdu.kind == "http":
            self._learn(context, pdu)
            return
        if gap:
            # Frames of this direction were not learnt (a caller skipped them): their
            # context is lost, and so is any message they were part of.
            direction.open = 0
            if direction.inflater is not None:
                direction.inflater.missed()
        self._learn_frame(context, direction, pdu, seen_all=expected is not None and not gap)

    def dissect(self, pdu: Pdu) -> Dissection:
        self.learn(pdu)
        context = self._contexts[pdu.connection]
        packets = _packet_list(pdu.packets)
        size = plural(len(pdu.data), "byte")
        if pdu.kind == "websocket":
            title = f"WebSocket frame {pdu.src} → {pdu.dst} ({size}, {packets})"
            from_client = None if context.client is None else pdu.src == context.client
            part = self._parts.get((pdu.connection, pdu.src, pdu.stream_offset))
            if not self.keep:
                self.let_go(pdu)
            return websocket_dissection(
                pdu.data,
                title=title,
                deflate=context.deflate,
                from_client=from_client,
                part=part,
            )
        title = f"HTTP message {pdu.src} → {pdu.dst} ({size}, {packets})"
        return http_dissection(pdu.data, title=title, key=context.key)

    def let_go(self, pdu: Pdu) -> None:
        """Forget what learning `pdu` kept (its inflated bytes): it will not be asked for
        again."""
        part = self._parts.pop((pdu.connection, pdu.src, pdu.stream_offset), None)
        if part is not None and part.inflated is not None:
            self._kept -= len(part.inflated.data)

    def inflated(self, pdu: Pdu) -> Inflated | None:
        """The message `pdu` ends, inflated, if it is the last frame of a compressed message."""
        self.learn(pdu)
        part = self._parts.get((pdu.connection, pdu.src, pdu.stream_offset))
        return None if part is None else part.inflated

    def _learn_frame(
        self, context: _Context, direction: _Direction, pdu: Pdu, *, seen_all: bool
    ) -> None:
        """Follow the direction's data messages; inflate the compressed ones (RFC 7692)."""
        try:
            frames, _ = parse_frames(pdu.data)
        except ProtocolError:
            frames = []
        if not frames:
            return
        frame = frames[0]
        if frame.opcode >= 0x8:
            return  # control frames sit between fragments and are never compressed (§6)
        key = (pdu.connection, pdu.src, pdu.stream_offset)
        if frame.opcode == Opcode.CONTINUATION:
            if not direction.open:
                return  # its first frame was not seen: nothing to say
            index = direction.open
        else:
            if direction.open and direction.open_compressed and direction.inflater is not None:
                direction.inflater.missed()  # a new message while one was unfinished
            index = 0
            direction.open_compressed = frame.rsv1 and context.deflate is not False
        direction.open = 0 if frame.fin else index + 1
        if not direction.open_compressed:
            return
        inflater = direction.inflater
        if inflater is None:
            inflater = direction.inflater = MessageInflater(
                takeover=self._takeover(context, pdu),
                # Every earlier message of this direction was seen only if the handshake
                # was, and the frames followed it without a gap.
                lost=None if seen_all and context.deflate else NOT_CAPTURED,
            )
        if index == 0:
            room = KEEP_BUDGET - self._kept
            inflater.begin(text=frame.opcode == Opcode.TEXT, keep=max(room, KEEP_HEAD))
        inflater.feed(frame.payload)
        if not frame.fin:
            self._parts[key] = CompressedPart(index)
            return
        inflated = inflater.end()
        self._parts[key] = CompressedPart(index, inflated)
        if inflated is not None:
            self._kept += len(inflated.data)

    @staticmethod
    def _takeover(context: _Context, pdu: Pdu) -> bool | None:
        """Whether the sender of `pdu` keeps its compression context between messages."""
        if context.deflate is None or context.client is None:
            return None
        side = "client" if pdu.src == context.client else "server"
        return side not in context.no_takeover

    @staticmethod
    def _learn(context: _Context, pdu: Pdu) -> None:
        try:
            parsed = read_head(pdu.data)
        except HttpError:
            return
        if parsed is None:
            return
        head = parsed[0]
        if head.start[0] == "GET" and head.get_all("Sec-WebSocket-Key"):
            context.key = head.get_all("Sec-WebSocket-Key")[0]
            context.client = pdu.src
        elif head.start[1] == "101":
            if context.client is None:
                context.client = pdu.dst  # the server answers the client
            accepted = ",".join(head.get_all("Sec-WebSocket-Extensions"))
            try:
                offers = parse_extensions(accepted)
            except HandshakeError:  # malformed: the name is all that can be looked for
                context.deflate = "permessage-deflate" in accepted.lower()
                return
            for name, params in offers:
                if name.lower() == "permessage-deflate":
                    context.deflate = True
                    for param, _ in params:
                        side = param.lower().removesuffix("_no_context_takeover")
                        if side in ("server", "client"):
                            context.no_takeover.add(side)
                    return
            context.deflate = False


def dissect_with_messages(
    record: WireRecord, pdus: Sequence[Pdu], messages: MessageDissector | None = None
) -> Dissection:
    """`record` dissected, followed by the messages it completed (in stream order)."""
    return with_messages(dissect_record(record), pdus, messages or MessageDissector())


def with_messages(base: Dissection, pdus: Sequence[Pdu], messages: MessageDissector) -> Dissection:
    """A packet's dissection followed by the messages it completed, at most
    `MESSAGES_SHOWN` of them, with a line that counts the ones left out."""
    shown = shown_messages(pdus, messages)
    return combine(base, shown.dissections, more=shown.left_out, more_at=shown.at)


class Shown(NamedTuple):
    """The messages of one packet that are shown, and where the others were left out."""

    pdus: list[Pdu]
    dissections: list[Dissection]
    left_out: int = 0
    at: int = 0  # how many of the shown ones come before the ones left out


def shown_messages(pdus: Sequence[Pdu], messages: MessageDissector) -> Shown:
    """The first and last of `pdus` dissected, `MESSAGES_SHOWN` in all (the last frame of
    a packet is the one most likely to end a message); the ones between are only learnt,
    so the messages after them are still read in context. A packet of 1-byte frames
    completes hundreds."""
    if len(pdus) <= MESSAGES_SHOWN:
        return Shown(list(pdus), [messages.dissect(pdu) for pdu in pdus])
    first, last = pdus[:_FIRST], pdus[len(pdus) - (MESSAGES_SHOWN - _FIRST) :]
    dissections = [messages.dissect(pdu) for pdu in first]
    for pdu in pdus[_FIRST : len(pdus) - len(last)]:
        messages.learn(pdu)
        if not messages.keep:
            messages.let_go(pdu)
    dissections += [messages.dissect(pdu) for pdu in last]
    return Shown([*first, *last], dissections, len(pdus) - MESSAGES_SHOWN, _FIRST)


_FIRST = MESSAGES_SHOWN * 3 // 4  # of the shown ones, from the start; the rest from the end


def _packet_list(indexes: tuple[int, ...]) -> str:
    numbers = [i + 1 for i in indexes]
    if len(numbers) == 1:
        return f"packet {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"packets {numbers[0]}–{numbers[-1]}"
    shown = ", ".join(map(str, numbers[:8]))
    return f"packets {shown}{', …' if len(numbers) > 8 else ''}"


def message_json(pdu: Pdu, dissection: Dissection) -> dict[str, object]:
    """A reassembled message for scripts: where it came from, its key values, its fields.

    A frame's `payload` is as sent (unmasked); the last frame of a compressed message
    adds `inflated` (the text of a text message, else hex) and `inflated_length`.
    """
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
        # The last frame of a compressed message: the message inflated (text as text).
        inflated = dissection.find("ws.inflated")
        if inflated is not None:
            data = dissection.buffers[inflated.buffer].data
            if isinstance(inflated.value, str):
                out["inflated"] = inflated.value[:JSON_VALUE_LIMIT]
                cut = len(inflated.value) > JSON_VALUE_LIMIT
            else:
                out["inflated"] = data[:JSON_VALUE_LIMIT].hex()
                cut = len(data) > JSON_VALUE_LIMIT
            out["inflated_length"] = len(data)
            if cut:
                out["inflated_truncated"] = True  # the first JSON_VALUE_LIMIT bytes (characters)
    else:
        first = pdu.data.split(b"\r\n", 1)[0]
        out["start_line"] = first.decode("ascii", "replace")
    out["fields"] = [field.to_json() for field in dissection.fields]
    out["problems"] = list(dissection.problems)
    return out
