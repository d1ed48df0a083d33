"""ICMP: the messages routers and hosts send about IP itself (RFC 792, RFC 1812).

Theory of operation
-------------------
ICMP rides inside IPv4 (protocol 1) but belongs to the IP layer: it is how a
router tells a sender "your datagram died here, and why", and how ``ping``
asks "are you there?". Every message starts with the same 8 bytes
(RFC 792)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         rest of header: unused, or Identifier + Sequence      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     body: echo data, or the start of the offending datagram   |

The checksum is the Internet checksum of the whole ICMP message (header and
body; unlike TCP and UDP there is no pseudo-header).

*Error* messages (Destination Unreachable, Time Exceeded, ...) quote the
datagram that caused them so the sender can tell which of its packets failed:
RFC 792 asks for its IP header plus the first 64 bits of its data — enough for
the TCP or UDP ports. RFC 1812 §4.3.2.3 says a router SHOULD quote as much as
possible without the ICMP datagram exceeding 576 bytes. This module follows
RFC 1812, as Linux does: the quote is the original's header and as much of
its payload as keeps the whole error packet within 576 bytes
(`MAX_ERROR_LENGTH`), never more than the original itself.

Errors are never sent about other errors, about fragments after the first, or
about datagrams that were not for a single host (RFC 1812 §4.3.2.7), so one
lost packet cannot set off a storm of ICMP: :func:`may_send_error` applies
those rules, and a router calls it before building an error.

Error messages go out with IP precedence 6, "internetwork control"
(RFC 1812 §4.3.2.5), that is TOS byte 0xC0, and without the DF flag.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from simulator.ip.checksum import internet_checksum
from simulator.ip.packet import (
    HEADER_LENGTH,
    PROTO_ICMP,
    build_ipv4,
    parse_ipv4,
)

# -- types and codes (RFC 792; code lists completed by RFC 1122 §3.2.2.1 and RFC 1812 §5.2.7.1)
ECHO_REPLY = 0
DEST_UNREACHABLE = 3
SOURCE_QUENCH = 4
REDIRECT = 5
ECHO_REQUEST = 8
TIME_EXCEEDED = 11
PARAMETER_PROBLEM = 12
TIMESTAMP = 13
TIMESTAMP_REPLY = 14

# Destination Unreachable codes
NET_UNREACHABLE = 0
HOST_UNREACHABLE = 1
PROTOCOL_UNREACHABLE = 2
PORT_UNREACHABLE = 3
FRAGMENTATION_NEEDED = 4
SOURCE_ROUTE_FAILED = 5
COMMUNICATION_PROHIBITED = 13

# Time Exceeded codes
TTL_EXCEEDED_IN_TRANSIT = 0
FRAGMENT_REASSEMBLY_TIME_EXCEEDED = 1

#: The types that report an error; RFC 1812 §4.3.2.7 forbids errors about them.
ERROR_TYPES = frozenset(
    {DEST_UNREACHABLE, SOURCE_QUENCH, REDIRECT, TIME_EXCEEDED, PARAMETER_PROBLEM}
)

#: RFC 1812 §4.3.2.3: an ICMP error datagram is at most 576 bytes long.
MAX_ERROR_LENGTH = 576
ICMP_HEADER_LENGTH = 8

#: RFC 1812 §4.3.2.5: IP precedence 6 (internetwork control) for ICMP errors.
PRECEDENCE_INTERNETWORK_CONTROL = 0xC0

TYPE_NAMES: dict[int, str] = {
    ECHO_REPLY: "echo reply",
    DEST_UNREACHABLE: "destination unreachable",
    SOURCE_QUENCH: "source quench",
    REDIRECT: "redirect",
    ECHO_REQUEST: "echo request",
    TIME_EXCEEDED: "time exceeded",
    PARAMETER_PROBLEM: "parameter problem",
    TIMESTAMP: "timestamp",
    TIMESTAMP_REPLY: "timestamp reply",
}

CODE_NAMES: dict[tuple[int, int], str] = {
    (DEST_UNREACHABLE, NET_UNREACHABLE): "network unreachable",
    (DEST_UNREACHABLE, HOST_UNREACHABLE): "host unreachable",
    (DEST_UNREACHABLE, PROTOCOL_UNREACHABLE): "protocol unreachable",
    (DEST_UNREACHABLE, PORT_UNREACHABLE): "port unreachable",
    (DEST_UNREACHABLE, FRAGMENTATION_NEEDED): "fragmentation needed and DF set",
    (DEST_UNREACHABLE, SOURCE_ROUTE_FAILED): "source route failed",
    (DEST_UNREACHABLE, 6): "destination network unknown",
    (DEST_UNREACHABLE, 7): "destination host unknown",
    (DEST_UNREACHABLE, COMMUNICATION_PROHIBITED): "communication administratively prohibited",
    (REDIRECT, 0): "redirect datagrams for the network",
    (REDIRECT, 1): "redirect datagrams for the host",
    (TIME_EXCEEDED, TTL_EXCEEDED_IN_TRANSIT): "TTL expired in transit",
    (TIME_EXCEEDED, FRAGMENT_REASSEMBLY_TIME_EXCEEDED): "fragment reassembly time exceeded",
    (PARAMETER_PROBLEM, 0): "pointer indicates the error",
}

_HEADER = struct.Struct("!BBH4s")
_ECHO_REST = struct.Struct("!HH")


class IcmpMessage(NamedTuple):
    """An ICMP message as on the wire: the 8-byte header split into fields, and the body.

    `rest` is the header's last 4 bytes: unused (zero) in Time Exceeded and
    most Destination Unreachable messages, Identifier and Sequence Number in
    echo messages. `body` is the echo data, or the quoted original datagram of
    an error.
    """

    type: int
    code: int
    checksum: int
    rest: bytes
    body: bytes

    @property
    def is_error(self) -> bool:
        """Whether this message reports an error (RFC 1812 §4.3.2.7)."""
        return self.type in ERROR_TYPES

    @property
    def identifier(self) -> int:
        """Echo Identifier: the first 16 bits of `rest`."""
        return int.from_bytes(self.rest[:2], "big")

    @property
    def sequence(self) -> int:
        """Echo Sequence Number: the last 16 bits of `rest`."""
        return int.from_bytes(self.rest[2:4], "big")

    @property
    def checksum_ok(self) -> bool:
        """Whether the checksum verifies over header and body."""
        data = _HEADER.pack(self.type, self.code, self.checksum, self.rest) + self.body
        return internet_checksum(data) == 0

    def __str__(self) -> str:
        return describe(self)


def build_icmp(type: int, code: int, rest: bytes, body: bytes) -> bytes:
    """The ICMP message itself (no IP header), with its checksum (RFC 792)."""
    if len(rest) != 4:
        raise ValueError(f"the rest of the ICMP header is 4 bytes, got {len(rest)}")
    try:
        message = _HEADER.pack(type, code, 0, rest) + body
    except struct.error as exc:
        raise ValueError(f"ICMP type {type} or code {code} out of range: {exc}") from None
    checksum = internet_checksum(message)
    return message[:2] + checksum.to_bytes(2, "big") + message[4:]


def quote(original: bytes) -> bytes:
    """The part of `original` an error message carries (RFC 1812 §4.3.2.3).

    Its header and as much of its payload as keeps the error datagram within
    `MAX_ERROR_LENGTH` bytes; never past the original's Total Length.
    """
    header = parse_ipv4(original)
    room = MAX_ERROR_LENGTH - HEADER_LENGTH - ICMP_HEADER_LENGTH
    return bytes(original[: min(header.total_length, room)])


def _icmp_packet(
    src: bytes,
    dst: bytes,
    message: bytes,
    *,
    ttl: int,
    identification: int,
    tos: int,
    dont_fragment: bool,
) -> bytes:
    return build_ipv4(
        src,
        dst,
        PROTO_ICMP,
        message,
        ttl=ttl,
        identification=identification,
        tos=tos,
        dont_fragment=dont_fragment,
    )


def time_exceeded(
    router_address: bytes,
    original: bytes,
    *,
    code: int = TTL_EXCEEDED_IN_TRANSIT,
    ttl: int = 64,
    identification: int = 0,
    tos: int = PRECEDENCE_INTERNETWORK_CONTROL,
    dont_fragment: bool = False,
) -> bytes:
    """Time Exceeded (RFC 792) from `router_address` to the source of `original`.

    RFC 1812 §5.3.1: a router that decrements a TTL to zero discards the
    datagram and sends this. Pass `original` as it arrived (before the
    decrement). The caller checks :func:`may_send_error` first.
    """
    return _error(
        TIME_EXCEEDED, code, router_address, original,
        ttl=ttl, identification=identification, tos=tos, dont_fragment=dont_fragment,
    )  # fmt: skip


def destination_unreachable(
    router_address: bytes,
    original: bytes,
    code: int,
    *,
    ttl: int = 64,
    identification: int = 0,
    tos: int = PRECEDENCE_INTERNETWORK_CONTROL,
    dont_fragment: bool = False,
    next_hop_mtu: int = 0,
) -> bytes:
    """Destination Unreachable (RFC 792) with `code`, to the source of `original`.

    `next_hop_mtu` fills the low 16 bits of the header's rest for code 4,
    fragmentation needed (RFC 1191 §4); it is zero otherwise. The caller
    checks :func:`may_send_error` first.
    """
    return _error(
        DEST_UNREACHABLE, code, router_address, original,
        ttl=ttl, identification=identification, tos=tos, dont_fragment=dont_fragment,
        rest=next_hop_mtu.to_bytes(4, "big"),
    )  # fmt: skip


def _error(
    type: int,
    code: int,
    router_address: bytes,
    original: bytes,
    *,
    ttl: int,
    identification: int,
    tos: int,
    dont_fragment: bool,
    rest: bytes = b"\0\0\0\0",
) -> bytes:
    # RFC 792: an error goes back to the source of the datagram it is about.
    destination = parse_ipv4(original).src
    message = build_icmp(type, code, rest, quote(original))
    return _icmp_packet(
        router_address, destination, message,
        ttl=ttl, identification=identification, tos=tos, dont_fragment=dont_fragment,
    )  # fmt: skip


def echo_request(
    src: bytes,
    dst: bytes,
    identifier: int,
    sequence: int,
    data: bytes = b"",
    *,
    ttl: int = 64,
    identification: int = 0,
    tos: int = 0,
    dont_fragment: bool = False,
) -> bytes:
    """Echo Request, type 8 (RFC 792): what ``ping`` sends."""
    return _echo(ECHO_REQUEST, src, dst, identifier, sequence, data, ttl, identification, tos,
                 dont_fragment)  # fmt: skip


def echo_reply(
    src: bytes,
    dst: bytes,
    identifier: int,
    sequence: int,
    data: bytes = b"",
    *,
    ttl: int = 64,
    identification: int = 0,
    tos: int = 0,
    dont_fragment: bool = False,
) -> bytes:
    """Echo Reply, type 0 (RFC 792), built from its fields; see also :func:`echo_reply_to`."""
    return _echo(ECHO_REPLY, src, dst, identifier, sequence, data, ttl, identification, tos,
                 dont_fragment)  # fmt: skip


def _echo(
    kind: int, src: bytes, dst: bytes, identifier: int, sequence: int, data: bytes, ttl: int,
    identification: int, tos: int, dont_fragment: bool,
) -> bytes:  # fmt: skip
    return _icmp_packet(
        src, dst, build_icmp(kind, 0, _echo_rest(identifier, sequence), data),
        ttl=ttl, identification=identification, tos=tos, dont_fragment=dont_fragment,
    )  # fmt: skip


def echo_reply_to(request: bytes, *, ttl: int = 64, identification: int = 0) -> bytes:
    """The Echo Reply to the Echo Request datagram `request`.

    RFC 792: "the source and destination addresses are simply reversed, the
    type code changed to 0, and the checksum recomputed"; identifier,
    sequence number and data are returned unchanged (RFC 1122 §3.2.2.6).
    Raises `ValueError` if `request` is not an echo request.
    """
    header = parse_ipv4(request)
    message = parse_icmp(request)
    if message.type != ECHO_REQUEST:
        raise ValueError(f"not an echo request: {describe(message)}")
    return _icmp_packet(
        header.dst, header.src, build_icmp(ECHO_REPLY, 0, message.rest, message.body),
        ttl=ttl, identification=identification, tos=header.tos, dont_fragment=False,
    )  # fmt: skip


def _echo_rest(identifier: int, sequence: int) -> bytes:
    try:
        return _ECHO_REST.pack(identifier, sequence)
    except struct.error:
        raise ValueError(
            f"identifier {identifier} and sequence {sequence} must be 16-bit values"
        ) from None


def parse_icmp(packet: bytes) -> IcmpMessage:
    """The ICMP message carried by the IPv4 datagram `packet`.

    Raises `ValueError` if `packet` is not a valid IPv4 header (see
    :func:`parse_ipv4`), does not carry ICMP, or its payload is shorter than
    the 8-byte ICMP header. The checksum is read, not verified: see
    `IcmpMessage.checksum_ok`.
    """
    header = parse_ipv4(packet)
    if header.protocol != PROTO_ICMP:
        raise ValueError(f"not ICMP: the IPv4 protocol field is {header.protocol}")
    start = header.ihl * 4
    if header.total_length - start < ICMP_HEADER_LENGTH:
        raise ValueError(
            f"ICMP message of {header.total_length - start} bytes is shorter than its "
            f"{ICMP_HEADER_LENGTH}-byte header"
        )
    type, code, checksum, rest = _HEADER.unpack_from(packet, start)
    return IcmpMessage(
        type, code, checksum, rest, bytes(packet[start + ICMP_HEADER_LENGTH : header.total_length])
    )


def describe(message: IcmpMessage) -> str:
    """A one-line reading of `message`: ``time exceeded: TTL expired in transit``."""
    name = TYPE_NAMES.get(message.type)
    if name is None:
        return f"ICMP type {message.type} code {message.code}"
    if message.type in (ECHO_REQUEST, ECHO_REPLY):
        return (
            f"{name} id={message.identifier} seq={message.sequence} "
            f"({len(message.body)} bytes of data)"
        )
    detail = CODE_NAMES.get((message.type, message.code))
    if detail is None:
        return name if message.code == 0 else f"{name}: code {message.code}"
    text = f"{name}: {detail}"
    if (message.type, message.code) == (DEST_UNREACHABLE, FRAGMENTATION_NEEDED):
        mtu = message.sequence
        if mtu:
            text += f" (next-hop MTU {mtu})"
    return text


def may_send_error(original: bytes) -> bool:
    """Whether an ICMP error may be sent about the datagram `original` (RFC 1812 §4.3.2.7).

    No error is sent about:

    - an ICMP error message (a query such as an echo request is fine);
    - a fragment other than the first (fragment offset not zero);
    - a datagram for an IP multicast address (224.0.0.0/4) or the limited
      broadcast address 255.255.255.255;
    - a datagram whose source is not a single host: 0.0.0.0/8 ("this
      network"), 127.0.0.0/8 (loopback), multicast, class E (240.0.0.0/4)
      or 255.255.255.255;
    - a datagram too malformed to read (there is no one to answer).

    Not checked here, since they need knowledge this function does not have:
    directed broadcasts to a subnet (needs the routing table) and datagrams
    that arrived as link-layer broadcasts (needs the frame).
    """
    try:
        header = parse_ipv4(original)
    except ValueError:
        return False
    # "An ICMP error message MUST NOT be sent as the result of receiving ...
    # a packet destined to an IP broadcast or IP multicast address"
    if _is_multicast(header.dst) or header.dst == b"\xff\xff\xff\xff":
        return False
    # "... a non-initial fragment"
    if header.fragment_offset != 0:
        return False
    # "... a packet whose source address does not define a single host"
    first = header.src[0]
    if first in (0, 127) or first >= 224:
        return False
    # "... an ICMP error message" (only a first fragment can show the ICMP type;
    # one too short to show it is treated as an error, to stay quiet)
    if header.protocol == PROTO_ICMP:
        start = header.ihl * 4
        if header.total_length <= start:
            return False
        return original[start] not in ERROR_TYPES
    return True


def _is_multicast(address: bytes) -> bool:
    return address[0] & 0xF0 == 0xE0  # 224.0.0.0/4 (RFC 5771)


__all__ = [
    "CODE_NAMES",
    "COMMUNICATION_PROHIBITED",
    "DEST_UNREACHABLE",
    "ECHO_REPLY",
    "ECHO_REQUEST",
    "ERROR_TYPES",
    "FRAGMENTATION_NEEDED",
    "FRAGMENT_REASSEMBLY_TIME_EXCEEDED",
    "HOST_UNREACHABLE",
    "ICMP_HEADER_LENGTH",
    "MAX_ERROR_LENGTH",
    "NET_UNREACHABLE",
    "PARAMETER_PROBLEM",
    "PORT_UNREACHABLE",
    "PRECEDENCE_INTERNETWORK_CONTROL",
    "PROTOCOL_UNREACHABLE",
    "REDIRECT",
    "SOURCE_QUENCH",
    "SOURCE_ROUTE_FAILED",
    "TIMESTAMP",
    "TIMESTAMP_REPLY",
    "TIME_EXCEEDED",
    "TTL_EXCEEDED_IN_TRANSIT",
    "TYPE_NAMES",
    "IcmpMessage",
    "build_icmp",
    "describe",
    "destination_unreachable",
    "echo_reply",
    "echo_reply_to",
    "echo_request",
    "may_send_error",
    "parse_icmp",
    "quote",
    "time_exceeded",
]
