"""What TCP, UDP and ICMP dissections share: the result, the checksum check, the payload.

Each transport checksum (RFC 9293 §3.1, RFC 768, RFC 792, RFC 4443 §2.3) is the
Internet checksum over the segment and, except for ICMP over IPv4, a pseudo-header
of IP addresses, protocol and length: `checksum` verifies it and says how.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer
from simulator.dissect.layout import Shown
from simulator.ip.checksum import internet_checksum
from simulator.text import plural

TCP_PROTO, UDP_PROTO, ICMP_PROTO, ICMPV6_PROTO = 6, 17, 1, 58


@dataclass(frozen=True, slots=True)
class TransportLayer:
    """A TCP segment, UDP datagram or ICMP message, dissected."""

    field: Field
    protocol: str  # "TCP", "UDP", "ICMP", "ICMPv6"
    srcport: int | None
    dstport: int | None
    payload_start: int  # the application data, in the buffer
    payload_end: int
    info: str  # Wireshark's Info column without the addresses: "[SYN] Seq=0 Win=65495 Len=0"


def _unverifiable(
    buf: bytes, start: int, length: int, network: NetworkLayer | None, proto: int | None
) -> str | None:
    """Why the checksum cannot be checked, or None if it can."""
    if network is None and proto is not None:
        return "cannot verify: no IP header"
    if network is not None and not network.whole:
        return "cannot verify: the packet is a fragment"
    if len(buf) - start < length:
        return "cannot verify: the capture is truncated"
    return None


def _sum_with(
    buf: bytes,
    start: int,
    length: int,
    network: NetworkLayer | None,
    proto: int | None,
    *,
    zero_at: int | None = None,
) -> int:
    """The Internet checksum over the pseudo-header (if `proto`) and the segment."""
    segment = bytearray(buf[start : start + length])
    if zero_at is not None:
        segment[zero_at : zero_at + 2] = b"\x00\x00"
    pseudo = b"" if proto is None or network is None else network.pseudo_header(proto, length)
    return internet_checksum(pseudo + segment)


def _offloaded(value: int, length: int, network: NetworkLayer | None, proto: int | None) -> bool:
    """Whether `value` is what a kernel leaves for checksum offload: the ones' complement
    sum of the pseudo-header alone, not complemented (the card adds the segment's sum and
    complements it)."""
    if proto is None or network is None:
        return False
    return value == ~internet_checksum(network.pseudo_header(proto, length)) & 0xFFFF


def checksum(
    buf: bytes,
    start: int,
    length: int,
    at: int,
    network: NetworkLayer | None,
    proto: int | None,
    explanation: str,
) -> Shown:
    """The checksum at `at` in the `length`-byte segment at `buf[start:]`, verified.

    `proto` puts the pseudo-header of `network` under the sum (None: ICMP over IPv4,
    which has none).
    """
    value = int.from_bytes(buf[start + at : start + at + 2], "big")
    problem = None
    status = _unverifiable(buf, start, length, network, proto)
    if status is None and _sum_with(buf, start, length, network, proto) == 0:
        status = "correct"
    elif status is None and _offloaded(value, length, network, proto):
        full = _sum_with(buf, start, length, network, proto, zero_at=at)
        status = f"left to checksum offload; filled in: {full:#06x}"
        explanation += (
            " This one holds only the pseudo-header's sum: the sending kernel left the rest "
            "to the network card (checksum offload). A capture on the sending host sees it "
            "before the card fills it in, and on the loopback interface nothing ever does: "
            "the bytes never leave memory, so the receiving kernel does not check them."
        )
    elif status is None:
        status = "incorrect"
        expected = _sum_with(buf, start, length, network, proto, zero_at=at)
        if proto == UDP_PROTO and expected == 0:
            expected = 0xFFFF  # RFC 768: a computed zero is sent as all ones
        problem = f"incorrect checksum (should be {expected:#06x})"
        explanation += (
            " A capture taken on the sending host may show it before the network card "
            "fills it in (checksum offload)."
        )
    return Shown(f"{value:#06x} ({status})", explanation, problem)


def payload_field(
    name: str, label: str, buf: bytes, start: int, announced: int, explanation: str, buffer: int
) -> Field:
    """The `announced` bytes of data at `buf[start:]`, as far as the capture has them."""
    data = buf[start : start + max(announced, 0)]
    problem = None
    if len(data) < announced:
        problem = f"truncated: {plural(announced, 'byte')} announced, {len(data)} captured"
    return Field(
        name,
        f"{label} ({plural(announced, 'byte')})",
        start,
        start + len(data),
        value=data,
        explanation=explanation,
        buffer=buffer,
        problem=problem,
    )
