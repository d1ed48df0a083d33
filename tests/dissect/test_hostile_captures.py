"""Crafted captures stay bounded: in time (linear in the capture), in memory (one packet's
worth, whatever the capture's length) and in output (what one packet can add is capped,
and every cut is said).

Each case is the smallest shape of a capture that once took minutes, gigabytes or a
flood of output. Where only time was at stake the test guards with a timeout many times
what the work now takes (and far below what it took): a hang guard, not a measurement.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from simulator.dissect.fields import JSON_VALUE_LIMIT
from simulator.dissect.http import CHUNKS_SHOWN, LINES_SHOWN, TRAILERS_SHOWN, http_dissection
from simulator.dissect.inflate import INFLATE_LIMIT
from simulator.dissect.messages import MESSAGES_SHOWN
from simulator.dissect.stream_view import StreamDissector
from simulator.trace import write_pcap
from simulator.trace.pcap import open_capture
from simulator.trace.streams import reassemble
from simulator.ws.frames import serialize_frame
from tests.trace.helpers import Conversation
from tests.wireshark.support import walk

MSS = 1460
UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
)
SWITCHED = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
)


def segments(size: int, mss: int = MSS) -> list[int]:
    return [min(mss, size - at) for at in range(0, size, mss)]


def sent(data: bytes, side: str = "c", *, sizes: list[int] | None = None) -> Conversation:
    """A connection's handshake, then `data` from one side in segments of `sizes`."""
    conversation = Conversation(fast=True)
    conversation.handshake()
    conversation.send(side, data, sizes or segments(len(data)))
    return conversation


def websocket(*frames: bytes) -> Conversation:
    """A WebSocket connection with permessage-deflate, then `frames` from the server."""
    conversation = Conversation(fast=True)
    conversation.handshake()
    conversation.send("c", UPGRADE)
    conversation.send("s", SWITCHED)
    data = b"".join(frames)
    conversation.send("s", data, segments(len(data)))
    return conversation


def deflated(size: int) -> bytes:
    """A message of `size` zero bytes, compressed as permessage-deflate sends it (§7.2.1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (compressor.compress(bytes(size)) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def save(conversation: Conversation, path: Path, order: list[int] | None = None) -> Path:
    write_pcap(path, conversation.records(order))
    return path


def dissect_in_a_child(path: Path, *args: str) -> tuple[int, int]:
    """`wirelab dissect` in its own process: (bytes written, its peak RSS in KiB)."""
    out = path.with_suffix(".out")
    script = (
        "import re, sys\n"
        "from simulator.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "# VmHWM, not ru_maxrss: that one keeps the parent's size from before the exec.\n"
        "with open('/proc/self/status') as status_file:\n"
        "    print(re.search(r'VmHWM:\\s*(\\d+)', status_file.read())[1], file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    with out.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-c", script, "dissect", str(path), *args],
            stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return out.stat().st_size, int(done.stderr.split()[-1])


# --- reassembly: linear -----------------------------------------------------------------


@pytest.mark.timeout(30)
def test_segments_in_reverse_order_are_reassembled_in_linear_time(tmp_path: Path) -> None:
    """Seen: 50,000 one-byte segments sent last first took 16 s to reassemble (each byte
    that filled the gap searched every segment still waiting), and froze the inspector
    on the capture's last packet. 120,000 of them took minutes; now about a second."""
    count = 120_000
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % count
    conversation = sent(head)
    conversation.send("c", b"x" * count, [1] * count)
    last = len(conversation.packets) - 1
    order = [0, 1, 2, 3, *range(last, 3, -1)]  # the handshake and head, then the body reversed
    records = conversation.records(order)
    (message,) = reassemble(records).pdus
    assert message.data == head + b"x" * count
    assert len(message.packets) == count + 1 and message.completed_in == len(records) - 1
    # What the inspector does when that last packet is selected.
    with open_capture(save(conversation, tmp_path / "reversed.pcap", order)) as capture:
        capture.index()
        dissection = StreamDissector(capture)(capture.record(len(capture) - 1))
    assert dissection.protocol == "HTTP" and not dissection.problems


@pytest.mark.timeout(30)
def test_trailer_lines_are_scanned_once_however_many_segments_bring_them() -> None:
    """Seen: a chunked body's trailer section was rescanned from its first line each time
    a segment arrived; 200,000 lines in a 1.9 MB capture ran past 60 s."""
    lines = 400_000
    body = b"1\r\na\r\n0\r\n" + b"a:b\r\n" * lines + b"\r\n"
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    records = sent(head + body, sizes=segments(len(head + body), 536)).records()
    (message,) = reassemble(records).pdus
    assert message.data == head + body and message.completed_in == len(records) - 1


# --- HTTP: what one message shows is bounded, and says what it leaves out ------------------


def test_a_head_of_thousands_of_lines_shows_the_first_hundred_and_counts_the_rest() -> None:
    """Seen: 100,000 header lines took 15 s to print, and past 1,000 lines the head was
    called incomplete though it ended."""
    message = b"GET / HTTP/1.1\r\n" + b"a: b\r\n" * 5_000 + b"\r\n"
    (top,) = http_dissection(message, title="t").fields
    names = [field.name for field in top.children]
    assert names.count("http.header") == LINES_SHOWN - 1 == 100
    rest = next(field for field in top.children if field.name == "http.more_lines")
    assert rest.label == "[4,900 more header lines]" and rest.value == 4_900
    assert names[-1] == "http.blank_line" and top.end == len(message)
    assert top.problem is None


def test_a_body_of_thousands_of_chunks_shows_the_first_hundred_and_counts_all() -> None:
    """Seen: a body of 200,000 chunks printed a field tree for each (the text never
    finished), and past 1,000 the rest was "not dissected" with its end unknown."""
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    message = head + b"1\r\na\r\n" * 10_000 + b"0\r\nX-Checksum: 7\r\n\r\n"
    (top,) = http_dissection(message, title="t").fields
    (body,) = [field for field in top.children if field.name == "http.body"]
    assert body.label == "Body, chunked (10000 bytes of data)" and body.end == len(message)
    assert [f.name for f in body.children].count("http.chunk") == CHUNKS_SHOWN + 1  # + the last
    more, last = body.children[-2:]
    assert (more.label, more.value) == ("[9,900 more chunks]", 9_900)
    assert last.label == "Last chunk"
    trailer = last.children[-1]
    assert (trailer.name, trailer.label, trailer.value) == ("http.trailer", "X-Checksum", "7")
    assert top.problem is None and body.problem is None


def test_trailer_fields_are_shown_up_to_a_hundred_and_counted_past_that() -> None:
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"
    message = head + b"a: b\r\n" * 1_000 + b"\r\n"
    (top,) = http_dissection(message, title="t").fields
    last = top.children[-1].children[-1]
    trailers = [field for field in last.children if field.name == "http.trailer"]
    assert len(trailers) == TRAILERS_SHOWN
    assert last.children[-1].label == "[900 more trailer fields]" and last.end == len(message)


# --- WebSocket: frames and inflation ------------------------------------------------------


def test_a_packet_of_hundreds_of_frames_shows_the_first_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    """Seen: a deflate bomb sent in 1-byte frames: every packet completed hundreds of
    frames, each dissected in full, and the output ran to hundreds of megabytes."""
    frames = [serialize_frame(0x2, b"") for _ in range(600)]  # 2 bytes each: 1,200 bytes
    with open_capture(save(websocket(*frames), tmp_path / "frames.pcap")) as capture:
        capture.index()
        dissection = StreamDissector(capture)(capture.record(len(capture) - 1))
    names = [f.name for f in dissection.fields]
    assert names.count("ws") == MESSAGES_SHOWN
    # The first ones, a line for those left out, then the last ones (a message's last
    # frame is more often at a packet's end).
    more = dissection.fields[names.index("messages.more")]
    left_out = 600 - MESSAGES_SHOWN  # the 1,200 bytes fit in one segment
    assert more.value == left_out
    assert more.label == f"[{left_out} more messages completed in this packet]"
    assert names[names.index("messages.more") + 1 :] == ["ws"] * (MESSAGES_SHOWN // 4)


def test_deflate_bombs_in_a_capture_cost_bounded_memory_and_output(tmp_path: Path) -> None:
    """Seen: 20 to 300 bombs made `dissect --json` take 4.4 to 5.1 GB and write over
    800 MB; one in 1-byte frames did not finish in 60 s. Each inflates to INFLATE_LIMIT
    (16 MiB) and no further; the JSON carries the first JSON_VALUE_LIMIT bytes of it."""
    bomb = deflated(4 * INFLATE_LIMIT)  # 64 MiB of zeros in about 65 KB
    frames = [serialize_frame(0x2, bomb, rsv1=True) for _ in range(6)]
    # And one in 1-byte frames: a first frame, then continuations.
    frames.append(serialize_frame(0x2, bomb[:1], rsv1=True, fin=False))
    frames += [serialize_frame(0x0, bomb[i : i + 1], fin=False) for i in range(1, len(bomb) - 1)]
    frames.append(serialize_frame(0x0, bomb[-1:]))
    path = save(websocket(*frames), tmp_path / "bombs.pcap")
    size = path.stat().st_size
    written, peak = dissect_in_a_child(path, "--json")
    # Each inflated message is written at most three times (the message's "inflated",
    # its field in the packet and in the message), as hex: 7 × 3 × 2 × 256 KiB = 11 MB.
    assert written < 7 * 3 * 2 * JSON_VALUE_LIMIT + 200 * size
    assert peak < 400_000  # KiB: one bomb inflated at a time
    document = json.loads(path.with_suffix(".out").read_text())
    inflated = [m for m in document["messages"] if "inflated" in m]
    assert len(inflated) == 7
    for message in inflated:
        assert message["inflated_truncated"] and message["inflated_length"] == INFLATE_LIMIT
        assert len(message["inflated"]) == 2 * JSON_VALUE_LIMIT
        fields = walk(message["fields"])
        cut = [f for f in fields if f.get("value_truncated")]
        assert cut and all(f["value_length"] == INFLATE_LIMIT for f in cut)
    written, peak = dissect_in_a_child(path)
    text = path.with_suffix(".out").read_text()
    assert text.count(f"inflated output cut at {INFLATE_LIMIT} bytes") >= 7
    assert written < 200 * size and peak < 400_000


# --- whole captures: streamed -------------------------------------------------------------


def echoes(count: int) -> Conversation:
    """A WebSocket session of `count` echoes, a segment and an ACK each way per echo."""
    conversation = websocket()
    for n in range(count):
        text = f"echo {n} ".encode() * 4
        conversation.send("c", serialize_frame(0x1, text, masking_key=b"abcd"))
        conversation.ack("s")
        conversation.send("s", serialize_frame(0x1, text))
        conversation.ack("c")
    return conversation


@pytest.mark.parametrize("mode", ["--json", "text"])
def test_dissect_takes_the_same_memory_for_a_long_capture_as_for_a_short_one(
    tmp_path: Path, mode: str
) -> None:
    """Seen: a recording of 5,000 echoes (20,014 packets) took 3.5 GB with `dissect
    --json` (every dissection kept, the JSON built whole), and the text had not finished
    after 120 s. Now each packet is written and let go."""
    args = () if mode == "text" else (mode,)
    short = dissect_in_a_child(save(echoes(50), tmp_path / "short.pcap"), *args)
    long = dissect_in_a_child(save(echoes(1_500), tmp_path / "long.pcap"), *args)
    assert long[1] - short[1] < 20_000  # KiB; it grew by a gigabyte
    if mode == "--json":
        document = json.loads((tmp_path / "long.out").read_text())
        assert len(document["packets"]) == 5 + 4 * 1_500
        assert sum(m["kind"] == "websocket" for m in document["messages"]) == 2 * 1_500


def test_the_json_is_one_document_with_a_packet_or_a_message_a_line(tmp_path: Path) -> None:
    path = save(echoes(3), tmp_path / "three.pcap")
    dissect_in_a_child(path, "--json")
    text = path.with_suffix(".out").read_text()
    document = json.loads(text)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    packets = [json.loads(line.rstrip(",")) for line in lines if line.startswith('    {"number"')]
    assert packets == document["packets"]
    with open_capture(path) as capture:
        capture.index()
        assert len(packets) == len(capture)
