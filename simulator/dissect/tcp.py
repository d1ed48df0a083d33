"""TCP (RFC 9293): the fixed header as a layout, the options walked one by one.

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

`TCP_HEADER` is the fixed part above, as data; options are walked here (kind,
length, value) so that each one gets its exact span. The checksum is verified
by recomputing it over the pseudo-header and the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.dissect.fields import Field
from simulator.dissect.ipv4 import NetworkLayer
from simulator.dissect.layout import Layout, Shown, Slot
from simulator.dissect.registry import Kind, alias, define
from simulator.dissect.transport import TCP_PROTO, TransportLayer, checksum, payload_field
from simulator.tcp.segment import FLAG_NAMES
from simulator.text import plural

# (mask, name, one line for the registry, explanation), in header order: CWR (bit 8) … FIN
# (bit 15).
TCP_FLAGS: tuple[tuple[int, str, str, str], ...] = (
    (
        0x80,
        "CWR",
        "Congestion window reduced: the sender slowed down after an ECN echo (RFC 3168)",
        "Congestion window reduced: the sender has slowed down after an ECN "
        "echo from its peer (RFC 3168).",
    ),
    (
        0x40,
        "ECE",
        "ECN echo: negotiates ECN in a SYN, later reports a congestion mark (RFC 3168)",
        "ECN echo: in the handshake, negotiates ECN (a SYN sets it together with "
        "CWR); afterwards, tells the peer that a router marked one of its packets "
        "'congestion experienced'.",
    ),
    (
        0x20,
        "URG",
        "Urgent: the urgent pointer is meaningful",
        "Urgent: the urgent pointer field is meaningful (rarely used).",
    ),
    (
        0x10,
        "ACK",
        "Acknowledgment: the acknowledgment number is meaningful",
        "Acknowledgment: the acknowledgment number is meaningful. Once a "
        "connection is open, every segment carries it; only the opening SYN (and "
        "a reset answering a stray segment) lack it.",
    ),
    (
        0x08,
        "PSH",
        "Push: deliver the data to the receiving application without waiting",
        "Push: hand the data to the receiving application now rather than "
        "waiting to fill a buffer.",
    ),
    (
        0x04,
        "RST",
        "Reset: abort the connection",
        "Reset: abort the connection at once (e.g. a segment for a port "
        "nobody listens on). No reply is sent to a reset.",
    ),
    (
        0x02,
        "SYN",
        "Synchronize: opens a connection, carrying the initial sequence number",
        "Synchronize: opens a connection and carries the initial sequence "
        "number. The SYN counts as one byte of sequence space.",
    ),
    (
        0x01,
        "FIN",
        "Finish: the sender has no more data to send",
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


@dataclass(frozen=True, slots=True)
class _Segment:
    """What the TCP slots' wording needs besides their own values."""

    syn: bool
    has_ack: bool
    checksum: Shown


def _seq_explanation(_: int, segment: _Segment) -> str:
    if segment.syn:
        return (
            "The initial sequence number (ISN), picked unpredictably for this connection. "
            "The SYN itself uses one number, so the first data byte will be ISN + 1."
        )
    return (
        "TCP numbers every byte it sends: this is the number of this segment's first "
        "data byte, which lets the receiver put segments in order and spot gaps."
    )


def _ack_explanation(_: int, segment: _Segment) -> str:
    if segment.has_ack:
        return (
            "The next sequence number this side expects from its peer: every byte before it "
            "has arrived (a cumulative acknowledgment)."
        )
    return (
        "Not meaningful: the ACK flag is clear, as on an opening SYN or a reset "
        "answering a stray segment."
    )


TCP_HEADER: Layout[_Segment] = Layout("TCP", 20, (
    Slot("tcp.srcport", "Source port", Kind.UINT, "The sending application's port", 0, 2,
         explanation="The sending application's port. Addresses and ports of both ends "
         "together name the connection; clients usually get a temporary port from their "
         "operating system."),
    Slot("tcp.dstport", "Destination port", Kind.UINT, "The receiving application's port",
         2, 2,
         explanation="The receiving application's port: a server listens on a known one "
         "(80 for HTTP, 443 for HTTPS, 8765 for wirelab's server)."),
    Slot("tcp.seq", "Sequence number", Kind.UINT,
         "The sequence number of the segment's first byte (in a SYN: the ISN)", 4, 4,
         explanation=_seq_explanation),
    Slot("tcp.ack", "Acknowledgment number", Kind.UINT,
         "The next sequence number the sender expects, if ACK is set", 8, 4,
         display=lambda v, c: str(v) if c.has_ack else f"{v} (not used: no ACK flag)",
         explanation=_ack_explanation),
    Slot("tcp.hdr_len", "Header length (data offset)", Kind.UINT,
         "The header's length in bytes: the data offset times 4", bits=(96, 100),
         value=lambda v, _: v * 4,
         display=lambda v, _: f"{plural(v * 4, 'byte')} ({v} × 4)",
         explanation="The header's length in 32-bit words (5 to 15: 20 to 60 bytes), so "
         "the receiver knows where options end and data begins.",
         problem=lambda v, _: None if v >= 5 else "below the minimum of 5 words (20 bytes)"),
    Slot("tcp.reserved", "Reserved", Kind.UINT, "Four bits reserved for future use",
         bits=(100, 104), display=lambda v, _: f"{v:#x}",
         explanation="Reserved for future use: senders set these bits to zero."),
    Slot("tcp.flags", "Flags", Kind.UINT, "The eight control bits, CWR to FIN",
         bits=(104, 112),
         display=lambda v, _: f"{v:#04x} ({', '.join(flag_names(v)) or 'none'})",
         explanation="Eight control bits: they open (SYN), acknowledge (ACK), push (PSH), "
         "close (FIN) or abort (RST) the connection, and signal congestion (ECE, CWR).",
         children=tuple(
             Slot(f"tcp.flags.{name.lower()}", name, Kind.BOOL, description,
                  bits=(104 + i, 105 + i), explanation=explanation)
             for i, (_, name, description, explanation) in enumerate(TCP_FLAGS)
         )),
    Slot("tcp.window", "Window", Kind.UINT,
         "The receive window, in units of 2^shift bytes once scaling is agreed", 14, 2,
         display=lambda v, c: f"{v} (never scaled in a SYN)" if c.syn else str(v),
         explanation="The receive window: how many bytes, starting at the acknowledgment "
         "number, this side is ready to receive now (flow control). Outside SYNs it is "
         "multiplied by 2^shift, the window scale agreed in the handshake."),
    Slot("tcp.checksum", "Checksum", Kind.UINT,
         "The checksum over the segment and a pseudo-header of IP addresses", 16, 2,
         shown=lambda _, c: c.checksum),
    Slot("tcp.urgent", "Urgent pointer", Kind.UINT,
         "Where urgent data ends, if URG is set", 18, 2,
         explanation="Meaningful only with URG: where urgent data ends. Rarely used; RFC "
         "9293 advises new applications against it."),
))  # fmt: skip

define("tcp", Kind.PROTOCOL, "Transmission Control Protocol (RFC 9293)")
define("tcp.len", Kind.UINT, "The segment's data length: the IP payload minus the TCP header")
define("tcp.payload", Kind.BYTES, "The application data the segment carries")
define("tcp.options", Kind.BYTES, "The options area of the header, after the fixed 20 bytes")
define("tcp.option.kind", Kind.UINT, "An option's kind: which option it is")
define("tcp.option.len", Kind.UINT, "An option's length in bytes, kind and length included")
define("tcp.option.eol", Kind.LABEL, "End of option list (kind 0)")
define("tcp.option.padding", Kind.BYTES, "Zeros after the end of option list")
define("tcp.option.nop", Kind.LABEL, "No-operation (kind 1): aligns the next option")
define("tcp.option.malformed", Kind.BYTES, "An option whose length is wrong")
define("tcp.option.mss", Kind.UINT, "Maximum segment size option (kind 2)")
define("tcp.option.mss.value", Kind.UINT, "The largest segment payload the sender accepts")
define("tcp.option.wscale", Kind.UINT, "Window scale option (kind 3, RFC 7323)")
define("tcp.option.wscale.shift", Kind.UINT, "The window scale: later windows count 2^shift")
define("tcp.option.sack_perm", Kind.BOOL, "SACK permitted option (kind 4, RFC 2018)")
define("tcp.option.sack", Kind.BYTES, "Selective acknowledgment option (kind 5, RFC 2018)")
define("tcp.option.sack.block", Kind.TEXT, "One block of data received out of order")
define("tcp.option.sack.le", Kind.UINT, "A SACK block's left edge: its first sequence number")
define("tcp.option.sack.re", Kind.UINT, "A SACK block's right edge: the number after it")
define("tcp.option.timestamp", Kind.UINT, "Timestamps option (kind 8, RFC 7323)")
define("tcp.option.timestamp.tsval", Kind.UINT, "The sender's timestamp clock")
define("tcp.option.timestamp.tsecr", Kind.UINT, "The latest timestamp received, echoed back")
define("tcp.option.unknown", Kind.BYTES, "An option wirelab does not decode")
define("tcp.option.data", Kind.BYTES, "The value bytes of an option wirelab does not decode")

# Wireshark's names for the same fields.
for _wireshark, _ours, _kind in (
    ("tcp.flags.push", "tcp.flags.psh", Kind.BOOL),
    ("tcp.flags.reset", "tcp.flags.rst", Kind.BOOL),
    ("tcp.urgent_pointer", "tcp.urgent", Kind.UINT),
    ("tcp.window_size_value", "tcp.window", Kind.UINT),
    ("tcp.option_len", "tcp.option.len", Kind.UINT),
    ("tcp.options.nop", "tcp.option.nop", Kind.LABEL),
    ("tcp.options.eol", "tcp.option.eol", Kind.LABEL),
    ("tcp.options.mss", "tcp.option.mss", Kind.UINT),
    ("tcp.options.mss_val", "tcp.option.mss.value", Kind.UINT),
    ("tcp.options.wscale", "tcp.option.wscale", Kind.UINT),
    ("tcp.options.wscale.shift", "tcp.option.wscale.shift", Kind.UINT),
    ("tcp.options.sack_perm", "tcp.option.sack_perm", Kind.BOOL),
    ("tcp.options.sack", "tcp.option.sack", Kind.BYTES),
    ("tcp.options.timestamp", "tcp.option.timestamp", Kind.UINT),
    ("tcp.options.timestamp.tsval", "tcp.option.timestamp.tsval", Kind.UINT),
    ("tcp.options.timestamp.tsecr", "tcp.option.timestamp.tsecr", Kind.UINT),
):
    alias(_wireshark, _kind, f"Wireshark's name for {_ours}", of=(_ours,))


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
    s = start
    avail = len(buf) - start
    if length is None:
        length = avail
    header = TCP_HEADER.read(buf, s)
    sport, dport = header.number("tcp.srcport"), header.number("tcp.dstport")
    seq, ack = header.number("tcp.seq"), header.number("tcp.ack")
    offset = header.number("tcp.hdr_len")  # the data offset: the header's length in words
    flags, window = header.number("tcp.flags"), header.number("tcp.window")
    urgent = header.number("tcp.urgent")
    hlen = offset * 4
    syn, has_ack = bool(flags & 0x02), bool(flags & 0x10)
    names = flag_names(flags)
    verdict = checksum(
        buf,
        s,
        length,
        16,
        network,
        TCP_PROTO,
        "Covers the whole segment plus a pseudo-header (both IP addresses, the protocol "
        "and the TCP length), so a segment delivered to the wrong host is caught too.",
    )
    fields = TCP_HEADER.fields(header, _Segment(syn, has_ack, verdict), buffer=buffer)
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
    if header_ok:
        # Not a header field: what the IP header leaves after TCP's, at the data's start.
        # After the ports, where Wireshark shows it ("TCP Segment Len").
        fields.insert(
            2,
            Field(
                "tcp.len",
                "TCP segment length",
                data_start,
                data_start,
                value=data_length,
                display=plural(data_length, "byte"),
                explanation="How many bytes of application data this segment carries: the "
                "IP packet's length minus the IP and TCP headers. 0 for a bare SYN, ACK or "
                "FIN; the sequence number advances by this much (plus 1 for a SYN or FIN).",
                buffer=buffer,
            ),
        )
    if header_ok and data_length:
        fields.append(
            payload_field(
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
