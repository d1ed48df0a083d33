"""IPv6 (RFC 8200) by its fixed header; extension headers are shown as the payload's data.

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Version| Traffic Class |           Flow Label                  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         Payload Length        |  Next Header  |   Hop Limit   |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                                                               |
+                        Source Address (128 bits)              +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                                                               |
+                      Destination Address (128 bits)           +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer, address_slot, address_text, protocol_name
from simulator.dissect.layout import Layout, Slot
from simulator.dissect.registry import Kind, define
from simulator.text import plural

IPV6_HEADER: Layout[None] = Layout("IPv6", 40, (
    Slot("ipv6.version", "Version", Kind.UINT, "The IP version: 6", bits=(0, 4),
         explanation="The IP version: 6.",
         problem=lambda v, _: None if v == 6 else f"version {v} in an IPv6 packet"),
    Slot("ipv6.tclass", "Traffic class", Kind.UINT,
         "Traffic class: the DSCP and ECN bits, as in IPv4", bits=(4, 12),
         display=lambda v, _: f"{v:#04x} (DSCP {v >> 2}, ECN {v & 3})",
         explanation="The same DSCP and ECN bits as IPv4's second byte."),
    Slot("ipv6.flow", "Flow label", Kind.UINT,
         "Flow label: marks the packets of one flow", bits=(12, 32),
         display=lambda v, _: f"{v:#07x}",
         explanation="Marks packets of one flow so routers can keep them on one path."),
    Slot("ipv6.plen", "Payload length", Kind.UINT,
         "Bytes after the 40-byte header, extension headers included", 4, 2,
         display=lambda v, _: plural(v, "byte"),
         explanation="Bytes after this 40-byte header (extension headers included)."),
    Slot("ipv6.nxt", "Next header", Kind.UINT,
         "What follows the header: an extension header or the payload's protocol", 6, 1,
         display=lambda v, _: f"{v} ({protocol_name(v)})",
         explanation="What follows this header: an extension header or the payload's "
         "protocol (6 TCP, 17 UDP, 58 ICMPv6)."),
    Slot("ipv6.hlim", "Hop limit", Kind.UINT,
         "Hop limit: each router lowers it by 1 and drops the packet at 0", 7, 1,
         explanation="IPv4's TTL under an honest name: each router lowers it by 1 and "
         "drops the packet at 0."),
    address_slot("ipv6.src", "Source address", Kind.IPV6, 8, "The sending host's address"),
    address_slot("ipv6.dst", "Destination address", Kind.IPV6, 24,
                 "The final destination's address"),
))  # fmt: skip

define("ipv6", Kind.PROTOCOL, "Internet Protocol version 6 (RFC 8200)")


def dissect_ipv6(buf: bytes, start: int = 0, *, buffer: int = 0) -> NetworkLayer:
    """Name the fixed 40-byte IPv6 header at `buf[start:]` (extension headers are data)."""
    s = start
    avail = len(buf) - start
    header = IPV6_HEADER.read(buf, s)
    plen, nxt = header.number("ipv6.plen"), header.number("ipv6.nxt")
    src_raw, dst_raw = header.raw("ipv6.src"), header.raw("ipv6.dst")
    fields = IPV6_HEADER.fields(header, None, buffer=buffer)
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
