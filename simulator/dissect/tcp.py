"""What IP carries: TCP in depth (RFC 9293), UDP (RFC 768) and ICMP (RFC 792, 4443) by name.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                        Sequence Number                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Acknowledgment Number                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Data |       |C|E|U|A|P|R|S|F|                               |
    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
    |       |       |R|E|G|K|H|T|N|N|                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Checksum            |         Urgent Pointer        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           [Options]                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

scapy decodes the fixed header; options are walked here (kind, length, value)
so that each one gets its exact span. Checksums are verified by recomputing
them over the pseudo-header and the segment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer, scapy_decode
from simulator.ip.checksum import internet_checksum
from simulator.tcp.segment import FLAG_NAMES
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


def _checksum_field(
    name: str,
    buf: bytes,
    start: int,
    length: int,
    at: int,
    network: NetworkLayer | None,
    proto: int | None,
    explanation: str,
    buffer: int,
) -> Field:
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
    return Field(
        name,
        "Checksum",
        start + at,
        start + at + 2,
        value=value,
        display=f"{value:#06x} ({status})",
        explanation=explanation,
        buffer=buffer,
        problem=problem,
    )


def _payload_field(
    name: str, label: str, buf: bytes, start: int, announced: int, explanation: str, buffer: int
) -> Field:
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


# --- TCP ------------------------------------------------------------------------------

# (mask, name, explanation), in header order: CWR (bit 8) … FIN (bit 15).
TCP_FLAGS: tuple[tuple[int, str, str], ...] = (
    (
        0x80,
        "CWR",
        "Congestion window reduced: the sender has slowed down after an ECN "
        "echo from its peer (RFC 3168).",
    ),
    (
        0x40,
        "ECE",
        "ECN echo: in the handshake, negotiates ECN (a SYN sets it together with "
        "CWR); afterwards, tells the peer that a router marked one of its packets "
        "'congestion experienced'.",
    ),
    (0x20, "URG", "Urgent: the urgent pointer field is meaningful (rarely used)."),
    (
        0x10,
        "ACK",
        "Acknowledgment: the acknowledgment number is meaningful. Once a "
        "connection is open, every segment carries it; only the opening SYN (and "
        "a reset answering a stray segment) lack it.",
    ),
    (
        0x08,
        "PSH",
        "Push: hand the data to the receiving application now rather than "
        "waiting to fill a buffer.",
    ),
    (
        0x04,
        "RST",
        "Reset: abort the connection at once (e.g. a segment for a port "
        "nobody listens on). No reply is sent to a reset.",
    ),
    (
        0x02,
        "SYN",
        "Synchronize: opens a connection and carries the initial sequence "
        "number. The SYN counts as one byte of sequence space.",
    ),
    (
        0x01,
        "FIN",
        "Finish: the sender has no more data to send; the other direction may "
        "still carry data. The FIN counts as one byte of sequence space.",
    ),
)

TCP_OPTION_NAMES = {
    0: "End of option list",
    1: "No-operation",
    2: "Maximum segment size",
    3: "Window scale",
    4: "SACK permitted",
    5: "SACK",
    8: "Timestamps",
    19: "MD5 signature",
    28: "User timeout",
    29: "TCP authentication (TCP-AO)",
    30: "Multipath TCP",
    34: "TCP Fast Open cookie",
    253: "Experimental",
    254: "Experimental",
}
# kind → the exact length the option must have (SACK: 2 + 8n, checked apart).
TCP_OPTION_LENGTHS = {2: 4, 3: 3, 4: 2, 8: 10}


def flag_names(flags: int) -> list[str]:
    """The flags set, in the order Wireshark lists them (from FIN up): ["SYN", "ACK"]."""
    return [name for bit, name in FLAG_NAMES if flags & bit]


def _decode_tcp(header: bytes) -> tuple[int, ...]:
    """The fixed header's values, decoded by scapy (a 20-byte slice, zero-padded if short)."""
    try:
        v = scapy_decode("TCP", header)
        flags = int(v["flags"])  # scapy counts the old NS bit (RFC 3540) as a ninth flag
        return (
            v["sport"], v["dport"], v["seq"], v["ack"], v["dataofs"],
            (v["reserved"] << 1) | (flags >> 8), flags & 0xFF, v["window"], v["chksum"],
            v["urgptr"],
        )  # fmt: skip
    except Exception:  # scapy refused the bytes: read them directly instead
        sport, dport, seq, ack, off, flags, window, checksum, urgent = struct.unpack(
            "!HHIIBBHHH", header
        )
        return sport, dport, seq, ack, off >> 4, off & 15, flags, window, checksum, urgent


def dissect_tcp(
    buf: bytes,
    start: int = 0,
    *,
    length: int | None = None,
    network: NetworkLayer | None = None,
    buffer: int = 0,
) -> TransportLayer:
    """Dissect the TCP segment at `buf[start:]`; spans are positions in `buf`.

    `length` is the segment's size as the IP header announces it (default: every
    byte from `start`); `network` supplies the pseudo-header for the checksum.
    """
    s, b = start, start * 8
    avail = len(buf) - start
    if length is None:
        length = avail
    (sport, dport, seq, ack, offset, reserved, flags, window, _, urgent) = _decode_tcp(
        buf[s : s + 20].ljust(20, b"\x00")
    )
    hlen = offset * 4
    syn, has_ack = bool(flags & 0x02), bool(flags & 0x10)
    names = flag_names(flags)
    if syn:
        seq_explanation = (
            "The initial sequence number (ISN), picked unpredictably for this connection. "
            "The SYN itself uses one number, so the first data byte will be ISN + 1."
        )
    else:
        seq_explanation = (
            "TCP numbers every byte it sends: this is the number of this segment's first "
            "data byte, which lets the receiver put segments in order and spot gaps."
        )
    if has_ack:
        ack_explanation = (
            "The next sequence number this side expects from its peer: every byte before it "
            "has arrived (a cumulative acknowledgment)."
        )
    else:
        ack_explanation = (
            "Not meaningful: the ACK flag is clear, as on an opening SYN or a reset "
            "answering a stray segment."
        )
    window_explanation = (
        "The receive window: how many bytes, starting at the acknowledgment number, this "
        "side is ready to receive now (flow control). Outside SYNs it is multiplied by "
        "2^shift, the window scale agreed in the handshake."
    )
    fields: list[Field] = [
        Field(
            "tcp.srcport",
            "Source port",
            s,
            s + 2,
            value=sport,
            explanation="The sending application's port. Addresses and ports of both ends "
            "together name the connection; clients usually get a temporary port from their "
            "operating system.",
            buffer=buffer,
        ),
        Field(
            "tcp.dstport",
            "Destination port",
            s + 2,
            s + 4,
            value=dport,
            explanation="The receiving application's port: a server listens on a known one "
            "(80 for HTTP, 443 for HTTPS, 8765 for wirelab's server).",
            buffer=buffer,
        ),
        Field(
            "tcp.seq",
            "Sequence number",
            s + 4,
            s + 8,
            value=seq,
            explanation=seq_explanation,
            buffer=buffer,
        ),
        Field(
            "tcp.ack",
            "Acknowledgment number",
            s + 8,
            s + 12,
            value=ack,
            display=str(ack) if has_ack else f"{ack} (not used: no ACK flag)",
            explanation=ack_explanation,
            buffer=buffer,
        ),
        Field(
            "tcp.hdr_len",
            "Header length (data offset)",
            s + 12,
            s + 13,
            value=hlen,
            display=f"{plural(hlen, 'byte')} ({offset} × 4)",
            explanation="The header's length in 32-bit words (5 to 15: 20 to 60 bytes), so "
            "the receiver knows where options end and data begins.",
            bits=(b + 96, b + 100),
            buffer=buffer,
            problem=None if offset >= 5 else "below the minimum of 5 words (20 bytes)",
        ),
        Field(
            "tcp.reserved",
            "Reserved",
            s + 12,
            s + 13,
            value=reserved,
            display=f"{reserved:#x}",
            explanation="Reserved for future use: senders set these bits to zero.",
            bits=(b + 100, b + 104),
            buffer=buffer,
        ),
        Field(
            "tcp.flags",
            "Flags",
            s + 13,
            s + 14,
            value=flags,
            display=f"{flags:#04x} ({', '.join(names) or 'none'})",
            explanation="Eight control bits: they open (SYN), acknowledge (ACK), push (PSH), "
            "close (FIN) or abort (RST) the connection, and signal congestion (ECE, CWR).",
            bits=(b + 104, b + 112),
            children=tuple(
                Field(
                    f"tcp.flags.{name.lower()}",
                    name,
                    s + 13,
                    s + 14,
                    value=bool(flags & mask),
                    explanation=explanation,
                    bits=(b + 104 + i, b + 105 + i),
                    buffer=buffer,
                )
                for i, (mask, name, explanation) in enumerate(TCP_FLAGS)
            ),
            buffer=buffer,
        ),
        Field(
            "tcp.window",
            "Window",
            s + 14,
            s + 16,
            value=window,
            display=f"{window} (never scaled in a SYN)" if syn else str(window),
            explanation=window_explanation,
            buffer=buffer,
        ),
        _checksum_field(
            "tcp.checksum",
            buf,
            s,
            length,
            16,
            network,
            TCP_PROTO,
            "Covers the whole segment plus a pseudo-header (both IP addresses, the protocol "
            "and the TCP length), so a segment delivered to the wrong host is caught too.",
            buffer,
        ),
        Field(
            "tcp.urgent",
            "Urgent pointer",
            s + 18,
            s + 20,
            value=urgent,
            explanation="Meaningful only with URG: where urgent data ends. Rarely used; RFC "
            "9293 advises new applications against it.",
            buffer=buffer,
        ),
    ]
    header_ok = avail >= 20 and offset >= 5 and avail >= hlen
    extras: list[str] = []
    if avail >= 20 and hlen > 20:
        options, extras = _tcp_options(buf, s + 20, min(s + hlen, len(buf)), syn, buffer)
        fields.append(options)
    problems: list[str] = []
    if avail < 20:
        problems.append(
            f"truncated: the header needs 20 bytes, only {plural(max(avail, 0), 'byte')} here"
        )
    elif avail < hlen:
        problems.append(
            f"truncated: the header needs {hlen} bytes, only {plural(avail, 'byte')} here"
        )
    if header_ok and hlen > length:
        problems.append(f"the header is longer than the {length}-byte segment")
    data_length = max(length - hlen, 0) if header_ok else 0
    data_start = s + hlen if header_ok else len(buf)
    if header_ok and data_length:
        fields.append(
            _payload_field(
                "tcp.payload",
                "TCP payload",
                buf,
                data_start,
                data_length,
                "The application's bytes. TCP delivers them as one ordered byte stream: "
                "segment boundaries mean nothing to the application.",
                buffer,
            )
        )
    fields = [f for f in fields if f.end <= len(buf)]
    data_end = min(data_start + data_length, len(buf))
    info = [f"[{', '.join(names) or '<None>'}]", f"Seq={seq}"]
    if has_ack:
        info.append(f"Ack={ack}")
    info += [f"Win={window}", f"Len={data_length}"]
    if flags & 0x20:
        info.append(f"Urg={urgent}")
    top = Field(
        "tcp",
        f"Transmission Control Protocol, Src Port: {sport}, Dst Port: {dport}, Seq: {seq}"
        + (f", Ack: {ack}" if has_ack else "")
        + f", Len: {data_length}",
        s,
        max(data_end, min(s + max(hlen, 20), len(buf))),
        explanation="TCP turns IP's best-effort packets into a reliable, ordered byte stream "
        "between two ports: it numbers bytes, acknowledges them, resends losses and paces "
        "the sender to what the receiver and the network can take.",
        children=tuple(fields),
        buffer=buffer,
        problem="; ".join(problems) or None,
    )
    return TransportLayer(
        top,
        "TCP",
        sport if avail >= 2 else None,
        dport if avail >= 4 else None,
        data_start,
        max(data_end, data_start),
        " ".join(info + extras) if avail >= 20 else "[truncated]",
    )


def _option_head(buf: bytes, pos: int, kind: int, length: int, buffer: int) -> list[Field]:
    return [
        Field(
            "tcp.option.kind",
            "Kind",
            pos,
            pos + 1,
            value=kind,
            display=f"{kind} ({TCP_OPTION_NAMES.get(kind, 'unknown')})",
            explanation="Which option this is.",
            buffer=buffer,
        ),
        Field(
            "tcp.option.len",
            "Length",
            pos + 1,
            pos + 2,
            value=length,
            display=plural(length, "byte"),
            explanation="The option's length in bytes, counting the kind and this byte.",
            buffer=buffer,
        ),
    ]


def _u32_field(name: str, label: str, buf: bytes, pos: int, explanation: str, buffer: int) -> Field:
    value = int.from_bytes(buf[pos : pos + 4], "big")
    return Field(name, label, pos, pos + 4, value=value, explanation=explanation, buffer=buffer)


def _tcp_options(
    buf: bytes, start: int, end: int, syn: bool, buffer: int
) -> tuple[Field, list[str]]:
    """The options area, one child per option; and their Wireshark-style summary words."""
    children: list[Field] = []
    info: list[str] = []
    pos = start
    while pos < end:
        kind = buf[pos]
        if kind == 0:
            children.append(
                Field(
                    "tcp.option.eol",
                    "End of option list",
                    pos,
                    pos + 1,
                    explanation="Kind 0: no options follow; the rest of the header is padding.",
                    buffer=buffer,
                )
            )
            if pos + 1 < end:
                children.append(
                    Field(
                        "tcp.option.padding",
                        "Padding",
                        pos + 1,
                        end,
                        value=buf[pos + 1 : end],
                        explanation="Zeros that fill the header to a multiple of 4 bytes.",
                        buffer=buffer,
                    )
                )
            break
        if kind == 1:
            children.append(
                Field(
                    "tcp.option.nop",
                    "No-operation (NOP)",
                    pos,
                    pos + 1,
                    explanation="Kind 1, a single byte that does nothing: it aligns the next "
                    "option on a 4-byte boundary.",
                    buffer=buffer,
                )
            )
            pos += 1
            continue
        length = buf[pos + 1] if pos + 1 < end else 0
        if pos + 1 >= end or length < 2 or pos + length > end:
            children.append(
                Field(
                    "tcp.option.malformed",
                    TCP_OPTION_NAMES.get(kind, f"Option {kind}"),
                    pos,
                    end,
                    value=buf[pos:end],
                    explanation="An option whose length byte is missing, below 2, or runs "
                    "past the end of the header.",
                    buffer=buffer,
                    problem="malformed option length",
                )
            )
            break
        children.append(_tcp_option(buf, pos, kind, length, syn, buffer, info))
        pos += length
    field = Field(
        "tcp.options",
        "Options",
        start,
        end,
        value=buf[start:end],
        display=plural(end - start, "byte"),
        explanation="Optional extensions, each as kind, length and value (single-byte NOP and "
        "end-of-list excepted). Most are agreed in the SYN and SYN-ACK.",
        children=tuple(children),
        buffer=buffer,
    )
    return field, info


def _tcp_option(
    buf: bytes, pos: int, kind: int, length: int, syn: bool, buffer: int, info: list[str]
) -> Field:
    head = _option_head(buf, pos, kind, length, buffer)
    end = pos + length
    body = buf[pos + 2 : end]
    expected = TCP_OPTION_LENGTHS.get(kind)
    problem = None
    if expected is not None and length != expected:
        problem = f"length {length}, but this option is always {plural(expected, 'byte')}"
    elif kind == 5 and (length - 2) % 8:
        problem = f"length {length}: SACK blocks take 8 bytes each, after 2"
    if problem is not None:
        return Field(
            "tcp.option.malformed",
            TCP_OPTION_NAMES.get(kind, f"Option {kind}"),
            pos,
            end,
            value=buf[pos:end],
            children=tuple(head),
            buffer=buffer,
            problem=problem,
        )
    if kind == 2:
        mss = int.from_bytes(body, "big")
        info.append(f"MSS={mss}")
        value_field = Field(
            "tcp.option.mss.value",
            "MSS",
            pos + 2,
            end,
            value=mss,
            display=plural(mss, "byte"),
            explanation="The most data this side wants to receive in one segment.",
            buffer=buffer,
        )
        return Field(
            "tcp.option.mss",
            "Maximum segment size",
            pos,
            end,
            value=mss,
            display=plural(mss, "byte"),
            explanation="The largest segment payload the sender of this SYN is willing to "
            "receive: usually its link's MTU minus the IP and TCP headers (1500 - 40 = 1460 "
            "for IPv4 on Ethernet). Sent only in SYN segments.",
            children=(*head, value_field),
            buffer=buffer,
            problem=None if syn else "sent outside a SYN segment",
        )
    if kind == 3:
        shift = body[0]
        multiplier = 1 << min(shift, 14)
        info.append(f"WS={multiplier}")
        over = shift > 14
        shift_field = Field(
            "tcp.option.wscale.shift",
            "Shift count",
            pos + 2,
            end,
            value=shift,
            display=f"{shift} (multiply by {multiplier})",
            explanation="The peer multiplies this side's later window values by 2^shift.",
            buffer=buffer,
            problem="above 14: must be treated as 14" if over else None,
        )
        return Field(
            "tcp.option.wscale",
            "Window scale",
            pos,
            end,
            value=shift,
            display=f"shift {shift}, multiplier {multiplier}",
            explanation="Window scaling (RFC 7323): a 16-bit window is too small for fast, "
            "distant links, so after the handshake this side's window field counts in units "
            "of 2^shift bytes. Used only if both SYNs carry it.",
            children=(*head, shift_field),
            buffer=buffer,
        )
    if kind == 4:
        info.append("SACK_PERM")
        return Field(
            "tcp.option.sack_perm",
            "SACK permitted",
            pos,
            end,
            value=True,
            display="yes",
            explanation="This side understands selective acknowledgments (RFC 2018): after a "
            "loss, the peer may report exactly which later blocks arrived.",
            children=tuple(head),
            buffer=buffer,
        )
    if kind == 5:
        blocks = []
        for at in range(pos + 2, end, 8):
            left = int.from_bytes(buf[at : at + 4], "big")
            right = int.from_bytes(buf[at + 4 : at + 8], "big")
            info.append(f"SLE={left} SRE={right}")
            blocks.append(
                Field(
                    "tcp.option.sack.block",
                    "Block",
                    at,
                    at + 8,
                    value=f"{left}-{right}",
                    display=f"{left}-{right} ({plural((right - left) % 2**32, 'byte')})",
                    explanation="A range of bytes received out of order: from the left edge "
                    "up to (not including) the right edge.",
                    children=(
                        _u32_field(
                            "tcp.option.sack.le",
                            "Left edge",
                            buf,
                            at,
                            "The first sequence number of the block.",
                            buffer,
                        ),
                        _u32_field(
                            "tcp.option.sack.re",
                            "Right edge",
                            buf,
                            at + 4,
                            "The sequence number just after the block.",
                            buffer,
                        ),
                    ),
                    buffer=buffer,
                )
            )
        return Field(
            "tcp.option.sack",
            "SACK",
            pos,
            end,
            value=body,
            display=plural(len(blocks), "block"),
            explanation="Selective acknowledgment: blocks that arrived beyond the cumulative "
            "ACK, so the sender resends only what is missing.",
            children=(*head, *blocks),
            buffer=buffer,
        )
    if kind == 8:
        tsval = int.from_bytes(body[:4], "big")
        tsecr = int.from_bytes(body[4:], "big")
        info.append(f"TSval={tsval} TSecr={tsecr}")
        return Field(
            "tcp.option.timestamp",
            "Timestamps",
            pos,
            end,
            value=tsval,
            display=f"TSval {tsval}, TSecr {tsecr}",
            explanation="Timestamps (RFC 7323): measure the round-trip time and guard against "
            "old segments whose sequence numbers have wrapped around (PAWS).",
            children=(
                *head,
                _u32_field(
                    "tcp.option.timestamp.tsval",
                    "Timestamp value (TSval)",
                    buf,
                    pos + 2,
                    "The sender's timestamp clock when it sent this.",
                    buffer,
                ),
                _u32_field(
                    "tcp.option.timestamp.tsecr",
                    "Timestamp echo reply (TSecr)",
                    buf,
                    pos + 6,
                    "The latest TSval received from the peer, echoed back "
                    "(0 in the first SYN: nothing to echo yet).",
                    buffer,
                ),
            ),
            buffer=buffer,
        )
    return Field(
        "tcp.option.unknown",
        TCP_OPTION_NAMES.get(kind, f"Option {kind}"),
        pos,
        end,
        value=body,
        display=f"kind {kind}, {plural(len(body), 'byte')} of data",
        explanation="An option wirelab does not decode; TCP skips unknown options by their length.",
        children=(
            *head,
            Field("tcp.option.data", "Data", pos + 2, end, value=body, buffer=buffer),
        ),
        buffer=buffer,
    )


# --- UDP ------------------------------------------------------------------------------


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
    head = buf[s : s + 8].ljust(8, b"\x00")
    sport, dport, ulen, checksum = struct.unpack("!HHHH", head)
    fields = [
        Field(
            "udp.srcport",
            "Source port",
            s,
            s + 2,
            value=sport,
            explanation="The sending application's port (0 if no reply is expected).",
            buffer=buffer,
        ),
        Field(
            "udp.dstport",
            "Destination port",
            s + 2,
            s + 4,
            value=dport,
            explanation="The receiving application's port (53 for DNS, 443 for QUIC).",
            buffer=buffer,
        ),
        Field(
            "udp.length",
            "Length",
            s + 4,
            s + 6,
            value=ulen,
            display=plural(ulen, "byte"),
            explanation="Header (8 bytes) plus data.",
            buffer=buffer,
            problem=None if 8 <= ulen <= length else "does not match the IP payload length",
        ),
    ]
    if checksum == 0 and (network is None or network.version == 4):
        fields.append(
            Field(
                "udp.checksum",
                "Checksum",
                s + 6,
                s + 8,
                value=0,
                display="0x0000 (none)",
                explanation="Zero: the sender did not compute a checksum (allowed over "
                "IPv4, not over IPv6).",
                buffer=buffer,
            )
        )
    else:
        fields.append(
            _checksum_field(
                "udp.checksum",
                buf,
                s,
                length,
                6,
                network,
                UDP_PROTO,
                "Covers the datagram plus a pseudo-header of IP addresses, protocol and length.",
                buffer,
            )
        )
    data_length = max(length - 8, 0)
    if avail >= 8 and data_length:
        fields.append(
            _payload_field(
                "udp.payload",
                "UDP payload",
                buf,
                s + 8,
                data_length,
                "The application's datagram, delivered whole or not at all.",
                buffer,
            )
        )
    fields = [f for f in fields if f.end <= len(buf)]
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


# --- ICMP -----------------------------------------------------------------------------

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
    kind, code = (buf[s], buf[s + 1]) if avail >= 2 else (buf[s] if avail else 0, 0)
    names = ICMPV6_TYPES if v6 else ICMP_TYPES
    kind_name = names.get(kind, f"type {kind}")
    code_name = ICMP_UNREACHABLE.get(code, "") if not v6 and kind == 3 else ""
    if not v6 and kind == 11:
        code_name = {0: "TTL exceeded in transit", 1: "fragment reassembly time exceeded"}.get(
            code, ""
        )
    fields = [
        Field(
            f"{prefix}.type",
            "Type",
            s,
            s + 1,
            value=kind,
            display=f"{kind} ({kind_name})",
            explanation="What kind of message: an error report about a packet, or a query "
            "such as ping.",
            buffer=buffer,
        ),
        Field(
            f"{prefix}.code",
            "Code",
            s + 1,
            s + 2,
            value=code,
            display=f"{code} ({code_name})" if code_name else str(code),
            explanation="Refines the type (for 'unreachable': network, host, port…).",
            buffer=buffer,
        ),
        _checksum_field(
            f"{prefix}.checksum",
            buf,
            s,
            length,
            2,
            network,
            ICMPV6_PROTO if v6 else None,
            "Covers the whole ICMP message" + (" and an IPv6 pseudo-header." if v6 else "."),
            buffer,
        ),
    ]
    info = kind_name
    echo = kind in ((128, 129) if v6 else (0, 8))
    if echo and avail >= 8:
        ident = int.from_bytes(buf[s + 4 : s + 6], "big")
        seq = int.from_bytes(buf[s + 6 : s + 8], "big")
        info += f" id={ident:#06x}, seq={seq}"
        fields += [
            Field(
                f"{prefix}.ident",
                "Identifier",
                s + 4,
                s + 6,
                value=ident,
                display=f"{ident:#06x}",
                explanation="Matches replies to the pinging program.",
                buffer=buffer,
            ),
            Field(
                f"{prefix}.seq",
                "Sequence number",
                s + 6,
                s + 8,
                value=seq,
                explanation="Counts the pings, so lost replies show.",
                buffer=buffer,
            ),
        ]
        rest = 8
    else:
        rest = 4
    if length > rest and avail > rest:
        fields.append(
            _payload_field(
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
    fields = [f for f in fields if f.end <= len(buf)]
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
