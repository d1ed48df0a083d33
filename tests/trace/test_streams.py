"""Reassembly: packets or socket chunks in, HTTP messages and WebSocket frames out."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from simulator.trace import (
    ConnectionKey,
    Endpoint,
    Layer,
    Pdu,
    Reassembler,
    WireRecord,
    connection_key,
    open_capture,
    reassemble,
    streams,
    write_pcap,
)
from simulator.trace.streams import Mode
from simulator.ws.frames import Opcode, parse_frames, serialize_frame
from tests.trace.helpers import (
    CLIENT,
    SERVER,
    Conversation,
    link_records,
    stream_records,
    websocket_chunks,
)

REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
KEY = bytes.fromhex("37fa213d")


def opcodes(pdus: list[Pdu]) -> list[int]:
    return [parse_frames(p.data)[0][0].opcode for p in pdus if p.kind == "websocket"]


def by_direction(pdus: list[Pdu], src: Endpoint) -> list[bytes]:
    return [p.data for p in pdus if p.src == src]


def expected(chunks: list[tuple[str, bytes]], side: str) -> list[bytes]:
    """The PDUs each side's bytes hold: the HTTP head first, then frames."""
    data = b"".join(d for s, d in chunks if s == side)
    head_end = data.index(b"\r\n\r\n") + 4
    frames, rest = parse_frames(data[head_end:])
    assert rest == b""
    return [data[:head_end]] + [frame.raw for frame in frames]


def upgraded() -> Conversation:
    conversation = Conversation()
    conversation.handshake()
    conversation.send("c", REQUEST)
    conversation.send("s", RESPONSE)
    return conversation


# --- the WebSocket session, whole -------------------------------------------------------


def test_websocket_session_from_packets_and_from_stream_records() -> None:
    chunks = websocket_chunks()
    conversation = Conversation()
    conversation.handshake()
    for side, data in chunks:
        conversation.send(side, data)
        conversation.ack("s" if side == "c" else "c")
    conversation.fin("s")
    conversation.fin("c")
    for records in (conversation.records(), stream_records(chunks)):
        pdus = Reassembler().feed_all(records)
        assert by_direction(pdus, CLIENT) == expected(chunks, "c")
        assert by_direction(pdus, SERVER) == expected(chunks, "s")
        client = [p for p in pdus if p.src == CLIENT]
        assert client[0].kind == "http" and client[0].data.startswith(b"GET /chat HTTP/1.1")
        assert [p.kind for p in client[1:]] == ["websocket"] * (len(client) - 1)
        assert opcodes(client) == [
            Opcode.TEXT,
            Opcode.BINARY,
            Opcode.TEXT,
            Opcode.CONTINUATION,
            Opcode.CONTINUATION,
            Opcode.PING,
            Opcode.CLOSE,
        ]
        assert all(parse_frames(p.data)[0][0].masked for p in client[1:])
        server = [p for p in pdus if p.src == SERVER]
        assert server[0].data.startswith(b"HTTP/1.1 101 ")
        assert opcodes(server) == [Opcode.TEXT, Opcode.PONG, Opcode.CLOSE]
        offsets = [p.stream_offset for p in client]
        assert offsets == [sum(len(p.data) for p in client[:i]) for i in range(len(client))]


def test_stream_records_keep_connections_apart() -> None:
    chunks = websocket_chunks()
    records: list[WireRecord] = []
    for i, (side, data) in enumerate(chunks):
        for connection, port in ((1, 50000), (2, 50001)):
            src, dst = (Endpoint("127.0.0.1", port), Endpoint("127.0.0.1", 8765))
            if side == "s":
                src, dst = dst, src
            records.append(
                WireRecord(
                    len(records),
                    float(i),
                    Layer.STREAM,
                    data,
                    src=src,
                    dst=dst,
                    connection=connection,
                )
            )
    reassembler = Reassembler()
    reassembler.feed_all(records)
    assert [key.id for key in reassembler.connections] == [1, 2]
    key = reassembler.connections[1]
    assert key == connection_key(records[1])
    assert str(key) == "#2 127.0.0.1:8765 ↔ 127.0.0.1:50001"
    one = Reassembler(only=key).feed_all(records)
    assert {p.connection for p in one} == {key}
    assert len(one) * 2 == len(reassembler.pdus)


# --- segment order ----------------------------------------------------------------------


def test_out_of_order_segments() -> None:
    conversation = upgraded()
    frame = serialize_frame(Opcode.TEXT, b"out of order, in the end in order", masking_key=KEY)
    sizes = [5, 10, 3, len(frame) - 18]
    positions = conversation.send("c", frame, sizes)
    order = [*range(positions[0]), positions[2], positions[0], positions[3], positions[1]]
    pdus = Reassembler().feed_all(conversation.records(order))
    frames = [p for p in pdus if p.kind == "websocket"]
    assert [p.data for p in frames] == [frame]
    # Fed as positions 5..8: the third segment came first, the second last and completed it.
    first = positions[0]
    assert frames[0].completed_in == first + 3
    assert frames[0].packets == (first + 1, first + 3, first + 0, first + 2)


def test_retransmissions_and_overlaps_are_taken_once() -> None:
    conversation = upgraded()
    data = serialize_frame(Opcode.BINARY, bytes(range(200)))
    first = conversation.send("s", data, [50, 50, len(data) - 100])
    packets = conversation.packets
    c, s = CLIENT, SERVER
    overlap = Conversation(s, c, isn_client=5000 + 1 + len(RESPONSE) + 25)  # bytes 25..75 again
    overlap.next[s] = overlap.isn_client
    overlap.send("c", data[25:75])
    resent = packets[first[0]]
    order_packets = [*packets[: first[0] + 1], resent, *overlap.packets]
    order_packets += [*packets[first[0] + 1 :], packets[first[1]]]
    pdus = Reassembler().feed_all(link_records(order_packets))
    frames = [p for p in pdus if p.kind == "websocket"]
    assert [p.data for p in frames] == [data]
    # The first copy of each byte: bytes 50..75 came in the overlapping segment.
    assert frames[0].packets == (first[0], first[0] + 2, first[0] + 3, first[0] + 4)


def test_a_frame_across_five_segments_and_three_frames_in_one() -> None:
    conversation = upgraded()
    big = serialize_frame(Opcode.TEXT, b"x" * 500, masking_key=KEY)
    positions = conversation.send("c", big, [2, 100, 100, 100, len(big) - 302])
    three = [
        serialize_frame(Opcode.TEXT, b"one"),
        serialize_frame(Opcode.BINARY, b"two"),
        serialize_frame(Opcode.PING, b"three"),
    ]
    (together,) = conversation.send("s", b"".join(three))
    reassembler = Reassembler()
    reassembler.feed_all(conversation.records())
    frames = [p for p in reassembler.pdus if p.kind == "websocket"]
    assert [p.data for p in frames] == [big, *three]
    assert frames[0].packets == tuple(positions) and frames[0].completed_in == positions[-1]
    assert all(p.packets == (together,) and p.completed_in == together for p in frames[1:])
    assert reassembler.pdus_completed_in(together) == frames[1:]
    assert reassembler.pdus_completed_in(positions[2]) == []
    assert reassembler.pdus_carried_by(positions[2]) == [frames[0]]


def test_sequence_numbers_that_wrap() -> None:
    conversation = Conversation(isn_client=0xFFFFFFF0)
    conversation.handshake()
    conversation.send("c", REQUEST, [10, len(REQUEST) - 10])  # the wrap falls inside
    conversation.send("s", RESPONSE)
    frame = serialize_frame(Opcode.TEXT, b"after the wrap", masking_key=KEY)
    conversation.send("c", frame)
    pdus = Reassembler().feed_all(conversation.records())
    assert [p.data for p in pdus if p.src == CLIENT] == [REQUEST, frame]


def test_capture_starting_after_the_handshake() -> None:
    conversation = upgraded()
    frame = serialize_frame(Opcode.TEXT, b"late", masking_key=KEY)
    conversation.send("c", frame)
    # No SYN: each direction's stream starts at the first segment seen.
    pdus = Reassembler().feed_all(conversation.records()[3:])
    assert [p.data for p in pdus] == [REQUEST, RESPONSE, frame]
    # Started later still, in the middle of the WebSocket frames: nothing to cut.
    assert Reassembler().feed_all(conversation.records()[5:]) == []


# --- HTTP ---------------------------------------------------------------------------------


def test_http_bodies_keep_alive_and_refused_upgrade() -> None:
    conversation = Conversation()
    conversation.handshake()
    post = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    head = b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
    conversation.send("c", post + head + REQUEST, [20, 40, len(post + head + REQUEST) - 60])
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    head_ok = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # to HEAD: no body follows
    chunked = (
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nnope\r\n3\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    conversation.send("s", ok + head_ok + chunked, [30, 30, 30, len(ok + head_ok + chunked) - 90])
    after = b"GET /again HTTP/1.1\r\nHost: h\r\n\r\n"
    conversation.send("c", after)
    until_close = b"HTTP/1.0 200 OK\r\n\r\nall of this, until the FIN"
    conversation.send("s", until_close)
    conversation.fin("s")
    pdus = Reassembler().feed_all(conversation.records())
    assert all(p.kind == "http" for p in pdus)
    assert by_direction(pdus, CLIENT) == [post, head, REQUEST, after]
    assert by_direction(pdus, SERVER) == [ok, head_ok, chunked, until_close]
    assert pdus[-1].completed_in == len(conversation.packets) - 1  # the FIN completed it
    assert str(pdus[0]) == f"HTTP {CLIENT} → {SERVER} POST /x HTTP/1.1 [{len(post)} bytes]"


def test_body_until_close_without_a_fin_ends_with_the_capture() -> None:
    records = stream_records(
        [("c", b"GET / HTTP/1.1\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\n\r\nab")]
    )
    reassembler = Reassembler()
    assert [p.data for r in records for p in reassembler.feed(r)] == [b"GET / HTTP/1.1\r\n\r\n"]
    (last,) = reassembler.finish()
    assert last.data == b"HTTP/1.1 200 OK\r\n\r\nab" and last.completed_in == 1


def test_frames_right_behind_the_101_in_the_same_segment() -> None:
    hello = serialize_frame(Opcode.TEXT, b"hi")
    records = stream_records([("c", REQUEST), ("s", RESPONSE + hello)])
    pdus = Reassembler().feed_all(records)
    assert [(p.kind, p.data) for p in pdus] == [
        ("http", REQUEST),
        ("http", RESPONSE),
        ("websocket", hello),
    ]
    assert str(pdus[2]) == f"WebSocket {SERVER} → {CLIENT} TEXT 'hi' [2 bytes]"


# --- what is neither --------------------------------------------------------------------


def test_other_protocols_give_nothing_and_keep_nothing() -> None:
    rng = random.Random(3)
    noise = stream_records([("c", rng.randbytes(64 * 1024)) for _ in range(40)])
    tls = stream_records([("c", b"\x16\x03\x01\x02\x00" + rng.randbytes(300))])
    text = stream_records([("c", b"A" * (2 << 20))])  # an upper-case letter, never a line
    for records in (noise, tls, text):
        reassembler = Reassembler()
        assert reassembler.feed_all(records) == []
        (conn,) = reassembler._connections.values()
        (half,) = conn.halves.values()
        assert half.mode is Mode.RAW and not half.buf and not half.spans


def test_a_gap_that_never_fills_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "MAX_PENDING", 20_000)
    conversation = upgraded()
    data = b"\x82\x7e\xff\xff" + b"\0" * 60_000
    sizes = [1] + [5_000] * 6
    sizes.append(len(data) - sum(sizes))
    positions = conversation.send("s", data, sizes)
    records = [r for r in conversation.records() if r.index != positions[0]]
    reassembler = Reassembler()
    reassembler.feed_all(records)
    half = reassembler._connections[ConnectionKey(None, CLIENT, SERVER)].halves[SERVER]
    assert half.mode is Mode.RAW and half.pending_bytes == 0 and not half.pending


# --- one connection out of a capture ----------------------------------------------------


def test_one_connection_of_a_capture(tmp_path: Path) -> None:
    one = upgraded()
    other = Conversation(client=Endpoint("10.0.0.9", 40000), isn_client=77)
    other.handshake()
    other.send("c", b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
    frame = serialize_frame(Opcode.TEXT, b"mine", masking_key=KEY)
    one.send("c", frame)
    packets = [p for pair in zip(one.packets, other.packets, strict=False) for p in pair]
    packets += one.packets[len(other.packets) :]
    path = tmp_path / "two.pcap"
    write_pcap(path, link_records(packets))
    capture = open_capture(path)
    indexes = capture.same_connection(0)
    assert indexes == [i for i, p in enumerate(packets) if p in one.packets]
    pdus = reassemble(capture, indexes).pdus
    assert [p.data for p in pdus] == [REQUEST, RESPONSE, frame]
    key = connection_key(capture.record(0))
    assert key is not None and [p.data for p in reassemble(capture, only=key).pdus] == [
        REQUEST,
        RESPONSE,
        frame,
    ]
    assert len(reassemble(capture).pdus) == 4
