"""Write the seed corpora, `fuzz/corpus/<harness>/`, from the project's own data.

    .venv/bin/python fuzz/make_corpus.py

Captures of the built-in scenarios (as `wirelab simulate` writes them, and the same
packets in other link types and file formats), a compressed WebSocket session between
the engine's own client and server, lesson files from `lessons/`, the display filters
the labs use, progress files, handshake heads, client frames and classroom messages.
Every seed is checked to be valid input for its reader. The output is the same every
time: run it again after a format changes and commit what changed.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import struct
import tempfile
import tomllib
import zlib
from dataclasses import replace
from pathlib import Path

from simulator.dissect.filters import compile_filter
from simulator.lessons.parse import parse_lesson
from simulator.lessons.progress import Progress
from simulator.lessons.run import LessonRun
from simulator.live.classroom import Position, decode, decode_from_follower, encode
from simulator.network.scenarios import run_built_in
from simulator.trace import (
    Endpoint,
    Layer,
    LinkType,
    Trace,
    WireRecord,
    export_pcap,
    open_capture,
    write_pcap,
)
from simulator.ws import Config, Connection, Request, Role, TextMessage
from simulator.ws.deflate import PerMessageDeflate
from simulator.ws.frames import Opcode, serialize_frame

MAX_INPUT = 64 * 1024  # harness.MAX_INPUT: a seed no harness would read is no seed
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
LESSONS = ("07-key-accept.md", "11-lab-missing-route.md", "16-lab-latin1-text.md")
CLIENT = Endpoint("10.0.0.1", 49152)
SERVER = Endpoint("10.0.0.2", 8765)


def deflate() -> PerMessageDeflate:
    """permessage-deflate as `wirelab serve` (and the fuzz harnesses) configure it."""
    return PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)


def pair(*, compress: bool) -> tuple[Connection, Connection, list[tuple[bool, bytes]]]:
    """A client and a server after the opening handshake, and the bytes each sent
    (True: the client's)."""
    config = Config(extensions=(deflate,) if compress else ())
    client = Connection(Role.CLIENT, config=config, rng=random.Random(0).randbytes)
    server = Connection(Role.SERVER, config=config, rng=random.Random(1).randbytes)
    client.connect("127.0.0.1:8765", "/echo", origin="http://127.0.0.1:8765")
    wire: list[tuple[bool, bytes]] = []
    pump(client, server, wire)
    [request] = server.events()
    assert isinstance(request, Request)
    server.accept()
    pump(client, server, wire)
    client.events()
    return client, server, wire


def pump(client: Connection, server: Connection, wire: list[tuple[bool, bytes]]) -> None:
    """Carry bytes both ways until neither side has any to send."""
    while True:
        up, down = client.data_to_send(), server.data_to_send()
        if not up and not down:
            return
        if up:
            wire.append((True, up))
            server.receive_data(up)
        if down:
            wire.append((False, down))
            client.receive_data(down)


def session(*, compress: bool) -> tuple[list[tuple[bool, bytes]], int]:
    """An echo session's bytes, and where the client's first frame starts in them."""
    client, server, wire = pair(compress=compress)
    start = len(wire)
    numbers = " ".join(str(i * 7919 % 10007) for i in range(120))
    client.send_text("hello hello hello")
    client.send_text("hello hello hello")
    client.send_text(numbers, fragment_size=64)
    client.send_binary(bytes(range(40)))
    client.ping(b"are you there")
    pump(client, server, wire)
    echoed = [e.data for e in server.events() if isinstance(e, TextMessage)]
    assert echoed == ["hello hello hello", "hello hello hello", numbers], echoed
    for text in echoed:
        server.send_text(text)
    pump(client, server, wire)
    client.close(1000, "done")
    pump(client, server, wire)
    return wire, start


def ws_frames(*, compress: bool) -> bytes:
    """What the client sent after the handshake."""
    wire, start = session(compress=compress)
    return b"".join(data for from_client, data in wire[start:] if from_client)


def capture_seeds(folder: Path) -> None:
    for name in ("handshake-and-echo", "lost-segment"):
        run_built_in(name, 0).write_pcap(folder / f"{name}.pcap")
    run_built_in("routed-three-hops", 0).write_pcap(
        folder / "routed-three-hops-all-links.pcapng", all_links=True
    )
    # A compressed WebSocket session, synthesized into TCP packets as `serve --record` does.
    wire, _ = session(compress=True)
    trace = Trace()
    for number, (from_client, data) in enumerate(wire):
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        trace.append(number * 0.01, Layer.STREAM, data, src=src, dst=dst, connection=0)
    export_pcap(trace, folder / "deflate-session.pcap")
    # The same packets behind an Ethernet header, and in a Linux cooked capture written
    # big-endian with nanosecond timestamps.
    packets = run_built_in("handshake-and-echo", 0).capture()[:12]
    ether = bytes.fromhex("020000000002 020000000001 0800")
    write_pcap(
        folder / "ethernet.pcap",
        [replace(p, data=ether + p.data, link_type=LinkType.ETHERNET) for p in packets],
    )
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes.fromhex("020000000001") + bytes(2), 0x0800)
    (folder / "sll-nanoseconds-big-endian.pcap").write_bytes(
        pcap_big_endian_ns([replace(p, data=sll + p.data) for p in packets], LinkType.LINUX_SLL)
    )
    for path in folder.iterdir():
        with open_capture(path) as capture:
            capture.index()
            assert len(capture) and not capture.problems, (path, capture.problems)


def dissect_seeds(folder: Path) -> None:
    """The capture seeds, and small captures of what once made `dissect` take minutes
    or gigabytes: more chunks, trailer fields and header lines than are shown, a
    deflate bomb, a packet of hundreds of frames."""
    capture_seeds(folder)
    upgrade, switched = handshake_heads(compress=True)
    chunked = (
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"1\r\na\r\n" * 150 + b"0\r\n" + b"x-t: 1\r\n" * 120 + b"\r\n"
    )  # fmt: skip
    many_lines = b"GET / HTTP/1.1\r\n" + b"a: b\r\n" * 150 + b"\r\n"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = (compressor.compress(bytes(20 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frames = (
        serialize_frame(Opcode.BINARY, bomb, rsv1=True) + serialize_frame(Opcode.BINARY, b"") * 200
    )
    conversations = {
        "chunks-and-trailers": [(True, chunked), (False, b"HTTP/1.1 204 No Content\r\n\r\n")],
        "a-head-of-150-lines": [(True, many_lines)],
        "deflate-bomb-and-200-frames": [(True, upgrade), (False, switched), (False, frames)],
    }
    for name, wire in conversations.items():
        trace = Trace()
        for number, (from_client, data) in enumerate(wire):
            src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
            trace.append(number * 0.01, Layer.STREAM, data, src=src, dst=dst, connection=0)
        export_pcap(trace, folder / f"{name}.pcap")
    for path in folder.iterdir():
        assert path.stat().st_size <= MAX_INPUT, path


def handshake_heads(*, compress: bool) -> tuple[bytes, bytes]:
    """The opening handshake's request and response, as the engine sends them."""
    _, _, wire = pair(compress=compress)
    (up, request), (down, response) = wire
    assert up and not down
    return request, response


def pcap_big_endian_ns(records: list[WireRecord], link_type: int) -> bytes:
    out = bytearray(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, link_type))
    for record in records:
        seconds, fraction = divmod(round(record.time * 1e9), 1_000_000_000)
        out += struct.pack(">IIII", seconds, fraction, len(record.data), len(record.data))
        out += record.data
    return bytes(out)


def filter_seeds(folder: Path) -> None:
    filters = [
        "ws.opcode == text and not (tcp.port == 8765 or ip.addr == 10.0.0.0/8)",
        'tcp.flags.syn && !tcp.flags.ack || http contains "Upgrade"',
        "ws.payload contains 81:85:ab or tcp.seq >= 0x2a or frame.len lt 1.5",
    ]
    for path in sorted((ROOT / "lessons").glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"(symptom|healthy) = ", line):
                filters.append(tomllib.loads(line.split("#")[0])[line.split()[0]])
    for number, text in enumerate(dict.fromkeys(filters), 1):
        compile_filter(text)
        (folder / f"filter-{number:02}.txt").write_text(text, encoding="utf-8")


def lesson_seeds(folder: Path) -> None:
    for name in LESSONS:
        shutil.copyfile(ROOT / "lessons" / name, folder / name)
        parse_lesson(folder / name)


def lesson_run_seeds(folder: Path) -> None:
    """Lessons whose runs differ most: routing, TCP flow control, a broker, two labs."""
    for name in (*LESSONS, "04-tcp-flow-control.md", "10-broker.md", "12-lab-stalled-reader.md"):
        shutil.copyfile(ROOT / "lessons" / name, folder / name)
        assert not LessonRun(parse_lesson(folder / name)).check(), name


def progress_seeds(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        progress = Progress(Path(scratch) / "progress.json")
        progress.visit("tcp-handshake", 4)
        progress.visit("tcp-handshake", 6)
        progress.visit("tcp-handshake", 4)
        progress.answered("tcp-handshake", 2)
        progress.answered("tcp-handshake", 4)
        progress.visit("layers-and-sockets", 9)
        progress.finish("layers-and-sockets")
        assert progress.save() is None
        shutil.copyfile(Path(scratch) / "progress.json", folder / "progress.json")
    # The shape older files have: no "furthest".
    old = {"version": 1, "last": "ip-routing", "lessons": {"ip-routing": {"step": 2}}}
    (folder / "without-furthest.json").write_text(json.dumps(old), encoding="utf-8")


def http_seeds(folder: Path) -> None:
    for compress in (False, True):
        _, _, wire = pair(compress=compress)
        suffix = "-deflate" if compress else ""
        request, response = (data for _, data in wire)
        (folder / f"upgrade-request{suffix}.http").write_bytes(request)
        (folder / f"upgrade-response{suffix}.http").write_bytes(response)
    (folder / "get.http").write_bytes(
        b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nAccept: text/html\r\n"
        b"User-Agent: wirelab\r\n\r\n"
    )


def ws_seeds(folder: Path) -> None:
    # The first byte is the harness's settings (see fuzz_ws.py): bit 0 compression,
    # bits 2-4 the pieces the bytes arrive in, bit 5 the server echoes, bit 6 the bytes
    # are read into the engine's buffer.
    plain, compressed = ws_frames(compress=False), ws_frames(compress=True)
    (folder / "session.bin").write_bytes(bytes([0x20]) + plain)
    (folder / "session-in-7-byte-pieces.bin").write_bytes(bytes([4 << 2]) + plain)
    (folder / "session-in-7-byte-pieces-read-into-buffer.bin").write_bytes(
        bytes([0x40 | 4 << 2]) + plain
    )
    (folder / "session-deflate.bin").write_bytes(bytes([0x21]) + compressed)
    (folder / "session-deflate-read-into-buffer.bin").write_bytes(bytes([0x61]) + compressed)
    (folder / "session-deflate-small-limit.bin").write_bytes(bytes([0x03 | 2 << 2]) + compressed)


def classroom_seeds(folder: Path) -> None:
    moment = Position(
        lesson="tcp-handshake", digest="0123456789abcdef", title="The TCP three-way handshake",
        step=3, steps=12, seq=41, shown=2, playing=True, picked=7, revealed=(1, 2), field=4,
        given="dGhlIHNhbXBsZSBub25jZQ==",
    )  # fmt: skip
    messages = {
        "hello": encode("hello", moment, code="k7q2"),
        "moment": encode("moment", replace(moment, shown=None, picked=None, field=None)),
        "verdict": json.dumps({"type": "verdict", "lesson": "tcp-handshake", "step": 4,
                               "answer": "61", "right": False, "expected": "62"}),
        "welcome": json.dumps({"type": "welcome", "number": 7, "name": "Ada"}),
        "note": json.dumps({"type": "note", "text": "look at packet 3"}),
        "join": json.dumps({"type": "join", "key": "3f9c0a1b2c3d4e5f", "name": "Ada"}),
        "join-view": json.dumps({"type": "join", "key": "browser_0123", "view": True}),
        "answer": json.dumps({"type": "answer", "lesson": "tcp-handshake", "step": 4,
                              "answer": "61"}),
    }  # fmt: skip
    for name, text in messages.items():
        if name in ("join", "join-view", "answer"):
            decode_from_follower(text)
        else:
            decode(text)
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


SEEDS = {
    "capture": capture_seeds,
    "dissect": dissect_seeds,
    "filter": filter_seeds,
    "lesson": lesson_seeds,
    "lesson_run": lesson_run_seeds,
    "progress": progress_seeds,
    "http_head": http_seeds,
    "ws": ws_seeds,
    "classroom": classroom_seeds,
}


def main() -> None:
    for name, make in SEEDS.items():
        folder = CORPUS / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        make(folder)
        print(f"{name}: {len(list(folder.iterdir()))} seeds in {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
