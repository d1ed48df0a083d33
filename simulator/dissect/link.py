"""Link-layer headers: what a capture puts in front of the IP packet, per pcap link type.

    Ethernet II            dst(6) src(6) type(2)                 [802.1Q: TPID(2)=0x8100 TCI(2)]
    BSD loopback (NULL)    address family(4), the capturing host's byte order
    OpenBSD loopback       address family(4), network byte order
    Linux cooked (SLL)     packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
    raw IP (RAW, IPV4)     nothing: the packet starts at byte 0

`dissect_link` names every byte of the link header and says where the network
layer begins and what it is. It never raises: a short header is marked
"truncated" and the rest of the frame is left to the caller as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from simulator.dissect.fields import Field
from simulator.dissect.registry import Kind, alias, define
from simulator.text import plural
from simulator.trace.records import LinkType

LINKTYPE_IPV6 = 229  # raw IPv6 (not in LinkType: wirelab never writes it)


class Network(Enum):
    """What the link layer says follows it."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"
    OTHER = "data"  # ARP, LLC, an unknown family: shown as plain data


@dataclass(frozen=True, slots=True)
class LinkLayer:
    """The link header, dissected, and where the network-layer packet starts."""

    field: Field | None  # None when there is no link header (raw IP)
    network_offset: int  # first byte of the network-layer packet in the frame
    network: Network
    protocol: str  # the link's own name, the top-most protocol if nothing else is recognised
    carries: str  # what the header says follows, for people: "IPv4", "ARP", "family 17"
    src: str | None = None  # link addresses, when the header has them
    dst: str | None = None


ETHERTYPES: dict[int, str] = {
    0x0800: "IPv4",
    0x0806: "ARP",
    0x8035: "RARP",
    0x86DD: "IPv6",
    0x8100: "802.1Q VLAN tag",
    0x88A8: "802.1ad service VLAN tag",
    0x9100: "VLAN tag (pre-standard QinQ)",
    0x8847: "MPLS",
    0x8863: "PPPoE discovery",
    0x8864: "PPPoE session",
    0x888E: "802.1X (EAPOL)",
    0x88CC: "LLDP",
}
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})

# Address families as BSD-derived systems number them in loopback headers.
FAMILIES: dict[int, tuple[str, Network]] = {
    2: ("IPv4 (AF_INET)", Network.IPV4),
    10: ("IPv6 (AF_INET6 on Linux)", Network.IPV6),
    24: ("IPv6 (AF_INET6 on NetBSD/OpenBSD)", Network.IPV6),
    28: ("IPv6 (AF_INET6 on FreeBSD)", Network.IPV6),
    30: ("IPv6 (AF_INET6 on macOS)", Network.IPV6),
}

SLL_PACKET_TYPES = {
    0: "unicast to this host",
    1: "broadcast",
    2: "multicast",
    3: "unicast to another host",
    4: "sent by this host",
}
ARPHRD = {1: "Ethernet", 512: "PPP", 772: "loopback", 776: "IPv6-in-IPv4 tunnel", 65534: "none"}


define("eth", Kind.PROTOCOL, "Ethernet II: the frame header on one link")
define("eth.dst", Kind.ETHER, "The receiving station's MAC address")
define("eth.src", Kind.ETHER, "The sending station's MAC address")
define("eth.type", Kind.UINT, "The payload's EtherType (up to 1500: an IEEE 802.3 length)")
alias("eth.addr", Kind.ETHER, "The source or the destination MAC address",
      of=("eth.src", "eth.dst"))  # fmt: skip
define("vlan", Kind.PROTOCOL, "An IEEE 802.1Q VLAN tag; its value is the VLAN identifier")
define("vlan.priority", Kind.UINT, "The priority code point, 0 to 7")
define("vlan.dei", Kind.BOOL, "Drop eligible: a congested switch may drop the frame first")
define("vlan.id", Kind.UINT, "The VLAN identifier, 1 to 4094")
define("vlan.etype", Kind.UINT, "The EtherType after the tag (up to 1500: an 802.3 length)")
define("null", Kind.PROTOCOL, "BSD loopback header: an address family in the host's byte order")
define("null.family", Kind.UINT, "The address family of the packet (2: IPv4)")
define("loop", Kind.PROTOCOL, "OpenBSD loopback header: an address family in network byte order")
define("loop.family", Kind.UINT, "The address family of the packet (2: IPv4)")
define("sll", Kind.PROTOCOL, "Linux cooked capture header (SLL), in place of the link's own")
define("sll.pkttype", Kind.UINT, "Which way the packet went: to this host, from it, broadcast…")
define("sll.hatype", Kind.UINT, "The interface's ARPHRD type (1 Ethernet, 772 loopback)")
define("sll.halen", Kind.UINT, "How many bytes of the address field the address uses")
define("sll.src", Kind.BYTES, "The sender's link-layer address, padded to 8 bytes")
define("sll.protocol", Kind.UINT, "The payload's protocol, as an EtherType")


def ethertype_network(ethertype: int) -> Network:
    return {0x0800: Network.IPV4, 0x86DD: Network.IPV6}.get(ethertype, Network.OTHER)


def ethertype_name(ethertype: int) -> str:
    return ETHERTYPES.get(ethertype, f"ethertype {ethertype:#06x}")


def dissect_link(data: bytes, link_type: int, *, buffer: int = 0) -> LinkLayer:
    """Dissect the link header of one captured frame of pcap link type `link_type`."""
    if link_type == LinkType.ETHERNET:
        return _ethernet(data, buffer)
    if link_type in (LinkType.NULL, LinkType.LOOP):
        return _loopback(data, link_type, buffer)
    if link_type == LinkType.LINUX_SLL:
        return _linux_sll(data, buffer)
    if link_type == LinkType.RAW:
        version = data[0] >> 4 if data else None
        network = {4: Network.IPV4, 6: Network.IPV6}.get(version or 0, Network.OTHER)
        carries = "nothing" if version is None else f"IP version {version}"
        return LinkLayer(
            None, 0, network, "Raw IP", carries if network is Network.OTHER else network.value
        )
    if link_type == LinkType.IPV4:
        return LinkLayer(None, 0, Network.IPV4, "Raw IPv4", "IPv4")
    if link_type == LINKTYPE_IPV6:
        return LinkLayer(None, 0, Network.IPV6, "Raw IPv6", "IPv6")
    unknown = Field(
        "data",
        f"Data (pcap link type {link_type}, {plural(len(data), 'byte')})",
        0,
        len(data),
        value=data,
        explanation="A link layer wirelab does not dissect; its bytes are shown as they are.",
        buffer=buffer,
    )
    return LinkLayer(unknown, len(data), Network.OTHER, f"Link type {link_type}", "not dissected")


# --- Ethernet (IEEE 802.3, "Ethernet II" framing) ----------------------------------------


def mac(raw: bytes) -> str:
    return raw.hex(":")


def _mac_field(name: str, label: str, data: bytes, start: int, buffer: int, role: str) -> Field:
    raw = data[start : start + 6]
    text = mac(raw)
    notes = []
    if raw == b"\xff" * 6:
        notes.append("broadcast: every station on the segment")
    elif raw[0] & 0x01:
        notes.append("group (multicast) address")
    if raw[0] & 0x02 and raw != b"\xff" * 6:
        notes.append("locally administered")
    if raw == bytes(6):
        notes.append("all zeros: typical of a loopback capture")
    return Field(
        name,
        label,
        start,
        start + 6,
        value=text,
        display=f"{text} ({'; '.join(notes)})" if notes else text,
        explanation=(
            f"The {role} station's 48-bit MAC address. Only stations on the same link see it: "
            "a router replaces the Ethernet header at every hop, while the IP addresses stay."
        ),
        buffer=buffer,
    )


def _type_field(name: str, label: str, data: bytes, start: int, buffer: int) -> Field:
    value = int.from_bytes(data[start : start + 2], "big")
    if value <= 1500:
        return Field(
            name,
            "Length (IEEE 802.3)",
            start,
            start + 2,
            value=value,
            display=plural(value, "byte"),
            explanation=(
                "At most 1500, so this is an 802.3 length, not an EtherType: an LLC header "
                "follows, not an IP packet."
            ),
            buffer=buffer,
        )
    if value in VLAN_TPIDS:
        explanation = (
            "EtherType of a VLAN tag: two more bytes (priority, drop eligible, VLAN id) and "
            "then the real EtherType follow."
        )
    else:
        explanation = (
            "EtherType: which protocol the payload belongs to (0x0800 IPv4, 0x86dd IPv6, "
            "0x0806 ARP), so the receiver knows which handler to give it to."
        )
    return Field(
        name,
        label,
        start,
        start + 2,
        value=value,
        display=f"{value:#06x} ({ethertype_name(value)})",
        explanation=explanation,
        buffer=buffer,
    )


def _truncated(layer: str, have: int, need: int) -> str:
    return f"truncated: {layer} needs {need} bytes, the frame has {have}"


def _ethernet(data: bytes, buffer: int) -> LinkLayer:
    n = len(data)
    children: list[Field] = []
    problem = None
    src = dst = None
    if n >= 6:
        children.append(_mac_field("eth.dst", "Destination", data, 0, buffer, "receiving"))
        dst = mac(data[0:6])
    if n >= 12:
        children.append(_mac_field("eth.src", "Source", data, 6, buffer, "sending"))
        src = mac(data[6:12])
    pos = 12
    ethertype: int | None = None
    if n >= 14:
        children.append(_type_field("eth.type", "Type", data, 12, buffer))
        ethertype = int.from_bytes(data[12:14], "big")
        pos = 14
        # IEEE 802.1Q: a 4-byte tag (TPID + TCI) may sit before the real EtherType; stacked
        # tags (802.1ad) repeat it.
        while ethertype in VLAN_TPIDS and pos + 4 <= n:
            children.append(_vlan_field(data, pos, buffer))
            ethertype = int.from_bytes(data[pos + 2 : pos + 4], "big")
            pos += 4
        if ethertype in VLAN_TPIDS:
            problem = _truncated("the VLAN tag", n - pos, 4)
            ethertype = None
            pos = n
    else:
        problem = _truncated("an Ethernet header", n, 14)
        pos = n
    label = "Ethernet II"
    if src is not None and dst is not None:
        label += f", Src: {src}, Dst: {dst}"
    if ethertype is None:
        network, carries = Network.OTHER, "unknown"
    elif ethertype <= 1500:
        network, carries = Network.OTHER, "802.3 LLC"
    else:
        network, carries = ethertype_network(ethertype), ethertype_name(ethertype)
    link = Field(
        "eth",
        label,
        0,
        n,
        explanation=(
            "Ethernet frame header: carries the packet across one link, from one network "
            "card to the next (the preamble and the trailing CRC are not captured)."
        ),
        children=tuple(children),
        buffer=buffer,
        problem=problem,
    )
    return LinkLayer(link, pos, network, "Ethernet", carries, src, dst)


def _vlan_field(data: bytes, pos: int, buffer: int) -> Field:
    tci = int.from_bytes(data[pos : pos + 2], "big")
    inner = int.from_bytes(data[pos + 2 : pos + 4], "big")
    bit = pos * 8
    priority, dei, vid = tci >> 13, (tci >> 12) & 1, tci & 0x0FFF
    children = (
        Field(
            "vlan.priority",
            "Priority (PCP)",
            pos,
            pos + 1,
            value=priority,
            explanation="Priority code point, 0-7: which traffic class switches give the frame.",
            bits=(bit, bit + 3),
            buffer=buffer,
        ),
        Field(
            "vlan.dei",
            "Drop eligible (DEI)",
            pos,
            pos + 1,
            value=bool(dei),
            explanation="When set, a congested switch may drop this frame before others.",
            bits=(bit + 3, bit + 4),
            buffer=buffer,
        ),
        Field(
            "vlan.id",
            "VLAN identifier",
            pos,
            pos + 2,
            value=vid,
            explanation=(
                "Which virtual LAN the frame belongs to (1-4094): one cable carries many "
                "separate LANs."
            ),
            bits=(bit + 4, bit + 16),
            buffer=buffer,
        ),
        _type_field("vlan.etype", "Type", data, pos + 2, buffer),
    )
    return Field(
        "vlan",
        f"802.1Q Virtual LAN, PRI: {priority}, DEI: {dei}, ID: {vid}",
        pos,
        pos + 4,
        value=vid,
        display=f"VLAN {vid}, then {ethertype_name(inner)}",
        explanation=(
            "An IEEE 802.1Q tag: the two bytes before it (0x8100) announced it; it names the "
            "VLAN and a priority, then gives the real EtherType."
        ),
        children=children,
        buffer=buffer,
    )


# --- loopback: BSD NULL and OpenBSD LOOP ------------------------------------------------


def _loopback(data: bytes, link_type: int, buffer: int) -> LinkLayer:
    name = "null" if link_type == LinkType.NULL else "loop"
    title = "Null/Loopback" if link_type == LinkType.NULL else "OpenBSD loopback"
    if len(data) < 4:
        link = Field(
            name,
            title,
            0,
            len(data),
            explanation="A 4-byte address family should open the frame.",
            buffer=buffer,
            problem=_truncated("the loopback header", len(data), 4),
        )
        return LinkLayer(link, len(data), Network.OTHER, "Loopback", "unknown")
    little = int.from_bytes(data[:4], "little")
    big = int.from_bytes(data[:4], "big")
    # The family is small, so whichever reading fits in 16 bits is the right byte order.
    # NULL writes it in the capturing host's order (usually little-endian); LOOP in
    # network order, though some writers get that wrong too.
    if big in FAMILIES or (big <= 0xFFFF and little not in FAMILIES):
        family, order = big, "big-endian (network byte order)"
    else:
        family, order = little, "little-endian (the capturing host's byte order)"
    family_name, network = FAMILIES.get(family, (f"family {family}", Network.OTHER))
    if link_type == LinkType.NULL:
        explanation = (
            "The protocol family of the packet, as a 4-byte number in the byte order of the "
            "machine that captured it (BSD loopback, pcap link type NULL)."
        )
    else:
        explanation = (
            "The protocol family of the packet, as a 4-byte number in network byte order "
            "(OpenBSD loopback, pcap link type LOOP)."
        )
    family_field = Field(
        f"{name}.family",
        "Family",
        0,
        4,
        value=family,
        display=f"{family}: {family_name}, {order}",
        explanation=explanation,
        buffer=buffer,
    )
    link = Field(
        name,
        title,
        0,
        len(data),
        display=family_name,
        explanation=(
            "A loopback capture: the packet never left the machine, so there is no Ethernet "
            "header, only the address family of what follows."
        ),
        children=(family_field,),
        buffer=buffer,
    )
    carries = network.value if network is not Network.OTHER else f"family {family}"
    return LinkLayer(link, 4, network, "Loopback", carries)


# --- Linux "cooked" capture (SLL) -------------------------------------------------------


def _linux_sll(data: bytes, buffer: int) -> LinkLayer:
    n = len(data)

    def u16(pos: int) -> int:
        return int.from_bytes(data[pos : pos + 2], "big")

    children: list[Field] = []
    if n >= 2:
        kind = u16(0)
        children.append(
            Field(
                "sll.pkttype",
                "Packet type",
                0,
                2,
                value=kind,
                display=f"{kind} ({SLL_PACKET_TYPES.get(kind, 'unknown')})",
                explanation=(
                    "Which way the packet went, as the Linux kernel saw it: to this host, "
                    "broadcast, multicast, to another host, or sent by this host."
                ),
                buffer=buffer,
            )
        )
    if n >= 4:
        hatype = u16(2)
        children.append(
            Field(
                "sll.hatype",
                "Link-layer address type",
                2,
                4,
                value=hatype,
                display=f"{hatype} ({ARPHRD.get(hatype, 'ARPHRD type')})",
                explanation=(
                    "The kind of interface the packet was captured on (an ARPHRD_ number: 1 "
                    "Ethernet, 772 loopback)."
                ),
                buffer=buffer,
            )
        )
    halen = 0
    if n >= 6:
        halen = u16(4)
        children.append(
            Field(
                "sll.halen",
                "Link-layer address length",
                4,
                6,
                value=halen,
                display=plural(halen, "byte"),
                explanation="How many of the next 8 bytes hold the link-layer address.",
                buffer=buffer,
            )
        )
    src = None
    if n >= 14:
        used = min(halen, 8)
        src = mac(data[6 : 6 + used]) if used else ""
        children.append(
            Field(
                "sll.src",
                "Source address",
                6,
                14,
                value=data[6:14],
                display=src or "(none)",
                explanation=(
                    "The sender's link-layer address, padded to 8 bytes (for Ethernet its "
                    "6-byte MAC address)."
                ),
                buffer=buffer,
            )
        )
    ethertype = None
    problem = None
    if n >= 16:
        ethertype = u16(14)
        children.append(_type_field("sll.protocol", "Protocol", data, 14, buffer))
    else:
        problem = _truncated("a Linux cooked header", n, 16)
    network = Network.OTHER if ethertype is None else ethertype_network(ethertype)
    carries = "unknown" if ethertype is None else ethertype_name(ethertype)
    link = Field(
        "sll",
        "Linux cooked capture",
        0,
        n,
        display=carries,
        explanation=(
            "A pseudo-header Linux writes when capturing on 'any' interface or one without an "
            "Ethernet header: the real link header is replaced by this fixed 16-byte one."
        ),
        children=tuple(children),
        buffer=buffer,
        problem=problem,
    )
    return LinkLayer(link, min(16, n), network, "Linux cooked", carries, src or None)
