"""The light TCP/IP reader: every supported link type, and what it must refuse."""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether, Loopback
from scapy.packet import Raw

from simulator.trace import Endpoint, Layer, LinkType, WireRecord, tcp_segment
from simulator.trace.segments import ACK, PSH, SYN, flow_key, parse_segment
from tests.trace.helpers import MAC_A, MAC_B

IP4 = (
    IP(src="192.0.2.1", dst="198.51.100.2")
    / TCP(sport=40000, dport=8765, seq=123456789, ack=987654321, flags="PA", window=502)
    / Raw(b"hello")
)


def check(segment: object, payload: bytes = b"hello") -> None:
    assert segment is not None
    assert segment.src == Endpoint("192.0.2.1", 40000)  # type: ignore[attr-defined]
    assert segment.dst == Endpoint("198.51.100.2", 8765)  # type: ignore[attr-defined]
    assert segment.seq == 123456789  # type: ignore[attr-defined]
    assert segment.ack == 987654321  # type: ignore[attr-defined]
    assert segment.flags == PSH | ACK  # type: ignore[attr-defined]
    assert segment.window == 502  # type: ignore[attr-defined]
    assert segment.payload == payload  # type: ignore[attr-defined]


def test_raw_ipv4() -> None:
    check(parse_segment(bytes(IP4), LinkType.RAW))
    check(parse_segment(bytes(IP4), LinkType.IPV4))


def test_ethernet_with_two_vlan_tags_and_padding() -> None:
    frame = bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5) / Dot1Q(vlan=7) / IP4)
    check(parse_segment(frame, LinkType.ETHERNET))
    short = IP(src="192.0.2.1", dst="198.51.100.2") / TCP(sport=40000, dport=8765, flags="A")
    padded = bytes(Ether(src=MAC_A, dst=MAC_B) / short) + b"\0" * 6  # Ethernet's 60-byte minimum
    segment = parse_segment(padded, LinkType.ETHERNET)
    assert segment is not None and segment.payload == b"" and segment.payload_length == 0


def test_null_loop_and_sll() -> None:
    null = struct.pack("<I", 2) + bytes(IP4)  # AF_INET in little-endian host order
    check(parse_segment(null, LinkType.NULL))
    check(parse_segment(bytes(Loopback(type=2) / IP4), LinkType.NULL))
    check(parse_segment(struct.pack(">I", 2) + bytes(IP4), LinkType.LOOP))
    check(parse_segment(bytes(CookedLinux(proto=0x0800) / IP4), LinkType.LINUX_SLL))


def test_ipv6_with_an_extension_header() -> None:
    packet = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrDestOpt()
        / TCP(sport=1, dport=2, seq=7, flags="S")
    )
    segment = parse_segment(bytes(packet), LinkType.RAW)
    assert segment is not None
    assert (segment.src, segment.dst) == (Endpoint("2001:db8::1", 1), Endpoint("2001:db8::2", 2))
    assert segment.flags == SYN and segment.syn and segment.seq == 7
    assert str(segment) == "TCP [2001:db8::1]:1 → [2001:db8::2]:2 [SYN] seq=7 ack=0 len=0"


def test_what_is_not_a_tcp_segment() -> None:
    udp = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP() / Raw(b"x"))
    assert parse_segment(udp, LinkType.RAW) is None
    fragment = bytes(IP(src="192.0.2.1", dst="192.0.2.2", flags="MF") / TCP() / Raw(b"x"))
    assert parse_segment(fragment, LinkType.RAW) is None
    v6_fragment = bytes(IPv6() / IPv6ExtHdrFragment() / TCP())
    assert parse_segment(v6_fragment, LinkType.RAW) is None
    assert parse_segment(bytes(IP4)[:30], LinkType.RAW) is None  # the TCP header is cut
    assert (
        parse_segment(
            bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0806) / (b"\0" * 28)), LinkType.ETHERNET
        )
        is None
    )
    assert parse_segment(bytes(IP4), 147) is None  # a link type it does not know
    assert parse_segment(b"", LinkType.ETHERNET) is None
    assert parse_segment(b"\x45", LinkType.RAW) is None
    stream = WireRecord(0, 0.0, Layer.STREAM, bytes(IP4))
    assert tcp_segment(stream) is None


def test_cut_payload_keeps_the_announced_length() -> None:
    data = bytes(IP4)[:-2]  # a snaplen cut the last two payload bytes
    segment = parse_segment(data, LinkType.RAW)
    assert segment is not None
    assert segment.payload == b"hel" and segment.payload_length == 5


def test_flow_key_and_tcp_segment() -> None:
    record = WireRecord(
        0, 0.0, Layer.LINK, bytes(Ether(src=MAC_A, dst=MAC_B) / IP4), LinkType.ETHERNET
    )
    check(tcp_segment(record))
    key = flow_key(record.data, LinkType.ETHERNET)
    assert key == bytes([192, 0, 2, 1, 0x9C, 0x40, 198, 51, 100, 2, 0x22, 0x3D])
    reply = IP(src="198.51.100.2", dst="192.0.2.1") / TCP(sport=8765, dport=40000)
    assert flow_key(bytes(reply), LinkType.RAW) == key  # the same both ways
