"""Link layers: Ethernet and 802.1Q, BSD/OpenBSD loopback in both byte orders, Linux SLL, raw IP."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from simulator.dissect.link import Network, dissect_link
from simulator.trace.records import LinkType
from tests.dissect.helpers import dissect, field, names_at, syn_packet

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def test_ethernet() -> None:
    frame = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP())
    d = dissect(frame, LinkType.ETHERNET)
    eth = field(d, "eth")
    assert (eth.start, eth.end) == (0, len(frame))
    assert eth.label == f"Ethernet II, Src: {MAC_A}, Dst: {MAC_B}"
    dst, src, kind = field(d, "eth.dst"), field(d, "eth.src"), field(d, "eth.type")
    assert (dst.start, dst.end, dst.value) == (0, 6, MAC_B)
    assert (src.start, src.end, src.value) == (6, 12, MAC_A)
    assert "locally administered" in src.display
    assert (kind.start, kind.end, kind.value, kind.display) == (12, 14, 0x0800, "0x0800 (IPv4)")
    assert field(d, "ip").start == 14
    assert field(d, "tcp").start == 34
    assert d.protocol == "TCP"
    assert [f.name for f in d.fields] == ["frame", "eth", "ip", "tcp"]


def test_ethernet_padding() -> None:
    frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP()).ljust(60, b"\x00")
    d = dissect(frame, LinkType.ETHERNET)
    padding = field(d, "eth.padding")
    assert (padding.start, padding.end, padding.value) == (54, 60, bytes(6))
    assert names_at(d)[54:] == ["eth.padding"] * 6


def test_vlan_tag() -> None:
    frame = bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=42, prio=5, type=0x0800) / syn_packet())
    d = dissect(frame, LinkType.ETHERNET)
    assert field(d, "eth.type").value == 0x8100
    vlan = field(d, "vlan")
    assert (vlan.start, vlan.end, vlan.value) == (14, 18, 42)
    priority, dei, vid = field(d, "vlan.priority"), field(d, "vlan.dei"), field(d, "vlan.id")
    assert (priority.bits, priority.value) == ((112, 115), 5)
    assert (dei.bits, dei.value) == ((115, 116), False)
    assert (vid.start, vid.end, vid.bits, vid.value) == (14, 16, (116, 128), 42)
    assert field(d, "vlan.etype").value == 0x0800
    assert field(d, "ip").start == 18
    assert d.protocol == "TCP"


def test_arp_is_data() -> None:
    frame = bytes(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP())
    d = dissect(frame, LinkType.ETHERNET)
    assert d.protocol == "Ethernet"
    assert d.summary == f"{MAC_A} → ff:ff:ff:ff:ff:ff ARP"
    assert field(d, "data").start == 14
    assert "broadcast" in field(d, "eth.dst").display


@pytest.mark.parametrize(
    ("link_type", "header", "order"),
    [
        (LinkType.NULL, struct.pack("<I", 2), "little-endian"),
        (LinkType.NULL, struct.pack(">I", 2), "big-endian"),
        (LinkType.LOOP, struct.pack(">I", 2), "big-endian"),
        (LinkType.LOOP, struct.pack("<I", 2), "little-endian"),
    ],
)
def test_loopback_ipv4_in_both_byte_orders(link_type: int, header: bytes, order: str) -> None:
    d = dissect(header + syn_packet(), link_type)
    name = "null" if link_type == LinkType.NULL else "loop"
    family = field(d, f"{name}.family")
    assert (family.start, family.end, family.value) == (0, 4, 2)
    assert order in family.display and "IPv4" in family.display
    assert field(d, "ip").start == 4
    assert d.protocol == "TCP"
    assert d.summary.startswith("127.0.0.1:54321 → 127.0.0.1:8765 [SYN]")


@pytest.mark.parametrize("family", [24, 28, 30])
def test_loopback_ipv6_families(family: int) -> None:
    packet = bytes(IPv6(src="::1", dst="::1") / TCP())
    d = dissect(struct.pack("<I", family) + packet, LinkType.NULL)
    assert field(d, "ipv6").start == 4
    assert d.protocol == "TCP"


def test_loopback_unknown_family_and_short_header() -> None:
    d = dissect(struct.pack("<I", 17) + b"abc", LinkType.NULL)
    assert d.protocol == "Loopback"
    assert field(d, "data").start == 4
    d = dissect(b"\x02\x00", LinkType.NULL)
    assert "truncated" in (field(d, "null").problem or "")


def test_linux_sll() -> None:
    header = struct.pack(">HHH8sH", 0, 772, 6, bytes(8), 0x0800)
    d = dissect(header + syn_packet(), LinkType.LINUX_SLL)
    names = ["sll.pkttype", "sll.hatype", "sll.halen", "sll.src", "sll.protocol"]
    spans = [(field(d, n).start, field(d, n).end) for n in names]
    assert spans == [(0, 2), (2, 4), (4, 6), (6, 14), (14, 16)]
    assert field(d, "sll.hatype").display == "772 (loopback)"
    assert field(d, "sll.pkttype").display == "0 (unicast to this host)"
    assert field(d, "sll.protocol").display == "0x0800 (IPv4)"
    assert field(d, "ip").start == 16
    assert d.protocol == "TCP"


def test_raw_ip_by_version_nibble() -> None:
    assert dissect_link(syn_packet(), LinkType.RAW).network is Network.IPV4
    v6 = bytes(IPv6() / TCP())
    assert dissect_link(v6, LinkType.RAW).network is Network.IPV6
    assert dissect_link(syn_packet(), LinkType.IPV4).network is Network.IPV4
    d = dissect(v6, LinkType.RAW)
    assert [f.name for f in d.fields] == ["frame", "ipv6", "tcp"]


def test_unknown_link_type() -> None:
    d = dissect(b"\x01\x02\x03", 147)
    assert field(d, "data").end == 3
    assert d.protocol == "Link type 147"


@pytest.mark.parametrize("cut", range(0, 20))
def test_truncated_ethernet_and_vlan(cut: int) -> None:
    frame = bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=3, type=0x0800) / syn_packet())
    d = dissect(frame[:cut], LinkType.ETHERNET)
    if cut < 14 or cut < 18:
        assert d.problems, cut
