"""Synthesized packets: a recorded live session becomes real TCP/IP that reassembles exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6

from simulator.live import connect, trace_tap
from simulator.trace import (
    Endpoint,
    Layer,
    LinkType,
    Pdu,
    Trace,
    WireRecord,
    export_pcap,
    open_capture,
    reassemble,
    synthesize,
    tcp_segment,
    write_pcap,
)
from simulator.trace.segments import ACK, FIN, PSH, SYN, parse_segment
from simulator.trace.synth import MSS
from simulator.ws import BinaryMessage, Config, Pong, TextMessage
from simulator.ws.frames import Opcode, parse_frames
from tests.live.support import STEP, run, serving
from tests.trace.helpers import stream_records, websocket_chunks

FRAGMENTED = "fragmented, " * 400  # 4800 bytes: several frames out, several segments back


async def echo_session(trace: Trace) -> None:
    """Text, binary, a fragmented text, ping/pong and a close, through the live echo server."""
    async with serving(tap=trace_tap(trace)) as server:
        client = await connect(server.url, config=Config())  # uncompressed frames
        client.send_text("hello")
        assert await client.recv(STEP) == TextMessage("hello")
        client.send_binary(bytes(range(256)))
        assert await client.recv(STEP) == BinaryMessage(bytes(range(256)))
        client.send_text(FRAGMENTED, fragment_size=1000)
        assert await client.recv(STEP) == TextMessage(FRAGMENTED)
        client.ping(b"ping!")
        assert await client.recv(STEP) == Pong(b"ping!")
        assert await client.close() == (1000, "")


@pytest.fixture(scope="module")
def recorded() -> Trace:
    trace = Trace()
    run(echo_session(trace))
    return trace


def summary(pdus: list[Pdu]) -> list[tuple[str, Endpoint, Endpoint, bytes]]:
    return [(p.kind, p.src, p.dst, p.data) for p in pdus]


def sent(trace: Trace, src: Endpoint) -> bytes:
    return b"".join(r.data for r in trace if r.src == src)


def test_recorded_session_round_trips_through_pcap(recorded: Trace, tmp_path: Path) -> None:
    assert all(r.layer is Layer.STREAM and r.connection == 1 for r in recorded)
    client, server = recorded[0].src, recorded[0].dst
    assert client is not None and server is not None and server.port != client.port
    packets = synthesize(recorded)
    path = tmp_path / "echo.pcap"
    assert write_pcap(path, packets) == len(packets)
    capture = open_capture(path)
    capture.index()
    assert len(capture) == len(packets) and capture.problems == []
    assert capture.connection_count == 1
    pdus = reassemble(capture).pdus
    assert summary(pdus) == summary(reassemble(recorded).pdus)
    # Exactly the bytes each side wrote, cut into the handshake and the frames sent.
    for side in (client, server):
        mine = [p for p in pdus if p.src == side]
        assert b"".join(p.data for p in mine) == sent(recorded, side)
        assert mine[0].kind == "http" and all(p.kind == "websocket" for p in mine[1:])
    ours = [p for p in pdus if p.src == client]
    theirs = [p for p in pdus if p.src == server]
    assert ours[0].data.startswith(b"GET / HTTP/1.1\r\n")
    assert theirs[0].data.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    frames_out = [parse_frames(p.data)[0][0] for p in ours[1:]]
    frames_back = [parse_frames(p.data)[0][0] for p in theirs[1:]]
    fragments = [Opcode.TEXT] + [Opcode.CONTINUATION] * 4
    assert [f.opcode for f in frames_out] == [
        Opcode.TEXT,
        Opcode.BINARY,
        *fragments,
        Opcode.PING,
        Opcode.CLOSE,
    ]
    assert all(f.masked for f in frames_out) and not any(f.masked for f in frames_back)
    assert [f.opcode for f in frames_back] == [
        Opcode.TEXT,
        Opcode.BINARY,
        Opcode.TEXT,
        Opcode.PONG,
        Opcode.CLOSE,
    ]
    assert frames_back[2].payload == FRAGMENTED.encode()
    echoed = next(p for p in theirs if len(p.data) > 4000)
    assert len(echoed.packets) == -(-len(echoed.data) // MSS) == 4  # one write, 4 segments


def test_tcp_is_consistent_and_checksums_are_right(recorded: Trace) -> None:
    packets = synthesize(recorded)
    segments = [parse_segment(p.data, p.link_type) for p in packets]
    assert all(s is not None for s in segments)
    first, second, third = segments[:3]
    assert first is not None and second is not None and third is not None
    assert (first.flags, second.flags, third.flags) == (SYN, SYN | ACK, ACK)
    assert second.ack == first.seq + 1 and third.ack == second.seq + 1
    assert [s.flags for s in segments[-3:] if s] == [FIN | ACK, FIN | ACK, ACK]
    syn = IP(packets[0].data)
    assert (("MSS", MSS) in syn[TCP].options) and ("WScale", 7) in syn[TCP].options
    following: dict[Endpoint, int] = {}
    for segment in segments:
        assert segment is not None
        src, dst = segment.src, segment.dst
        if segment.flags & SYN:
            following[src] = (segment.seq + 1) & 0xFFFFFFFF
        else:
            assert segment.seq == following[src], segment
            following[src] = (segment.seq + segment.payload_length + (segment.flags & FIN)) & (
                0xFFFFFFFF
            )
        if segment.flags & ACK:
            assert segment.ack == following[dst], segment
        assert len(segment.payload) <= MSS
        if segment.payload:
            assert segment.flags & ACK
    # Every chunk's last segment has PSH; the rest do not.
    pushed = [s for s in segments if s and s.flags & PSH]
    assert len(pushed) == sum(1 for r in recorded if r.data)
    for packet in packets:
        assert packet.link_type == LinkType.RAW
        parsed = IP(packet.data)
        ip_sum, tcp_sum = parsed[IP].chksum, parsed[TCP].chksum
        del parsed[IP].chksum, parsed[TCP].chksum
        rebuilt = IP(bytes(parsed))
        assert (rebuilt[IP].chksum, rebuilt[TCP].chksum) == (ip_sum, tcp_sum)
        assert parsed[IP].flags == "DF" and parsed[IP].ttl == 64


def test_synthesis_is_reproducible_and_keeps_link_records(recorded: Trace) -> None:
    assert [p.data for p in synthesize(recorded)] == [p.data for p in synthesize(list(recorded))]
    link = WireRecord(7, 0.5, Layer.LINK, b"\x00\x01", 147)
    mixed = [link, *recorded]
    packets = synthesize(mixed)
    assert packets[0] == WireRecord(0, 0.5, Layer.LINK, b"\x00\x01", 147)
    assert [p.index for p in packets] == list(range(len(packets)))
    assert all(p.layer is Layer.LINK for p in packets)


def test_only_ended_connections_get_a_teardown() -> None:
    records = stream_records(websocket_chunks(), connection=4)
    for ended in (set(), {3}):
        flags = [s.flags for p in synthesize(records, ended=ended) if (s := tcp_segment(p))]
        assert not any(f & FIN for f in flags)
    for done in ({4}, None):
        flags = [s.flags for p in synthesize(records, ended=done) if (s := tcp_segment(p))]
        assert flags[-3:] == [FIN | ACK, FIN | ACK, ACK]


def test_large_chunks_ipv6_and_mapped_addresses() -> None:
    client, server = Endpoint("::1", 50123), Endpoint("::1", 8765)
    big = b"GET / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + b"z" * 20000
    records = stream_records([("c", big)], client=client, server=server)
    packets = synthesize(records)
    data = [s for p in packets if (s := tcp_segment(p)) and s.payload]
    assert all(len(s.payload) <= MSS - 20 for s in data)  # the IPv6 header is 20 bytes longer
    assert b"".join(s.payload for s in data) == big
    assert IPv6(packets[0].data)[TCP].options[0] == ("MSS", MSS - 20)
    (pdu,) = reassemble(packets).pdus
    assert pdu.data == big and pdu.src == client
    mapped = stream_records(
        [("c", b"x")],
        client=Endpoint("::ffff:127.0.0.1", 5),
        server=Endpoint("::ffff:127.0.0.1", 6),
    )
    segment = tcp_segment(synthesize(mapped)[0])
    assert segment is not None and segment.src == Endpoint("127.0.0.1", 5)


def test_export_pcap(recorded: Trace, tmp_path: Path) -> None:
    done = export_pcap(recorded, tmp_path / "e.pcapng")
    assert done.connections == 1 and done.path.endswith("e.pcapng")
    capture = open_capture(tmp_path / "e.pcapng")
    capture.index()
    assert capture.format == "pcapng" and len(capture) == done.packets
