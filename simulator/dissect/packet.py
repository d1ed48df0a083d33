"""One wire record → one `Dissection`: the layers, outermost first, and a one-line summary.

A captured frame (`Layer.LINK`) is peeled link → IPv4/IPv6 → TCP/UDP/ICMP, its
application bytes left as a `tcp.payload` (or `udp.payload`) field: which
protocol they carry is only known from the stream they belong to, and the
reassembly that knows it adds those dissections with `combine`. A chunk tapped
at a socket (`Layer.STREAM`) has no headers of its own: it is one `stream`
field around its bytes.

Nothing here raises on bad bytes. Every layer marks what is wrong in a field's
`problem`, and `Dissection.problems` lists them all.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from simulator.dissect.fields import Buffer, Dissection, Field
from simulator.dissect.http import looks_like_http, problems_of, start_line
from simulator.dissect.icmp import dissect_icmp
from simulator.dissect.ipv4 import NetworkLayer, dissect_ipv4, protocol_name
from simulator.dissect.ipv6 import dissect_ipv6
from simulator.dissect.link import LinkLayer, Network, dissect_link
from simulator.dissect.registry import Kind, define
from simulator.dissect.tcp import dissect_tcp
from simulator.dissect.transport import (
    ICMP_PROTO,
    ICMPV6_PROTO,
    TCP_PROTO,
    UDP_PROTO,
    TransportLayer,
)
from simulator.dissect.udp import dissect_udp
from simulator.text import plural
from simulator.trace.records import Endpoint, Layer, LinkType, WireRecord, forgotten

LINK_TYPE_NAMES = {int(t): t.name for t in LinkType}


def _forgotten(record: WireRecord) -> Dissection:
    """A record a bounded live trace no longer keeps the bytes of."""
    length = record.original_length or 0
    what = f"{plural(length, 'byte')} no longer kept" if length else "no longer kept"
    where = f"{record.src} → {record.dst} " if record.src and record.dst else ""
    field = Field(
        "stream",
        f"Record {record.number}: {what}",
        0,
        0,
        value=length,
        explanation="The live trace keeps the most recent traffic only, so that a long "
        "session cannot use up the memory; this record's bytes were dropped to make room. "
        "Messages it carried were read before they went.",
    )
    return Dissection(f"{where}[{what}]", "TCP", (field,), (Buffer("", b""),), ())


SEGMENT_OF_A_PDU = "[TCP segment of a reassembled PDU]"  # Wireshark's words

define("frame", Kind.PROTOCOL, "One captured packet, from its link-layer header on")
define("frame.number", Kind.FRAME, "The packet's number in the capture, from 1")
define("frame.len", Kind.UINT, "The packet's length on the wire, in bytes")
define("frame.cap_len", Kind.UINT, "The bytes of it the capture kept (less when cut short)")
define("frame.time_epoch", Kind.SECONDS, "When it was captured, in seconds since 1970")
define("stream", Kind.PROTOCOL, "Bytes one side wrote into a TCP connection, at the socket")
define("stream.connection", Kind.UINT, "Which of the server's connections, from 1")
define("data", Kind.PROTOCOL, "Bytes no dissector reads further")
define("eth.padding", Kind.BYTES, "Bytes after the IP packet that fill a frame to 60")
define("messages.more", Kind.UINT, "Messages past the first 32 a packet completed, counted")


def dissect_record(record: WireRecord, *, segment: bool = False) -> Dissection:
    """Dissect one trace record or captured frame.

    `segment`: the record's TCP payload is the start (or a part) of a message that a
    later record completes (reassembly knows). An HTTP start line in it is then not
    claimed as the packet's protocol: the message is shown once, under the packet
    that completes it, as Wireshark does.
    """
    try:
        if record.layer is Layer.STREAM:
            return _stream(record, segment=segment)
        return _frame(record, segment=segment)
    except Exception as error:  # a dissector bug must not take a view down with it
        return _undissected(record, f"internal dissector error: {type(error).__name__}: {error}")


def combine(
    base: Dissection, extra: Sequence[Dissection], *, more: int = 0, more_at: int = 0
) -> Dissection:
    """`base` followed by the fields and buffers of `extra` (e.g. reassembled messages),
    and, when `more` is given, a line after the first `more_at` of them saying that many
    more messages were left out.

    Each extra's buffer indexes are shifted past the buffers before it. The
    protocol becomes the last extra's; the summary lists the extras' summaries,
    after `base`'s "source → destination" if it starts with one.
    """
    if not extra:
        return base
    fields = list(base.fields)
    buffers = list(base.buffers)
    problems = list(base.problems)
    left_out = plural(more, "more message", grouped=True)
    for n, dissection in enumerate(extra):
        if more and n == more_at:
            fields.append(
                Field("messages.more", f"[{left_out} completed in this packet]", 0, 0,
                      value=more, display="not dissected", explanation="Left out so that "
                      "one packet's output stays bounded; each was still followed, so the "
                      "messages after them are read in context.")
            )  # fmt: skip
        shift = len(buffers)
        fields.extend(_rebase(f, shift) for f in dissection.fields)
        buffers.extend(dissection.buffers)
        problems.extend(dissection.problems)
    summaries = [d.summary for d in extra]
    if more:
        summaries.insert(more_at, left_out)
    summary = " · ".join(summaries)
    if match := _ADDRESSES.match(base.summary):
        summary = f"{match.group(1)} {summary}"
    return Dissection(summary, extra[-1].protocol, tuple(fields), tuple(buffers), tuple(problems))


_ADDRESSES = re.compile(r"^(\S+ → \S+) ")


def _rebase(field: Field, shift: int) -> Field:
    return dataclasses.replace(
        field,
        buffer=field.buffer + shift,
        children=tuple(_rebase(child, shift) for child in field.children),
    )


# --- captured frames -------------------------------------------------------------------


def _frame(record: WireRecord, *, segment: bool = False) -> Dissection:
    data = record.data
    n = len(data)
    link = dissect_link(data, record.link_type)
    layers: list[Field] = [_frame_field(record)]
    if link.field is not None:
        layers.append(link.field)
    protocol = link.protocol
    summary = _link_summary(link, n)
    start = link.network_offset
    if link.network is Network.OTHER:
        if start < n:
            layers.append(_data(data, start, n, f"{link.carries} data"))
        return _finish(record, layers, protocol, summary)
    net = dissect_ipv4(data, start) if link.network is Network.IPV4 else dissect_ipv6(data, start)
    layers.append(net.field)
    protocol = link.network.value
    summary = _ip_summary(net)
    transport = _transport(data, net)
    if transport is not None:
        layers.append(transport.field)
        protocol = transport.protocol
        summary = _transport_summary(net, transport)
        payload = data[transport.payload_start : transport.payload_end]
        if transport.protocol == "TCP" and payload and looks_like_http(payload):
            if segment:
                summary = f"{summary} {SEGMENT_OF_A_PDU}"
            else:
                protocol = "HTTP"
                summary = f"{_endpoints(net, transport)} {start_line(payload)}"
    elif net.payload_end > net.payload_start:
        name = protocol_name(net.proto) if net.proto is not None else "IP"
        if not net.first_fragment:
            name += " fragment"
        layers.append(_data(data, net.payload_start, net.payload_end, f"{name} data"))
    if net.end < n and net.complete:
        layers = _with_trailer(layers, link, data, net.end)
    return _finish(record, layers, protocol, summary)


def _frame_field(record: WireRecord) -> Field:
    n = len(record.data)
    link_name = LINK_TYPE_NAMES.get(record.link_type, str(record.link_type))
    label = f"Frame {record.number}: {plural(n, 'byte')} captured"
    problem = None
    if record.truncated and record.original_length is not None:
        label += f" of {record.original_length} on the wire"
        problem = (
            f"the capture kept only {n} of {plural(record.original_length, 'byte')} (its snapshot "
            "length): the end of the packet is missing"
        )
    length = record.original_length or n
    children = (
        Field("frame.number", "Frame number", 0, 0, value=record.number,
              explanation="Its place in the capture, counted from 1."),
        Field("frame.len", "Frame length", 0, 0, value=length,
              display=plural(length, "byte"), explanation="How long the packet was on the wire."),
        Field("frame.cap_len", "Capture length", 0, 0, value=n, display=plural(n, "byte"),
              explanation="How much of it the capture kept: all of it unless the capture "
              "was taken with a snapshot length shorter than the packet."),
        Field("frame.time_epoch", "Arrival time", 0, 0, value=record.time,
              display=f"{record.time:.6f} seconds",
              explanation="When the capture saw it: seconds since 1970-01-01 (UTC) for a "
              "real capture, since the start of a simulated one."),
    )  # fmt: skip
    return Field(
        "frame",
        label,
        0,
        n,
        value=n,
        display=f"link type {link_name}",
        explanation="One packet as the capture saw it, from its link-layer header on; the "
        "link type says what that header is.",
        children=children,
        problem=problem,
    )


def _data(data: bytes, start: int, end: int, what: str) -> Field:
    return Field(
        "data",
        f"Data ({what}, {plural(end - start, 'byte')})",
        start,
        end,
        value=data[start:end],
        explanation="Bytes wirelab does not dissect further.",
    )


def _transport(data: bytes, net: NetworkLayer) -> TransportLayer | None:
    if net.proto is None or not net.first_fragment or net.payload_end <= net.payload_start:
        return None
    start, length = net.payload_start, net.payload_length
    if net.proto == TCP_PROTO:
        return dissect_tcp(data, start, length=length, network=net)
    if net.proto == UDP_PROTO:
        return dissect_udp(data, start, length=length, network=net)
    if (net.proto == ICMP_PROTO and net.version == 4) or (
        net.proto == ICMPV6_PROTO and net.version == 6
    ):
        return dissect_icmp(data, start, length=length, network=net)
    return None


def _with_trailer(layers: list[Field], link: LinkLayer, data: bytes, end: int) -> list[Field]:
    """Bytes after the IP packet: Ethernet pads short frames to 60 bytes."""
    rest = data[end:]
    if link.field is not None and link.field.name == "eth":
        padding = Field(
            "eth.padding",
            f"Padding ({plural(len(rest), 'byte')})",
            end,
            len(data),
            value=rest,
            explanation="Ethernet frames are at least 64 bytes with the CRC (60 without), "
            "so a short packet is padded, usually with zeros. Not part of the IP packet.",
        )
        eth = dataclasses.replace(link.field, children=(*link.field.children, padding))
        return [eth if f is link.field else f for f in layers]
    return [
        *layers,
        Field(
            "data",
            f"Trailer ({plural(len(rest), 'byte')})",
            end,
            len(data),
            value=rest,
            explanation="Bytes after the end the IP header announces: not part of the packet.",
        ),
    ]


def _finish(record: WireRecord, layers: list[Field], protocol: str, summary: str) -> Dissection:
    n = len(record.data)
    return Dissection(
        summary=summary,
        protocol=protocol,
        fields=tuple(layers),
        buffers=(Buffer(f"Frame {record.number} ({plural(n, 'byte')})", record.data),),
        problems=problems_of(layers),
    )


def _undissected(record: WireRecord, problem: str) -> Dissection:
    n = len(record.data)
    field = Field(
        "data",
        f"Data ({plural(n, 'byte')})",
        0,
        n,
        value=record.data,
        explanation="Bytes wirelab could not dissect.",
        problem=problem,
    )
    return Dissection(
        summary=f"{plural(n, 'byte')} (not dissected)",
        protocol="Data",
        fields=(field,),
        buffers=(Buffer(f"Frame {record.number} ({plural(n, 'byte')})", record.data),),
        problems=(problem,),
    )


# --- summaries -------------------------------------------------------------------------


def _link_summary(link: LinkLayer, n: int) -> str:
    if link.src and link.dst:
        return f"{link.src} → {link.dst} {link.carries}"
    return f"{link.protocol}: {link.carries}, {plural(n, 'byte')}"


def _ip_summary(net: NetworkLayer) -> str:
    what = protocol_name(net.proto) if net.proto is not None else "IP"
    if not net.whole:
        what += " fragment"
    if net.src is None or net.dst is None:
        return f"IPv{net.version} ({net.field.problem or 'incomplete'})"
    return f"{net.src} → {net.dst} {what}"


def _endpoints(net: NetworkLayer, transport: TransportLayer) -> str:
    src, dst = net.src or "?", net.dst or "?"
    if transport.srcport is None or transport.dstport is None:
        return f"{src} → {dst}"
    return f"{Endpoint(src, transport.srcport)} → {Endpoint(dst, transport.dstport)}"


def _transport_summary(net: NetworkLayer, transport: TransportLayer) -> str:
    return f"{_endpoints(net, transport)} {transport.info}"


# --- chunks of a TCP stream ------------------------------------------------------------


def _stream(record: WireRecord, *, segment: bool = False) -> Dissection:
    if forgotten(record):
        return _forgotten(record)
    data = record.data
    n = len(data)
    src = str(record.src) if record.src is not None else "?"
    dst = str(record.dst) if record.dst is not None else "?"
    where = f"{src} → {dst}"
    if record.connection is not None:
        where += f", connection {record.connection}"
    children: tuple[Field, ...] = ()
    if record.connection is not None:
        children += (
            Field(
                "stream.connection",
                f"Connection: {record.connection}",
                0,
                0,
                value=record.connection,
                explanation="Which of the server's connections wrote or read these bytes "
                "(numbered from 1 as they were accepted). Filter on it to follow one client.",
            ),
        )
    if n:
        children += (
            Field(
                "tcp.payload",
                f"Data ({plural(n, 'byte')})",
                0,
                n,
                value=data,
                explanation="The application's bytes, exactly as written to the socket.",
            ),
        )
    stream = Field(
        "stream",
        f"TCP stream data, {where}, {plural(n, 'byte')}",
        0,
        n,
        value=n,
        display=f"{plural(n, 'byte')} written by {src}",
        explanation="Bytes one side wrote into its TCP connection, recorded at the socket: "
        "TCP's headers are not here, and a chunk's edges need not match message edges.",
        children=children,
    )
    http = n > 0 and looks_like_http(data) and not segment
    return Dissection(
        summary=f"{src} → {dst} {start_line(data) if http else plural(n, 'byte')}",
        protocol="HTTP" if http else "TCP",
        fields=(stream,),
        buffers=(Buffer(f"Chunk {record.number} ({plural(n, 'byte')})", data),),
        problems=(),
    )
