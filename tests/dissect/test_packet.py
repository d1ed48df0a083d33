"""Whole records: summaries, stream chunks, `combine`, and arbitrary bytes for every link type."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from simulator.dissect.http import http_dissection
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.websocket import websocket_dissection
from simulator.trace.records import LinkType
from tests.dissect.helpers import (
    FAST,
    check_tree,
    dissect,
    field,
    link_record,
    stream_record,
    syn_packet,
)

LINK_TYPES = [LinkType.NULL, LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL,
              LinkType.LOOP, LinkType.IPV4, 229, 147]  # fmt: skip
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def headers_for(link_type: int) -> bytes:
    """A valid link header in front of an IPv4 packet."""
    headers: dict[int, bytes] = {
        LinkType.NULL: struct.pack("<I", 2),
        LinkType.LOOP: struct.pack(">I", 2),
        LinkType.ETHERNET: bytes(12) + b"\x08\x00",
        LinkType.LINUX_SLL: struct.pack(">HHH8sH", 4, 772, 6, bytes(8), 0x0800),
    }
    return headers.get(link_type, b"")


def test_stream_chunk() -> None:
    d = dissect_record(stream_record(bytes(48)))
    check_tree(d)
    assert d.summary == "127.0.0.1:8765 → 127.0.0.1:50000 48 bytes"
    assert d.protocol == "TCP"
    stream = field(d, "stream")
    assert (stream.start, stream.end) == (0, 48)
    assert (
        stream.label == "TCP stream data, 127.0.0.1:8765 → 127.0.0.1:50000, connection 1, 48 bytes"
    )
    assert field(d, "tcp.payload").value == bytes(48)
    assert d.buffers[0].name == "Chunk 5 (48 bytes)"


def test_stream_chunk_starting_an_http_message() -> None:
    d = dissect_record(stream_record(RESPONSE))
    assert d.summary == "127.0.0.1:8765 → 127.0.0.1:50000 HTTP/1.1 101 Switching Protocols"
    assert d.protocol == "HTTP"
    empty = dissect_record(stream_record(b""))
    check_tree(empty)
    assert empty.summary.endswith(" 0 bytes")


def test_combine_rebases_buffers() -> None:
    packet = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5000, dport=8765, flags="PA")
        / (RESPONSE + MASKED_HELLO)
    )  # fmt: skip
    base = dissect_record(link_record(packet))
    http = http_dissection(RESPONSE, title="Reassembled HTTP", key="dGhlIHNhbXBsZSBub25jZQ==")
    frame = websocket_dissection(MASKED_HELLO, title="Reassembled frame")
    combined = combine(base, [http, frame])
    check_tree(combined)
    assert [b.name for b in combined.buffers] == [
        f"Frame 3 ({len(packet)} bytes)",
        "Reassembled HTTP",
        "Reassembled frame",
        "Unmasked payload",
    ]
    assert [f.name for f in combined.fields] == ["frame", "ip", "tcp", "http", "ws"]
    assert all(f.buffer == 1 for _, f in combined.fields[3].walk())
    assert field(combined, "ws.masking_key").buffer == 2
    assert field(combined, "ws.text").buffer == 3
    assert {s.buffer for s in field(combined, "ws.unmasking").children} == {3}
    assert combined.protocol == "WebSocket"
    assert combined.summary == (
        "10.0.0.1:5000 → 10.0.0.2:8765 HTTP/1.1 101 Switching Protocols · "
        "TEXT 'Hello' [5 bytes, masked]"
    )
    assert combine(base, []) is base


def test_summary_of_a_truncated_ip_header() -> None:
    d = dissect(syn_packet()[:10])
    assert d.protocol == "IPv4"
    assert d.summary.startswith("IPv4 (truncated")


def test_field_at_covers_every_byte_of_an_ethernet_frame() -> None:
    frame = bytes(Ether() / IP() / TCP(flags="PA") / b"payload")
    d = dissect(frame, LinkType.ETHERNET)
    picked = [d.field_at(i) for i in range(len(frame))]
    assert all(f is not None and f.name != "frame" for f in picked)
    assert [f.name for f in picked[-7:] if f] == ["tcp.payload"] * 7


def test_dissecting_is_fast() -> None:
    record = link_record(bytes(Ether()) + syn_packet(), LinkType.ETHERNET)
    dissect_record(record)  # imports scapy
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        dissect_record(record)
    per_packet = (time.perf_counter() - start) / runs
    assert per_packet < 0.002, f"{per_packet * 1e6:.0f} µs per packet"


@pytest.mark.parametrize("link_type", LINK_TYPES)
def test_every_truncation_of_a_real_packet(link_type: int) -> None:
    packet = headers_for(link_type) + syn_packet(options=[("NOP", None), ("SAck", (1, 2))])
    for cut in range(len(packet) + 1):
        dissect(packet[:cut], link_type)


@pytest.mark.parametrize("link_type", LINK_TYPES)
@given(data=st.binary(max_size=120))
@FAST
def test_arbitrary_bytes_never_raise(link_type: int, data: bytes) -> None:
    dissect(data, link_type)
    dissect(headers_for(link_type) + data, link_type)


@pytest.mark.parametrize("link_type", [LinkType.RAW, LinkType.ETHERNET])
@given(data=st.data())
@FAST
def test_corrupted_packets_never_raise(link_type: int, data: st.DataObject) -> None:
    packet = bytearray(headers_for(link_type) + syn_packet() + b"GET / HTTP/1.1\r\n\r\n")
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(packet) - 1))
        packet[at] = data.draw(st.integers(0, 255))
    dissect(bytes(packet[: data.draw(st.integers(0, len(packet)))]), link_type)
