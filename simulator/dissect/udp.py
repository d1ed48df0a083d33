"""UDP (RFC 768): ports, a length and a checksum, and the datagram.

 0      7 8     15 16    23 24    31
+--------+--------+--------+--------+
|     Source      |   Destination   |
|      Port       |      Port       |
+--------+--------+--------+--------+
|                 |                 |
|     Length      |    Checksum     |
+--------+--------+--------+--------+
|          data octets ...
+---------------- ...
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer
from simulator.dissect.layout import Layout, Shown, Slot
from simulator.dissect.registry import Kind, define
from simulator.dissect.transport import UDP_PROTO, TransportLayer, checksum, payload_field
from simulator.text import plural


@dataclass(frozen=True, slots=True)
class _Datagram:
    """What the UDP slots' wording needs besides their own values."""

    length: int  # the datagram's length as the IP header announces it
    checksum: Shown


UDP_HEADER: Layout[_Datagram] = Layout("UDP", 8, (
    Slot("udp.srcport", "Source port", Kind.UINT,
         "The sending application's port (0: no reply expected)", 0, 2,
         explanation="The sending application's port (0 if no reply is expected)."),
    Slot("udp.dstport", "Destination port", Kind.UINT, "The receiving application's port",
         2, 2, explanation="The receiving application's port (53 for DNS, 443 for QUIC)."),
    Slot("udp.length", "Length", Kind.UINT, "The datagram's length, header and data, in bytes",
         4, 2, display=lambda v, _: plural(v, "byte"),
         explanation="Header (8 bytes) plus data.",
         problem=lambda v, c: None if 8 <= v <= c.length
         else "does not match the IP payload length"),
    Slot("udp.checksum", "Checksum", Kind.UINT,
         "The checksum over the datagram and a pseudo-header (0 over IPv4: none)", 6, 2,
         shown=lambda _, c: c.checksum),
))  # fmt: skip

define("udp", Kind.PROTOCOL, "User Datagram Protocol (RFC 768)")
define("udp.payload", Kind.BYTES, "The application's datagram")

# RFC 768: an all-zero checksum means the sender computed none; RFC 8200 §8.1 forbids it
# over IPv6.
_NO_CHECKSUM = Shown(
    "0x0000 (none)",
    "Zero: the sender did not compute a checksum (allowed over IPv4, not over IPv6).",
)


def dissect_udp(
    buf: bytes,
    start: int = 0,
    *,
    length: int | None = None,
    network: NetworkLayer | None = None,
    buffer: int = 0,
) -> TransportLayer:
    """Dissect the UDP datagram at `buf[start:]`."""
    s = start
    avail = len(buf) - start
    if length is None:
        length = avail
    header = UDP_HEADER.read(buf, s)
    sport, dport = header.number("udp.srcport"), header.number("udp.dstport")
    if header.number("udp.checksum") == 0 and (network is None or network.version == 4):
        verdict = _NO_CHECKSUM
    else:
        verdict = checksum(
            buf,
            s,
            length,
            6,
            network,
            UDP_PROTO,
            "Covers the datagram plus a pseudo-header of IP addresses, protocol and length.",
        )
    fields = UDP_HEADER.fields(header, _Datagram(length, verdict), buffer=buffer)
    data_length = max(length - 8, 0)
    if avail >= 8 and data_length:
        fields.append(
            payload_field(
                "udp.payload",
                "UDP payload",
                buf,
                s + 8,
                data_length,
                "The application's datagram, delivered whole or not at all.",
                buffer,
            )
        )
    end = min(s + max(length, 8), len(buf))
    top = Field(
        "udp",
        f"User Datagram Protocol, Src Port: {sport}, Dst Port: {dport}",
        s,
        end,
        explanation="UDP adds ports and a checksum to IP and nothing else: no connection, no "
        "ordering, no retransmission.",
        children=tuple(fields),
        buffer=buffer,
        problem=None if avail >= 8 else "truncated: the header needs 8 bytes",
    )
    return TransportLayer(
        top,
        "UDP",
        sport if avail >= 2 else None,
        dport if avail >= 4 else None,
        min(s + 8, len(buf)),
        end,
        f"Len={data_length}",
    )
