"""IPv4, TCP, UDP, ICMP and IPv6: packets built by scapy, every span and value checked."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

from simulator.dissect.ipv4 import dissect_ipv4
from simulator.dissect.tcp import dissect_tcp
from simulator.ip.checksum import internet_checksum
from tests.dissect.helpers import dissect, field, names_at, problem, syn_packet

# name → (start, end, bits, value) in the SYN packet of `syn_packet()` (raw IPv4, no link).
SYN_FIELDS: dict[str, tuple[int, int, tuple[int, int] | None, object]] = {
    "ip.version": (0, 1, (0, 4), 4),
    "ip.ihl": (0, 1, (4, 8), 5),
    "ip.dscp": (1, 2, (8, 14), 0),
    "ip.ecn": (1, 2, (14, 16), 0),
    "ip.len": (2, 4, None, 60),
    "ip.id": (4, 6, None, 1),
    "ip.flags": (6, 7, (48, 51), 0),
    "ip.flags.rb": (6, 7, (48, 49), False),
    "ip.flags.df": (6, 7, (49, 50), False),
    "ip.flags.mf": (6, 7, (50, 51), False),
    "ip.frag": (6, 8, (51, 64), 0),
    "ip.ttl": (8, 9, None, 64),
    "ip.proto": (9, 10, None, 6),
    "ip.src": (12, 16, None, "127.0.0.1"),
    "ip.dst": (16, 20, None, "127.0.0.1"),
    "tcp.srcport": (20, 22, None, 54321),
    "tcp.dstport": (22, 24, None, 8765),
    "tcp.seq": (24, 28, None, 1000),
    "tcp.ack": (28, 32, None, 0),
    "tcp.hdr_len": (32, 33, (256, 260), 40),
    "tcp.reserved": (32, 33, (260, 264), 0),
    "tcp.flags": (33, 34, (264, 272), 0x02),
    "tcp.flags.cwr": (33, 34, (264, 265), False),
    "tcp.flags.ece": (33, 34, (265, 266), False),
    "tcp.flags.urg": (33, 34, (266, 267), False),
    "tcp.flags.ack": (33, 34, (267, 268), False),
    "tcp.flags.psh": (33, 34, (268, 269), False),
    "tcp.flags.rst": (33, 34, (269, 270), False),
    "tcp.flags.syn": (33, 34, (270, 271), True),
    "tcp.flags.fin": (33, 34, (271, 272), False),
    "tcp.window": (34, 36, None, 65495),
    "tcp.urgent": (38, 40, None, 0),
    "tcp.options": (40, 60, None, bytes.fromhex("020405b4030307040208 0a000000010000000000")),
    "tcp.option.mss": (40, 44, None, 1460),
    "tcp.option.mss.value": (42, 44, None, 1460),
    "tcp.option.wscale": (44, 47, None, 7),
    "tcp.option.wscale.shift": (46, 47, None, 7),
    "tcp.option.sack_perm": (47, 49, None, True),
    "tcp.option.timestamp": (49, 59, None, 1),
    "tcp.option.timestamp.tsval": (51, 55, None, 1),
    "tcp.option.timestamp.tsecr": (55, 59, None, 0),
    "tcp.option.eol": (59, 60, None, None),
}


@pytest.mark.parametrize("name", SYN_FIELDS)
def test_syn_spans_and_values(name: str) -> None:
    start, end, bits, value = SYN_FIELDS[name]
    got = field(dissect(syn_packet()), name)
    assert (got.start, got.end, got.bits, got.value) == (start, end, bits, value)
    assert got.explanation, f"{name} has no explanation"
    assert got.problem is None


def test_syn_checksums_are_correct() -> None:
    d = dissect(syn_packet())
    packet = syn_packet()
    ip_sum, tcp_sum = field(d, "ip.checksum"), field(d, "tcp.checksum")
    assert (ip_sum.start, ip_sum.end, ip_sum.value) == (10, 12, int.from_bytes(packet[10:12]))
    assert (tcp_sum.start, tcp_sum.end, tcp_sum.value) == (36, 38, int.from_bytes(packet[36:38]))
    assert ip_sum.display.endswith("(correct)") and tcp_sum.display.endswith("(correct)")
    assert d.problems == ()


def test_syn_summary_and_layers() -> None:
    d = dissect(syn_packet())
    assert d.protocol == "TCP"
    assert d.summary == (
        "127.0.0.1:54321 → 127.0.0.1:8765 [SYN] Seq=1000 Win=65495 Len=0 "
        "MSS=1460 WS=128 SACK_PERM TSval=1 TSecr=0"
    )
    assert [f.name for f in d.fields] == ["frame", "ip", "tcp"]
    assert d.buffers[0].name == "Frame 3 (60 bytes)"
    assert field(d, "tcp.option.wscale").display == "shift 7, multiplier 128"
    assert "multiply by 128" in field(d, "tcp.option.wscale.shift").display
    assert field(d, "tcp.flags").display == "0x02 (SYN)"
    assert "never scaled" in field(d, "tcp.window").display


def test_field_at_finds_the_owner_of_every_byte() -> None:
    owners = names_at(dissect(syn_packet()))
    assert owners[0] == "ip.ihl"  # the last of the equal-width fields on byte 0
    assert owners[2:4] == ["ip.len"] * 2
    assert owners[10:12] == ["ip.checksum"] * 2
    assert owners[12:16] == ["ip.src"] * 4
    assert owners[24:28] == ["tcp.seq"] * 4
    assert owners[33] == "tcp.flags.fin"
    assert owners[40] == "tcp.option.kind" and owners[41] == "tcp.option.len"
    assert owners[42:44] == ["tcp.option.mss.value"] * 2
    assert owners[51:55] == ["tcp.option.timestamp.tsval"] * 4
    assert owners[59] == "tcp.option.eol"
    assert None not in owners and "frame" not in owners


def test_incorrect_ip_checksum() -> None:
    packet = bytearray(syn_packet())
    right = int.from_bytes(packet[10:12])
    packet[10:12] = b"\x12\x34"
    d = dissect(bytes(packet))
    checksum = field(d, "ip.checksum")
    assert checksum.value == 0x1234
    assert checksum.problem == f"incorrect checksum (should be {right:#06x})"
    assert "(incorrect)" in checksum.display
    assert any("incorrect checksum" in p for p in d.problems)


def test_incorrect_tcp_checksum() -> None:
    packet = bytearray(syn_packet())
    right = int.from_bytes(packet[36:38])
    packet[36:38] = (right ^ 0xFFFF).to_bytes(2)
    checksum = field(dissect(bytes(packet)), "tcp.checksum")
    assert checksum.problem == f"incorrect checksum (should be {right:#06x})"
    assert "offload" in checksum.explanation


def test_tcp_checksum_covers_the_pseudo_header() -> None:
    """Same segment, another source address: only the pseudo-header differs."""
    packet = bytearray(syn_packet())
    packet[12:16] = bytes([127, 0, 0, 2])
    packet[10:12] = b"\x00\x00"
    packet[10:12] = internet_checksum(packet[:20]).to_bytes(2)
    d = dissect(bytes(packet))
    assert field(d, "ip.checksum").problem is None
    assert "incorrect checksum" in (field(d, "tcp.checksum").problem or "")


def test_payload_and_ack() -> None:
    packet = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2", flags="DF")
        / TCP(sport=5000, dport=8765, flags="PA", seq=7, ack=9, window=512)
        / b"\x81\x02hi"
    )
    d = dissect(packet)
    assert d.summary == "10.0.0.1:5000 → 10.0.0.2:8765 [PSH, ACK] Seq=7 Ack=9 Win=512 Len=4"
    assert d.protocol == "TCP"
    payload = field(d, "tcp.payload")
    assert (payload.start, payload.end, payload.value) == (40, 44, b"\x81\x02hi")
    assert field(d, "ip.flags.df").value is True
    assert field(d, "ip.flags").display == "0x2 (Don't fragment)"
    assert field(d, "tcp.ack").display == "9"


def test_http_payload_names_the_protocol() -> None:
    request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n"
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5000, dport=80) / request)
    d = dissect(packet)
    assert d.protocol == "HTTP"
    assert d.summary == "10.0.0.1:5000 → 10.0.0.2:80 GET /chat HTTP/1.1"
    assert field(d, "tcp.payload").value == request


def test_truncated_capture_cannot_verify() -> None:
    packet = bytes(IP() / TCP(flags="PA") / (b"x" * 100))
    d = dissect(packet[:60], original_length=len(packet))
    assert "cannot verify" in field(d, "tcp.checksum").display
    assert field(d, "tcp.checksum").problem is None
    assert "truncated" in (field(d, "tcp.payload").problem or "")
    assert "snapshot" in (field(d, "frame").problem or "")
    assert field(d, "frame").label == f"Frame 3: 60 bytes captured of {len(packet)} on the wire"


@pytest.mark.parametrize("cut", range(0, 60))
def test_every_truncation_of_a_syn_is_dissected(cut: int) -> None:
    d = dissect(syn_packet()[:cut])
    if cut < 20:
        assert any("truncated" in p for p in d.problems) or cut == 0
        assert d.find("tcp") is None
    elif cut < 60:
        assert any("truncated" in p for p in d.problems)


def test_malformed_headers() -> None:
    short_ihl = bytearray(syn_packet())
    short_ihl[0] = 0x43
    assert "below the minimum" in (field(dissect(bytes(short_ihl)), "ip.ihl").problem or "")
    short_offset = bytearray(syn_packet())
    short_offset[32] = 0x30
    assert "below the minimum" in (field(dissect(bytes(short_offset)), "tcp.hdr_len").problem or "")
    bad_option = bytearray(syn_packet())
    bad_option[41] = 40  # MSS option claims 40 bytes
    d = dissect(bytes(bad_option))
    assert field(d, "tcp.option.malformed").problem == "malformed option length"


def test_sack_blocks_and_nops() -> None:
    segment = bytes(TCP(options=[("NOP", None), ("NOP", None), ("SAck", (100, 200, 300, 400))]))
    tcp = dissect_tcp(segment).field
    kinds = [c.name for c in next(c for c in tcp.children if c.name == "tcp.options").children]
    assert kinds == ["tcp.option.nop", "tcp.option.nop", "tcp.option.sack"]
    sack = next(f for _, f in tcp.walk() if f.name == "tcp.option.sack")
    blocks = [c for c in sack.children if c.name == "tcp.option.sack.block"]
    assert [(b.start, b.end, b.value) for b in blocks] == [(24, 32, "100-200"), (32, 40, "300-400")]
    edges = [
        f.value for _, f in sack.walk() if f.name in ("tcp.option.sack.le", "tcp.option.sack.re")
    ]
    assert edges == [100, 200, 300, 400]
    assert (
        "cannot verify: no IP header"
        in next(f for _, f in tcp.walk() if f.name == "tcp.checksum").display
    )


def test_ip_options_are_shown_raw() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_Router_Alert()]) / UDP())
    d = dissect(packet)
    options = field(d, "ip.options")
    assert (options.start, options.end, options.value) == (20, 24, bytes.fromhex("94040000"))
    assert field(d, "ip.ihl").display == "6 (24 bytes)"
    assert field(d, "ip.checksum").problem is None
    assert field(d, "udp.srcport").start == 24


def test_udp() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / b"hello")
    d = dissect(packet)
    assert d.protocol == "UDP"
    assert d.summary == "10.0.0.1:5353 → 10.0.0.2:53 Len=5"
    assert field(d, "udp.checksum").display.endswith("(correct)")
    assert field(d, "udp.payload").value == b"hello"
    assert (field(d, "udp.length").start, field(d, "udp.length").value) == (24, 13)


def test_icmp_echo() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=1, seq=2) / b"ping")
    d = dissect(packet)
    assert d.protocol == "ICMP"
    assert d.summary == "10.0.0.1 → 10.0.0.2 Echo (ping) request id=0x0001, seq=2"
    assert field(d, "icmp.checksum").display.endswith("(correct)")
    assert field(d, "icmp.data").value == b"ping"


def test_other_ip_protocols_are_data() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2", proto=47) / b"\x00\x00\x08\x00")
    d = dissect(packet)
    assert d.protocol == "IPv4"
    assert d.summary == "10.0.0.1 → 10.0.0.2 GRE"
    assert field(d, "data").label == "Data (GRE data, 4 bytes)"


def test_fragments() -> None:
    later = bytes(IP(src="10.0.0.1", dst="10.0.0.2", frag=185, proto=6) / (b"x" * 16))
    d = dissect(later)
    assert d.find("tcp") is None
    assert field(d, "ip.frag").display == "185 (1480 bytes)"
    assert "fragment" in d.summary
    first = bytes(IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / TCP() / (b"x" * 16))
    d = dissect(first)
    assert "fragment" in field(d, "tcp.checksum").display


def test_ipv6_tcp() -> None:
    packet = bytes(IPv6(src="::1", dst="::1") / TCP(sport=54321, dport=8765, flags="S"))
    d = dissect(packet)
    assert d.protocol == "TCP"
    assert d.summary.startswith("[::1]:54321 → [::1]:8765 [SYN]")
    names = {"ipv6.version": (0, 1, (0, 4), 6), "ipv6.plen": (4, 6, None, 20),
             "ipv6.nxt": (6, 7, None, 6), "ipv6.hlim": (7, 8, None, 64),
             "ipv6.src": (8, 24, None, "::1"), "ipv6.dst": (24, 40, None, "::1")}  # fmt: skip
    for name, (start, end, bits, value) in names.items():
        got = field(d, name)
        assert (got.start, got.end, got.bits, got.value) == (start, end, bits, value), name
    assert field(d, "tcp.checksum").display.endswith("(correct)")


def test_icmpv6_echo() -> None:
    packet = bytes(IPv6(src="::1", dst="::1") / ICMPv6EchoRequest(id=1, seq=2))
    d = dissect(packet)
    assert d.protocol == "ICMPv6"
    assert field(d, "icmpv6.checksum").display.endswith("(correct)")


def test_direct_calls_place_fields_at_their_offset() -> None:
    packet = b"\xaa" * 7 + syn_packet()
    net = dissect_ipv4(packet, 7, buffer=2)
    assert (net.field.start, net.field.end, net.field.buffer) == (7, 67, 2)
    version = next(c for c in net.field.children if c.name == "ip.version")
    assert version.bits == (56, 60)
    tcp = dissect_tcp(packet, net.payload_start, length=net.payload_length, network=net, buffer=2)
    assert tcp.field.start == 27 and tcp.info.startswith("[SYN] Seq=1000")
    assert all(f.buffer == 2 for _, f in tcp.field.walk())


def test_internet_checksum() -> None:
    # RFC 1071 §3's example words.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(b"\x01") == 0xFEFF


def test_total_length_below_the_header() -> None:
    packet = bytearray(syn_packet())
    packet[2:4] = (10).to_bytes(2)
    d = dissect(bytes(packet))
    assert "smaller than the header" in problem(d, "ip.len")
    assert d.find("tcp") is None
    assert (field(d, "data").start, field(d, "data").end) == (20, 60)


@pytest.mark.parametrize(
    "packet",
    [
        "4500000900010000400134da1c0000017f6f000108003300000000",  # ICMP shorter than its header
        "45000002000100004001 7cda7f000001 7fec0001 700033",
    ],
)
def test_found_by_fuzzing(packet: str) -> None:
    dissect(bytes.fromhex(packet))


def test_a_checksum_left_to_offload_is_named_not_flagged() -> None:
    """What Linux leaves in a loopback packet: the pseudo-header's sum, not complemented."""
    packet = bytearray(syn_packet())
    pseudo = packet[12:20] + bytes([0, 6]) + (len(packet) - 20).to_bytes(2)
    partial = ~internet_checksum(pseudo) & 0xFFFF
    packet[36:38] = partial.to_bytes(2)
    checksum = field(dissect(bytes(packet)), "tcp.checksum")
    assert checksum.problem is None
    packet[36:38] = b"\x00\x00"
    full = internet_checksum(bytes(pseudo) + bytes(packet[20:]))  # what TCP would send
    assert checksum.display == f"{partial:#06x} (left to checksum offload; filled in: {full:#06x})"
    assert "loopback" in checksum.explanation
