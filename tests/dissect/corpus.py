"""Every dissection wirelab can show, for invariant tests over wording and rendering.

The packets of every lesson run (at the client's capture point), the sample
captures under `assets/` (if any), and crafted records whose payloads, frames,
chunks, paddings and options are 1 byte long: the counts where "1 bytes" hides.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from simulator.dissect.fields import Dissection
from simulator.dissect.stream_view import StreamDissector
from simulator.lessons import load_course
from simulator.lessons.run import LessonRun
from simulator.resources import assets_dir
from simulator.trace.pcap import open_capture
from simulator.trace.records import Endpoint, Layer, LinkType, Trace, WireRecord
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.handshake import build_request, build_response

CLIENT = Endpoint("10.0.0.1", 50000)
SERVER = Endpoint("10.0.0.2", 80)
MASK = bytes.fromhex("37fa213d")
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3

Named = tuple[str, Dissection]


@functools.cache
def every_dissection() -> tuple[Named, ...]:
    """(where it comes from, the dissection) for every packet of the corpus."""
    return (*lesson_dissections(), *capture_dissections(), *crafted_dissections())


def lesson_dissections() -> Iterator[Named]:
    for lesson in load_course(user=False).lessons:
        run = LessonRun(lesson)
        trace, _ = run.capture(None)
        for index in range(len(trace)):
            yield f"{lesson.id} packet {index + 1}", run.dissect(index)


def capture_dissections() -> Iterator[Named]:
    captures = sorted(
        path
        for path in assets_dir().rglob("*")
        if path.suffix in (".pcap", ".pcapng", ".cap") and path.is_file()
    )
    for path in captures:
        capture = open_capture(path)
        capture.index()
        dissect = StreamDissector(capture)
        for index in range(len(capture)):
            yield f"{path.name} packet {index + 1}", dissect(capture.record(index))


def crafted_dissections() -> Iterator[Named]:
    links = Trace(
        [_link_record(i, data, link, n) for i, (data, link, n) in enumerate(_link_frames())]
    )
    dissect = StreamDissector(links)
    for record in links:
        yield f"crafted link record {record.number}", dissect(record)
    for connection, chunks in enumerate((_websocket_chunks(), _http_chunks()), 1):
        trace = Trace(
            [
                WireRecord(i, 1.0 + i, Layer.STREAM, data, src=src, dst=dst, connection=connection)
                for i, (src, dst, data) in enumerate(chunks)
            ]
        )
        dissect = StreamDissector(trace)
        for record in trace:
            yield f"crafted connection {connection} chunk {record.number}", dissect(record)


def _link_record(index: int, data: bytes, link_type: int, original: int | None) -> WireRecord:
    return WireRecord(index, 1.0 + index, Layer.LINK, data, link_type, original_length=original)


def _link_frames() -> list[tuple[bytes, int, int | None]]:
    """(bytes, link type, length on the wire) of frames with 1-byte parts."""
    raw, ether = LinkType.RAW, LinkType.ETHERNET
    one = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=50000, dport=80, flags="PA") / Raw(b"x")
    )
    options = [("MSS", 1), ("SAck", (1000, 1001)), (99, b"\x01")]
    odd_options = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=50000, dport=80, flags="A", options=options)
    )
    udp = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=53) / Raw(b"q"))
    udp6 = bytes(IPv6(src="::1", dst="::2") / UDP(sport=5000, dport=53) / Raw(b"q"))
    ping = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=1, seq=1) / Raw(b"?"))
    ping6 = bytes(IPv6(src="::1", dst="::2") / ICMPv6EchoRequest(id=1, seq=1, data=b"?"))
    fragment = bytes(IP(src="10.0.0.1", dst="10.0.0.2", frag=1, proto=17) / Raw(b"z"))
    # 14 + 45 bytes: Ethernet pads to 60, with a single byte.
    padded = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=50000, dport=80)
        / Raw(b"hello")
    )
    other = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88B5) / Raw(b"e"))
    return [
        (one, raw, None),
        (one + b"!", raw, None),  # a 1-byte trailer
        (one[:-1], raw, len(one)),  # the capture kept all but 1 byte
        (odd_options, raw, None),
        (udp, raw, None),
        (udp6, raw, None),
        (ping, raw, None),
        (ping6, raw, None),
        (fragment, raw, None),
        (padded, ether, None),
        (other, ether, None),
        (b"\x45", raw, None),  # 1 byte: not even an IPv4 header
        (b"\x60", raw, None),
        (one[:21], raw, None),  # a TCP header cut after 1 byte
        (b"\x00", 147, None),  # a link type wirelab does not know
        (struct.pack("<I", 2) + b"\x45", LinkType.NULL, None),
    ]


def _websocket_chunks() -> list[tuple[Endpoint, Endpoint, bytes]]:
    """A handshake with permessage-deflate, then frames with 1-byte payloads."""
    up, down = (CLIENT, SERVER), (SERVER, CLIENT)
    request = build_request(
        host="example.com", path="/", key=KEY, extensions=("permessage-deflate",)
    )
    response = build_response(KEY, extensions="permessage-deflate")
    deflater = zlib.compressobj(wbits=-15)
    packed = (deflater.compress(b"x") + deflater.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frames = [
        (up, serialize_frame(Opcode.TEXT, b"x", masking_key=MASK)),
        (down, serialize_frame(Opcode.TEXT, b"y")),
        (down, serialize_frame(Opcode.BINARY, b"\x00")),
        (up, serialize_frame(Opcode.TEXT, b"a", fin=False, masking_key=MASK)),
        (up, serialize_frame(Opcode.CONTINUATION, b"b", masking_key=MASK)),
        (up, serialize_frame(Opcode.TEXT, packed, rsv1=True, masking_key=MASK)),
        (down, serialize_frame(Opcode.BINARY, packed[:-1], rsv1=True, fin=False)),
        (down, serialize_frame(Opcode.CONTINUATION, packed[-1:])),
        (up, serialize_frame(Opcode.PING, b"p", masking_key=MASK)),
        (down, serialize_frame(Opcode.PONG, b"p")),
        (up, serialize_frame(Opcode.BINARY, b"\x01")[:-1]),  # cut: 1 byte missing
        (up, b"\x01"),
        (down, serialize_frame(Opcode.CLOSE, b"\x03")),  # a close with half a code
    ]
    chunks = [(*up, request), (*down, response)]
    chunks += [(*side, frame) for side, frame in frames]
    return chunks


CHUNKED = b"1\r\nx\r\n0\r\n\r\n"  # one chunk of 1 byte, then the last chunk


def _http_chunks() -> list[tuple[Endpoint, Endpoint, bytes]]:
    """An HTTP exchange with 1-byte bodies and chunks, and 1 byte after a message."""
    return [
        (CLIENT, SERVER, b"POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1\r\n\r\nx"),
        (SERVER, CLIENT, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED),
        (CLIENT, SERVER, b"GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        (SERVER, CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nx"),  # 1 of 2 bytes
        (CLIENT, SERVER, b"x"),
    ]
