"""permessage-deflate in the inspector: compressed frames shown as sent and inflated (RFC 7692).

Traffic is built here with `zlib` the way RFC 7692 §7.2.1 compresses (raw
DEFLATE, a sync flush, the final 00 00 ff ff removed), cut into STREAM records,
and dissected through `StreamDissector`, the inspector's own path. Context
takeover is checked by messages that only inflate with the ones before them;
the last tests record genuinely foreign compressed traffic from the
`websockets` library over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve

from simulator.dissect.conversation import message_conversation
from simulator.dissect.fields import Dissection, Field
from simulator.dissect.inflate import INFLATE_LIMIT, inflate_alone
from simulator.dissect.messages import KEEP_HEAD, MessageDissector, message_json
from simulator.dissect.stream_view import StreamDissector
from simulator.dissect.websocket import websocket_dissection
from simulator.live import connect, trace_tap
from simulator.trace import Pdu, Trace, reassemble
from simulator.ws import BinaryMessage, TextMessage
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.handshake import build_request, build_response
from tests.dissect.helpers import check_tree, field
from tests.live.support import STEP, run, serving
from tests.trace.helpers import stream_records

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
MASK = bytes.fromhex("37fa213d")
DEFLATE = "permessage-deflate"
TAIL = b"\x00\x00\xff\xff"


class Deflater:
    """One direction's compressor, as RFC 7692 §7.2.1 runs it."""

    def __init__(self, *, takeover: bool = True) -> None:
        self.takeover = takeover
        self._compressor = zlib.compressobj(wbits=-15)

    def __call__(self, data: bytes) -> bytes:
        if not self.takeover:
            self._compressor = zlib.compressobj(wbits=-15)
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        return out[:-4]


Chunk = tuple[str, bytes]  # ("c" | "s", bytes written)


def opening(extensions: str | None = DEFLATE) -> list[Chunk]:
    return [
        ("c", build_request(host="example.com", path="/", key=KEY, extensions=(DEFLATE,))),
        ("s", build_response(KEY, extensions=extensions)),
    ]


def client_frame(opcode: int, payload: bytes, **kw: bool) -> Chunk:
    return ("c", serialize_frame(opcode, payload, masking_key=MASK, **kw))


def server_frame(opcode: int, payload: bytes, **kw: bool) -> Chunk:
    return ("s", serialize_frame(opcode, payload, masking_key=None, **kw))  # a server never masks


def inspect(chunks: list[Chunk]) -> list[Dissection]:
    """Every record as the inspector shows it, in order; every tree checked."""
    trace = Trace(stream_records(chunks))
    stream = StreamDissector(trace)
    shown = [stream(record) for record in trace]
    for dissection in shown:
        check_tree(dissection)
    return shown


def frames_of(shown: list[Dissection]) -> list[Field]:
    """The WebSocket frames the records completed, in order."""
    return [f for d in shown for f in d.fields if f.name == "ws"]


def inflated_buffer(dissection: Dissection) -> bytes:
    (buffer,) = [b for b in dissection.buffers if b.name == "Inflated payload"]
    return buffer.data


def within(frame: Field, name: str) -> Field | None:
    return next((f for _, f in frame.walk() if f.name == name), None)


def pdus(chunks: list[Chunk]) -> list[Pdu]:
    return reassemble(stream_records(chunks)).pdus


# --- both directions, as sent and inflated -----------------------------------------------


def test_client_and_server_messages_are_shown_as_sent_and_inflated() -> None:
    to_server, to_client = Deflater(), Deflater()
    hello = to_server(b"Hello, permessage-deflate!")
    blob = bytes(range(64)) * 8
    packed = to_client(blob)
    shown = inspect(
        [
            *opening(),
            client_frame(Opcode.TEXT, hello, rsv1=True),
            server_frame(Opcode.BINARY, packed, rsv1=True),
        ]
    )
    text, binary = shown[2], shown[3]

    # As sent: the masked bytes, unmasked into their own buffer, are the compressed ones.
    assert field(text, "ws.payload").value == hello
    assert [b.name for b in text.buffers][-2:] == ["Unmasked payload", "Inflated payload"]
    compressed = field(text, "ws.compressed")
    assert (compressed.start, compressed.end, compressed.value) == (0, len(hello), hello)
    assert compressed.buffer == [b.name for b in text.buffers].index("Unmasked payload")
    assert compressed.display == f"{len(hello)} bytes of raw DEFLATE → 26 bytes inflated"
    assert "00 00 ff ff" in compressed.explanation and "context takeover" in compressed.explanation
    # The frame's own line shows the message, not its compressed bytes.
    line = f"TEXT 'Hello, permessage-deflate!' [{len(hello)} bytes compressed from 26, masked]"
    assert field(text, "ws").label == f"WebSocket {line}"
    assert text.summary.endswith(line)

    # Inflated: the text, in a buffer of its own, with the byte counts.
    inflated = field(text, "ws.inflated")
    assert inflated.value == "Hello, permessage-deflate!"
    assert inflated_buffer(text) == b"Hello, permessage-deflate!"
    assert inflated.buffer == len(text.buffers) - 1
    assert (inflated.start, inflated.end) == (0, 26)
    assert inflated.display.startswith(f"{len(hello)} bytes → 26 bytes (×")
    assert inflated.problem is None and text.problems == ()
    assert text.find("ws.text") is None  # the compressed bytes are not text

    assert field(binary, "ws.inflated").value == blob
    assert inflated_buffer(binary) == blob
    assert (
        len(packed) < len(blob) and f"→ {len(blob)} bytes" in field(binary, "ws.inflated").display
    )

    rsv1 = field(text, "ws.rsv1")
    assert rsv1.display == "1 (compressed message, permessage-deflate)"
    assert "Per-Message Compressed" in rsv1.explanation
    assert "control frames are never compressed" in rsv1.explanation


def test_control_frames_are_never_compressed() -> None:
    shown = inspect([*opening(), client_frame(Opcode.PING, b"?"), server_frame(Opcode.PONG, b"?")])
    for dissection in shown[2:]:
        assert field(dissection, "ws.rsv1").display == "0 (control frames are never compressed)"
        assert dissection.find("ws.compressed") is None
        assert "Inflated payload" not in [b.name for b in dissection.buffers]
    bad = inspect([*opening(), server_frame(Opcode.PING, b"", rsv1=True)])[2]
    assert "RFC 7692 §6" in (field(bad, "ws.rsv1").problem or "")
    assert bad.find("ws.compressed") is None


# --- fragments ----------------------------------------------------------------------------


def fragmented(text: bytes) -> tuple[bytes, list[Chunk]]:
    """`text` compressed and sent by the client in 3 frames, a ping between the 2nd and 3rd."""
    data = Deflater()(text)
    cut1, cut2 = len(data) // 3, 2 * len(data) // 3
    return data, [
        client_frame(Opcode.TEXT, data[:cut1], rsv1=True, fin=False),
        client_frame(Opcode.CONTINUATION, data[cut1:cut2], fin=False),
        client_frame(Opcode.PING, b"still there?"),
        client_frame(Opcode.CONTINUATION, data[cut2:]),
    ]


@pytest.mark.parametrize("together", [False, True], ids=["a record each", "one record"])
def test_a_message_compressed_over_three_frames(together: bool) -> None:
    text = b"a message long enough to be cut in three pieces, " * 3
    data, frames = fragmented(text)
    if together:
        frames = [("c", b"".join(chunk for _, chunk in frames))]
    first, middle, ping, last = frames_of(inspect([*opening(), *frames]))

    assert within(first, "ws.rsv1").display == "1 (compressed message, permessage-deflate)"  # type: ignore[union-attr]
    start = within(first, "ws.compressed")
    assert start is not None and start.display.endswith(": inflated with its last frame")
    assert within(first, "ws.inflated") is None

    rsv1 = within(middle, "ws.rsv1")
    assert rsv1 is not None and rsv1.display.startswith("0 (continues a compressed message")
    part = within(middle, "ws.compressed")
    assert part is not None and "part 2 of a compressed message" in part.display
    assert within(ping, "ws.compressed") is None

    inflated = within(last, "ws.inflated")
    assert inflated is not None and inflated.value == text.decode()
    assert inflated.display.startswith(f"{len(data)} bytes → {len(text)} bytes")
    end = within(last, "ws.compressed")
    ratio = f"{len(data)} bytes → {len(text)} bytes (×{len(text) / len(data):.1f})"
    assert inflated.display.startswith(ratio)
    assert end is not None and end.display == (
        f"last of 3 frames, {len(data) - 2 * len(data) // 3} bytes; the message: {ratio}"
    )
    assert last.label.startswith(f"WebSocket CONTINUATION {text.decode()[:40]!r} [")


def test_a_fragmented_message_summary_and_json() -> None:
    text = b"fragments, fragments, fragments"
    data, frames = fragmented(text)
    found = pdus([*opening(), *frames])
    messages = MessageDissector()
    dissections = [messages.dissect(pdu) for pdu in found]
    assert dissections[2].summary.startswith("TEXT (compressed) [")
    assert "FIN=0" in dissections[2].summary
    last = dissections[-1].summary
    assert last.startswith(f"CONTINUATION {text.decode()[:40]!r} [")
    assert f"last of 3 frames: {len(data)} bytes compressed from {len(text)}" in last
    out = [message_json(pdu, d) for pdu, d in zip(found, dissections, strict=True)]
    assert out[-1]["inflated"] == text.decode() and out[-1]["inflated_length"] == len(text)
    assert out[-1]["payload"] == data[2 * len(data) // 3 :].hex()  # as sent (unmasked)
    assert all("inflated" not in o for o in out[:-1])


# --- context takeover ---------------------------------------------------------------------


def test_context_takeover_second_message_needs_the_first() -> None:
    to_server = Deflater()
    first = to_server(b"Hello, Hello, Hello")
    second = to_server(b"Hello, Hello, Hello")  # a back-reference into the first
    assert len(second) < len(first)
    problem = inflate_alone(second, text=True).problem  # alone it cannot be inflated
    assert problem is not None and "too far back" in problem

    chunks = [
        *opening(),
        client_frame(Opcode.TEXT, first, rsv1=True),
        client_frame(Opcode.TEXT, second, rsv1=True),
    ]
    shown = inspect(chunks)
    for dissection in shown[2:]:
        assert field(dissection, "ws.inflated").value == "Hello, Hello, Hello"
        assert dissection.problems == ()

    # Asked out of order, and again: the same answer, computed once in message order.
    trace = Trace(stream_records(chunks))
    stream = StreamDissector(trace)
    backwards = [stream(trace[i]).to_json() for i in (3, 2, 3, 1, 0)]
    assert backwards == [shown[i].to_json() for i in (3, 2, 3, 1, 0)]


def test_takeover_in_one_direction_does_not_mix_with_the_other() -> None:
    to_server, to_client = Deflater(), Deflater()
    words = b"the same words in both directions"
    chunks = [*opening()]
    for _ in range(3):  # each direction refers to its own earlier messages only
        chunks.append(client_frame(Opcode.TEXT, to_server(words), rsv1=True))
        chunks.append(server_frame(Opcode.TEXT, to_client(words), rsv1=True))
    shown = inspect(chunks)
    assert [field(d, "ws.inflated").value for d in shown[2:]] == [words.decode()] * 6
    assert all(d.problems == () for d in shown)


def test_uncompressed_messages_between_compressed_ones() -> None:
    to_client = Deflater()
    chunks = [
        *opening(),
        server_frame(Opcode.TEXT, to_client(b"squeeze me, squeeze me"), rsv1=True),
        server_frame(Opcode.TEXT, b"sent as it is"),  # RSV1 = 0: not compressed (§6)
        server_frame(Opcode.TEXT, to_client(b"squeeze me, squeeze me"), rsv1=True),
    ]
    one, plain, two = inspect(chunks)[2:]
    assert field(plain, "ws.text").value == "sent as it is" and plain.find("ws.inflated") is None
    assert field(one, "ws.inflated").value == field(two, "ws.inflated").value


def test_no_context_takeover_each_message_inflates_alone() -> None:
    agreed = f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover"
    to_client = Deflater(takeover=False)
    chunks = [*opening(agreed)]
    chunks += [server_frame(Opcode.TEXT, to_client(b"again and again"), rsv1=True)] * 2
    shown = inspect(chunks)
    for dissection in shown[2:]:
        assert field(dissection, "ws.inflated").value == "again and again"
        assert "No context takeover was agreed" in field(dissection, "ws.compressed").explanation
    # Without the first message, the second still inflates: it never refers back.
    found = pdus(chunks)
    messages = MessageDissector()
    for pdu in found[:2]:
        messages.dissect(pdu)
    assert field(messages.dissect(found[3]), "ws.inflated").value == "again and again"


def test_a_server_that_keeps_context_despite_no_context_takeover() -> None:
    # server_no_context_takeover agreed, but the server kept its window: the receiver
    # starts each message afresh, so the back-reference cannot be inflated.
    to_client = Deflater()
    chunks = [*opening(f"{DEFLATE}; server_no_context_takeover")]
    for _ in range(2):
        chunks.append(server_frame(Opcode.TEXT, to_client(b"same old, same old"), rsv1=True))
    first, second = inspect(chunks)[2:]
    assert field(first, "ws.inflated").value == "same old, same old"
    problem = field(second, "ws.inflated").problem or ""
    assert problem.startswith("cannot be inflated (zlib: invalid distance too far back)")
    assert second.problems  # shown as a problem of the record


# --- what cannot be inflated --------------------------------------------------------------


def test_rsv1_without_permessage_deflate_is_a_problem() -> None:
    packed = Deflater()(b"not negotiated")
    shown = inspect([*opening(extensions=None), server_frame(Opcode.TEXT, packed, rsv1=True)])
    frame = shown[2]
    assert field(frame, "ws.rsv1").problem == (
        "set, but no extension was negotiated: a protocol error (1002)"
    )
    assert frame.find("ws.inflated") is None and frame.find("ws.compressed") is None
    assert "Inflated payload" not in [b.name for b in frame.buffers]
    assert any("1002" in p for p in frame.problems)


def test_earlier_messages_not_in_the_capture() -> None:
    to_server = Deflater()
    chunks = [*opening()]
    for _ in range(2):
        chunks.append(client_frame(Opcode.TEXT, to_server(b"ping pong ping pong"), rsv1=True))
    found = pdus(chunks)

    # Neither the handshake nor the first message was seen: the second refers to it.
    late = MessageDissector()
    second = late.dissect(found[3])
    check_tree(second)
    inflated = field(second, "ws.inflated")
    assert inflated.problem == (
        "refers to earlier messages not in this capture, so it cannot be inflated here "
        "(zlib: invalid distance too far back)"
    )
    assert inflated.value == "" and inflated_buffer(second) == b""
    assert second.summary.startswith("TEXT (cannot inflate) [")
    assert any("earlier messages not in this capture" in p for p in second.problems)

    # The handshake was seen, the first message skipped: the same.
    skipped = MessageDissector()
    for pdu in found[:2]:
        skipped.dissect(pdu)
    assert field(skipped.dissect(found[3]), "ws.inflated").problem == inflated.problem


def test_after_a_message_that_cannot_be_inflated() -> None:
    to_server = Deflater()
    good = to_server(b"context, context, context")
    broken = bytes([good[0] | 0x06]) + good[1:]  # BTYPE 11: a reserved block type
    again = to_server(b"context, context, context")
    chunks = [
        *opening(),
        client_frame(Opcode.TEXT, broken, rsv1=True),
        client_frame(Opcode.TEXT, again, rsv1=True),
    ]
    bad, after = inspect(chunks)[2:]
    assert field(bad, "ws.inflated").problem == "cannot be inflated (zlib: invalid block type)"
    assert field(after, "ws.inflated").problem == (
        "refers to an earlier message that could not be inflated, so it cannot be inflated "
        "here (zlib: invalid distance too far back)"
    )


def test_a_decompression_bomb_is_cut_at_the_limit() -> None:
    to_client = Deflater()
    bomb = to_client(bytes(INFLATE_LIMIT + (1 << 20)))  # 17 MiB of zeros
    assert len(bomb) < 32 << 10  # a few KB on the wire
    echo = to_client(bytes(300))  # refers back into the zeros
    chunks = [
        *opening(),
        server_frame(Opcode.BINARY, bomb, rsv1=True),
        server_frame(Opcode.BINARY, echo, rsv1=True),
    ]
    found = pdus(chunks)
    messages = MessageDissector()
    for pdu in found[:2]:
        messages.dissect(pdu)
    cut = messages.dissect(found[2])
    check_tree(cut)
    inflated = field(cut, "ws.inflated")
    assert inflated.problem is not None
    assert inflated.problem.startswith(f"inflated output cut at {INFLATE_LIMIT} bytes")
    assert len(inflated_buffer(cut)) == INFLATE_LIMIT == inflated.end
    assert inflated.label == f"Inflated payload ({INFLATE_LIMIT} bytes)"
    assert message_json(found[2], cut)["inflated_length"] == INFLATE_LIMIT
    # The window after the bomb is unknown, so the next message cannot borrow from it.
    after = field(messages.dissect(found[3]), "ws.inflated").problem
    assert after is not None and after.startswith(
        "refers to an earlier message whose inflating was cut short"
    )


def test_inflated_bytes_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("simulator.dissect.messages.KEEP_BUDGET", 10_000)
    to_client = Deflater()
    chunks = [*opening()]
    for _ in range(2):
        chunks.append(server_frame(Opcode.BINARY, to_client(bytes(8000)), rsv1=True))
    first, second = inspect(chunks)[2:]
    assert inflated_buffer(first) == bytes(8000) and field(first, "ws.inflated").problem is None
    assert inflated_buffer(second) == bytes(KEEP_HEAD)
    assert field(second, "ws.inflated").problem == (
        f"only the first {KEEP_HEAD} of 8000 inflated bytes are kept"
    )


def test_a_frame_dissected_alone() -> None:
    packed = Deflater()(b"Hello")
    alone = websocket_dissection(serialize_frame(Opcode.TEXT, packed, rsv1=True), title="F")
    check_tree(alone)
    assert field(alone, "ws.inflated").value == "Hello"
    assert field(alone, "ws.rsv1").display == "1 (compressed, if permessage-deflate was negotiated)"


# --- foreign traffic: the websockets library, compression on by default -----------------

TEXTS = ["hello from websockets", "hello from websockets", "hello again from websockets"]
PIECES = ["fragmented ", "and compressed ", "by websockets"]


def inflated_messages(trace: Trace, *, from_client: bool) -> list[str | bytes]:
    """Every inflated message one side sent, as the inspector shows them."""
    stream = StreamDissector(trace)
    out: list[str | bytes] = []
    for record in trace:
        dissection = stream(record)
        check_tree(dissection)
        for top in dissection.fields:
            mask, inflated = within(top, "ws.mask"), within(top, "ws.inflated")
            if mask is None or inflated is None or mask.value is not from_client:
                continue
            assert dissection.buffers[inflated.buffer].name == "Inflated payload"
            assert inflated.problem is None, inflated.problem
            assert isinstance(inflated.value, str | bytes)
            out.append(inflated.value)
    return out


def test_websockets_client_against_our_server() -> None:
    trace = Trace()

    async def scenario() -> None:
        async with serving(tap=trace_tap(trace)) as server, ws_connect(server.url) as ws:
            assert ws.response is not None
            assert ws.response.headers["Sec-WebSocket-Extensions"].startswith(DEFLATE)
            for text in TEXTS:
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), STEP) == text
            await ws.send(PIECES)  # one message in three frames
            assert await asyncio.wait_for(ws.recv(), STEP) == "".join(PIECES)

    run(scenario())
    sent = inflated_messages(trace, from_client=True)
    assert sent == [*TEXTS, "".join(PIECES)]
    assert inflated_messages(trace, from_client=False) == [*TEXTS, "".join(PIECES)]


def test_our_client_against_a_websockets_server() -> None:
    trace = Trace()
    blob = bytes(range(256)) * 16

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def scenario() -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = await connect(f"ws://127.0.0.1:{port}/", tap=trace_tap(trace))
            for text in TEXTS:
                client.send_text(text)
                assert await client.recv(STEP) == TextMessage(text)
            client.send_binary(blob)
            assert await client.recv(STEP) == BinaryMessage(blob)
            await client.close()

    run(scenario())
    received: Sequence[str | bytes] = inflated_messages(trace, from_client=False)
    assert received == [*TEXTS, blob]


def test_the_conversation_view_shows_compressed_messages_inflated() -> None:
    deflater = Deflater()
    text = b"follow me " * 20
    chunks = [*opening(), client_frame(Opcode.TEXT, deflater(text), rsv1=True)]
    chunks.append(client_frame(Opcode.BINARY, deflater(b"\x00\x01" * 8), rsv1=True))
    trace = Trace(stream_records(chunks))
    stream = StreamDissector(trace)
    turns = message_conversation(stream)(trace, 0, stream)
    assert [turn.direction for turn in turns] == ["client", "server", "client", "client"]
    assert turns[2].text == text.decode()
    assert "inflates to 200 bytes" in turns[2].label
    assert turns[3].text == ("00 01 " * 8).strip()


@pytest.mark.timeout(30)
def test_a_final_block_then_more_streams_in_one_message_is_inflated_and_ends() -> None:
    """Found by fuzzing `wirelab dissect`: a message whose first DEFLATE stream ends with a
    final block (BFINAL) after more output than one step asks for, then more bytes. zlib
    took no more input after the stream's end, so inflating looped for ever (and its
    unused input grew without bound). What follows a final block is a new stream over
    the same window (RFC 7692 §7.2.3.3)."""
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    ended = first.compress(bytes(3 << 20)) + first.flush(zlib.Z_FINISH)  # 3 MiB of zeros
    second = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=bytes(32 << 10))
    more = second.compress(bytes(100) + b"more") + second.flush(zlib.Z_SYNC_FLUSH)
    inflated = inflate_alone(ended + more[:-4], text=False)
    assert inflated.problem is None and inflated.data == bytes(3 << 20) + bytes(100) + b"more"
    # Bytes after the final block that are no DEFLATE stream say so, and end too.
    broken = inflate_alone(ended + b"\xff" * 64, text=False)
    assert broken.problem is not None and broken.problem.startswith("cannot be inflated")
