"""The network layer: IPv4 in depth (RFC 791), IPv6 by its fixed header (RFC 8200).

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

scapy decodes the header's values; the spans come from the layout above, so
every field points at its exact bytes (and bits). Nothing here raises on bad
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


# --- IPv4 ---------------------------------------------------------------------------


_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_SCAPY_LAYERS: dict[str, tuple[Any, tuple[Any, ...]]] = {}


def scapy_decode(layer: str, header: bytes) -> dict[str, Any]:
    """The fixed header fields of scapy's `layer` ("IP" or "TCP"), decoded from `header`.

    This runs scapy's own field decoders in wire order, as `Packet.dissect` does,
    but stops before the options and skips building a packet object (a third of
    the cost). scapy is imported on first use: it takes most of a second.
    """
    entry = _SCAPY_LAYERS.get(layer)
    if entry is None:
        from scapy.layers.inet import IP, TCP

        cls = {"IP": IP, "TCP": TCP}[layer]
        fixed = tuple(f for f in cls.fields_desc if f.name != "options")
        entry = _SCAPY_LAYERS[layer] = (cls(), fixed)
    prototype, fields = entry
    values: dict[str, Any] = {}
    rest: Any = header
    for field in fields:
        rest, values[field.name] = field.getfield(prototype, rest)
    return values


def _decode_ipv4(header: bytes) -> tuple[int, ...]:
    """The fixed header's values, decoded by scapy (a 20-byte slice, zero-padded if short)."""
    try:
        v = scapy_decode("IP", header)
        return (
            v["version"], v["ihl"], v["tos"], v["len"], v["id"], int(v["flags"]), v["frag"],
            v["ttl"], v["proto"], v["chksum"],
        )  # fmt: skip
    except Exception:  # scapy refused the bytes: read them directly instead
        vihl, tos, length, ident, frag, ttl, proto, checksum, _, _ = _IPV4.unpack(header)
        flags, frag = frag >> 13, frag & 0x1FFF
        return vihl >> 4, vihl & 15, tos, length, ident, flags, frag, ttl, proto, checksum


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


def _address_field(name: str, label: str, raw: bytes, start: int, buffer: int) -> Field:
    text, note = address_text(raw)
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
    return Field(
        name,
        label,
        start,
        start + len(raw),
        value=text,
        display=f"{text} ({note})" if note else text,
        explanation=explanation,
        buffer=buffer,
    )


def dissect_ipv4(buf: bytes, start: int = 0, *, buffer: int = 0) -> NetworkLayer:
    """Dissect the IPv4 packet at `buf[start:]`; spans are positions in `buf`."""
    s, b = start, start * 8
    avail = len(buf) - start
    header = buf[start : start + 20]
    (version, ihl, tos, total, ident, flags, frag, ttl, proto, checksum) = _decode_ipv4(
        header.ljust(20, b"\x00")
    )
    hlen = ihl * 4
    problems: list[str] = []
    fields: list[Field] = [
        Field(
            "ip.version",
            "Version",
            s,
            s + 1,
            value=version,
            explanation="The IP version: 4. A receiver reads this first to know how to parse "
            "the rest.",
            bits=(b, b + 4),
            buffer=buffer,
            problem=None if version == 4 else f"version {version} in an IPv4 packet",
        ),
        Field(
            "ip.ihl",
            "Header length (IHL)",
            s,
            s + 1,
            value=ihl,
            display=f"{ihl} ({plural(hlen, 'byte')})",
            explanation="The header length in 32-bit words: 5 (20 bytes) without options, at "
            "most 15 (60 bytes).",
            bits=(b + 4, b + 8),
            buffer=buffer,
            problem=None if ihl >= 5 else "below the minimum of 5 (20 bytes)",
        ),
        Field(
            "ip.dscp",
            "Differentiated services (DSCP)",
            s + 1,
            s + 2,
            value=tos >> 2,
            display=f"{tos >> 2} ({dscp_name(tos >> 2)})",
            explanation="Asks routers for a class of service (e.g. low delay for voice); "
            "0 is ordinary best-effort traffic.",
            bits=(b + 8, b + 14),
            buffer=buffer,
        ),
        Field(
            "ip.ecn",
            "Explicit congestion notification (ECN)",
            s + 1,
            s + 2,
            value=tos & 3,
            display=f"{tos & 3} ({ECN_NAMES[tos & 3]})",
            explanation="Lets a congested router mark the packet instead of dropping it, if "
            "both ends negotiated ECN (RFC 3168).",
            bits=(b + 14, b + 16),
            buffer=buffer,
        ),
        Field(
            "ip.len",
            "Total length",
            s + 2,
            s + 4,
            value=total,
            display=plural(total, "byte"),
            explanation="The whole packet, header and data, in bytes (at most 65535). "
            "Anything after it in the frame is link-layer padding.",
            buffer=buffer,
            problem=None if total >= max(hlen, 20) else "smaller than the header",
        ),
        Field(
            "ip.id",
            "Identification",
            s + 4,
            s + 6,
            value=ident,
            display=f"{ident:#06x} ({ident})",
            explanation="Chosen by the sender; all fragments of one packet share it so the "
            "receiver can put them back together.",
            buffer=buffer,
        ),
        _flags_field(s, b, flags, buffer),
        Field(
            "ip.frag",
            "Fragment offset",
            s + 6,
            s + 8,
            value=frag,
            display=f"{frag}" if not frag else f"{frag} ({plural(frag * 8, 'byte')})",
            explanation="Where this fragment's data belongs in the original packet, in units "
            "of 8 bytes; 0 for the first fragment or an unfragmented packet.",
            bits=(b + 51, b + 64),
            buffer=buffer,
        ),
        Field(
            "ip.ttl",
            "Time to live",
            s + 8,
            s + 9,
            value=ttl,
            explanation="Every router that forwards the packet lowers it by 1; at 0 the "
            "packet is dropped and an ICMP Time Exceeded goes back, so loops cannot last "
            "(traceroute relies on this). Senders often start at 64 or 128.",
            buffer=buffer,
            problem="0: no host may send this (RFC 1122), and a router drops it"
            if ttl == 0
            else None,
        ),
        Field(
            "ip.proto",
            "Protocol",
            s + 9,
            s + 10,
            value=proto,
            display=f"{proto} ({protocol_name(proto)})",
            explanation="Which protocol the data is for (6 TCP, 17 UDP, 1 ICMP): the "
            "receiving host hands the payload to that handler.",
            buffer=buffer,
        ),
        _ipv4_checksum_field(buf, s, hlen, avail, checksum, buffer),
    ]
    src_raw, dst_raw = buf[s + 12 : s + 16], buf[s + 16 : s + 20]
    if avail >= 16:
        fields.append(_address_field("ip.src", "Source address", src_raw, s + 12, buffer))
    if avail >= 20:
        fields.append(_address_field("ip.dst", "Destination address", dst_raw, s + 16, buffer))
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
    fields = [f for f in fields if f.end <= len(buf)]

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


def _flags_field(s: int, b: int, flags: int, buffer: int) -> Field:
    names = [
        n
        for bit, n in ((4, "Reserved"), (2, "Don't fragment"), (1, "More fragments"))
        if flags & bit
    ]
    children = (
        Field(
            "ip.flags.rb",
            "Reserved bit",
            s + 6,
            s + 7,
            value=bool(flags & 4),
            explanation="Reserved: must be zero.",
            bits=(b + 48, b + 49),
            buffer=buffer,
            problem="set, but it must be zero" if flags & 4 else None,
        ),
        Field(
            "ip.flags.df",
            "Don't fragment (DF)",
            s + 6,
            s + 7,
            value=bool(flags & 2),
            explanation="Routers must not split this packet: if it is too big for the next "
            "link they drop it and say so by ICMP, which is how path-MTU discovery works.",
            bits=(b + 49, b + 50),
            buffer=buffer,
        ),
        Field(
            "ip.flags.mf",
            "More fragments (MF)",
            s + 6,
            s + 7,
            value=bool(flags & 1),
            explanation="Set on every fragment but the last of a packet that was split.",
            bits=(b + 50, b + 51),
            buffer=buffer,
        ),
    )
    return Field(
        "ip.flags",
        "Flags",
        s + 6,
        s + 7,
        value=flags,
        display=f"{flags:#x}" + (f" ({', '.join(names)})" if names else ""),
        explanation="Three bits that control fragmentation: reserved, don't fragment, more "
        "fragments.",
        bits=(b + 48, b + 51),
        children=children,
        buffer=buffer,
    )


def _ipv4_checksum_field(
    buf: bytes, s: int, hlen: int, avail: int, checksum: int, buffer: int
) -> Field:
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
    return Field(
        "ip.checksum",
        "Header checksum",
        s + 10,
        s + 12,
        value=checksum,
        display=f"{checksum:#06x} ({status})",
        explanation=explanation,
        buffer=buffer,
        problem=problem,
    )


# --- IPv6, its fixed header only -------------------------------------------------------


def dissect_ipv6(buf: bytes, start: int = 0, *, buffer: int = 0) -> NetworkLayer:
    """Name the fixed 40-byte IPv6 header at `buf[start:]` (extension headers are data)."""
    s, b = start, start * 8
    avail = len(buf) - start
    head = buf[s : s + 40].ljust(40, b"\x00")
    word, plen, nxt, hlim = struct.unpack_from("!IHBB", head)
    version, tclass, flow = word >> 28, (word >> 20) & 0xFF, word & 0xFFFFF
    src_raw, dst_raw = head[8:24], head[24:40]
    fields = [
        Field(
            "ipv6.version",
            "Version",
            s,
            s + 1,
            value=version,
            explanation="The IP version: 6.",
            bits=(b, b + 4),
            buffer=buffer,
            problem=None if version == 6 else f"version {version} in an IPv6 packet",
        ),
        Field(
            "ipv6.tclass",
            "Traffic class",
            s,
            s + 2,
            value=tclass,
            display=f"{tclass:#04x} (DSCP {tclass >> 2}, ECN {tclass & 3})",
            explanation="The same DSCP and ECN bits as IPv4's second byte.",
            bits=(b + 4, b + 12),
            buffer=buffer,
        ),
        Field(
            "ipv6.flow",
            "Flow label",
            s + 1,
            s + 4,
            value=flow,
            display=f"{flow:#07x}",
            explanation="Marks packets of one flow so routers can keep them on one path.",
            bits=(b + 12, b + 32),
            buffer=buffer,
        ),
        Field(
            "ipv6.plen",
            "Payload length",
            s + 4,
            s + 6,
            value=plen,
            display=plural(plen, "byte"),
            explanation="Bytes after this 40-byte header (extension headers included).",
            buffer=buffer,
        ),
        Field(
            "ipv6.nxt",
            "Next header",
            s + 6,
            s + 7,
            value=nxt,
            display=f"{nxt} ({protocol_name(nxt)})",
            explanation="What follows this header: an extension header or the payload's "
            "protocol (6 TCP, 17 UDP, 58 ICMPv6).",
            buffer=buffer,
        ),
        Field(
            "ipv6.hlim",
            "Hop limit",
            s + 7,
            s + 8,
            value=hlim,
            explanation="IPv4's TTL under an honest name: each router lowers it by 1 and "
            "drops the packet at 0.",
            buffer=buffer,
        ),
    ]
    if avail >= 24:
        fields.append(_address_field("ipv6.src", "Source address", src_raw, s + 8, buffer))
    if avail >= 40:
        fields.append(_address_field("ipv6.dst", "Destination address", dst_raw, s + 24, buffer))
    fields = [f for f in fields if f.end <= len(buf)]
    problems = []
    header_ok = avail >= 40
    if not header_ok:
        problems.append(
            f"truncated: the header needs 40 bytes, only {plural(max(avail, 0), 'byte')} here"
        )
    elif plen > avail - 40:
        problems.append(
            f"truncated: the packet announces {40 + plen} bytes, only {plural(avail, 'byte')} here"
        )
    end = min(s + 40 + plen, len(buf)) if header_ok else len(buf)
    src = address_text(src_raw)[0] if avail >= 24 else None
    dst = address_text(dst_raw)[0] if header_ok else None
    label = "Internet Protocol Version 6"
    if src and dst:
        label += f", Src: {src}, Dst: {dst}"
    top = Field(
        "ipv6",
        label,
        s,
        end,
        explanation="IPv6: the same job as IPv4 with 128-bit addresses and a fixed 40-byte "
        "header; routers never fragment, and there is no header checksum.",
        children=tuple(fields),
        buffer=buffer,
        problem="; ".join(problems) or None,
    )
    payload_start = s + 40 if header_ok else len(buf)
    return NetworkLayer(
        top,
        6,
        src,
        dst,
        nxt if header_ok else None,
        payload_start,
        max(end, payload_start),
        plen if header_ok else 0,
        end,
        True,
        True,
        src_raw,
        dst_raw,
    )
