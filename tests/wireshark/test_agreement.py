"""wirelab against Wireshark: every WebSocket frame and handshake line, as both dissect them.

Two captures of the same session (our client, then the `websockets` library's,
against the live echo server): one exported by wirelab from its socket tap, one
captured by tshark itself on the loopback interface. For both, `wirelab dissect
--json` and `tshark -T json` must agree field by field, and Wireshark must find
nothing malformed. Where CI is set, a missing tshark fails these tests.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as websockets_connect

from simulator.live import connect, trace_tap
from simulator.trace import Trace, export_pcap
from simulator.ws import BinaryMessage, Config, Pong, TextMessage
from simulator.ws.frames import Opcode
from simulator.ws.handshake import accept_key
from tests.live.support import STEP, run, serving
from tests.wireshark.support import (
    HttpHead,
    WsFrame,
    loopback_capture,
    require_tshark,
    tshark,
    tshark_frames,
    tshark_heads,
    walk,
    wirelab_frames,
    wirelab_heads,
    wirelab_json,
)

ORIGIN = "http://127.0.0.1"
PLAIN = Config()  # no permessage-deflate: the frames below are compared as sent
BIG = bytes(i % 251 for i in range(70_000))  # the 64-bit length form
TEXT_300 = "é" * 150  # 300 bytes of UTF-8: the 16-bit length form
FRAGMENTED = "a fragmented text message"
CHECKSUMS = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
PING, PONG, CLOSE = Opcode.PING, Opcode.PONG, Opcode.CLOSE

# (sent by the client, FIN, opcode, payload), in the order they crossed the wire.
Expected = list[tuple[bool, bool, int, bytes]]


def echoed(opcode: int, payload: bytes) -> Expected:
    return [(True, True, opcode, payload), (False, True, opcode, payload)]


OURS: Expected = [
    *echoed(TEXT, b"hello"),
    *echoed(BINARY, bytes(range(256))),
    (True, False, TEXT, b"a fragm"),  # fragment_size=7
    (True, False, CONT, b"ented t"),
    (True, False, CONT, b"ext mes"),
    (True, True, CONT, b"sage"),
    (False, True, TEXT, FRAGMENTED.encode()),  # the server echoes whole messages
    (True, True, PING, b"ping!"),
    (False, True, PONG, b"ping!"),
    *echoed(BINARY, BIG),
    *echoed(TEXT, TEXT_300.encode()),
    *echoed(CLOSE, (4000).to_bytes(2, "big") + b"bye now"),
]
THEIRS: Expected = [
    *echoed(TEXT, b"from websockets"),
    *echoed(BINARY, b"\x00\x01\x02"),
    (True, False, TEXT, b"frag"),  # websockets sends an iterable's pieces, then an empty FIN
    (True, False, CONT, b"mented"),
    (True, True, CONT, b""),
    (False, True, TEXT, b"fragmented"),
    (True, True, PING, b"pp"),
    (False, True, PONG, b"pp"),
    *echoed(BINARY, BIG),
    *echoed(TEXT, TEXT_300.encode()),
    *echoed(CLOSE, (4001).to_bytes(2, "big") + b"done"),
]


async def session(url: str) -> None:
    """The same conversation from our client, then from the `websockets` library's."""
    ours = await connect(url, origin=ORIGIN, config=PLAIN)
    ours.send_text("hello")
    assert await ours.recv(STEP) == TextMessage("hello")
    ours.send_binary(bytes(range(256)))
    assert await ours.recv(STEP) == BinaryMessage(bytes(range(256)))
    ours.send_text(FRAGMENTED, fragment_size=7)
    assert await ours.recv(STEP) == TextMessage(FRAGMENTED)
    ours.ping(b"ping!")
    assert await ours.recv(STEP) == Pong(b"ping!")
    ours.send_binary(BIG)
    assert await ours.recv(STEP) == BinaryMessage(BIG)
    ours.send_text(TEXT_300)
    assert await ours.recv(STEP) == TextMessage(TEXT_300)
    assert await ours.close(4000, "bye now") == (4000, "bye now")

    # websockets offers permessage-deflate; this server declines, so nothing is compressed.
    async with websockets_connect(url, ping_interval=None, open_timeout=STEP) as theirs:
        await theirs.send("from websockets")
        assert await asyncio.wait_for(theirs.recv(), STEP) == "from websockets"
        await theirs.send(b"\x00\x01\x02")
        assert await asyncio.wait_for(theirs.recv(), STEP) == b"\x00\x01\x02"
        await theirs.send(["frag", "mented"])
        assert await asyncio.wait_for(theirs.recv(), STEP) == "fragmented"
        await asyncio.wait_for(await theirs.ping(b"pp"), STEP)
        await theirs.send(BIG)
        assert await asyncio.wait_for(theirs.recv(), STEP) == BIG
        await theirs.send(TEXT_300)
        assert await asyncio.wait_for(theirs.recv(), STEP) == TEXT_300
        await asyncio.wait_for(theirs.close(4001, "done"), STEP)
    assert (theirs.close_code, theirs.close_reason) == (4001, "done")


# --- the two captures ---------------------------------------------------------------------


async def exported_session(path: Path) -> int:
    trace = Trace()
    async with serving(tap=trace_tap(trace), config=PLAIN) as server:
        await session(server.url)
        port = server.port
    export_pcap(trace, path)
    return port


async def captured_session(path: Path) -> int:
    async with serving(config=PLAIN) as server, loopback_capture(server.port, path, connections=2):
        await session(server.url)
    return server.port


class Capture:
    """One capture file of the session, and both tools' readings of it (computed once)."""

    def __init__(self, name: str, path: Path, port: int) -> None:
        self.name = name
        self.path = path
        self.decode = ("-d", f"tcp.port=={port},http")  # the kernel picked the port
        self._document: dict[str, Any] | None = None

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = wirelab_json(self.path)
        return self._document


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    require_tshark()
    path = tmp_path_factory.mktemp("exported") / "session.pcap"
    return Capture("exported", path, run(exported_session(path), timeout=20))


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    require_tshark()
    path = tmp_path_factory.mktemp("captured") / "session.pcapng"
    return Capture("captured", path, run(captured_session(path), timeout=30))


@pytest.fixture(params=["exported", "captured"])
def capture(request: pytest.FixtureRequest) -> Capture:
    found: Capture = request.getfixturevalue(request.param)
    return found


# --- the comparisons ------------------------------------------------------------------------


def split_by_connection(frames: list[WsFrame], heads: list[HttpHead]) -> list[list[WsFrame]]:
    """The frames of each connection: the second one's come after its 101."""
    second_101 = [h.packet for h in heads if h.start_line.startswith("HTTP/")][1]
    return [
        [f for f in frames if f.packet < second_101],
        [f for f in frames if f.packet > second_101],
    ]


def test_every_websocket_frame_agrees(capture: Capture) -> None:
    ours = wirelab_frames(capture.document)
    theirs = tshark_frames(capture.path, *capture.decode)
    assert len(ours) == len(theirs) == len(OURS) + len(THEIRS)
    assert all(len(f.payload) == f.payload_length for f in ours)
    assert max(Counter(f.packet for f in theirs).values()) >= 3  # several frames in one packet
    for mine, wireshark in zip(ours, theirs, strict=True):
        assert mine == wireshark, f"wirelab: {mine}\ntshark:  {wireshark}"
    # And both saw exactly what was sent, each frame masked by the client only.
    heads = wirelab_heads(capture.document)
    for frames, expected in zip(split_by_connection(ours, heads), (OURS, THEIRS), strict=True):
        seen = [(f.mask, f.fin, f.opcode, f.payload) for f in frames]
        assert seen == expected
        assert all((f.masking_key is not None) == f.mask and f.rsv == 0 for f in frames)
    assert {f.length_bits for f in ours} == {7, 16, 64}
    assert {f.payload_length for f in ours if f.length_bits == 64} == {len(BIG)}


def test_every_handshake_line_agrees(capture: Capture) -> None:
    ours = wirelab_heads(capture.document)
    assert ours == tshark_heads(capture.path, *capture.decode)
    assert [h.start_line for h in ours] == [
        "GET / HTTP/1.1",
        "HTTP/1.1 101 Switching Protocols",
    ] * 2
    for request, response in (ours[0:2], ours[2:4]):
        asked, answered = dict(request.headers), dict(response.headers)
        assert answered["Sec-WebSocket-Accept"] == accept_key(asked["Sec-WebSocket-Key"])
        assert answered["Upgrade"] == "websocket" and "Sec-WebSocket-Extensions" not in answered
    assert dict(ours[0].headers)["Origin"] == ORIGIN
    assert "permessage-deflate" in dict(ours[2].headers)["Sec-WebSocket-Extensions"]


EXPERT_SECTION = re.compile(r"^(\w+) \((\d+)\)$", re.MULTILINE)


def expert_sections(capture: Capture, *options: str) -> dict[str, str]:
    """tshark's expert information: {"Errors": count, "Warns": ..., "Notes": ..., "Chats": ...}."""
    expert = tshark("-r", str(capture.path), *capture.decode, *options, "-q", "-z", "expert")
    assert "Malformed" not in expert, expert
    return dict(EXPERT_SECTION.findall(expert))


def test_wireshark_finds_nothing_malformed(capture: Capture) -> None:
    assert "Errors" not in expert_sections(capture)
    malformed = tshark(
        "-r", str(capture.path), *capture.decode, "-Y", "_ws.malformed",
        "-T", "fields", "-e", "frame.number",
    )  # fmt: skip
    assert malformed.split() == []
    # Nor did wirelab, but for checksums (see below).
    assert capture.document["problems"] == []
    problems = [problem for p in capture.document["packets"] for problem in p["problems"]]
    assert all(problem.startswith("Checksum: incorrect checksum") for problem in problems)


def checksum_verdicts(packet: dict[str, Any]) -> tuple[str, str, str]:
    """wirelab's (IP, TCP, computed TCP checksum), as tshark's status fields say them."""
    found = {
        f["name"]: f for f in walk(packet["fields"]) if f["name"] in ("ip.checksum", "tcp.checksum")
    }
    ip, tcp = found["ip.checksum"], found["tcp.checksum"]
    # A checksum left to offload is not a fault of the capture, and wirelab says so rather
    # than flagging it; tshark calls it Bad. Either way both name the full checksum.
    offloaded = "left to checksum offload" in tcp["display"]
    should = re.search(r"(?:should be|filled in:) (0x[0-9a-f]{4})",
                       (tcp["problem"] or "") + tcp["display"])  # fmt: skip
    computed = should[1] if should else f"{tcp['value']:#06x}"
    tcp_bad = tcp["problem"] or offloaded
    return ("0" if ip["problem"] else "1", "0" if tcp_bad else "1", computed)


def test_checksum_verdicts_agree(capture: Capture) -> None:
    # tshark checks checksums only when asked to: loopback packets hold TCP checksums
    # the kernel left to "hardware" that never computed them (checksum offload).
    out = tshark(
        "-r", str(capture.path), *CHECKSUMS, "-T", "fields",
        "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "tcp.checksum_calculated",
    )  # fmt: skip
    theirs = [tuple(line.split("\t")) for line in out.splitlines()]
    ours = [checksum_verdicts(packet) for packet in capture.document["packets"]]
    assert ours == theirs  # "1" is Good, "0" Bad
    if capture.name == "exported":  # synthesized by scapy: every checksum right
        assert {(ip, tcp) for ip, tcp, _ in ours} == {("1", "1")}


def test_wireshark_finds_nothing_wrong_in_the_export(exported: Capture) -> None:
    # A real loopback capture may have warnings (a 70 kB send fills the receiver's
    # window); the synthesized packets may not, nor have any other trouble.
    sections = expert_sections(exported, *CHECKSUMS)
    assert "Errors" not in sections and "Warns" not in sections, sections
    flagged = tshark(
        "-r", str(exported.path), *exported.decode, "-Y", "tcp.analysis.flags",
        "-T", "fields", "-e", "frame.number",
    )  # fmt: skip
    assert flagged.split() == []
