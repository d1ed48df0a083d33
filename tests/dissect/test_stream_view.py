"""StreamDissector: records with the messages they completed, over a live trace and a capture.

Over a capture, reassembly is lazy and per connection: asking for packet N reads
only N's connection, only up to N. The conversation the inspector's follow view
shows (`message_conversation`) is built from the same messages.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP

from simulator.dissect.fields import Dissection
from simulator.dissect.messages import MessageDissector
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.stream_view import StreamDissector
from simulator.live import connect, trace_tap
from simulator.trace import Endpoint, Trace, WireRecord, reassemble, write_pcap
from simulator.trace.pcap import Capture
from simulator.tui.model import Turn, message_conversation
from simulator.ws import BinaryMessage, TextMessage
from simulator.ws.close_codes import explain
from simulator.ws.connection import Config
from simulator.ws.frames import Opcode, parse_frames, serialize_frame
from simulator.ws.handshake import build_request, build_response
from tests.dissect.helpers import check_tree
from tests.live.support import STEP, run, serving
from tests.trace.helpers import Conversation, link_records, stream_records

ALICE = Endpoint("10.0.0.1", 50000)
BOB = Endpoint("10.0.0.3", 50001)
SERVER = Endpoint("10.0.0.2", 80)
MASK = bytes.fromhex("37fa213d")
KEY_A, KEY_B = "dGhlIHNhbXBsZSBub25jZQ==", "AQIDBAUGBwgJCgsMDQ4PEA=="
BLOB = bytes(range(200))
REQUEST_LENGTH = len(build_request(host="example.com", path="/", key=KEY_A))


def masked(opcode: int, payload: bytes, **kw: bool) -> bytes:
    return serialize_frame(opcode, payload, masking_key=MASK, **kw)


def reference(source: Any) -> dict[int, list[Dissection]]:
    """What each record completed, from an eager reassembly of the whole source."""
    reassembler = reassemble(source)
    messages = MessageDissector()
    done: dict[int, list[Dissection]] = {}
    for pdu in reassembler.pdus:
        done.setdefault(pdu.completed_in, []).append(messages.dissect(pdu))
    return done


def expected(record: WireRecord, done: dict[int, list[Dissection]]) -> dict[str, Any]:
    return combine(dissect_record(record), done.get(record.index, [])).to_json()


# --- a live trace -------------------------------------------------------------------------


async def two_clients(trace: Trace) -> None:
    """Two connections to the live echo server, their messages interleaved.

    The clients offer no compression, so each frame carries its payload as sent
    (tests/dissect/test_deflate.py follows compressed live traffic).
    """
    async with serving(tap=trace_tap(trace)) as server:
        first = await connect(server.url, config=Config())
        second = await connect(server.url, config=Config())
        first.send_text("one")
        second.send_text("two", fragment_size=1)
        assert await first.recv(STEP) == TextMessage("one")
        assert await second.recv(STEP) == TextMessage("two")
        first.send_binary(BLOB)
        assert await first.recv(STEP) == BinaryMessage(BLOB)
        assert await second.close(4000, "bye") == (4000, "bye")
        assert await first.close() == (1000, "")


@pytest.fixture(scope="module")
def live() -> Trace:
    trace = Trace()
    run(two_clients(trace))
    assert {r.connection for r in trace} == {1, 2}
    return trace


def test_live_records_come_with_the_messages_they_completed(live: Trace) -> None:
    stream = StreamDissector(live)
    done = reference(live)
    for record in live:
        dissection = stream(record)
        check_tree(dissection)
        assert dissection.to_json() == expected(record, done)
    first_request = min(i for i, found in done.items() if found[0].protocol == "HTTP")
    assert stream(live[first_request]).summary.endswith(" GET / HTTP/1.1")


CLOSE_1000 = (1000).to_bytes(2, "big")
CLOSE_4000 = (4000).to_bytes(2, "big") + b"bye"
LIVE_FRAMES = {  # connection: (sent by the client, opcode, payload) after the handshake
    1: [(True, Opcode.TEXT, b"one"), (False, Opcode.TEXT, b"one"),
        (True, Opcode.BINARY, BLOB), (False, Opcode.BINARY, BLOB),
        (True, Opcode.CLOSE, CLOSE_1000), (False, Opcode.CLOSE, CLOSE_1000)],
    2: [(True, Opcode.TEXT, b"t"), (True, Opcode.CONTINUATION, b"w"),
        (True, Opcode.CONTINUATION, b"o"), (False, Opcode.TEXT, b"two"),
        (True, Opcode.CLOSE, CLOSE_4000), (False, Opcode.CLOSE, CLOSE_4000)],
}  # fmt: skip


def test_live_messages_are_those_of_the_records_connection(live: Trace) -> None:
    stream = StreamDissector(live)
    for connection, frames in LIVE_FRAMES.items():
        index = next(r.index for r in live if r.connection == connection)
        messages = stream.messages(index)
        assert {pdu.connection.id for pdu in messages} == {connection}
        request, response, *rest = messages
        assert request.data.startswith(b"GET / HTTP/1.1\r\n") and request.kind == "http"
        assert response.data.startswith(b"HTTP/1.1 101 ") and response.kind == "http"
        client = request.src
        seen = [(pdu.src == client, frame.opcode, frame.payload)
                for pdu in rest for frame in parse_frames(pdu.data)[0]]  # fmt: skip
        assert seen == frames
        completed = [pdu.completed_in for pdu in messages]
        assert completed == sorted(completed)
        assert all(live[i].connection == connection for i in completed)


def test_a_growing_trace_is_dissected_as_it_grows(live: Trace) -> None:
    trace = Trace()
    stream = StreamDissector(trace)
    done = reference(live)
    for record in live:
        new = trace.append(record.time, record.layer, record.data, src=record.src,
                           dst=record.dst, connection=record.connection)  # fmt: skip
        assert stream(new).to_json() == expected(record, done)
        seen = sum(len(done.get(i, [])) for i in range(new.index + 1) if live[i].connection == 1)
        mine = next((r.index for r in trace if r.connection == 1), None)
        if mine is not None:
            assert len(stream.messages(mine)) == seen


# --- a capture: two connections, interleaved ----------------------------------------------


def connection(client: Endpoint, key: str, isn: int, text: bytes) -> Conversation:
    """A WebSocket connection's packets: handshake, a text each way, a binary from the
    server in three segments, a fragmented text, closes, FINs."""
    c = Conversation(client=client, server=SERVER, isn_client=isn, isn_server=isn * 7)
    c.handshake()
    c.send("c", build_request(host="example.com", path="/", key=key))
    c.send("s", build_response(key))
    c.send("c", masked(Opcode.TEXT, text))
    c.send("s", serialize_frame(Opcode.TEXT, text))
    c.send("s", serialize_frame(Opcode.BINARY, BLOB), sizes=[100, 100, 4])
    c.ack("c")
    c.send("c", masked(Opcode.TEXT, b"frag", fin=False) + masked(Opcode.CONTINUATION, b"ment"))
    c.send("c", masked(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"done"))
    c.send("s", serialize_frame(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"done"))
    c.fin("s")
    c.fin("c")
    c.ack("s")
    return c


class Spy(Capture):
    """A capture that notes which packets are read."""

    def __init__(self, path: Path) -> None:
        self.read: list[int] = []
        super().__init__(path)

    def record(self, index: int) -> WireRecord:
        self.read.append(index)
        return super().record(index)

    def fresh(self, index: int) -> WireRecord:
        """Packet `index`, forgetting every read before (this one included)."""
        record = self.record(index)
        self.read.clear()
        return record


@pytest.fixture
def capture(tmp_path: Path) -> Spy:
    a = connection(ALICE, KEY_A, 1000, b"alice").packets
    b = connection(BOB, KEY_B, 9000, b"bob").packets
    packets = [p for pair in zip(a, b, strict=True) for p in pair]
    udp = bytes(IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=53, dport=5353) / b"dns?")
    packets.insert(7, udp)
    path = tmp_path / "two.pcap"
    write_pcap(path, link_records(packets))
    spy = Spy(path)
    spy.index()
    return spy


def test_a_packet_feeds_only_its_connection_up_to_itself(capture: Spy) -> None:
    alice = capture.same_connection(0)
    bob = capture.same_connection(1)
    assert alice and bob and not set(alice) & set(bob)
    stream = StreamDissector(capture)
    middle = alice[len(alice) // 2]
    stream(capture.fresh(middle))
    assert capture.read == [i for i in alice if i <= middle]
    stream(capture.fresh(alice[2]))  # earlier: already fed
    assert capture.read == []
    stream(capture.fresh(alice[-1]))
    assert capture.read == [i for i in alice if i > middle]
    stream(capture.fresh(bob[5]))
    assert capture.read == bob[:6]


def test_messages_are_those_of_the_packets_connection_in_order(capture: Spy) -> None:
    alice, bob = capture.same_connection(0), capture.same_connection(1)
    stream = StreamDissector(capture)
    stream(capture.fresh(bob[3]))
    capture.read.clear()
    messages = stream.messages(bob[0])
    assert capture.read == bob[4:]  # the rest of that connection, and only that
    assert {pdu.src for pdu in messages} == {BOB, SERVER}
    assert [str(pdu).split(" ", 4)[-1] for pdu in messages] == [
        f"GET / HTTP/1.1 [{REQUEST_LENGTH} bytes]",
        "HTTP/1.1 101 Switching Protocols [129 bytes]",
        "TEXT 'bob' [3 bytes, masked]",
        "TEXT 'bob' [3 bytes]",
        "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … [200 bytes]",
        "TEXT 'frag' [4 bytes, masked, FIN=0]",
        "CONTINUATION 6d 65 6e 74 [4 bytes, masked]",
        "CLOSE 1000 (normal closure) 'done' [6 bytes, masked]",
        "CLOSE 1000 (normal closure) 'done' [6 bytes]",
    ]
    assert all(pdu.connection == messages[0].connection for pdu in messages)
    assert [pdu.src for pdu in stream.messages(alice[-1])][:2] == [ALICE, SERVER]


def test_lazy_per_connection_equals_the_whole_capture_at_once(capture: Spy) -> None:
    done = reference(capture)
    stream = StreamDissector(capture)
    order = list(range(len(capture)))
    random.Random(5).shuffle(order)
    for index in order:
        record = capture.record(index)
        assert stream(record).to_json() == expected(record, done)


def test_many_threads_see_what_one_sees(capture: Spy) -> None:
    done = reference(capture)
    order = list(range(len(capture))) * 3
    random.Random(6).shuffle(order)
    stream = StreamDissector(capture)

    def look(index: int) -> bool:
        record = capture.record(index)
        return stream(record).to_json() == expected(record, done)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(look, order))


def test_a_packet_of_no_tcp_connection_has_no_messages(capture: Spy) -> None:
    stream = StreamDissector(capture)
    assert capture.connection_of(7) is None
    record = capture.fresh(7)
    assert stream(record) == dissect_record(record)
    assert stream.messages(7) == []
    assert capture.read == []


# --- the follow-stream conversation ---------------------------------------------------------


def turns_of(source: Any, index: int) -> list[Turn]:
    stream = StreamDissector(source)
    return message_conversation(stream)(source, index, stream)


def test_conversation_of_a_capture(capture: Spy) -> None:
    bob = capture.same_connection(1)
    turns = turns_of(capture, bob[-1])
    n = [i + 1 for i in bob]  # packet numbers, as the labels count them
    binary = " ".join(f"{b:02x}" for b in BLOB)
    close = f"close code 1000 ({explain(1000)}) done"
    assert [(t.direction, t.label) for t in turns] == [
        ("client", f"packet {n[3]} · HTTP · {REQUEST_LENGTH} bytes"),
        ("server", f"packet {n[4]} · HTTP · 129 bytes"),
        ("client", f"packet {n[5]} · TEXT · 3 bytes"),
        ("server", f"packet {n[6]} · TEXT · 3 bytes"),
        ("server", f"packets {n[7]}–{n[9]} · BINARY · 200 bytes"),
        ("client", f"packet {n[11]} · TEXT · 4 bytes, FIN=0"),
        ("client", f"packet {n[11]} · CONTINUATION · 4 bytes"),
        ("client", f"packet {n[12]} · CLOSE · 6 bytes"),
        ("server", f"packet {n[13]} · CLOSE · 6 bytes"),
    ]
    assert turns[0].text.splitlines()[0] == "GET / HTTP/1.1"
    assert "Sec-WebSocket-Accept: " in turns[1].text
    assert [t.text for t in turns[2:]] == ["bob", "bob", binary, "frag", "ment", close, close]


def test_conversation_of_a_live_trace(live: Trace) -> None:
    index = next(r.index for r in live if r.connection == 2)
    turns = turns_of(live, index)
    assert [t.direction for t in turns] == ["client", "server"] + ["client"] * 3 + [
        "server", "client", "server"
    ]  # fmt: skip
    assert [t.text for t in turns[2:]] == ["t", "w", "o", "two"] + [
        f"close code 4000 ({explain(4000)}) bye"
    ] * 2
    assert all(t.label.startswith("packet ") for t in turns)


def test_the_client_is_the_masking_side_when_the_request_is_missing(tmp_path: Path) -> None:
    # The capture begins after the upgrade request: the 101 comes first, from the server.
    c = Conversation(client=ALICE, server=SERVER)
    c.handshake()
    c.send("c", build_request(host="example.com", path="/", key=KEY_A))
    begin = len(c.packets)
    c.ack("c")
    c.send("s", build_response(KEY_A))
    c.send("c", masked(Opcode.PING, b"?"))
    c.send("s", serialize_frame(Opcode.PONG, b"?"))
    path = tmp_path / "late.pcap"
    write_pcap(path, link_records(c.packets[begin:]))
    capture = Capture(path)
    turns = turns_of(capture, 0)
    assert [(t.direction, t.label.split(" · ", 1)[1]) for t in turns] == [
        ("server", "HTTP · 129 bytes"),
        ("client", "PING · 1 bytes"),
        ("server", "PONG · 1 bytes"),
    ]


def test_a_connection_without_messages_is_shown_read_by_read() -> None:
    chunks = [("c", b"SSH-2.0-OpenSSH_9.6\r\n"), ("s", b"SSH-2.0-dropbear\r\n"), ("c", b"\x00\x01")]
    trace = Trace(stream_records(chunks))
    turns = turns_of(trace, 1)
    assert turns == [
        Turn("client", f"packet 1 · {ALICE_S} → {SERVER_S} · 21 bytes", "SSH-2.0-OpenSSH_9.6\n"),
        Turn("server", f"packet 2 · {SERVER_S} → {ALICE_S} · 18 bytes", "SSH-2.0-dropbear\n"),
        Turn("client", f"packet 3 · {ALICE_S} → {SERVER_S} · 2 bytes", "··"),
    ]


ALICE_S, SERVER_S = "10.0.0.1:50000", "10.0.0.2:80"  # tests.trace.helpers' endpoints
