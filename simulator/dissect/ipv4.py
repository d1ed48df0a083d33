"""The network layer: IPv4 (RFC 791), and what IPv4 and IPv6 (`ipv6`) share.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version|  IHL  |    DSCP   |ECN|          Total Length         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Identification        |Flags|      Fragment Offset    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Time to Live |    Protocol   |         Header Checksum       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Source Address                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      Destination Address                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Options                    |    Padding    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The layout above is `IPV4_HEADER`, as data: it reads each field's value and
points each field at its exact bytes (and bits). Nothing here raises on bad
input: a short or inconsistent header yields the fields that are present and
a `problem` on the ones that are wrong.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

from simulator.dissect.fields import Field
from simulator.dissect.layout import Layout, Shown, Slot
from simulator.dissect.registry import Kind, alias, define
from simulator.ip.checksum import internet_checksum
from simulator.text import plural

IP_PROTOCOLS: dict[int, str] = {
    0: "IPv6 hop-by-hop options",
    1: "ICMP",
    2: "IGMP",
    4: "IPv4-in-IP",
    6: "TCP",
    17: "UDP",
    41: "IPv6",
    43: "IPv6 routing header",
    44: "IPv6 fragment header",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPv6",
    59: "no next header",
    60: "IPv6 destination options",
    89: "OSPF",
    132: "SCTP",
}

ECN_NAMES = {
    0: "Not-ECT: not ECN-capable",
    1: "ECT(1): ECN-capable",
    2: "ECT(0): ECN-capable",
    3: "CE: congestion experienced",
}


def protocol_name(proto: int) -> str:
    return IP_PROTOCOLS.get(proto, f"protocol {proto}")


def dscp_name(dscp: int) -> str:
    if dscp == 0:
        return "default, best effort"
    if dscp == 46:
        return "EF, expedited forwarding"
    if dscp % 8 == 0:
        return f"CS{dscp // 8}, class selector"
    klass, drop = divmod(dscp, 8)
    if 1 <= klass <= 4 and drop in (2, 4, 6):
        return f"AF{klass}{drop // 2}, assured forwarding"
    return "unassigned"


@dataclass(frozen=True, slots=True)
class NetworkLayer:
    """An IPv4 or IPv6 packet, dissected, and where its payload lies."""

    field: Field
    version: int  # 4 or 6
    src: str | None  # addresses as text, None when the header is too short to hold them
    dst: str | None
    proto: int | None  # the payload's protocol; None when unknown or not dissectable
    payload_start: int  # in the buffer
    payload_end: int  # in the buffer: the announced end, clipped to the bytes present
    payload_length: int  # what the header announces
    end: int  # where the packet ends in the buffer (what follows is link-layer padding)
    first_fragment: bool  # the payload begins with the upper layer's header
    whole: bool  # the payload is the upper layer's entire message (not a fragment)
    src_raw: bytes = b""
    dst_raw: bytes = b""

    @property
    def complete(self) -> bool:
        """Every byte the header announces is present."""
        return self.payload_end - self.payload_start >= self.payload_length

    def pseudo_header(self, proto: int, length: int) -> bytes:
        """What the TCP/UDP checksum covers besides the segment (RFC 9293 §3.1, RFC 8200 §8.1)."""
        if self.version == 4:
            return self.src_raw + self.dst_raw + struct.pack("!BBH", 0, proto, length)
        return self.src_raw + self.dst_raw + struct.pack("!I3xB", length, proto)


# --- addresses, IPv4's and IPv6's alike -----------------------------------------------


@functools.lru_cache(maxsize=4096)
def address_text(raw: bytes) -> tuple[str, str]:
    """An address as text, and a note on what kind it is ("loopback: this same machine")."""
    address = ipaddress.ip_address(raw)
    return str(address), _address_note(address)


def _address_note(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "loopback: this same machine"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    return ""


def _address_value(raw: bytes, _: object) -> str:
    return address_text(raw)[0]


def _address_display(raw: bytes, _: object) -> str:
    text, note = address_text(raw)
    return f"{text} ({note})" if note else text


def address_slot(name: str, label: str, kind: Kind, offset: int, description: str) -> Slot[Any]:
    """The slot of a source (`name` ends in "src") or destination address."""
    if name.endswith("src"):
        explanation = (
            "The address of the host that sent the packet. It stays the same at every hop "
            "(unless a NAT box rewrites it); the reply goes back to it."
        )
    else:
        explanation = (
            "The address of the final destination. Each router looks it up in its routing "
            "table (longest matching prefix) to choose the next hop."
        )
    size = 4 if kind is Kind.IPV4 else 16
    return Slot(
        name, label, kind, description, offset, size, explanation=explanation,
        display=_address_display, value=_address_value,
    )  # fmt: skip


# --- IPv4 ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ipv4:
    """What the IPv4 slots' wording needs besides their own values."""

    hlen: int  # the header's length in bytes, as the IHL says
    checksum: Shown


_IP_FLAGS = ((4, "Reserved"), (2, "Don't fragment"), (1, "More fragments"))


def _flags_display(flags: int, _: _Ipv4) -> str:
    names = [name for bit, name in _IP_FLAGS if flags & bit]
    return f"{flags:#x}" + (f" ({', '.join(names)})" if names else "")


IPV4_HEADER: Layout[_Ipv4] = Layout("IPv4", 20, (
    Slot("ip.version", "Version", Kind.UINT, "The IP version: 4", bits=(0, 4),
         explanation="The IP version: 4. A receiver reads this first to know how to parse "
         "the rest.",
         problem=lambda v, _: None if v == 4 else f"version {v} in an IPv4 packet"),
    Slot("ip.ihl", "Header length (IHL)", Kind.UINT,
         "Internet header length, in 32-bit words (5 to 15)", bits=(4, 8),
         display=lambda v, _: f"{v} ({plural(v * 4, 'byte')})",
         explanation="The header length in 32-bit words: 5 (20 bytes) without options, at "
         "most 15 (60 bytes).",
         problem=lambda v, _: None if v >= 5 else "below the minimum of 5 (20 bytes)"),
    Slot("ip.dscp", "Differentiated services (DSCP)", Kind.UINT,
         "Differentiated services code point: the class of service asked for (RFC 2474)",
         bits=(8, 14), display=lambda v, _: f"{v} ({dscp_name(v)})",
         explanation="Asks routers for a class of service (e.g. low delay for voice); "
         "0 is ordinary best-effort traffic."),
    Slot("ip.ecn", "Explicit congestion notification (ECN)", Kind.UINT,
         "Explicit congestion notification: ECN-capable, or congestion seen (RFC 3168)",
         bits=(14, 16), display=lambda v, _: f"{v} ({ECN_NAMES[v]})",
         explanation="Lets a congested router mark the packet instead of dropping it, if "
         "both ends negotiated ECN (RFC 3168)."),
    Slot("ip.len", "Total length", Kind.UINT,
         "The whole packet's length, header and data, in bytes", 2, 2,
         display=lambda v, _: plural(v, "byte"),
         explanation="The whole packet, header and data, in bytes (at most 65535). "
         "Anything after it in the frame is link-layer padding.",
         problem=lambda v, c: None if v >= max(c.hlen, 20) else "smaller than the header"),
    Slot("ip.id", "Identification", Kind.UINT,
         "Identification: the fragments of one packet share it", 4, 2,
         display=lambda v, _: f"{v:#06x} ({v})",
         explanation="Chosen by the sender; all fragments of one packet share it so the "
         "receiver can put them back together."),
    Slot("ip.flags", "Flags", Kind.UINT, "The three bits that control fragmentation",
         bits=(48, 51), display=_flags_display,
         explanation="Three bits that control fragmentation: reserved, don't fragment, more "
         "fragments.",
         children=(
             Slot("ip.flags.rb", "Reserved bit", Kind.BOOL, "The reserved flag: must be 0",
                  bits=(48, 49), explanation="Reserved: must be zero.",
                  problem=lambda v, _: "set, but it must be zero" if v else None),
             Slot("ip.flags.df", "Don't fragment (DF)", Kind.BOOL,
                  "Don't fragment: a router drops the packet rather than split it",
                  bits=(49, 50),
                  explanation="Routers must not split this packet: if it is too big for "
                  "the next link they drop it and say so by ICMP, which is how path-MTU "
                  "discovery works."),
             Slot("ip.flags.mf", "More fragments (MF)", Kind.BOOL,
                  "More fragments: set on every fragment but the last", bits=(50, 51),
                  explanation="Set on every fragment but the last of a packet that was "
                  "split."),
         )),
    Slot("ip.frag", "Fragment offset", Kind.UINT,
         "Where a fragment's data belongs in the original packet, in units of 8 bytes",
         bits=(51, 64),
         display=lambda v, _: f"{v}" if not v else f"{v} ({plural(v * 8, 'byte')})",
         explanation="Where this fragment's data belongs in the original packet, in units "
         "of 8 bytes; 0 for the first fragment or an unfragmented packet."),
    Slot("ip.ttl", "Time to live", Kind.UINT,
         "Time to live: each router lowers it by 1 and drops the packet at 0", 8, 1,
         explanation="Every router that forwards the packet lowers it by 1; at 0 the "
         "packet is dropped and an ICMP Time Exceeded goes back, so loops cannot last "
         "(traceroute relies on this). Senders often start at 64 or 128.",
         problem=lambda v, _: None if v else "0: no host may send this (RFC 1122), and a "
         "router drops it"),
    Slot("ip.proto", "Protocol", Kind.UINT,
         "The payload's protocol number (6 TCP, 17 UDP, 1 ICMP)", 9, 1,
         display=lambda v, _: f"{v} ({protocol_name(v)})",
         explanation="Which protocol the data is for (6 TCP, 17 UDP, 1 ICMP): the "
         "receiving host hands the payload to that handler."),
    Slot("ip.checksum", "Header checksum", Kind.UINT,
         "The header checksum: covers the header, not the data", 10, 2,
         shown=lambda _, c: c.checksum),
    address_slot("ip.src", "Source address", Kind.IPV4, 12, "The sending host's address"),
    address_slot("ip.dst", "Destination address", Kind.IPV4, 16,
                 "The final destination's address"),
))  # fmt: skip

define("ip", Kind.PROTOCOL, "Internet Protocol version 4 (RFC 791)")
define("ip.options", Kind.BYTES, "Header options, padded to a multiple of 4 bytes")
alias("ip.dsfield.dscp", Kind.UINT, "Wireshark's name for the DSCP (ip.dscp)", of=("ip.dscp",))
alias("ip.dsfield.ecn", Kind.UINT, "Wireshark's name for the ECN bits (ip.ecn)", of=("ip.ecn",))
alias("ip.frag_offset", Kind.UINT, "Wireshark's name for the fragment offset (ip.frag)",
      of=("ip.frag",))  # fmt: skip


def dissect_ipv4(buf: bytes, start: int = 0, *, buffer: int = 0) -> NetworkLayer:
    """Dissect the IPv4 packet at `buf[start:]`; spans are positions in `buf`."""
    s = start
    avail = len(buf) - start
    header = IPV4_HEADER.read(buf, s)
    ihl, total, flags = header.number("ip.ihl"), header.number("ip.len"), header.number("ip.flags")
    frag, proto = header.number("ip.frag"), header.number("ip.proto")
    hlen = ihl * 4
    checksum = _ipv4_checksum(buf, s, hlen, avail, header.number("ip.checksum"))
    fields = IPV4_HEADER.fields(header, _Ipv4(hlen, checksum), buffer=buffer)
    problems: list[str] = []
    src_raw, dst_raw = buf[s + 12 : s + 16], buf[s + 16 : s + 20]
    if ihl > 5 and avail >= 20:
        options = buf[s + 20 : s + hlen]
        fields.append(
            Field(
                "ip.options",
                "Options",
                s + 20,
                s + 20 + len(options),
                value=options,
                display=f"{plural(len(options), 'byte')}: {options.hex(' ')}",
                explanation="IPv4 options (record route, timestamps, router alert…), padded to "
                "a multiple of 4 bytes. Rare today; many routers drop packets carrying them.",
                buffer=buffer,
                problem=None if len(options) == hlen - 20 else "truncated",
            )
        )

    header_ok = avail >= 20 and ihl >= 5 and avail >= hlen
    if avail < 20:
        problems.append(
            f"truncated: the header needs 20 bytes, only {plural(max(avail, 0), 'byte')} here"
        )
    elif avail < hlen:
        problems.append(
            f"truncated: the header needs {hlen} bytes, only {plural(avail, 'byte')} here"
        )
    length_ok = total >= hlen  # else the total length is wrong: the payload cannot be trusted
    announced = total if length_ok else avail
    if header_ok and total > avail:
        problems.append(
            f"truncated: the packet announces {total} bytes, only {plural(avail, 'byte')} here"
        )
    end = s + min(announced, avail) if header_ok else len(buf)
    first_fragment = frag == 0
    whole = first_fragment and not flags & 1
    fragment_note = ""
    if not whole:
        fragment_note = f", fragment at offset {frag * 8}" + (" (more follow)" if flags & 1 else "")
    src = address_text(src_raw)[0] if avail >= 16 else None
    dst = address_text(dst_raw)[0] if avail >= 20 else None
    label = "Internet Protocol Version 4"
    if src and dst:
        label += f", Src: {src}, Dst: {dst}"
    top = Field(
        "ip",
        label + fragment_note,
        s,
        end,
        explanation="IPv4 carries a packet from the sending host to the destination host "
        "across any number of networks, one router hop at a time; it promises nothing about "
        "loss, order or duplicates (TCP adds that).",
        children=tuple(fields),
        buffer=buffer,
        problem="; ".join(problems) or None,
    )
    payload_start = s + hlen if header_ok else len(buf)
    return NetworkLayer(
        top,
        4,
        src,
        dst,
        proto if header_ok and length_ok else None,
        payload_start,
        max(end, payload_start),
        max(announced - hlen, 0) if header_ok else 0,
        end,
        first_fragment,
        whole,
        src_raw,
        dst_raw,
    )


def _ipv4_checksum(buf: bytes, s: int, hlen: int, avail: int, checksum: int) -> Shown:
    """The header checksum verified: its display, explanation and problem."""
    explanation = (
        "Protects the header only (not the data): the ones' complement of the ones' "
        "complement sum of its 16-bit words. Routers recompute it at every hop, since the "
        "TTL changes; a packet with a wrong one is dropped."
    )
    problem = None
    if hlen < 20 or avail < hlen:
        status = "cannot verify: header incomplete"
    else:
        header = bytearray(buf[s : s + hlen])
        if internet_checksum(header) == 0:
            status = "correct"
        else:
            header[10:12] = b"\x00\x00"
            expected = internet_checksum(header)
            status = "incorrect"
            problem = f"incorrect checksum (should be {expected:#06x})"
            explanation += (
                " A capture taken on the sending host may show it before the network card "
                "fills it in (checksum offload)."
            )
    return Shown(f"{checksum:#06x} ({status})", explanation, problem)
