"""An HTTP message over several TCP segments is shown once, under the segment that
completes it, as Wireshark shows it; the segments before it are "[TCP segment of a
reassembled PDU]".

Seen: in a real curl capture every response appeared twice as "HTTP/1.0 200 OK",
under the segment with its head and under the one that completed its body.
"""

from __future__ import annotations

from pathlib import Path

from simulator.dissect.packet import SEGMENT_OF_A_PDU
from simulator.dissect.stream_view import StreamDissector
from simulator.trace import write_pcap
from simulator.trace.pcap import open_capture
from tests.trace.helpers import Conversation
from tests.wireshark.support import tshark, wirelab_json

BODY = b"<p>" + b"x" * 2500 + b"</p>"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(BODY)


def capture(tmp_path: Path) -> tuple[Path, int, list[int]]:
    """Two requests and responses on one connection: the first response's head in a
    segment of its own, then its body in two; the second whole. Returns the file, the
    request's packet number and the response segments' numbers."""
    conversation = Conversation(fast=True)
    conversation.handshake()
    request = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    first = conversation.send("c", request)[0] + 1
    segments = conversation.send("s", RESPONSE + BODY, [len(RESPONSE), 1460, len(BODY) - 1460])
    conversation.send("c", request)
    conversation.send("s", RESPONSE + BODY)
    path = tmp_path / "http.pcap"
    write_pcap(path, conversation.records())
    return path, first, [n + 1 for n in segments]


def test_a_response_in_three_segments_is_shown_once_under_the_last(tmp_path: Path) -> None:
    path, _, (head, middle, last) = capture(tmp_path)
    with open_capture(path) as opened:
        opened.index()
        stream = StreamDissector(opened)
        shown = [stream(opened.record(i)) for i in range(len(opened))]
    summaries = [d.summary for d in shown]
    assert sum("HTTP/1.1 200 OK" in s for s in summaries) == 2  # one per response
    assert shown[head - 1].protocol == "TCP" and summaries[head - 1].endswith(SEGMENT_OF_A_PDU)
    assert "HTTP/1.1 200 OK" in summaries[last - 1] and shown[last - 1].protocol == "HTTP"
    assert shown[middle - 1].protocol == "TCP"


def test_wirelab_and_tshark_call_the_same_packets_http(tmp_path: Path) -> None:
    path, request, (_, _, last) = capture(tmp_path)
    document = wirelab_json(path)
    ours = [p["number"] for p in document["packets"] if p["protocol"] == "HTTP"]
    theirs = [int(n) for n in tshark("-r", str(path), "-Y", "http", "-T", "fields",
                                     "-e", "frame.number").split()]  # fmt: skip
    assert ours == theirs and request in ours and last in ours
    assert len(ours) == 4  # two requests, two responses
