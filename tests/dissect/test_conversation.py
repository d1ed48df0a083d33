"""Conversation turns: a connection's messages as the follow-stream view shows them.

`message_conversation` reads the messages `StreamDissector` reassembled (HTTP,
then WebSocket frames); a connection without any falls back to
`stream_conversation`, one turn per read or write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.dissect.conversation import (
    Turn,
    message_conversation,
    printable,
    stream_conversation,
)
from simulator.dissect.packet import dissect_record
from simulator.dissect.stream_view import StreamDissector
from simulator.trace import Layer, Trace, write_pcap
from simulator.trace.pcap import Capture
from simulator.ws.close_codes import explain
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.handshake import build_request, build_response
from tests.dissect.connections import (
    ALICE,
    BLOB,
    KEY_A,
    REQUEST_LENGTH,
    SERVER,
    live_trace,
    masked,
    two_connections_pcap,
)
from tests.trace.helpers import Conversation, link_records, stream_records


@pytest.fixture(scope="module")
def live() -> Trace:
    return live_trace()


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    with Capture(two_connections_pcap(tmp_path / "two.pcap")) as capture:
        capture.index()
        yield capture


def test_printable_keeps_text_and_line_ends() -> None:
    assert printable(b"hi\r\nthere\x00 and more text") == "hi\nthere· and more text"
    assert printable(b"\x88\x0a\x03\xeaRSV1 set") == "····RSV1 set"  # binary: one line
    assert printable(b"abcdef", limit=3) == "abc\n… 3 more bytes"


def test_link_records_have_no_conversation_of_their_own() -> None:
    trace = Trace()
    trace.append(0.0, Layer.LINK, bytes(40))
    assert stream_conversation(trace, 0, dissect_record) == []


def turns_of(source: Any, index: int) -> list[Turn]:
    stream = StreamDissector(source)
    return message_conversation(stream)(source, index, stream)


def test_conversation_of_a_capture(capture: Capture) -> None:
    bob = capture.same_connection(1)
    turns = turns_of(capture, bob[-1])
    n = [i + 1 for i in bob]  # packet numbers, as the labels count them
    binary = " ".join(f"{b:02x}" for b in BLOB)
    close = f"close code 1000 ({explain(1000)}) done"
    assert [(t.direction, t.label) for t in turns] == [
        ("client", f"packet {n[3]} · HTTP · {REQUEST_LENGTH} bytes"),
        ("server", f"packet {n[4]} · HTTP · 129 bytes"),
        ("client", f"packet {n[5]} · TEXT · 3 bytes"),
        ("server", f"packet {n[6]} · TEXT · 3 bytes"),
        ("server", f"packets {n[7]}–{n[9]} · BINARY · 200 bytes"),
        ("client", f"packet {n[11]} · TEXT · 4 bytes, FIN=0"),
        ("client", f"packet {n[11]} · CONTINUATION · 4 bytes"),
        ("client", f"packet {n[12]} · CLOSE · 6 bytes"),
        ("server", f"packet {n[13]} · CLOSE · 6 bytes"),
    ]
    assert turns[0].text.splitlines()[0] == "GET / HTTP/1.1"
    assert "Sec-WebSocket-Accept: " in turns[1].text
    assert [t.text for t in turns[2:]] == ["bob", "bob", binary, "frag", "ment", close, close]


def test_conversation_of_a_live_trace(live: Trace) -> None:
    index = next(r.index for r in live if r.connection == 2)
    turns = turns_of(live, index)
    assert [t.direction for t in turns] == ["client", "server"] + ["client"] * 3 + [
        "server", "client", "server"
    ]  # fmt: skip
    assert [t.text for t in turns[2:]] == ["t", "w", "o", "two"] + [
        f"close code 4000 ({explain(4000)}) bye"
    ] * 2
    assert all(t.label.startswith("packet ") for t in turns)


def test_the_client_is_the_masking_side_when_the_request_is_missing(tmp_path: Path) -> None:
    # The capture begins after the upgrade request: the 101 comes first, from the server.
    c = Conversation(client=ALICE, server=SERVER)
    c.handshake()
    c.send("c", build_request(host="example.com", path="/", key=KEY_A))
    begin = len(c.packets)
    c.ack("c")
    c.send("s", build_response(KEY_A))
    c.send("c", masked(Opcode.PING, b"?"))
    c.send("s", serialize_frame(Opcode.PONG, b"?"))
    path = tmp_path / "late.pcap"
    write_pcap(path, link_records(c.packets[begin:]))
    capture = Capture(path)
    turns = turns_of(capture, 0)
    assert [(t.direction, t.label.split(" · ", 1)[1]) for t in turns] == [
        ("server", "HTTP · 129 bytes"),
        ("client", "PING · 1 byte"),
        ("server", "PONG · 1 byte"),
    ]


def test_a_connection_without_messages_is_shown_read_by_read() -> None:
    chunks = [("c", b"SSH-2.0-OpenSSH_9.6\r\n"), ("s", b"SSH-2.0-dropbear\r\n"), ("c", b"\x00\x01")]
    trace = Trace(stream_records(chunks))
    turns = turns_of(trace, 1)
    assert turns == [
        Turn("client", f"packet 1 · {ALICE_S} → {SERVER_S} · 21 bytes", "SSH-2.0-OpenSSH_9.6\n"),
        Turn("server", f"packet 2 · {SERVER_S} → {ALICE_S} · 18 bytes", "SSH-2.0-dropbear\n"),
        Turn("client", f"packet 3 · {ALICE_S} → {SERVER_S} · 2 bytes", "··"),
    ]


ALICE_S, SERVER_S = "10.0.0.1:50000", "10.0.0.2:80"  # tests.trace.helpers' endpoints
