"""Two WebSocket connections to one server, live and captured, for the stream-view and
conversation tests.

The live trace runs the echo server once per test session (`live_trace` is cached);
tests only read it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from scapy.layers.inet import IP, UDP

from simulator.live import connect, trace_tap
from simulator.trace import Endpoint, Trace, write_pcap
from simulator.ws import BinaryMessage, TextMessage
from simulator.ws.connection import Config
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.handshake import build_request, build_response
from tests.live.support import STEP, run, serving
from tests.trace.helpers import Conversation, link_records

ALICE = Endpoint("10.0.0.1", 50000)
BOB = Endpoint("10.0.0.3", 50001)
SERVER = Endpoint("10.0.0.2", 80)
MASK = bytes.fromhex("37fa213d")
KEY_A, KEY_B = "dGhlIHNhbXBsZSBub25jZQ==", "AQIDBAUGBwgJCgsMDQ4PEA=="
BLOB = bytes(range(200))
REQUEST_LENGTH = len(build_request(host="example.com", path="/", key=KEY_A))
UDP_AT = 7  # where the capture holds a packet of no TCP connection


def masked(opcode: int, payload: bytes, **kw: bool) -> bytes:
    return serialize_frame(opcode, payload, masking_key=MASK, **kw)


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


@cache
def live_trace() -> Trace:
    """`two_clients` as the live server's tap recorded it (connections 1 and 2)."""
    trace = Trace()
    run(two_clients(trace))
    assert {r.connection for r in trace} == {1, 2}
    return trace


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


def two_connections_pcap(path: Path) -> Path:
    """Alice's and Bob's connections, packet by packet in turn, and one UDP packet at `UDP_AT`."""
    a = connection(ALICE, KEY_A, 1000, b"alice").packets
    b = connection(BOB, KEY_B, 9000, b"bob").packets
    packets = [p for pair in zip(a, b, strict=True) for p in pair]
    udp = bytes(IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=53, dport=5353) / b"dns?")
    packets.insert(UDP_AT, udp)
    write_pcap(path, link_records(packets))
    return path
