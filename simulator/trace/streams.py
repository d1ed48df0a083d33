"""TCP stream reassembly: packets (or socket chunks) in, HTTP messages and WebSocket frames out.

Theory of operation. A `Reassembler` is fed records in capture order. Each
record belongs to one direction ("half") of one TCP connection:

- a `Layer.LINK` record through its TCP header (`segments.tcp_segment`): the
  sequence number places its payload in the half's byte stream, counted from
  the SYN's ISN + 1 (RFC 9293 §3.4), or from the first sequence number seen
  when the capture began after the handshake (then the stream is cut from
  there: if that is not where an HTTP message starts, nothing is cut). Bytes
  that arrive ahead of a gap wait until the gap fills; bytes seen before (a
  retransmission, an overlap) are taken once, from their first copy;
- a `Layer.STREAM` record is already in order: its bytes follow the ones before.

Each half cuts its in-order bytes into PDUs by what they are:

    HTTP ──(request with Upgrade: websocket)──► AWAIT_UPGRADE ──(101)──► WEBSOCKET
      │                                            └──(any other final status)──► HTTP
      └──(a 101 response)──► WEBSOCKET, and the other half too (RFC 6455 §4.2.2)

HTTP/1.1 messages are a head plus a body framed by Content-Length, chunked
coding, or (responses only) the end of the connection (RFC 9112 §6.3).
WebSocket frames are cut by `simulator.ws.frames.FrameReader`, which parses any
frame whichever side sent it. A half whose bytes are neither (no HTTP head
where one must start, a frame header no frame can have, more than
`MAX_MESSAGE` bytes for one message, a gap that never fills) goes RAW: it keeps
nothing and yields nothing more.

Every `Pdu` knows the records that carried its bytes and the record that
completed it, so a view can say "this packet completed these messages".
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal, NamedTuple, cast

from simulator.http import Head, HttpError, read_head
from simulator.trace.records import Endpoint, Layer, RecordSource, WireRecord
from simulator.trace.segments import ACK, FIN, SYN, tcp_segment
from simulator.ws.errors import ProtocolError
from simulator.ws.frames import FrameReader, parse_frames

MAX_MESSAGE = 64 << 20  # one HTTP message or WebSocket frame larger than this: RAW
MAX_PENDING = 8 << 20  # out-of-order bytes waiting for a gap to fill, per direction
MAX_PENDING_SEGMENTS = 1 << 17  # ... and the segments that brought them
_MASK32 = 0xFFFFFFFF

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(_TOKEN + rb" [^ \r\n]+ HTTP/\d\.\d")
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d \d\d\d(?: [^\r\n]*)?")
_PRINTABLE = re.compile(rb"[\x20-\x7e]*\r?")  # a first line so far


class ConnectionKey(NamedTuple):
    """Which TCP connection: the tap's connection id (None for packets) and both endpoints.

    The endpoints are in sorted order, so both directions give the same key.
    """

    id: int | None
    a: Endpoint
    b: Endpoint

    def __str__(self) -> str:
        prefix = f"#{self.id} " if self.id is not None else ""
        return f"{prefix}{self.a} ↔ {self.b}"


def _key(connection: int | None, src: Endpoint, dst: Endpoint) -> ConnectionKey:
    return (
        ConnectionKey(connection, src, dst) if src <= dst else ConnectionKey(connection, dst, src)
    )


def connection_key(record: WireRecord) -> ConnectionKey | None:
    """The connection a record belongs to, or None if it is not TCP."""
    if record.layer is Layer.STREAM:
        if record.src is None or record.dst is None:
            return None
        return _key(record.connection, record.src, record.dst)
    segment = tcp_segment(record)
    return None if segment is None else _key(None, segment.src, segment.dst)


@dataclass(frozen=True, slots=True)
class Pdu:
    """One HTTP message or one WebSocket frame, cut from a reassembled byte stream."""

    kind: Literal["http", "websocket"]
    src: Endpoint
    dst: Endpoint
    connection: ConnectionKey
    data: bytes  # exactly as on the wire (a masked frame stays masked)
    stream_offset: int  # where it starts in its direction's byte stream
    packets: tuple[int, ...]  # indexes of the records that carried its bytes, in stream order
    completed_in: int  # index of the record whose bytes completed it

    def __str__(self) -> str:
        if self.kind == "websocket":
            try:
                frames, _ = parse_frames(self.data)
            except ProtocolError:
                frames = []
            what = str(frames[0]) if frames else f"[{len(self.data)} bytes]"
            return f"WebSocket {self.src} → {self.dst} {what}"
        line = self.data.split(b"\r\n", 1)[0].decode("ascii", "replace")
        return f"HTTP {self.src} → {self.dst} {line} [{len(self.data)} bytes]"


class Mode(Enum):
    """What a direction's bytes are being cut into."""

    HTTP = "http"  # HTTP/1.1 messages, one after another
    AWAIT_UPGRADE = "await-upgrade"  # a request asked to upgrade: hold bytes until the answer
    WEBSOCKET = "websocket"  # frames
    RAW = "raw"  # neither: nothing is kept


@dataclass(slots=True)
class _Message:
    """An HTTP message whose head is parsed and whose body may still be arriving."""

    head_length: int
    framing: Literal["length", "chunked", "close"]
    body_length: int = 0
    scan: int = 0  # chunked: where the next chunk-size (or trailer) line starts, once reached
    trailers: bool = False  # chunked: the last chunk was seen, trailer lines follow
    request: bool = True
    method: str = ""
    status: int = 0
    upgrade: bool = False  # a request for (or a 101 to) the websocket protocol
    tunnel: bool = False  # a 2xx to CONNECT: the bytes after are someone else's protocol

    def end(self, buf: bytearray) -> int | None:
        """Where the message ends in `buf`, or None until all of it is there."""
        if self.framing == "length":
            end = self.head_length + self.body_length
            return end if len(buf) >= end else None
        if self.framing == "close":
            return None
        return self._chunked_end(buf)

    def _chunked_end(self, buf: bytearray) -> int | None:
        # RFC 9112 §7.1: chunk = chunk-size [ext] CRLF data CRLF; last-chunk, trailers, CRLF.
        pos = self.scan or self.head_length
        if self.trailers:
            return self._trailers_end(buf, pos)
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                if len(buf) - pos > 4096:
                    raise ValueError("chunk-size line too long")
                return None
            size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
            size = int(size_text, 16)  # ValueError for anything but hex digits
            if size == 0:
                self.trailers = True
                return self._trailers_end(buf, line_end + 2)
            data_end = line_end + 2 + size
            if len(buf) < data_end + 2:
                self.scan = pos
                return None
            if buf[data_end : data_end + 2] != b"\r\n":
                raise ValueError("chunk data not followed by CRLF")
            pos = self.scan = data_end + 2

    def _trailers_end(self, buf: bytearray, pos: int) -> int | None:
        """After the last chunk: trailer lines up to an empty one. Lines already seen are
        not looked at again when more bytes come (`scan` keeps the place)."""
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                self.scan = pos
                return None
            if line_end == pos:
                return line_end + 2
            pos = line_end + 2


class _Half:
    """One direction of a connection: its byte stream so far and how it is being cut."""

    __slots__ = (
        "base",
        "buf",
        "consumed",
        "dst",
        "ended",
        "fin_at",
        "frames",
        "last",
        "message",
        "mode",
        "next",
        "pending",
        "pending_bytes",
        "spans",
        "src",
        "syn",
        "waiting",
        "wscale",
    )

    def __init__(self, src: Endpoint, dst: Endpoint) -> None:
        self.src = src
        self.dst = dst
        self.base: int | None = None  # the sequence number of stream offset 0
        self.syn = False
        self.wscale: int | None = None  # the Window Scale shift its SYN offered
        self.next = 0  # the stream offset up to which bytes arrived in order
        self.pending: dict[int, tuple[bytes, int]] = {}  # offset → (bytes, record index)
        self.waiting: list[int] = []  # the offsets in `pending`, a heap: the lowest first
        self.pending_bytes = 0
        self.spans: deque[tuple[int, int, int]] = deque()  # (start, end, record) not yet cut
        self.buf = bytearray()  # in-order bytes from `consumed` on (HTTP modes)
        self.consumed = 0  # the stream offset where the next PDU starts
        self.mode = Mode.HTTP
        self.frames: FrameReader | None = None
        self.message: _Message | None = None
        self.fin_at: int | None = None
        self.ended = False
        self.last = -1  # the last record that brought bytes

    def offset(self, seq: int) -> int:
        """The stream offset of sequence number `seq`: the one nearest to what came so far."""
        assert self.base is not None
        delta = (((seq - self.base) & _MASK32) - self.next) & _MASK32
        if delta >= 1 << 31:
            delta -= 1 << 32
        return self.next + delta

    def go_raw(self) -> None:
        self.mode = Mode.RAW
        self.buf = bytearray()
        self.frames = None
        self.message = None
        self.pending.clear()
        self.waiting.clear()
        self.pending_bytes = 0
        self.spans.clear()


class _Connection:
    __slots__ = ("halves", "key", "methods")

    def __init__(self, key: ConnectionKey) -> None:
        self.key = key
        self.halves: dict[Endpoint, _Half] = {}
        self.methods: deque[str] = deque()  # requests whose final response has not come

    def half(self, src: Endpoint, dst: Endpoint) -> _Half:
        half = self.halves.get(src)
        if half is None:
            half = self.halves[src] = _Half(src, dst)
        return half


class Reassembler:
    """Rebuild TCP byte streams from records fed in order and cut them into `Pdu`s.

    `only`, when given, restricts it to one connection: feed a whole capture (or
    just that connection's records) and the others cost nothing. With `keep=False`
    it remembers no PDU once `feed` has returned it (`pdus`, `pdus_completed_in`
    and `pdus_carried_by` stay empty): a caller that handles each as it comes
    holds a whole capture's messages in no more memory than one's.
    """

    def __init__(self, *, only: ConnectionKey | None = None, keep: bool = True) -> None:
        self.only = only
        self.keep = keep
        self.pdus: list[Pdu] = []  # every PDU so far, in the order they were completed
        self._connections: dict[ConnectionKey, _Connection] = {}
        self._completed: dict[int, list[Pdu]] = {}
        self._carried: dict[int, list[Pdu]] = {}
        self._held: set[int] = set()
        self.held_last = False  # the last record fed left bytes in a message not complete yet

    @property
    def connections(self) -> list[ConnectionKey]:
        """The connections seen so far, in order of their first record."""
        return list(self._connections)

    def window_factor(self, record: WireRecord) -> int | None:
        """What `record`'s Window field is multiplied by, as Wireshark says it
        (`tcp.window_size_scalefactor`): 2**shift when both SYNs carried Window Scale;
        -2 when both SYNs were seen and windows are not scaled; -1 when that is not known
        (a SYN is missing); None for a SYN (its window is never scaled) or no segment."""
        segment = tcp_segment(record)
        if segment is None or segment.flags & SYN:
            return None
        conn = self._connections.get(_key(None, segment.src, segment.dst))
        mine = None if conn is None else conn.halves.get(segment.src)
        theirs = None if conn is None else conn.halves.get(segment.dst)
        if mine is None or theirs is None or not (mine.syn and theirs.syn):
            return -1
        if mine.wscale is None or theirs.wscale is None:
            return -2
        return 1 << min(mine.wscale, 14)  # RFC 7323 §2.3: more than 14 counts as 14

    def origins(self, record: WireRecord) -> tuple[int | None, int | None]:
        """The numbers `record`'s sequence and acknowledgment numbers count from, as
        Wireshark's relative numbers do: the sender's (and the receiver's) ISN when its
        SYN was fed, else one before the first sequence number seen from it; before the
        receiver has sent anything, one before this acknowledgment number (Wireshark's
        choice too). None where it is not known (no TCP segment)."""
        segment = tcp_segment(record)
        if segment is None:
            return None, None
        conn = self._connections.get(_key(None, segment.src, segment.dst))
        mine = None if conn is None else conn.halves.get(segment.src)
        theirs = None if conn is None else conn.halves.get(segment.dst)
        seq = None if mine is None or mine.base is None else (mine.base - 1) & _MASK32
        ack: int | None
        if theirs is not None and theirs.base is not None:
            ack = (theirs.base - 1) & _MASK32
        else:
            ack = (segment.ack - 1) & _MASK32 if segment.flags & ACK else None
        return seq, ack

    def pdus_completed_in(self, index: int) -> list[Pdu]:
        """The PDUs record `index` completed (its bytes were the last they needed)."""
        return list(self._completed.get(index, ()))

    def pdus_carried_by(self, index: int) -> list[Pdu]:
        """The PDUs record `index` carried bytes of."""
        return list(self._carried.get(index, ()))

    def held(self, index: int) -> bool:
        """Whether record `index`, when it was fed, left bytes in a message that a later
        record completes (or that never completes): Wireshark's "TCP segment of a
        reassembled PDU"."""
        return index in self._held

    def forget(self, upto: int) -> None:
        """Drop what it keeps of records below `upto` (a bounded live trace forgot their
        bytes); the connections' state carries on."""
        self.pdus = [pdu for pdu in self.pdus if pdu.completed_in >= upto]
        for kept in (self._completed, self._carried):
            for index in [index for index in kept if index < upto]:
                del kept[index]
        self._held = {index for index in self._held if index >= upto}

    # --- feeding ----------------------------------------------------------------

    def feed(self, record: WireRecord) -> list[Pdu]:
        """Take the next record; returns the PDUs it completed."""
        self.held_last = False
        if record.layer is Layer.STREAM:
            if not record.data or record.src is None or record.dst is None:
                return []
            key = _key(record.connection, record.src, record.dst)
            if self.only is not None and key != self.only:
                return []
            conn = self._connection(key)
            half = conn.half(record.src, record.dst)
            out: list[Pdu] = []
            self._receive(conn, half, half.next, record.data, record.index, out)
            self._note_held(half, half.next, record.index)
            return self._done(out, record.index)
        return self._feed_segment(record)

    def feed_all(self, records: Iterable[WireRecord]) -> list[Pdu]:
        """Feed records in order, then `finish()`; returns every PDU they completed."""
        out: list[Pdu] = []
        for record in records:
            out += self.feed(record)
        return out + self.finish()

    def finish(self) -> list[Pdu]:
        """The end of the capture: a response whose body runs to the end of the connection
        is complete now (the capture ended before its FIN, or never saw one)."""
        out: list[Pdu] = []
        for conn in self._connections.values():
            for half in conn.halves.values():
                if not half.ended:
                    half.ended = True
                    before = len(out)
                    self._end(conn, half, half.last, out)
                    for pdu in out[before:]:
                        self._done([pdu], pdu.completed_in)
        return out

    def _connection(self, key: ConnectionKey) -> _Connection:
        conn = self._connections.get(key)
        if conn is None:
            conn = self._connections[key] = _Connection(key)
        return conn

    def _feed_segment(self, record: WireRecord) -> list[Pdu]:
        segment = tcp_segment(record)
        if segment is None:
            return []
        src, dst, flags = segment.src, segment.dst, segment.flags
        key = _key(None, src, dst)
        if self.only is not None and key != self.only:
            return []
        seq = segment.seq
        if flags & SYN:
            seq = (seq + 1) & _MASK32  # the SYN takes one sequence number (RFC 9293 §3.4)
        conn = self._connections.get(key)
        if conn is not None and flags & SYN and not flags & ACK:
            old = conn.halves.get(src)
            if old is not None and old.base is not None and old.base != seq:
                conn = None  # a new connection reusing the same ports
        if conn is None:
            conn = self._connections[key] = _Connection(key)
        half = conn.half(src, dst)
        if flags & SYN:
            if half.base is None or (not half.syn and half.next == 0):
                half.base = seq
            half.syn = True
            half.wscale = segment.wscale
        if half.base is None:
            half.base = seq  # joined after the handshake: count from here
        offset = half.offset(seq)
        out: list[Pdu] = []
        payload = segment.payload
        if payload:
            self._receive(conn, half, offset, payload, record.index, out)
        if flags & FIN:
            half.fin_at = offset + segment.payload_length
        if half.fin_at is not None and half.next >= half.fin_at and not half.ended:
            half.ended = True
            self._end(conn, half, record.index, out)
        if payload:
            self._note_held(half, offset + len(payload), record.index)
        return self._done(out, record.index)

    def _note_held(self, half: _Half, end: int, index: int) -> None:
        """Record `index` brought stream bytes up to `end`: are some of them in a message
        still incomplete (after `consumed`, arrived in order, not given up)?"""
        held = half.mode is not Mode.RAW and half.consumed < end <= half.next
        self.held_last = held
        if held and self.keep:
            self._held.add(index)

    def _done(self, out: list[Pdu], index: int) -> list[Pdu]:
        if out and self.keep:
            self.pdus += out
            self._completed.setdefault(index, []).extend(out)
            for pdu in out:
                for packet in pdu.packets:
                    self._carried.setdefault(packet, []).append(pdu)
        return out

    # --- the byte stream --------------------------------------------------------

    def _receive(
        self, conn: _Connection, half: _Half, offset: int, data: bytes, index: int, out: list[Pdu]
    ) -> None:
        if half.mode is Mode.RAW:
            return
        end = offset + len(data)
        if end <= half.next:
            return  # every byte seen before: a retransmission
        if offset > half.next:
            # Ahead of a gap: keep it until the gap fills (the longest copy per offset).
            old = half.pending.get(offset)
            if old is None:
                heapq.heappush(half.waiting, offset)
            if old is None or len(old[0]) < len(data):
                half.pending_bytes += len(data) - (len(old[0]) if old else 0)
                half.pending[offset] = (data, index)
            if half.pending_bytes > MAX_PENDING or len(half.pending) > MAX_PENDING_SEGMENTS:
                half.go_raw()  # a gap that does not fill: the rest cannot be cut
            return
        self._append(half, data[half.next - offset :], index)
        waiting = half.waiting
        while waiting and waiting[0] <= half.next:
            start = heapq.heappop(waiting)
            chunk, source = half.pending.pop(start)
            half.pending_bytes -= len(chunk)
            if start + len(chunk) > half.next:
                self._append(half, chunk[half.next - start :], source)
        self._cut(conn, half, index, out)

    def _append(self, half: _Half, data: bytes, index: int) -> None:
        start = half.next
        half.next += len(data)
        spans = half.spans
        if spans and spans[-1][2] == index and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], half.next, index)
        else:
            spans.append((start, half.next, index))
        half.last = index
        if half.frames is not None:
            half.frames.feed(data)
        else:
            half.buf += data

    def _emit(
        self,
        conn: _Connection,
        half: _Half,
        kind: Literal["http", "websocket"],
        data: bytes,
        index: int,
        out: list[Pdu],
    ) -> None:
        start = half.consumed
        end = half.consumed = start + len(data)
        packets: dict[int, None] = {}
        spans = half.spans
        for span_start, span_end, record in spans:
            if span_start >= end:
                break
            if span_end > start:
                packets[record] = None
        while spans and spans[0][1] <= end:
            spans.popleft()
        out.append(Pdu(kind, half.src, half.dst, conn.key, data, start, tuple(packets), index))

    def _end(self, conn: _Connection, half: _Half, index: int, out: list[Pdu]) -> None:
        """The half's stream ended: a body delimited by the end of the connection is complete."""
        message = half.message
        if half.mode is Mode.HTTP and message is not None and message.framing == "close":
            data = bytes(half.buf)
            half.buf.clear()
            half.message = None
            self._emit(conn, half, "http", data, index, out)

    # --- cutting ----------------------------------------------------------------

    def _cut(self, conn: _Connection, half: _Half, index: int, out: list[Pdu]) -> None:
        while True:
            mode = half.mode
            if mode is Mode.HTTP:
                self._cut_http(conn, half, index, out)
            elif mode is Mode.WEBSOCKET:
                self._cut_frames(conn, half, index, out)
            elif mode is Mode.AWAIT_UPGRADE and len(half.buf) > MAX_MESSAGE:
                half.go_raw()
            if half.mode is mode:
                return

    def _cut_frames(self, conn: _Connection, half: _Half, index: int, out: list[Pdu]) -> None:
        reader = half.frames
        assert reader is not None
        while True:
            try:
                frame = reader.next_frame()
            except ProtocolError:
                half.go_raw()  # no frame can look like this: not WebSocket (any more)
                return
            if frame is None:
                return
            self._emit(conn, half, "websocket", frame.raw, index, out)

    def _cut_http(self, conn: _Connection, half: _Half, index: int, out: list[Pdu]) -> None:
        while half.mode is Mode.HTTP and half.buf:
            buf = half.buf
            message = half.message
            if message is None:
                if not _may_be_http(buf):
                    half.go_raw()
                    return
                try:
                    parsed = read_head(buf)
                except HttpError:
                    half.go_raw()
                    return
                if parsed is None:
                    return
                message = _start(conn, *parsed)
                if message is None:
                    half.go_raw()
                    return
                half.message = message
            try:
                end = message.end(buf)
            except ValueError:
                half.go_raw()
                return
            if end is None:
                if len(buf) > MAX_MESSAGE:
                    half.go_raw()
                return
            data = bytes(buf[:end])
            del buf[:end]
            half.message = None
            self._emit(conn, half, "http", data, index, out)
            self._after(conn, half, message, index, out)

    def _after(
        self, conn: _Connection, half: _Half, message: _Message, index: int, out: list[Pdu]
    ) -> None:
        """What a complete message changes: upgrades, tunnels, held bytes released."""
        other = conn.halves.get(half.dst)
        if message.request:
            if message.upgrade or message.method == "CONNECT":
                half.mode = Mode.AWAIT_UPGRADE  # what follows depends on the answer
            return
        if message.status == 101:
            # RFC 6455 §4.2.2: after the 101, both directions carry WebSocket frames.
            for which in (half, other):
                if which is None:
                    continue
                if not message.upgrade:
                    which.go_raw()  # switched to some other protocol
                elif which.mode is not Mode.RAW:
                    which.mode = Mode.WEBSOCKET
                    which.message = None
                    which.frames = FrameReader(max_payload=MAX_MESSAGE)
                    which.frames.feed(which.buf)
                    which.buf = bytearray()
            if other is not None and other.mode is Mode.WEBSOCKET:
                self._cut(conn, other, index, out)
        elif message.status >= 200 and other is not None and other.mode is Mode.AWAIT_UPGRADE:
            if message.tunnel:
                half.go_raw()
                other.go_raw()
            else:
                other.mode = Mode.HTTP  # the upgrade was refused: back to HTTP
                self._cut(conn, other, index, out)


def _may_be_http(buf: bytearray) -> bool:
    """Could `buf` start with an HTTP/1.1 request or status line?"""
    first = buf[0]
    if not 0x41 <= first <= 0x5A:  # methods and "HTTP/" start with an upper-case letter
        return False
    line_end = buf.find(b"\r\n", 0, 8192)
    if line_end < 0:
        return len(buf) < 8192 and _PRINTABLE.fullmatch(buf) is not None
    line = buf[:line_end]
    return bool(_REQUEST_LINE.fullmatch(line) or _STATUS_LINE.fullmatch(line))


def _tokens(head: Head, name: str) -> list[str]:
    return [t.strip().lower() for value in head.get_all(name) for t in value.split(",")]


def _start(conn: _Connection, head: Head, used: int) -> _Message | None:
    """The framing of a message whose head was just parsed, or None if it cannot be framed."""
    lengths = set(_tokens(head, "content-length"))
    codings = [t for t in _tokens(head, "transfer-encoding") if t]
    if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
        return None  # RFC 9112 §6.3: an invalid Content-Length makes the message unframeable
    length = int(lengths.pop()) if lengths else None
    if length is not None and length > MAX_MESSAGE:
        return None
    upgrade = "websocket" in _tokens(head, "upgrade") and "upgrade" in _tokens(head, "connection")
    if not head.start[0].startswith("HTTP/"):
        method = head.start[0]
        conn.methods.append(method)
        if codings:
            if codings[-1] != "chunked":
                return None  # RFC 9112 §6.3: a request body that cannot be delimited
            return _Message(used, "chunked", method=method, upgrade=upgrade)
        return _Message(used, "length", length or 0, method=method, upgrade=upgrade)
    if not head.start[1].isdigit():
        return None
    status = int(head.start[1])
    method = conn.methods[0] if conn.methods else "GET"
    if status >= 200 and conn.methods:
        conn.methods.popleft()
    message = _Message(used, "length", 0, request=False, method=method, status=status)
    message.upgrade = status == 101 and "websocket" in _tokens(head, "upgrade")
    if method == "HEAD" or status < 200 or status in (204, 304):
        return message
    if method == "CONNECT" and status < 300:
        message.tunnel = True
        return message
    if codings:
        message.framing = "chunked" if codings[-1] == "chunked" else "close"
    elif length is not None:
        message.body_length = length
    else:
        message.framing = "close"
    return message


def reassemble(
    source: RecordSource | Iterable[WireRecord],
    indexes: Iterable[int] | None = None,
    *,
    only: ConnectionKey | None = None,
) -> Reassembler:
    """Feed a whole source (or just the records at `indexes`, e.g. one connection's packets
    from `Capture.same_connection`) to a new `Reassembler`, then finish it."""
    reassembler = Reassembler(only=only)
    if indexes is not None:
        record = cast(RecordSource, source).record
        records: Iterable[WireRecord] = (record(i) for i in indexes)
    elif isinstance(source, Iterable):
        records = source
    else:
        records = (source.record(i) for i in range(len(source)))
    reassembler.feed_all(records)
    return reassembler


__all__ = [
    "MAX_MESSAGE",
    "MAX_PENDING",
    "MAX_PENDING_SEGMENTS",
    "ConnectionKey",
    "Mode",
    "Pdu",
    "Reassembler",
    "connection_key",
    "reassemble",
]
