"""ICMP (RFC 792) and ICMPv6 (RFC 4443): the type, code and checksum every message starts
with, an echo's identifier and sequence number, and the rest as data.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Identifier          |        Sequence Number        |  (echo)
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Data ...
    +-+-+-+-+-
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer
from simulator.dissect.layout import Layout, Shown, Slot
from simulator.dissect.registry import Kind, alias, define
from simulator.dissect.transport import ICMPV6_PROTO, TransportLayer, checksum, payload_field

ICMP_TYPES = {
    0: "Echo (ping) reply",
    3: "Destination unreachable",
    4: "Source quench",
    5: "Redirect",
    8: "Echo (ping) request",
    11: "Time exceeded",
    12: "Parameter problem",
    13: "Timestamp request",
    14: "Timestamp reply",
}
ICMP_UNREACHABLE = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed and DF set",
    13: "administratively prohibited",
}
ICMPV6_TYPES = {
    1: "Destination unreachable",
    2: "Packet too big",
    3: "Time exceeded",
    4: "Parameter problem",
    128: "Echo (ping) request",
    129: "Echo (ping) reply",
    133: "Router solicitation",
    134: "Router advertisement",
    135: "Neighbor solicitation",
    136: "Neighbor advertisement",
    137: "Redirect",
}


@dataclass(frozen=True, slots=True)
class _Message:
    """What the ICMP slots' wording needs besides their own values."""

    kind_name: str  # "Echo (ping) request"
    code_name: str  # "port unreachable", or "" when the code needs no words
    checksum: Shown


def _layouts(prefix: str, title: str, rfc: str) -> tuple[Layout[_Message], Layout[_Message]]:
    """The 4-byte header every ICMP (or ICMPv6) message starts with, and an echo's 8."""
    common: tuple[Slot[_Message], ...] = (
        Slot(f"{prefix}.type", "Type", Kind.UINT, f"The message type ({rfc})", 0, 1,
             display=lambda v, c: f"{v} ({c.kind_name})",
             explanation="What kind of message: an error report about a packet, or a query "
             "such as ping."),
        Slot(f"{prefix}.code", "Code", Kind.UINT, "Refines the type", 1, 1,
             display=lambda v, c: f"{v} ({c.code_name})" if c.code_name else str(v),
             explanation="Refines the type (for 'unreachable': network, host, port…)."),
        Slot(f"{prefix}.checksum", "Checksum", Kind.UINT,
             "The checksum over the message"
             + (" and an IPv6 pseudo-header" if prefix == "icmpv6" else ""), 2, 2,
             shown=lambda _, c: c.checksum),
    )  # fmt: skip
    echo: tuple[Slot[_Message], ...] = (
        Slot(f"{prefix}.ident", "Identifier", Kind.UINT,
             "An echo's identifier: matches replies to the pinging program", 4, 2,
             display=lambda v, _: f"{v:#06x}",
             explanation="Matches replies to the pinging program."),
        Slot(f"{prefix}.seq", "Sequence number", Kind.UINT,
             "An echo's sequence number: counts the pings", 6, 2,
             explanation="Counts the pings, so lost replies show."),
    )  # fmt: skip
    return Layout(title, 4, common), Layout(f"{title} echo", 8, (*common, *echo))


ICMP_HEADER, ICMP_ECHO = _layouts("icmp", "ICMP", "RFC 792")
ICMPV6_HEADER, ICMPV6_ECHO = _layouts("icmpv6", "ICMPv6", "RFC 4443")

ERRORS_V4 = frozenset({3, 4, 5, 11, 12})  # they quote the packet that caused them (RFC 792)
ERRORS_V6 = frozenset({1, 2, 3, 4})  # likewise, RFC 4443 §3

define("icmp", Kind.PROTOCOL, "Internet Control Message Protocol (RFC 792)")
define("icmp.unused", Kind.BYTES, "An error's second word, unused: zero")
define("icmp.mtu", Kind.UINT, "Fragmentation needed: the next hop's MTU (RFC 1191)")
define("icmp.pointer", Kind.UINT, "Parameter problem: the byte of the header at fault")
define("icmp.redir_gw", Kind.IPV4, "Redirect: the router to use instead")
define("icmpv6.reserved", Kind.BYTES, "An error's second word, reserved: zero")
define("icmpv6.mtu", Kind.UINT, "Packet too big: the next hop's MTU")
define("icmpv6.pointer", Kind.UINT, "Parameter problem: the byte of the packet at fault")
define("icmp.data", Kind.BYTES, "What follows the header: a ping's data, an error's packet")
define("icmpv6", Kind.PROTOCOL, "Internet Control Message Protocol for IPv6 (RFC 4443)")
define("icmpv6.data", Kind.BYTES, "What follows the header: a ping's data, an error's packet")
alias(
    "icmpv6.echo.identifier", Kind.UINT, "Wireshark's name for icmpv6.ident", of=("icmpv6.ident",)
)
alias("icmpv6.echo.sequence_number", Kind.UINT, "Wireshark's name for icmpv6.seq",
      of=("icmpv6.seq",))  # fmt: skip


def dissect_icmp(
    buf: bytes,
    start: int = 0,
    *,
    length: int | None = None,
    network: NetworkLayer | None = None,
    buffer: int = 0,
) -> TransportLayer:
    """Dissect the ICMP (or, over IPv6, ICMPv6) message at `buf[start:]`."""
    s = start
    avail = len(buf) - start
    if length is None:
        length = avail
    v6 = network is not None and network.version == 6
    prefix, protocol = ("icmpv6", "ICMPv6") if v6 else ("icmp", "ICMP")
    plain, echo_layout = (ICMPV6_HEADER, ICMPV6_ECHO) if v6 else (ICMP_HEADER, ICMP_ECHO)
    header = echo_layout.read(buf, s)  # a message of another type leaves the last 4 unread
    kind, code = header.number(f"{prefix}.type"), header.number(f"{prefix}.code")
    names = ICMPV6_TYPES if v6 else ICMP_TYPES
    kind_name = names.get(kind, f"type {kind}")
    code_name = ICMP_UNREACHABLE.get(code, "") if not v6 and kind == 3 else ""
    if not v6 and kind == 11:
        code_name = {0: "TTL exceeded in transit", 1: "fragment reassembly time exceeded"}.get(
            code, ""
        )
    verdict = checksum(
        buf,
        s,
        length,
        2,
        network,
        ICMPV6_PROTO if v6 else None,
        "Covers the whole ICMP message" + (" and an IPv6 pseudo-header." if v6 else "."),
    )
    info = kind_name
    echo = kind in ((128, 129) if v6 else (0, 8)) and avail >= 8
    if echo:
        ident, seq = header.number(f"{prefix}.ident"), header.number(f"{prefix}.seq")
        info += f" id={ident:#06x}, seq={seq}"
    layout = echo_layout if echo else plain
    fields = layout.fields(header, _Message(kind_name, code_name, verdict), buffer=buffer)
    rest = 8 if echo else 4
    error = kind in (ERRORS_V6 if v6 else ERRORS_V4) and avail >= 8 and length >= 8
    if error:
        fields.append(_second_word(buf, s + 4, prefix, kind, code, buffer))
        quoted = _quoted(buf, s + 8, min(len(buf), s + length), v6, buffer)
        fields.extend(quoted)
        rest = 8 if quoted else 4
    if length > rest and avail > rest:
        fields.append(
            payload_field(
                f"{prefix}.data",
                "Data",
                buf,
                s + rest,
                length - rest,
                "For an error, the start of the packet that caused it; for a "
                "ping, whatever the sender put there.",
                buffer,
            )
        )
    end = min(s + max(length, rest), len(buf))
    top = Field(
        prefix,
        "Internet Control Message Protocol" + (" v6" if v6 else "") + f": {kind_name}",
        s,
        end,
        explanation="ICMP is IP's own messenger: error reports (unreachable, time exceeded) "
        "and diagnostics (ping).",
        children=tuple(fields),
        buffer=buffer,
        problem=None if avail >= 4 else "truncated: the header needs 4 bytes",
    )
    return TransportLayer(top, protocol, None, None, min(s + rest, end), end, info)


def _second_word(buf: bytes, at: int, prefix: str, kind: int, code: int, buffer: int) -> Field:
    """An error message's bytes 4–7: unused, or what its type puts there."""
    word = buf[at : at + 4]
    number = int.from_bytes(word, "big")
    if prefix == "icmp" and kind == 3 and code == 4:
        mtu = number & 0xFFFF
        return Field("icmp.mtu", "Next-hop MTU", at + 2, at + 4, value=mtu, buffer=buffer,
                     explanation="The largest packet the next link takes: send smaller ones "
                     "(path MTU discovery, RFC 1191).")  # fmt: skip
    if prefix == "icmp" and kind == 12:
        return Field("icmp.pointer", "Pointer", at, at + 1, value=word[0], buffer=buffer,
                     explanation="Which byte of the quoted header the router could not "
                     "accept.")  # fmt: skip
    if prefix == "icmp" and kind == 5:
        gateway = ".".join(str(b) for b in word)
        return Field("icmp.redir_gw", "Gateway address", at, at + 4, value=gateway,
                     buffer=buffer, explanation="The router on the same network the sender "
                     "should use for this destination from now on.")  # fmt: skip
    if prefix == "icmpv6" and kind == 2:
        return Field("icmpv6.mtu", "MTU", at, at + 4, value=number, buffer=buffer,
                     explanation="The largest packet the next link takes; IPv6 routers never "
                     "fragment, so the sender must send smaller ones (RFC 8201).")  # fmt: skip
    if prefix == "icmpv6" and kind == 4:
        return Field("icmpv6.pointer", "Pointer", at, at + 4, value=number, buffer=buffer,
                     explanation="Where in the quoted packet the problem is (a byte "
                     "offset).")  # fmt: skip
    name = "icmpv6.reserved" if prefix == "icmpv6" else "icmp.unused"
    return Field(name, "Unused" if prefix == "icmp" else "Reserved", at, at + 4, value=word,
                 buffer=buffer, explanation="Not used by this type of message: sent as zero, "
                 "ignored when received.")  # fmt: skip


def _quoted(buf: bytes, start: int, end: int, v6: bool, buffer: int) -> list[Field]:
    """The start of the packet an error is about, dissected as any packet is: its IP
    header and as much of what it carried as the error quotes. An error quotes only the
    start of it, so a cut-short packet here is no problem."""
    from simulator.dissect.ipv4 import dissect_ipv4
    from simulator.dissect.ipv6 import dissect_ipv6
    from simulator.dissect.tcp import dissect_tcp
    from simulator.dissect.transport import ICMP_PROTO, TCP_PROTO, UDP_PROTO
    from simulator.dissect.udp import dissect_udp

    data = buf[:end]
    need = 40 if v6 else 20
    if end - start < need:
        return []
    net = (dissect_ipv6 if v6 else dissect_ipv4)(data, start, buffer=buffer)
    found = [_as_quoted(net.field)]
    if net.proto is None or not net.first_fragment or net.payload_end <= net.payload_start:
        return found
    at, length = net.payload_start, net.payload_length
    transport = None
    if net.proto == TCP_PROTO and end - at >= 20:
        transport = dissect_tcp(data, at, length=length, network=net, buffer=buffer)
    elif net.proto == UDP_PROTO and end - at >= 8:
        transport = dissect_udp(data, at, length=length, network=net, buffer=buffer)
    elif net.proto == (ICMPV6_PROTO if v6 else ICMP_PROTO) and end - at >= 4:
        transport = dissect_icmp(data, at, length=length, network=net, buffer=buffer)
    if transport is not None:
        found.append(_as_quoted(transport.field))
    return found


def _as_quoted(field: Field) -> Field:
    """`field` without the problems of a packet cut short: an error quotes only a part."""
    problem = field.problem
    if problem is not None and ("truncated" in problem or "cannot verify" in problem):
        problem = None
    children = tuple(_as_quoted(child) for child in field.children)
    return replace(field, problem=problem, children=children)
