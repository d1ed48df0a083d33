"""A fast, light TCP/IP reader for captured frames: link header → IPv4/IPv6 → TCP.

No scapy here: plain byte offsets and `struct`, a few microseconds a packet, for
stream reassembly and for looking up connections while a capture is indexed.
The dissectors (simulator/dissect) are the place for full, explained field trees.

What is understood:

- link types NULL and LOOP (4-byte address family), ETHERNET (with any number of
  802.1Q / 802.1ad VLAN tags), RAW / IPV4 / IPV6 (no link header), LINUX_SLL and
  LINUX_SLL2;
- IPv4 (not fragments: a fragment's TCP header may be elsewhere) and IPv6 with
  hop-by-hop, routing and destination-options extension headers (not fragments);
- TCP (RFC 9293 §3.1): ports, seq, ack, flags, window, payload.

Anything else, or a header cut short, gives None.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

from simulator.tcp.segment import ACK, CWR, ECE, FIN, FLAG_NAMES, PSH, RST, SYN, URG
from simulator.trace.records import Endpoint, Layer, LinkType, WireRecord

LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IPV6 = 229
# Raw IP: 101 is the pcap value; 12 and 14 are DLT_RAW as some systems numbered it.
_RAW_IP = frozenset({LinkType.RAW, LinkType.IPV4, LINKTYPE_IPV6, 12, 14})
_ETHER_IP = frozenset({0x0800, 0x86DD})
_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options

_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, data offset, flags, window


class Segment(NamedTuple):
    """One TCP segment as a captured frame carried it."""

    src: Endpoint
    dst: Endpoint
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes  # what the capture holds of the payload
    payload_length: int  # the payload's length per the IP header (more when the capture cut it)
    wscale: int | None = None  # a SYN's Window Scale shift count (RFC 7323 §2.2), if it has one

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)

    @property
    def flag_names(self) -> str:
        """The flags set, as Wireshark lists them: "SYN, ACK", "FIN, ACK", "PSH, ACK"."""
        return ", ".join(name for bit, name in FLAG_NAMES if self.flags & bit)

    def __str__(self) -> str:
        return (
            f"TCP {self.src} → {self.dst} [{self.flag_names}] seq={self.seq} ack={self.ack} "
            f"len={self.payload_length}"
        )


def ip_offset(data: bytes, link_type: int, start: int = 0) -> int:
    """Where the IP header starts in a frame of `link_type`, or -1 if it carries no IP."""
    size = len(data)
    if link_type in _RAW_IP:
        return start
    if link_type == LinkType.ETHERNET:
        pos = start + 12
        if pos + 2 > size:
            return -1
        ethertype = (data[pos] << 8) | data[pos + 1]
        while ethertype in _VLAN:
            pos += 4
            if pos + 2 > size:
                return -1
            ethertype = (data[pos] << 8) | data[pos + 1]
        return pos + 2 if ethertype in _ETHER_IP else -1
    if link_type in (LinkType.NULL, LinkType.LOOP):
        # The family's value differs between systems (and its byte order for NULL):
        # the IP version nibble, checked next, is what tells.
        return start + 4
    if link_type == LinkType.LINUX_SLL:
        if start + 16 > size:
            return -1
        return start + 16 if ((data[start + 14] << 8) | data[start + 15]) in _ETHER_IP else -1
    if link_type == LINKTYPE_LINUX_SLL2:
        if start + 20 > size:
            return -1
        return start + 20 if ((data[start] << 8) | data[start + 1]) in _ETHER_IP else -1
    return -1


def locate_tcp(data: bytes, ip: int, end: int) -> tuple[bytes, bytes, int, int, int] | None:
    """Find TCP in the IP packet at `ip`: (src address, dst address, TCP offset, payload
    offset, end of the IP packet as its header announces it), or None."""
    if ip < 0 or ip >= end:
        return None
    version = data[ip] >> 4
    if version == 4:
        if end - ip < 20 or data[ip + 9] != 6:
            return None
        ihl = (data[ip] & 0x0F) * 4
        total = (data[ip + 2] << 8) | data[ip + 3]
        if total == 0:
            total = end - ip  # captured on the sender with segmentation offload
        if ihl < 20 or total < ihl:
            return None
        if ((data[ip + 6] << 8) | data[ip + 7]) & 0x3FFF:
            return None  # a fragment: more-fragments set or a non-zero offset
        src = data[ip + 12 : ip + 16]
        dst = data[ip + 16 : ip + 20]
        tcp = ip + ihl
        ip_end = ip + total
    elif version == 6:
        if end - ip < 40:
            return None
        next_header = data[ip + 6]
        plen = (data[ip + 4] << 8) | data[ip + 5]
        tcp = ip + 40
        while next_header in _IPV6_EXTENSIONS:
            if tcp + 8 > end:
                return None
            next_header = data[tcp]
            tcp += (data[tcp + 1] + 1) * 8
        if next_header != 6 or plen == 0:
            return None  # not TCP, a fragment, or a jumbogram
        src = data[ip + 8 : ip + 24]
        dst = data[ip + 24 : ip + 40]
        ip_end = ip + 40 + plen
    else:
        return None
    if tcp + 20 > end:
        return None
    payload = tcp + (data[tcp + 12] >> 4) * 4
    if payload < tcp + 20 or payload > end or payload > ip_end:
        return None
    return src, dst, tcp, payload, ip_end


def flow_key(data: bytes, link_type: int, start: int = 0, end: int | None = None) -> bytes | None:
    """The TCP connection of the frame in data[start:end], the same both ways, or None.

    Both (address, port) pairs as raw bytes, the lower first: the cheapest key
    there is, for indexing a capture.
    """
    found = locate_tcp(data, ip_offset(data, link_type, start), len(data) if end is None else end)
    if found is None:
        return None
    src, dst, tcp, _, _ = found
    a = src + data[tcp : tcp + 2]
    b = dst + data[tcp + 2 : tcp + 4]
    return a + b if a <= b else b + a


_endpoints: dict[tuple[bytes, int], Endpoint] = {}


def endpoint(address: bytes, port: int) -> Endpoint:
    """The `Endpoint` for a raw 4- or 16-byte address and a port (cached: captures repeat them)."""
    key = (address, port)
    found = _endpoints.get(key)
    if found is None:
        if len(_endpoints) > 65536:
            _endpoints.clear()
        family = socket.AF_INET if len(address) == 4 else socket.AF_INET6
        found = _endpoints[key] = Endpoint(socket.inet_ntop(family, address), port)
    return found


def parse_segment(data: bytes, link_type: int) -> Segment | None:
    """The TCP segment in a captured frame, or None if it holds none (or too little of one)."""
    size = len(data)
    found = locate_tcp(data, ip_offset(data, link_type), size)
    if found is None:
        return None
    src, dst, tcp, payload, ip_end = found
    sport, dport, seq, ack, _, flags, window = _TCP.unpack_from(data, tcp)
    return Segment(
        endpoint(src, sport),
        endpoint(dst, dport),
        seq,
        ack,
        flags,
        window,
        data[payload : min(ip_end, size)],
        ip_end - payload,
        window_scale(data, tcp + 20, payload) if flags & SYN else None,
    )


def window_scale(data: bytes, start: int, end: int) -> int | None:
    """The Window Scale option's shift count among the TCP options in data[start:end].

    `simulator.tcp.wire` walks options too, but importing the TCP package would add
    about 40 ms to every capture reader's start; this walk is lenient besides."""
    i = start
    while i < end:
        kind = data[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end or data[i + 1] < 2:
            return None  # a malformed option list: no reliable value
        if kind == 3 and data[i + 1] == 3 and i + 2 < end:
            return data[i + 2]
        i += data[i + 1]
    return None


_last: tuple[WireRecord | None, Segment | None] = (None, None)


def tcp_segment(record: WireRecord) -> Segment | None:
    """The TCP segment a `Layer.LINK` record carries; None for anything else.

    The analysis, the reassembly and the numbering each ask for the segment of the
    record just read: the last answer is kept (one record, replaced as a whole, so a
    thread only ever sees an answer for the very record it asks about)."""
    global _last
    last = _last
    if last[0] is record:
        return last[1]
    if record.layer is not Layer.LINK:
        return None
    found = parse_segment(record.data, record.link_type)
    _last = (record, found)
    return found


__all__ = [
    "ACK",
    "CWR",
    "ECE",
    "FIN",
    "PSH",
    "RST",
    "SYN",
    "URG",
    "Segment",
    "endpoint",
    "flow_key",
    "ip_offset",
    "locate_tcp",
    "parse_segment",
    "tcp_segment",
    "window_scale",
]
