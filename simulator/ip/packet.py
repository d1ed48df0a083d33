"""IPv4 datagrams as bytes: build, read, forward (RFC 791, RFC 1812, RFC 1624).

Theory of operation
-------------------
An IPv4 datagram is a header followed by the payload handed down by TCP, UDP or
ICMP. The header (RFC 791 §3.1) is 20 bytes when it carries no options, five
32-bit words in network byte order::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version|  IHL  |Type of Service|          Total Length         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Identification        |Flags|      Fragment Offset    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Time to Live |    Protocol   |         Header Checksum       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       Source Address                          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Destination Address                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

IHL counts 32-bit words, so the header is ``IHL * 4`` bytes; Total Length
counts the header and the payload in bytes. The header checksum covers the
header only, never the payload (TCP, UDP and ICMP carry their own).

A router forwarding a datagram decrements its TTL (RFC 1812 §5.3.1) and must
then fix the header checksum. Rather than summing the whole header again it
can adjust the old checksum by the one 16-bit word that changed — the
incremental update of RFC 1624 — which is what real routers do and what
:func:`decrement_ttl` does.

The simulation builds around a hundred thousand packets per run, so
:func:`build_ipv4` is plain :mod:`struct` and integer arithmetic; the tests
hold it byte for byte against scapy.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

from simulator.ip.checksum import internet_checksum, ones_complement_sum

# RFC 790 ("Assigned Numbers"), now the IANA protocol-numbers registry.
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17

PROTOCOL_NAMES: dict[int, str] = {PROTO_ICMP: "ICMP", PROTO_TCP: "TCP", PROTO_UDP: "UDP"}

# RFC 791 §3.1 "Flags": bit 0 reserved (must be zero), bit 1 DF, bit 2 MF,
# as the 3-bit value of the `flags` field.
FLAG_DF = 0b010
FLAG_MF = 0b001

HEADER_LENGTH = 20  # RFC 791 §3.1: IHL = 5 words when there are no options
MAX_TOTAL_LENGTH = 0xFFFF  # Total Length is a 16-bit field
MAX_FRAGMENT_OFFSET = 0x1FFF  # 13 bits, in units of 8 bytes

_HEADER = struct.Struct("!BBHHHBBH4s4s")
_WORDS = struct.Struct("!HH")
_WORD = struct.Struct("!H")


class IPv4Header(NamedTuple):
    """The fields of an IPv4 header as they appear on the wire (RFC 791 §3.1).

    `flags` is the 3-bit field (see `FLAG_DF`, `FLAG_MF`); `fragment_offset`
    is in units of 8 bytes, as on the wire; `src` and `dst` are 4 packed bytes.
    """

    version: int
    ihl: int
    tos: int
    total_length: int
    identification: int
    flags: int
    fragment_offset: int
    ttl: int
    protocol: int
    checksum: int
    src: bytes
    dst: bytes

    @property
    def header_length(self) -> int:
        """The header's length in bytes (IHL counts 32-bit words)."""
        return self.ihl * 4

    @property
    def payload_length(self) -> int:
        """The length in bytes of what follows the header."""
        return self.total_length - self.ihl * 4

    @property
    def dont_fragment(self) -> bool:
        """DF: a router must drop rather than fragment this datagram."""
        return bool(self.flags & FLAG_DF)

    @property
    def more_fragments(self) -> bool:
        """MF: more fragments of the same datagram follow this one."""
        return bool(self.flags & FLAG_MF)

    def __str__(self) -> str:
        """A one-liner: ``IPv4 10.0.0.1 → 10.0.2.7 TCP ttl 64 len 1480``."""
        proto = PROTOCOL_NAMES.get(self.protocol, f"proto {self.protocol}")
        return (
            f"IPv4 {address_text(self.src)} → {address_text(self.dst)} {proto} "
            f"ttl {self.ttl} len {self.total_length}"
        )


def build_ipv4(
    src: bytes,
    dst: bytes,
    protocol: int,
    payload: bytes,
    *,
    ttl: int = 64,
    identification: int = 0,
    dont_fragment: bool = True,
    tos: int = 0,
    more_fragments: bool = False,
    fragment_offset: int = 0,
) -> bytes:
    """A complete IPv4 datagram: a 20-byte header (no options) and `payload`.

    `src` and `dst` are 4-byte packed addresses (see :func:`pack_address`).
    Total Length and the header checksum are computed. `fragment_offset` is in
    units of 8 bytes, as in the header. Raises `ValueError` on a field that
    does not fit.
    """
    if len(src) != 4 or len(dst) != 4:
        raise ValueError(
            f"IPv4 addresses are 4 bytes; got {len(src)}-byte source, {len(dst)}-byte destination"
        )
    total_length = HEADER_LENGTH + len(payload)
    if total_length > MAX_TOTAL_LENGTH:
        # RFC 791 §3.1: Total Length is 16 bits, so a datagram is at most 65535 bytes.
        raise ValueError(f"payload of {len(payload)} bytes does not fit in one IPv4 datagram")
    if not 0 <= fragment_offset <= MAX_FRAGMENT_OFFSET:
        raise ValueError(f"fragment offset {fragment_offset} is not a 13-bit value")
    flags_fragment = (
        (FLAG_DF << 13 if dont_fragment else 0)
        | (FLAG_MF << 13 if more_fragments else 0)
        | fragment_offset
    )
    # The header checksum (RFC 791 §3.1, computed as in RFC 1071): the one's-
    # complement sum of the header's 16-bit words with the checksum field zero,
    # inverted. Summed straight from the fields so the header is packed once.
    src_hi, src_lo = _WORDS.unpack(src)
    dst_hi, dst_lo = _WORDS.unpack(dst)
    total = (
        (0x4500 | tos) + total_length + identification + flags_fragment
        + (ttl << 8 | protocol) + src_hi + src_lo + dst_hi + dst_lo
    )  # fmt: skip
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    try:
        header = _HEADER.pack(
            0x45,  # version 4, IHL 5
            tos,
            total_length,
            identification,
            flags_fragment,
            ttl,
            protocol,
            ~total & 0xFFFF,
            src,
            dst,
        )
    except struct.error as exc:
        raise ValueError(
            f"an IPv4 header field is out of range (tos {tos}, identification "
            f"{identification}, ttl {ttl}, protocol {protocol}): {exc}"
        ) from None
    return header + payload


def parse_ipv4(packet: bytes) -> IPv4Header:
    """The header of `packet`, checked the way a router checks it (RFC 1812 §5.2.2).

    Raises `ValueError` naming the problem when the packet is shorter than a
    header, is not version 4, has an IHL below 5, or its Total Length is
    smaller than its header or larger than the bytes given (bytes past Total
    Length, such as Ethernet padding, are allowed). The checksum is read, not
    verified: see :func:`header_checksum_ok`.
    """
    if len(packet) < HEADER_LENGTH:
        raise ValueError(
            f"too short for an IPv4 header: {len(packet)} bytes, at least {HEADER_LENGTH} needed"
        )
    (
        version_ihl,
        tos,
        total_length,
        identification,
        flags_fragment,
        ttl,
        protocol,
        checksum,
        src,
        dst,
    ) = _HEADER.unpack_from(packet)
    version, ihl = version_ihl >> 4, version_ihl & 0x0F
    if version != 4:
        raise ValueError(f"not an IPv4 packet: version field is {version}")
    if ihl < 5:
        raise ValueError(f"IHL is {ihl}; an IPv4 header is at least 5 words (20 bytes)")
    if len(packet) < ihl * 4:
        raise ValueError(f"IHL says a {ihl * 4}-byte header but only {len(packet)} bytes given")
    if total_length < ihl * 4:
        raise ValueError(f"total length {total_length} is shorter than the {ihl * 4}-byte header")
    if total_length > len(packet):
        raise ValueError(
            f"truncated packet: total length is {total_length} but only {len(packet)} bytes given"
        )
    return IPv4Header(
        version,
        ihl,
        tos,
        total_length,
        identification,
        flags_fragment >> 13,
        flags_fragment & MAX_FRAGMENT_OFFSET,
        ttl,
        protocol,
        checksum,
        src,
        dst,
    )


def header_length(packet: bytes) -> int:
    """The header length in bytes, from the IHL field (RFC 791 §3.1)."""
    if not packet:
        raise ValueError("empty packet has no IPv4 header")
    return (packet[0] & 0x0F) * 4


def payload_of(packet: bytes) -> bytes:
    """The bytes after the header, up to Total Length (link-layer padding dropped).

    Validates the header as :func:`parse_ipv4` does.
    """
    header = parse_ipv4(packet)
    return bytes(packet[header.ihl * 4 : header.total_length])


def header_checksum_ok(packet: bytes) -> bool:
    """Whether the header checksum verifies: the header's words sum to all ones.

    RFC 1812 §5.2.2: a router verifies the checksum of every datagram it
    receives. False too for a packet too short to hold the header its IHL
    announces.
    """
    length = header_length(packet) if packet else 0
    if length < HEADER_LENGTH or len(packet) < length:
        return False
    return ones_complement_sum(memoryview(packet)[:length]) == 0xFFFF


def header_checksum(packet: bytes) -> int:
    """The checksum the header of `packet` should carry, computed from scratch."""
    length = header_length(packet)
    header = bytearray(packet[:length])
    header[10:12] = b"\0\0"
    return internet_checksum(header)


def update_checksum(checksum: int, old_word: int, new_word: int) -> int:
    """The checksum after one 16-bit word covered by it changes from `old_word` to `new_word`.

    RFC 1624 §3, eqn. 3: ``HC' = ~(~HC + ~m + m')`` in one's-complement
    arithmetic. Unlike RFC 1141's ``HC' = HC + m + ~m'`` it never produces
    0xFFFF (negative zero) where a full recomputation gives 0x0000, because a
    one's-complement sum with end-around carry of addends that are not all
    zero is never +0.
    """
    total = (~checksum & 0xFFFF) + (~old_word & 0xFFFF) + new_word
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def decrement_ttl(packet: bytes) -> bytes:
    """A copy of `packet` with its TTL one lower and the header checksum updated.

    RFC 1812 §5.3.1: a router decrements the TTL of each datagram it forwards;
    if that leaves 0, the datagram is discarded and ICMP Time Exceeded sent
    (the caller's decision: the returned packet simply carries TTL 0). The
    checksum is adjusted incrementally (RFC 1624 eqn. 3) for the word holding
    TTL and Protocol, not recomputed. Raises `ValueError` on a packet shorter
    than a header or whose TTL is already 0.
    """
    if len(packet) < HEADER_LENGTH:
        raise ValueError(
            f"too short for an IPv4 header: {len(packet)} bytes, at least {HEADER_LENGTH} needed"
        )
    ttl = packet[8]
    if ttl == 0:
        raise ValueError("TTL is already 0; the datagram should have been discarded")
    old_word = ttl << 8 | packet[9]  # TTL and Protocol share one 16-bit word
    checksum = update_checksum(_WORD.unpack_from(packet, 10)[0], old_word, old_word - 0x100)
    forwarded = bytearray(packet)
    forwarded[8] = ttl - 1
    _WORD.pack_into(forwarded, 10, checksum)
    return bytes(forwarded)


def pack_address(text: str) -> bytes:
    """``"10.0.2.7"`` → ``b"\\x0a\\x00\\x02\\x07"``; strict dotted quad, else `ValueError`."""
    return ipaddress.IPv4Address(text).packed


def address_text(address: bytes) -> str:
    """``b"\\x0a\\x00\\x02\\x07"`` → ``"10.0.2.7"``."""
    if len(address) != 4:
        raise ValueError(f"an IPv4 address is 4 bytes, got {len(address)}")
    return f"{address[0]}.{address[1]}.{address[2]}.{address[3]}"


__all__ = [
    "FLAG_DF",
    "FLAG_MF",
    "HEADER_LENGTH",
    "PROTOCOL_NAMES",
    "PROTO_ICMP",
    "PROTO_TCP",
    "PROTO_UDP",
    "IPv4Header",
    "address_text",
    "build_ipv4",
    "decrement_ttl",
    "header_checksum",
    "header_checksum_ok",
    "header_length",
    "pack_address",
    "parse_ipv4",
    "payload_of",
    "update_checksum",
]
