"""A capture's packets as columns: the fields display filters read most, for every packet,
read once without dissecting, so that a filter over 100,000 packets takes a fraction of a
second instead of 100,000 dissections.

Theory of operation. `Columns(capture)` reads the capture once, in order (`build`, or
`steps` in a worker, a batch at a time; it may start while the capture is still being
indexed and catch up later). Each packet is read from its bytes: the link header by
the link dissector itself (once per distinct header), IPv4 or IPv6 and TCP or UDP by
byte offsets. Its TCP connection is fed as the stream dissector feeds it (one
`Reassembler` per connection of the capture, packets in order), which says which
HTTP messages and WebSocket frames each packet completes, whether it holds the start
of a message not yet complete (then an HTTP start line in it does not make it an
HTTP packet), and where each side's sequence numbers start. What is kept is numbers
in `array`s, per packet, and per message shown, an HTTP head's fields as the HTTP
dissector gives them or a WebSocket frame's first two bytes: never a payload.

`Columns.packet(i)` is a `PacketFields`: the filter language tests it with the same
code it tests a dissection with, and it gives each field the value and the display
the dissectors give it. What it does not hold raises `Undecided` (the bytes of a span,
the value of a field that is a payload): that packet is then tested on its
dissection (`matches` does this). Some packets have no row at all: those the quick
reading could get wrong (a frame the capture cut short, an IP fragment, IPv6
extension headers, ICMP, a link layer that carries no IP, lengths that do not add up). A
filter that reads a field the columns do not hold at all (`covers`) is tested on
dissections throughout.

`tests/dissect/test_fast_filters.py` holds the two ways to each other: for every name
the columns offer, filters made of the values real dissections show must select the
same packets either way.
"""

from __future__ import annotations

import struct
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from simulator.dissect.fields import Buffer, Dissection, Field, FieldValue
from simulator.dissect.filters import FieldLike, Filter, Operand, PacketFields, Undecided
from simulator.dissect.http import looks_like_http
from simulator.dissect.ipv4 import address_text, protocol_name
from simulator.dissect.link import LinkLayer, Network, dissect_link
from simulator.dissect.messages import MessageDissector, shown_messages
from simulator.dissect.packet import LINK_TYPE_NAMES
from simulator.dissect.tcp import TCP_FLAGS, flag_names
from simulator.dissect.websocket import dissect_ws_frame
from simulator.text import plural
from simulator.trace.analysis import FLAGS, Analysis, Analyzer, info_marks
from simulator.trace.pcap import Capture
from simulator.trace.records import WireRecord
from simulator.trace.segments import SYN, ip_offset
from simulator.trace.streams import Pdu, Reassembler

BATCH = 5000  # packets read per step of `steps`
HTTP_KEPT = 4096  # characters of one HTTP head's fields kept; a longer head is dissected
CLOSE_KEPT = 256  # bytes of a close frame read for its code and reason (125 at most, §5.5)
_LINK_CACHE = 4096  # link headers remembered (a capture has a few: one per pair of stations)
_VALUE_CACHE = 1 << 16  # fields shared between packets (ports, addresses, flags)
_MASK32 = 0xFFFFFFFF
_IPV6_EXTENSIONS = frozenset({0, 43, 44, 60})  # hop-by-hop, routing, fragment, destination
_CLOSE = 0x8  # RFC 6455 §5.5.1
_LINK_PROTOCOLS = frozenset({"eth", "vlan", "sll", "null", "loop"})
_TRANSPORTS = {(6, 4): "tcp", (6, 6): "tcp", (17, 4): "udp", (17, 6): "udp", (1, 4): "icmp",
               (58, 6): "icmpv6"}  # fmt: skip
_IPV4 = struct.Struct("!BBHHHBBH4s4s")  # RFC 791 §3.1, up to the addresses
_IPV6 = struct.Struct("!IHBB16s16s")  # RFC 8200 §3
_TCP = struct.Struct("!HHIIBBHHH")  # RFC 9293 §3.1
_UDP = struct.Struct("!HHH")  # RFC 768
_NONE: frozenset[str] = frozenset()
_NOT_HELD = frozenset({"eth.padding"})  # a link-layer name whose value is packet bytes

FRAME_NAMES = ("frame", "frame.number", "frame.len", "frame.cap_len", "frame.time_epoch",
               "frame.time_relative")  # fmt: skip
IP_NAMES = ("ip", "ip.version", "ip.len", "ip.id", "ip.flags.rb", "ip.flags.df", "ip.flags.mf",
            "ip.ttl", "ip.proto", "ip.src", "ip.dst")  # fmt: skip
IPV6_NAMES = ("ipv6", "ipv6.version", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.src",
              "ipv6.dst")  # fmt: skip
TCP_FLAG_NAMES = tuple(f"tcp.flags.{name.lower()}" for _, name, *_ in TCP_FLAGS)
TCP_NAMES = ("tcp", "tcp.srcport", "tcp.dstport", "tcp.stream", "tcp.len", "tcp.seq", "tcp.ack",
             "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags", *TCP_FLAG_NAMES,
             "tcp.window", "tcp.window_size", "tcp.window_size_scalefactor",
             "tcp.urgent")  # fmt: skip
ANALYSIS_NAMES = ("tcp.analysis.flags", *(f"tcp.analysis.{flag}" for flag in FLAGS),
                  "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame")  # fmt: skip
UDP_NAMES = ("udp", "udp.srcport", "udp.dstport", "udp.length")
WS_HEADER_NAMES = ("ws.fin", "ws.rsv1", "ws.rsv2", "ws.rsv3", "ws.opcode", "ws.mask",
                   "ws.payload_length")  # fmt: skip
WS_NAMES = ("ws", *WS_HEADER_NAMES, "ws.extended_payload_length", "ws.close.code",
            "ws.close.reason")  # fmt: skip
OTHER_NAMES = ("icmp", "icmpv6", "data", "messages.more")


def offered(name: str) -> bool:
    """Whether the columns hold every field called `name` (in the packets that have a row):
    the names above, every HTTP name, and the link layers' (the link dissector's own
    fields, kept per header)."""
    if name in _OFFERED:
        return True
    first = name.split(".", 1)[0]
    return first == "http" or (first in _LINK_PROTOCOLS and name not in _NOT_HELD)


_OFFERED = frozenset(
    (*FRAME_NAMES, *IP_NAMES, *IPV6_NAMES, *TCP_NAMES, *ANALYSIS_NAMES, *UDP_NAMES, *WS_NAMES,
     *OTHER_NAMES)
)  # fmt: skip


# --- fields as the columns give them ------------------------------------------------------


class _Field(NamedTuple):
    """A field whose value and display the columns hold."""

    name: str
    value: FieldValue
    display: str = ""
    label: str = ""


class _Shared(_Field):
    """A field many packets show alike (a port, an address, a flag), kept once: a test's
    answer for it is remembered (`_Row.test`)."""

    __slots__ = ()


_MISSING = object()


class _Partly:
    """A field of which the columns hold only part: reading the rest raises `Undecided`."""

    __slots__ = ("_display", "_value", "label", "name")

    def __init__(
        self, name: str, *, value: object = _MISSING, display: object = _MISSING, label: str = ""
    ) -> None:
        self.name = name
        self.label = label
        self._value = value
        self._display = display

    @property
    def value(self) -> FieldValue:
        if self._value is _MISSING:
            raise Undecided(f"the value of {self.name} is not kept")
        return self._value  # type: ignore[return-value]

    @property
    def display(self) -> str:
        if self._display is _MISSING:
            raise Undecided(f"how {self.name} reads depends on its connection")
        return self._display  # type: ignore[return-value]


def _light(field: Field) -> FieldLike:
    """A dissected field as the columns keep it: a payload's bytes are not kept."""
    if isinstance(field.value, bytes):
        return _Partly(field.name, display=field.display, label=field.label)
    return _Field(field.name, field.value, field.display, field.label)


def _text_size(fields: Sequence[FieldLike]) -> int:
    size = 0
    for field in fields:
        size += len(field.display) + len(field.label)
        if isinstance(field, _Field) and isinstance(field.value, str):
            size += len(field.value)
    return size


def _seconds(value: float) -> str:
    return f"{value:.6f} seconds"


# --- what a packet is made of, interned -------------------------------------------------


class _Link:
    """A link header as the link dissector read it: its fields by name, and where IP is.
    (Shared by the packets with the same header; compared by identity.)"""

    __slots__ = ("fields", "frame_display", "names", "network", "offset")

    def __init__(
        self,
        fields: Mapping[str, tuple[FieldLike, ...]],
        network: Network,
        offset: int,
        link_type: int,
    ) -> None:
        self.fields = fields
        self.network = network
        self.offset = offset
        self.names = frozenset(name.split(".", 1)[0] for name in fields)  # first words
        # How the frame field reads: "link type ETHERNET".
        self.frame_display = f"link type {LINK_TYPE_NAMES.get(link_type, str(link_type))}"


def _link_of(layer: LinkLayer, link_type: int) -> _Link:
    fields: dict[str, tuple[FieldLike, ...]] = {}
    if layer.field is not None:
        for _, field in layer.field.walk():
            fields[field.name] = (*fields.get(field.name, ()), _light(field))
    return _Link(fields, layer.network, layer.network_offset, link_type)


class _Shape(NamedTuple):
    """What a packet holds, shared by every packet built alike."""

    link: _Link
    network: int  # 4 or 6
    transport: str | None  # "tcp", "udp", "icmp", "icmpv6"
    data: bool  # a `data` field: IP payload no dissector reads, or bytes after the packet
    prefixes: frozenset[str]


class _Picker(MessageDissector):
    """Stands in for the message dissector when `shown_messages` chooses which of a
    packet's messages a dissection shows: the same choice, by the same code, and nothing
    dissected."""

    _NOTHING = Dissection("", "", (), (Buffer("", b""),))

    def learn(self, pdu: Pdu) -> None:
        del pdu

    def dissect(self, pdu: Pdu) -> Dissection:
        del pdu
        return self._NOTHING


# --- the columns ---------------------------------------------------------------------------


class Columns:
    """Per-packet values of a capture for display filters; see the module docstring.

    `relative` says how `tcp.seq` and `tcp.ack` read, as the stream dissector's setting
    of the same name does (the inspector's default: relative, as Wireshark shows them).
    Safe to read from one thread while another builds.
    """

    def __init__(self, capture: Capture, *, relative: bool = True) -> None:
        self.capture = capture
        self.relative = relative
        self._lock = threading.Lock()
        self._count = 0  # packets read; set last, so that readers only see whole rows
        self._first_time = 0.0
        # per packet
        self._shape = array("i")  # index into _shapes; -1: no row (dissect it)
        self._row = array("I")  # index into the per-row columns below
        self._messages = array("I", [0])  # packet i's messages: _message[m[i]:m[i + 1]]
        # per row
        self._time = array("d")
        self._caplen = array("I")
        self._src = array("I")  # index into _addresses
        self._dst = array("I")
        self._ttl = array("B")  # IPv4 TTL or IPv6 hop limit
        self._proto = array("B")  # IPv4 protocol or IPv6 next header
        self._iplen = array("I")  # IPv4 total length or IPv6 payload length
        self._ipid = array("H")
        self._ipflags = array("B")
        self._sport = array("H")  # TCP or UDP ports
        self._dport = array("H")
        self._seq = array("I")
        self._ack = array("I")
        self._seq_origin = array("q")  # -1: not known
        self._ack_origin = array("q")
        self._tflags = array("B")
        self._window = array("H")
        self._factor = array("i")  # the window's scale factor, 0 for none (a SYN)
        self._thlen = array("B")
        self._tlen = array("I")  # the TCP data length, or UDP's length field
        self._urgent = array("H")
        self._analysis: dict[int, Analysis] = {}  # the packets the TCP analysis flags
        # per message shown: >= 0 a WebSocket frame (index into _ws_*), < 0 ~ an HTTP head
        self._message = array("i")
        self._ws_head = array("H")  # the frame's first two bytes
        self._ws_extended = array("q")  # the 16- or 64-bit payload length; -1: none
        self._ws_close: dict[int, tuple[FieldLike, ...] | None] = {}  # None: too long to keep
        self._heads: list[tuple[FieldLike, ...] | None] = []  # None: too long, not kept
        self._more: dict[int, int] = {}  # packets completing more messages than shown
        # interned
        self._shapes: list[_Shape] = []
        self._shape_ids: dict[tuple[object, ...], int] = {}
        self._addresses: list[bytes] = []
        self._address_ids: dict[bytes, int] = {}
        self._links: dict[tuple[int, bytes], _Link | None] = {}
        self._ws_fields: dict[int, tuple[FieldLike, ...]] = {}
        self._values: dict[tuple[object, ...], FieldLike] = {}
        self._verdicts: dict[tuple[object, ...], bool] = {}
        # connections being read
        self._reassemblers: dict[int, Reassembler] = {}
        self._sides: dict[int, dict[bytes, tuple[int, int | None]]] = {}
        self._http = MessageDissector()
        self._picker = _Picker()
        self._analyzers: dict[int, Analyzer] = {}

    # --- building ---------------------------------------------------------------------

    def __len__(self) -> int:
        """Packets read so far."""
        return self._count

    @property
    def done(self) -> bool:
        """Every packet of a fully indexed capture is read."""
        return self.capture.done and self._count >= len(self.capture)

    def build(self, until: int | None = None) -> int:
        """Read the packets before index `until` (all those indexed when None); returns
        how many are read."""
        with self._lock:
            stop = len(self.capture) if until is None else min(until, len(self.capture))
            if self._count == 0 and stop > 0:
                self._first_time = self.capture.record(0).time
            for index in range(self._count, stop):
                self._read(self.capture.record(index))
                self._count = index + 1
            if self.done:  # no packet will come: the connections' state can go
                self._reassemblers.clear()
                self._sides.clear()
                self._analyzers.clear()
                self._http = MessageDissector()
            return self._count

    def steps(self, batch: int = BATCH) -> Iterator[int]:
        """Read what is indexed, a batch at a time, yielding the count after each."""
        while self._count < len(self.capture):
            yield self.build(self._count + batch)

    def nbytes(self) -> int:
        """About how much memory the columns hold, in bytes."""
        total = sum(a.itemsize * len(a) for a in vars(self).values() if isinstance(a, array))
        total += sum(len(head) * 150 for head in self._heads if head is not None)
        return total + 150 * (len(self._values) + len(self._address_ids) + len(self._links))

    # --- reading one packet -------------------------------------------------------------

    def _read(self, record: WireRecord) -> None:
        connection = self.capture.connection_of(record.index)
        pdus: list[Pdu] = []
        held = False
        if connection is not None:
            # As the stream dissector reads a connection: its analysis, then reassembly.
            analyzer = self._analyzers.get(connection)
            if analyzer is None:
                analyzer = self._analyzers[connection] = Analyzer()
            analysis = analyzer.feed(record)
            if analysis is not None:
                self._analysis[record.index] = analysis
            reassembler = self._reassemblers.get(connection)
            if reassembler is None:
                reassembler = self._reassemblers[connection] = Reassembler(keep=False)
            pdus = reassembler.feed(record)
            held = reassembler.held_last
            for pdu in pdus:
                if pdu.kind == "http":
                    self._http.learn(pdu)  # all of them before any is shown, as it does
        shape = self._read_row(record, connection, pdus, held)
        self._shape.append(shape)
        self._row.append(len(self._time) - 1 if shape >= 0 else 0)
        if shape < 0:
            self._messages.append(len(self._message))
            if connection is not None:
                self._sides.pop(connection, None)  # it may have moved a side's numbering
        if connection is not None and self.capture.done:
            members = self.capture.connection_packets(connection)
            if members[len(members) - 1] == record.index:  # its last packet: let it go
                self._reassemblers.pop(connection, None)
                self._sides.pop(connection, None)
                self._analyzers.pop(connection, None)

    def _read_row(
        self, record: WireRecord, connection: int | None, pdus: list[Pdu], held: bool
    ) -> int:
        """Append the packet's row; its shape, or -1 when it has none."""
        data = record.data
        if record.original_length is not None:
            return -1
        link = self._link(data, record.link_type)
        if link is None:
            return -1
        start = link.offset
        avail = len(data) - start
        if link.network is Network.IPV4:
            if avail < 20:
                return -1
            first, _, total, ident, fragment, ttl, proto, _, src, dst = _IPV4.unpack_from(
                data, start
            )
            hlen = (first & 0x0F) * 4
            if first >> 4 != 4 or hlen < 20 or not hlen <= total <= avail or fragment & 0x3FFF:
                return -1
            version, length, size, flags = 4, total, total, fragment >> 13
        else:
            if avail < 40:
                return -1
            first, size, proto, ttl, src, dst = _IPV6.unpack_from(data, start)
            hlen, version, length, ident, flags = 40, 6, 40 + size, 0, 0
            if first >> 28 != 6 or length > avail or proto in _IPV6_EXTENSIONS:
                return -1
        at, end = start + hlen, start + length
        transport = _TRANSPORTS.get((proto, version)) if end > at else None
        if transport == "tcp" and (end - at < 20 or not 20 <= (data[at + 12] >> 4) * 4 <= end - at):
            return -1
        if transport == "udp" and end - at < 8:
            return -1
        if transport in ("icmp", "icmpv6"):
            return -1  # an error message quotes the packet it is about: IP inside IP
        if transport == "tcp" and connection is None:
            return -1  # the capture's index did not find it: dissected alone, out of context

        # Every check passed: the packet has a row.
        self._time.append(record.time)
        self._caplen.append(len(data))
        self._src.append(self._address(src))
        self._dst.append(self._address(dst))
        self._proto.append(proto)
        self._ttl.append(ttl)
        self._iplen.append(size)
        self._ipid.append(ident)
        self._ipflags.append(flags)
        word = transport or ("ip" if version == 4 else "ipv6")
        if transport == "tcp":
            payload = self._tcp(record, at, end, connection, src, dst)
            if not held and end > payload and looks_like_http(data[payload:end]):
                word = "http"
        else:
            self._no_tcp()
            if transport == "udp":
                sport, dport, size = _UDP.unpack_from(data, at)
                self._sport[-1], self._dport[-1], self._tlen[-1] = sport, dport, size
        app, last = self._add_messages(pdus)
        # Bytes no dissector reads: an IP payload of another protocol, or what follows the
        # IP packet in a frame (Ethernet's padding is a field of its own).
        data_field = bool(transport is None and end > at) or (
            end < len(data) and "eth" not in link.fields
        )
        key = (link, version, transport, data_field, last or word, app)
        found = self._shape_ids.get(key)
        if found is None:
            prefixes = {"frame", *link.names, "ip" if version == 4 else "ipv6", last or word}
            prefixes.update(app)
            if transport is not None:
                prefixes.add(transport)
            if data_field:
                prefixes.add("data")
            shape = _Shape(link, version, transport, data_field, frozenset(prefixes))
            found = self._shape_ids[key] = len(self._shapes)
            self._shapes.append(shape)
        return found

    def _link(self, data: bytes, link_type: int) -> _Link | None:
        """The link header, read by the link dissector once per distinct header; None when
        it carries no IP, or not where the stream reader finds it."""
        start = ip_offset(data, link_type)
        if start < 0 or len(data) < start + 20:
            return None
        key = (link_type, data[: start + 1])  # the IP version nibble, for raw IP
        if key in self._links:
            return self._links[key]
        layer = dissect_link(data, link_type)
        usable = layer.network_offset == start and layer.network is not Network.OTHER
        link = _link_of(layer, link_type) if usable else None
        if len(self._links) >= _LINK_CACHE:
            self._links.clear()
        self._links[key] = link
        return link

    def _address(self, raw: bytes) -> int:
        found = self._address_ids.get(raw)
        if found is None:
            found = self._address_ids[raw] = len(self._addresses)
            self._addresses.append(raw)
        return found

    def _tcp(
        self, record: WireRecord, at: int, end: int, connection: int | None, src: bytes, dst: bytes
    ) -> int:
        """Append the TCP columns; where the segment's data starts."""
        data = record.data
        sport, dport, seq, ack, offset, flags, window, _, urgent = _TCP.unpack_from(data, at)
        thlen: int = (offset >> 4) * 4
        self._sport.append(sport)
        self._dport.append(dport)
        self._seq.append(seq)
        self._ack.append(ack)
        self._tflags.append(flags)
        self._window.append(window)
        self._thlen.append(thlen)
        self._tlen.append(end - at - thlen)
        self._urgent.append(urgent)
        sender, receiver = src + data[at : at + 2], dst + data[at + 2 : at + 4]
        seq_origin, ack_origin, factor = self._numbering(record, connection, sender, receiver)
        self._seq_origin.append(-1 if seq_origin is None else seq_origin)
        self._ack_origin.append(-1 if ack_origin is None else ack_origin)
        self._factor.append(0 if factor is None else factor)
        return at + thlen

    def _no_tcp(self) -> None:
        for column in (
            self._sport,
            self._dport,
            self._seq,
            self._ack,
            self._tflags,
            self._window,
            self._thlen,
            self._tlen,
            self._urgent,
            self._factor,
        ):
            column.append(0)  # fmt: skip
        self._seq_origin.append(-1)
        self._ack_origin.append(-1)

    def _numbering(
        self, record: WireRecord, connection: int | None, sender: bytes, receiver: bytes
    ) -> tuple[int | None, int | None, int | None]:
        """Where the last packet fed counts its sequence and acknowledgment numbers from,
        and its window's scale factor, as the reassembler says.

        Asking the reassembler reads the segment again, so each side's answers are kept:
        a side's numbering starts at its SYN or else at its first segment, and scaling is
        decided by the SYNs, so only a SYN (which may also open a new connection on the
        same ports) changes them, and then the connection's are asked again."""
        reassembler = self._reassemblers.get(connection) if connection is not None else None
        if connection is None or reassembler is None:
            return None, None, None
        sides = self._sides.setdefault(connection, {})
        syn = self._tflags[-1] & SYN
        if syn:
            sides.clear()
        mine, theirs = sides.get(sender), sides.get(receiver)
        if mine is None or theirs is None:
            seq, ack = reassembler.origins(record)
            factor = reassembler.window_factor(record) if mine is None else mine[1]
            if seq is not None and not syn:
                sides[sender] = (seq, factor)
            return seq, (theirs[0] if theirs is not None else ack), factor
        return mine[0], theirs[0], mine[1]

    def _add_messages(self, pdus: list[Pdu]) -> tuple[frozenset[str], str | None]:
        """Keep what the messages the packet completes show; the first words of their
        fields' names, and the protocol of the last one shown."""
        if not pdus:
            self._messages.append(len(self._message))
            return _NONE, None
        prefixes: set[str] = set()
        shown = shown_messages(pdus, self._picker)
        if shown.left_out:
            self._more[len(self._shape)] = shown.left_out
            prefixes.add("messages")
        for pdu in shown.pdus:
            if pdu.kind == "http":
                self._message.append(~len(self._heads))
                kept = tuple(_light(f) for _, f in self._http.dissect(pdu).walk())
                prefixes.update(f.name.split(".", 1)[0] for f in kept)
                self._heads.append(kept if _text_size(kept) <= HTTP_KEPT else None)
                continue
            head = pdu.data
            self._message.append(len(self._ws_head))
            self._ws_head.append((head[0] << 8) | head[1])
            marker = head[1] & 0x7F
            size = 2 if marker == 126 else 8 if marker == 127 else 0
            self._ws_extended.append(int.from_bytes(head[2 : 2 + size], "big") if size else -1)
            if head[0] & 0x0F == _CLOSE:  # its code and reason, as the dissector reads them
                self._ws_close[len(self._ws_head) - 1] = (
                    tuple(
                        _light(f)
                        for _, f in dissect_ws_frame(head).walk()
                        if f.name.startswith("ws.close.")
                    )
                    if len(head) <= CLOSE_KEPT
                    else None
                )
            prefixes.add("ws")
        self._messages.append(len(self._message))
        return frozenset(prefixes), "http" if shown.pdus[-1].kind == "http" else "ws"

    # --- reading a row ------------------------------------------------------------------

    def packet(self, index: int) -> PacketFields | None:
        """Packet `index`'s fields as filters read them, or None when it has no row (test
        its dissection instead). Only packets already read (`len`) have one."""
        if not 0 <= index < self._count:
            return None
        shape = self._shape[index]
        if shape < 0:
            return None
        return _Row(self, index, self._row[index], self._shapes[shape])

    def covers(self, test: Filter) -> bool:
        """Whether every field `test` reads is one the columns hold."""
        return all(offered(name) for name in test.needs)

    def matches(self, test: Filter, index: int, dissect: Callable[[int], Dissection]) -> bool:
        """Does packet `index` match `test`? Read from its row when that can tell, else
        from `dissect(index)`. (The packet must be read already: `build`.)"""
        row = self.packet(index)
        if row is not None:
            try:
                return test.matches(row)
            except Undecided:
                pass
        return test(dissect(index))

    def _value(self, name: str, value: FieldValue, display: str = "") -> FieldLike:
        """A field shared by every packet that shows it alike (ports, flags, lengths)."""
        key = (name, type(value), value, display)
        found = self._values.get(key)
        if found is None:
            if len(self._values) >= _VALUE_CACHE:
                self._values.clear()
            found = self._values[key] = _Shared(name, value, display)
        return found

    def _address_field(self, name: str, address: int) -> FieldLike:
        key = (name, address)
        found = self._values.get(key)
        if found is None:
            text, note = address_text(self._addresses[address])
            found = self._values[key] = _Shared(name, text, f"{text} ({note})" if note else text)
        return found

    def _ws_header(self, head: int) -> tuple[FieldLike, ...]:
        """A frame's header fields, from its first two bytes, as the WebSocket dissector
        reads them (from those two bytes alone: none of these depends on more). How RSV1
        reads depends on the connection's extensions: its display is not held."""
        found = self._ws_fields.get(head)
        if found is None:
            top = dissect_ws_frame(bytes((head >> 8, head & 0xFF)))
            fields: list[FieldLike] = []
            for _, field in top.walk():
                if field.name == "ws.rsv1":
                    fields.append(_Partly(field.name, value=field.value, label=field.label))
                elif field.name in WS_HEADER_NAMES:
                    fields.append(_Shared(field.name, field.value, field.display, field.label))
            found = self._ws_fields[head] = tuple(fields)
        return found


class _Row(PacketFields):
    """One packet's row, as a filter reads it."""

    __slots__ = ("columns", "index", "prefixes", "row", "shape")

    def __init__(self, columns: Columns, index: int, row: int, shape: _Shape) -> None:
        self.columns = columns
        self.index = index
        self.row = row
        self.shape = shape
        self.prefixes = shape.prefixes

    def span(self, field: FieldLike) -> bytes:
        raise Undecided(f"the bytes of {field.name} are not kept")

    def test(self, field: FieldLike, op: str, literal: Operand) -> bool:
        if type(field) is not _Shared:
            return super().test(field, op, literal)
        # The answer depends on the field's value and display alone: worked out once.
        verdicts = self.columns._verdicts
        key = (field, op, literal, type(literal))
        found = verdicts.get(key)
        if found is None:
            if len(verdicts) >= _VALUE_CACHE:
                verdicts.clear()
            found = verdicts[key] = super().test(field, op, literal)
        return found

    def fields_named(self, name: str) -> Sequence[FieldLike]:
        reader = _READERS.get(name)
        if reader is not None:
            return reader(self)
        first = name.split(".", 1)[0]
        if first == "http":
            return [f for f in self.heads() if f.name == name]
        if first in _LINK_PROTOCOLS:
            return self.shape.link.fields.get(name, ())
        return ()

    def messages(self) -> range:
        columns = self.columns
        return range(columns._messages[self.index], columns._messages[self.index + 1])

    def heads(self) -> Iterator[FieldLike]:
        """The fields of the HTTP messages shown."""
        columns = self.columns
        for at in self.messages():
            message = columns._message[at]
            if message < 0:
                head = columns._heads[~message]
                if head is None:
                    raise Undecided("an HTTP head too long to keep")
                yield from head

    def frames(self) -> Iterator[int]:
        """The WebSocket frames shown (indexes into the frame columns)."""
        columns = self.columns
        for at in self.messages():
            message = columns._message[at]
            if message >= 0:
                yield message


# --- how each name reads ---------------------------------------------------------------
#
# One function per name, looked up by `_Row.fields_named`: each says whether the packet
# has that field (its shape) and gives it as the dissectors do, shared between packets
# when many show it alike (`Columns._value`).

Reader = Callable[[_Row], Sequence[FieldLike]]
_READERS: dict[str, Reader] = {}


def _reader(*names: str) -> Callable[[Callable[[str], Reader]], Callable[[str], Reader]]:
    """Register, for each of `names`, the reader the decorated factory makes for it."""

    def register(factory: Callable[[str], Reader]) -> Callable[[str], Reader]:
        for name in names:
            _READERS[name] = factory(name)
        return factory

    return register


@_reader(*FRAME_NAMES)
def _frame(name: str) -> Reader:
    def frame(row: _Row) -> Sequence[FieldLike]:
        return (_Field(name, row.columns._caplen[row.row], row.shape.link.frame_display),)

    def number(row: _Row) -> Sequence[FieldLike]:
        return (_Field(name, row.index + 1),)

    def length(row: _Row) -> Sequence[FieldLike]:
        size = row.columns._caplen[row.row]
        return (row.columns._value(name, size, plural(size, "byte")),)

    def time(row: _Row) -> Sequence[FieldLike]:
        when = row.columns._time[row.row]
        if name == "frame.time_relative":
            when -= row.columns._first_time
        return (_Field(name, when, _seconds(when)),)

    if name == "frame":
        return frame
    if name == "frame.number":
        return number
    return length if name in ("frame.len", "frame.cap_len") else time


@_reader(*IP_NAMES, *IPV6_NAMES)
def _ip(name: str) -> Reader:
    version = 6 if name.startswith("ipv6") else 4
    part = name.partition(".")[2]
    # (column, how its number reads) for the fields that are one number
    numbers: dict[str, tuple[str, Callable[[int], str] | None]] = {
        "ttl": ("_ttl", None),
        "hlim": ("_ttl", None),
        "proto": ("_proto", lambda v: f"{v} ({protocol_name(v)})"),
        "nxt": ("_proto", lambda v: f"{v} ({protocol_name(v)})"),
        "len": ("_iplen", lambda v: plural(v, "byte")),
        "plen": ("_iplen", lambda v: plural(v, "byte")),
        "id": ("_ipid", lambda v: f"{v:#06x} ({v})"),
    }
    bits = {"flags.rb": 4, "flags.df": 2, "flags.mf": 1}

    def read(row: _Row) -> Sequence[FieldLike]:
        if row.shape.network != version:
            return ()
        c, r = row.columns, row.row
        if part in ("src", "dst"):
            return (c._address_field(name, (c._src if part == "src" else c._dst)[r]),)
        if part in numbers:
            column, shown = numbers[part]
            value = getattr(c, column)[r]
            return (c._value(name, value, shown(value) if shown is not None else ""),)
        if part in bits:
            return (c._value(name, bool(c._ipflags[r] & bits[part])),)
        return (c._value(name, version if part == "version" else None),)

    return read


@_reader(*TCP_NAMES)
def _tcp(name: str) -> Reader:
    def read(row: _Row) -> Sequence[FieldLike]:
        if row.shape.transport != "tcp":
            return ()
        c, r = row.columns, row.row
        if name == "tcp.srcport":
            return (c._value(name, c._sport[r]),)
        if name == "tcp.dstport":
            return (c._value(name, c._dport[r]),)
        if name in ("tcp.seq", "tcp.ack", "tcp.seq_raw", "tcp.ack_raw"):
            return _numbers(row, name)
        flags = c._tflags[r]
        if name in TCP_FLAG_NAMES:
            return (c._value(name, bool(flags & (0x80 >> TCP_FLAG_NAMES.index(name)))),)
        if name == "tcp.flags":
            shown = ", ".join(flag_names(flags)) or "none"
            return (c._value(name, flags, f"{flags:#04x} ({shown})"),)
        if name == "tcp.stream":
            stream = c.capture.connection_of(row.index)
            return () if stream is None else (c._value(name, stream),)
        if name == "tcp.len":
            size = c._tlen[r]
            return (c._value(name, size, plural(size, "byte")),)
        if name == "tcp.hdr_len":
            size = c._thlen[r]
            return (c._value(name, size, f"{plural(size, 'byte')} ({size // 4} × 4)"),)
        if name == "tcp.urgent":
            return (c._value(name, c._urgent[r]),)
        if name.startswith("tcp.window"):
            return _window(row, name, flags)
        return (c._value(name, None),)

    return read


def _numbers(row: _Row, name: str) -> Sequence[FieldLike]:
    """`tcp.seq` and `tcp.ack` as `relative_numbers` gives them: relative to where each
    side starts when that is known, the raw numbers then beside them as `tcp.seq_raw`
    and `tcp.ack_raw` (an acknowledgment number without the ACK flag is not used, and
    stays as it is)."""
    c, r = row.columns, row.row
    seq, ack, has_ack = c._seq[r], c._ack[r], bool(c._tflags[r] & 0x10)
    seq_origin, ack_origin = c._seq_origin[r], c._ack_origin[r]
    relative_seq = c.relative and seq_origin >= 0
    relative_ack = c.relative and ack_origin >= 0 and has_ack
    if name == "tcp.seq":
        if relative_seq:
            number = (seq - seq_origin) & _MASK32
            return (_Field(name, number, f"{number} (relative)"),)
        return (_Field(name, seq),)
    if name == "tcp.ack":
        if relative_ack:
            number = (ack - ack_origin) & _MASK32
            return (_Field(name, number, f"{number} (relative)"),)
        return (_Field(name, ack, str(ack) if has_ack else f"{ack} (not used: no ACK flag)"),)
    if not (relative_seq or relative_ack):
        return ()
    return (_Field(name, seq if name == "tcp.seq_raw" else ack),)


def _window(row: _Row, name: str, flags: int) -> Sequence[FieldLike]:
    """`tcp.window` and, as `scaled_window` adds them, the window it stands for and the
    factor that scales it (none for a SYN, whose window is never scaled)."""
    c, r = row.columns, row.row
    window = c._window[r]
    if name == "tcp.window":
        shown = f"{window} (never scaled in a SYN)" if flags & SYN else str(window)
        return (c._value(name, window, shown),)
    factor = c._factor[r] or None
    if name == "tcp.window_size_scalefactor":
        if factor is None:
            return ()
        shown = _FACTORS.get(factor) or f"{factor} (shift {factor.bit_length() - 1})"
        return (c._value(name, factor, shown),)
    size = window * factor if factor is not None and factor > 0 else window
    return (c._value(name, size, f"{size} bytes"),)


_FACTORS = {-1: "-1 (unknown)", -2: "-2 (no window scaling used)"}


@_reader(*UDP_NAMES)
def _udp(name: str) -> Reader:
    column = {"udp.srcport": "_sport", "udp.dstport": "_dport", "udp.length": "_tlen"}.get(name)

    def read(row: _Row) -> Sequence[FieldLike]:
        if row.shape.transport != "udp":
            return ()
        c = row.columns
        if column is None:
            return (c._value(name, None),)
        value = getattr(c, column)[row.row]
        return (c._value(name, value, plural(value, "byte") if name == "udp.length" else ""),)

    return read


@_reader("icmp", "icmpv6")
def _icmp(name: str) -> Reader:
    def read(row: _Row) -> Sequence[FieldLike]:
        return (row.columns._value(name, None),) if row.shape.transport == name else ()

    return read


@_reader("data")
def _data(name: str) -> Reader:
    def read(row: _Row) -> Sequence[FieldLike]:
        found: list[FieldLike] = [_Partly(name, display="")] if row.shape.data else []
        if "data" in row.prefixes:  # bytes after an HTTP message
            found += [f for f in row.heads() if f.name == name]
        return found

    return read


@_reader(*ANALYSIS_NAMES)
def _analysis(name: str) -> Reader:
    """The branch `with_analysis` adds to a flagged segment's TCP header."""
    flag = name.removeprefix("tcp.analysis.")

    def read(row: _Row) -> Sequence[FieldLike]:
        analysis = row.columns._analysis.get(row.index)
        if analysis is None or row.shape.transport != "tcp":
            return ()
        if flag == "flags":
            return (_Field(name, None, " ".join(info_marks(analysis))),)
        if flag in analysis.flags:
            return (_Field(name, None),)
        number = getattr(analysis, flag, None) if flag.startswith("duplicate_ack_") else None
        return () if number is None else (_Field(name, number),)

    return read


@_reader("messages.more")
def _more(name: str) -> Reader:
    def read(row: _Row) -> Sequence[FieldLike]:
        more = row.columns._more.get(row.index)
        return () if more is None else (_Field(name, more, "not dissected"),)

    return read


@_reader(*WS_NAMES)
def _ws(name: str) -> Reader:
    def read(row: _Row) -> Sequence[FieldLike]:
        c = row.columns
        found: list[FieldLike] = []
        for frame in row.frames():
            if name == "ws":
                found.append(c._value(name, None))
            elif name == "ws.extended_payload_length":
                size = c._ws_extended[frame]
                if size >= 0:
                    found.append(c._value(name, size, plural(size, "byte")))
            elif name.startswith("ws.close."):
                if frame in c._ws_close:
                    close = c._ws_close[frame]
                    if close is None:
                        raise Undecided("a close frame too long to keep")
                    found += [f for f in close if f.name == name]
            else:
                found += [f for f in c._ws_header(c._ws_head[frame]) if f.name == name]
        return found

    return read


__all__ = ["BATCH", "HTTP_KEPT", "Columns", "offered"]
