"""`wirelab dissect`, end to end in a child process: the text, `--packet`, `--json`, bad input.

The capture is a session of the real engine (seeded masks) exported to pcap; the
frames in the JSON are checked against the bytes each side wrote, decoded here
by hand rather than by the engine's parser.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.dissect.websocket import OPCODE_EXPLANATIONS
from simulator.trace import export_pcap, open_capture
from simulator.ws import Connection, Role
from simulator.ws.handshake import accept_key
from tests.live.support import BIN
from tests.trace.helpers import stream_records

BLOB = bytes(range(256)) * 12  # 3072 bytes: a 16-bit length, three segments
FRAGMENTED = "a fragmented message"  # three frames of 7 bytes at most, one write
CLOSE_REASON = "bye"


def session() -> list[tuple[str, bytes]]:
    """("c" | "s", bytes) for every write of a session, in order."""
    client = Connection(Role.CLIENT, rng=random.Random(7).randbytes)
    server = Connection(Role.SERVER)
    chunks: list[tuple[str, bytes]] = []

    def flush(side: str) -> None:
        sender, receiver = (client, server) if side == "c" else (server, client)
        data = sender.data_to_send()
        chunks.append((side, data))
        receiver.receive_data(data)
        receiver.events()

    client.connect("example.com", "/chat")
    flush("c")
    server.accept()
    flush("s")
    client.send_text("hello")
    flush("c")
    server.send_text("hello")
    flush("s")
    client.send_binary(BLOB)
    flush("c")
    client.send_text(FRAGMENTED, fragment_size=7)
    flush("c")
    client.ping(b"p")
    flush("c")
    flush("s")  # the pong
    client.close(1000, CLOSE_REASON)
    flush("c")
    flush("s")  # the echoed close
    return chunks


CHUNKS = session()


def decode_frames(data: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    """RFC 6455 §5.2 by hand: every frame in `data`, its fields as `--json` names them
    and its bytes."""
    pos = 0
    while pos < len(data):
        start = pos
        b0, b1 = data[pos], data[pos + 1]
        length, pos = b1 & 0x7F, pos + 2
        if length == 126:
            (length,), pos = struct.unpack_from("!H", data, pos), pos + 2
        elif length == 127:
            (length,), pos = struct.unpack_from("!Q", data, pos), pos + 8
        key = data[pos : pos + 4] if b1 & 0x80 else None
        pos += 4 if key else 0
        payload = data[pos : pos + length]
        if key:
            payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        pos += length
        yield (
            {
                "fin": bool(b0 & 0x80),
                "rsv1": bool(b0 & 0x40),
                "rsv2": bool(b0 & 0x20),
                "rsv3": bool(b0 & 0x10),
                "opcode": b0 & 0x0F,
                "mask": key is not None,
                "payload_length": length,
                "masking_key": key.hex() if key else None,
                "payload": payload.hex(),
            },
            data[start:pos],
        )


def sent_messages() -> list[tuple[dict[str, Any] | None, bytes]]:
    """(frame fields or None for HTTP, bytes) of every message, in the order written."""
    heads: list[tuple[dict[str, Any] | None, bytes]] = [(None, data) for _, data in CHUNKS[:2]]
    return heads + [frame for _, data in CHUNKS[2:] for frame in decode_frames(data)]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dissect") / "session.pcap"
    export_pcap(stream_records(CHUNKS), path)
    return path


def dissect(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`wirelab dissect ARGS`, 100 columns wide, to completion."""
    return subprocess.run(
        [str(BIN / "wirelab"), "dissect", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """`wirelab dissect ARGS` in this process, through the `main` the `wirelab` script calls:
    (exit status, stdout, stderr). An exception escaping it fails the test, as a traceback
    would."""
    try:
        status = main(["dissect", *map(str, args)])
    except SystemExit as exit:  # argparse's usage errors
        status = int(exit.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def ok(*args: str | Path) -> str:
    result = dissect(*args)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def flat(text: str) -> str:
    """The text without panel and tree drawing, every run of white space one space: what
    Rich wrapped over several lines reads as one line again."""
    return " ".join(re.sub(r"[│├└─╭╮╰╯┌┐┘]", " ", text).split())


PACKET_HEADING = re.compile(r"^│ Packet (\d+) ", re.MULTILINE)


# --- the text ---------------------------------------------------------------------------


def test_text_explains_every_layer_and_every_message(capture: Path) -> None:
    out = ok(capture)
    numbers = [int(n) for n in PACKET_HEADING.findall(out)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 20
    text = flat(out)
    for layer in (
        "Frame 1: 48 bytes captured: link type RAW",
        "Internet Protocol Version 4, Src: 10.0.0.1, Dst: 10.0.0.2",
        "Transmission Control Protocol, Src Port: 50000, Dst Port: 80",
        "[SYN]",
        "HTTP request: GET /chat HTTP/1.1",
        "HTTP response: HTTP/1.1 101 Switching Protocols",
        "WebSocket TEXT 'hello' [5 bytes, masked]",
    ):
        assert layer in text, layer
    # The reassembled messages, with the packets that carried them.
    request = CHUNKS[0][1]
    assert f"HTTP message 10.0.0.1:50000 → 10.0.0.2:80 ({len(request)} bytes, packet 4)" in text
    key = re.search(rb"Sec-WebSocket-Key: (\S+)", request)
    assert key is not None
    accept = accept_key(key[1].decode())
    assert f"Sec-WebSocket-Key: {key[1].decode()} (expected answer: {accept})" in text
    assert f"Sec-WebSocket-Accept: {accept} (matches the key)" in text
    assert re.search(
        r"WebSocket frame 10\.0\.0\.1:50000 → 10\.0\.0\.2:80 \(3080 bytes, packets \d+–\d+\)", text
    )
    for explanation in OPCODE_EXPLANATIONS.values():
        assert explanation in text, explanation
    assert "Clients must mask every frame they send" in text
    assert "Status code: 1000 (normal closure)" in text and f"Reason: '{CLOSE_REASON}'" in text
    assert "problem:" not in text


def test_one_packet_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, capture: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    status, out, err = run_main(capsys, capture, "--packet", "8")
    assert (status, err) == (0, "")
    assert PACKET_HEADING.findall(out) == ["8"]
    text = flat(out)
    assert "Packet 8 10.0.0.1:50000 → 10.0.0.2:80 TEXT 'hello' [5 bytes, masked]" in text
    assert "Unmasking" in text and "Text: 'hello'" in text
    assert "GET /chat" not in text  # packet 4's, even though packet 8 needed it to be read


# --- --json -------------------------------------------------------------------------------


def as_json(*args: str | Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok(*args, "--json"))
    return document


def fields_of(packet: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first field of each name, depth first."""
    found: dict[str, dict[str, Any]] = {}

    def walk(fields: list[dict[str, Any]]) -> None:
        for f in fields:
            found.setdefault(f["name"], f)
            walk(f["children"])

    walk(packet["fields"])
    return found


MESSAGE_KEYS = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "mask", "payload_length",
                "masking_key", "payload")  # fmt: skip


def test_json_packets_and_messages(capture: Path) -> None:
    document = as_json(capture)
    assert (document["file"], document["format"], document["problems"]) == (
        "session.pcap", "pcap", [],
    )  # fmt: skip
    packets = document["packets"]
    assert [p["number"] for p in packets] == list(range(1, len(packets) + 1))
    syn = fields_of(packets[0])
    expected = {  # name: (start, end, bits, value)
        "ip.version": (0, 1, [0, 4], 4),
        "ip.src": (12, 16, None, "10.0.0.1"),
        "ip.dst": (16, 20, None, "10.0.0.2"),
        "tcp.srcport": (20, 22, None, 50000),
        "tcp.dstport": (22, 24, None, 80),
        "tcp.flags.syn": (33, 34, [270, 271], True),
        "tcp.flags.ack": (33, 34, [267, 268], False),
    }
    for name, want in expected.items():
        f = syn[name]
        assert (f["start"], f["end"], f["bits"], f["value"]) == want, name
    assert all(p["problems"] == [] for p in packets)

    messages = document["messages"]
    heads = [m for m in messages if m["kind"] == "http"]
    assert [(m["start_line"], m["packet"]) for m in heads] == [
        ("GET /chat HTTP/1.1", 4),
        ("HTTP/1.1 101 Switching Protocols", 6),
    ]
    sent = sent_messages()
    assert [m["kind"] for m in messages] == ["http" if f is None else "websocket" for f, _ in sent]
    frames = [m for m in messages if m["kind"] == "websocket"]
    assert [{k: m[k] for k in MESSAGE_KEYS} for m in frames] == [f for f, _ in sent if f]
    # Each message lies whole in the TCP payloads of its packets and was completed by
    # the last of them.
    payloads = {p["number"]: f["tcp.payload"]["value"]
                for p in packets if "tcp.payload" in (f := fields_of(p))}  # fmt: skip
    for message, (_, data) in zip(messages, sent, strict=True):
        assert message["length"] == len(data)
        assert data.hex() in "".join(payloads[n] for n in message["packets"])
        assert message["packet"] == message["packets"][-1]
        assert message["problems"] == []
    blob = next(m for m in frames if m["payload_length"] == len(BLOB))
    assert len(blob["packets"]) == 3  # 3080 bytes in segments of at most 1460
    fragments = [m for m in frames if m["mask"] and not (m["fin"] and m["opcode"] == 0x1)]
    fragments = [m for m in fragments if m["opcode"] in (0x0, 0x1)]
    assert len(fragments) == 3 and len({m["packet"] for m in fragments}) == 1  # one write


def test_json_for_one_packet(capsys: pytest.CaptureFixture[str], capture: Path) -> None:
    status, out, err = run_main(capsys, capture, "--packet", "6", "--json")
    assert (status, err) == (0, "")
    document = json.loads(out)
    assert [p["number"] for p in document["packets"]] == [6]
    assert [(m["kind"], m["packet"]) for m in document["messages"]] == [("http", 6)]
    response = document["messages"][0]
    assert response["start_line"] == "HTTP/1.1 101 Switching Protocols"
    assert response["src"] == "10.0.0.2:80" and response["dst"] == "10.0.0.1:50000"


# --- bad input ------------------------------------------------------------------------------


def cut_last_packet(path: Path, out: Path) -> int:
    """Copy a pcap without the second half of its last packet; returns the packet count."""
    data = path.read_bytes()
    pos, records = 24, []
    while pos < len(data):
        (caplen,) = struct.unpack_from("<I", data, pos + 8)
        records.append((pos, caplen))
        pos += 16 + caplen
    last, caplen = records[-1]
    out.write_bytes(data[: last + 16 + caplen // 2])
    return len(records)


def cut_last_pcapng_block(path: Path, out: Path) -> int:
    """Copy a pcapng without the second half of its last block (an Enhanced Packet Block);
    returns the packet count."""
    data = path.read_bytes()
    (length,) = struct.unpack("<I", data[-4:])  # a block ends with its total length
    out.write_bytes(data[: len(data) - length // 2])
    with open_capture(path) as capture:
        capture.index()
        return len(capture)


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_missing_file_in_a_child_process(tmp_path: Path) -> None:
    result = dissect(tmp_path / "missing.pcap")
    assert (result.returncode, result.stdout) == (1, "")
    assert one_error_line(result.stderr) == f"wirelab: no such file: {tmp_path / 'missing.pcap'}"


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("missing.pcap", None, "no such file: {path}"),
        ("notes.txt", b"hello, not a capture\n",
         "{path} is not a pcap or pcapng file (starts with 68 65 6c 6c)"),
        ("empty.pcap", b"", "{path} is empty: not a pcap or pcapng file"),
        ("header.pcap", bytes.fromhex("d4c3b2a1 0200 0400"),
         "{path} ends inside its pcap file header (8 of 24 bytes)"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("json", [False, True])
def test_a_file_that_is_no_capture(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    content: bytes | None,
    error: str,
    json: bool,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    status, out, err = run_main(capsys, path, *(["--json"] if json else []))
    assert (status, out) == (1, "")
    assert one_error_line(err) == "wirelab: " + error.format(path=path)


def test_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run_main(capsys, tmp_path)
    assert (status, out) == (1, "")
    assert one_error_line(err).startswith("wirelab: ") and str(tmp_path) in err


@pytest.mark.parametrize("format", ["pcap", "pcapng"])
def test_a_capture_cut_short(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, format: str
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    whole = tmp_path / f"whole.{format}"
    export_pcap(stream_records(CHUNKS), whole)
    cut = tmp_path / f"cut.{format}"
    count = cut_last_packet(whole, cut) if format == "pcap" else cut_last_pcapng_block(whole, cut)
    # Every packet but the last is there, and the problem is listed: no error, no traceback.
    status, out, err = run_main(capsys, cut, "--json")
    assert (status, err) == (0, "")
    document = json.loads(out)
    assert [p["number"] for p in document["packets"]] == list(range(1, count))
    ((problem),) = document["problems"]
    assert problem["packet"] == count and problem["message"].startswith("cut short: ")
    status, out, err = run_main(capsys, cut, "--packet", "1")
    assert (status, err) == (0, "")
    assert PACKET_HEADING.findall(out) == ["1"]
    assert out.rstrip().splitlines()[-1] == f"packet {count}: {problem['message']}"
    # The packet that is gone cannot be asked for.
    status, out, err = run_main(capsys, cut, "--packet", str(count))
    assert (status, out) == (1, "")
    assert one_error_line(err) == (
        f"wirelab: {cut} has packets 1–{count - 1}; there is no packet {count}"
    )


@pytest.mark.parametrize("number", ["0", "-1", "x", "1.5"])
def test_packet_numbers_count_from_one(
    capsys: pytest.CaptureFixture[str], capture: Path, number: str
) -> None:
    status, out, err = run_main(capsys, capture, "--packet", number)
    assert (status, out) == (2, "")  # argparse's usage error
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"wirelab dissect: error: argument --packet: not a positive whole number: '{number}'"
    )


def test_a_packet_past_the_end(capsys: pytest.CaptureFixture[str], capture: Path) -> None:
    with open_capture(capture) as opened:
        opened.index()
        count = len(opened)
    for args in ([], ["--json"]):
        status, out, err = run_main(capsys, capture, "--packet", str(count + 1), *args)
        assert (status, out) == (1, "")
        assert one_error_line(err) == (
            f"wirelab: {capture} has packets 1–{count}; there is no packet {count + 1}"
        )


def test_one_packet_of_a_compressed_session_is_inflated_in_context(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from simulator.ws import Config
    from simulator.ws.deflate import PerMessageDeflate
    from tests.ws.helpers import ConnectionPair

    pair = ConnectionPair(
        client_config=Config(extensions=(PerMessageDeflate,)),
        server_config=Config(extensions=(PerMessageDeflate,)),
    )
    chunks = [("c", pair.client.data_to_send())]
    pair.server.receive_data(chunks[0][1])
    pair.server.events()
    pair.server.accept()
    chunks.append(("s", pair.server.data_to_send()))
    text = "the same words again and again " * 5
    for _ in range(2):  # the second only inflates with the first as context
        pair.server.send_text(text)
        chunks.append(("s", pair.server.data_to_send()))
    path = tmp_path / "deflate.pcap"
    export_pcap(stream_records(chunks), path)
    status, out, _ = run_main(capsys, path, "--json")
    whole = [m for m in json.loads(out)["messages"] if m["kind"] == "websocket"]
    assert [m["inflated"] for m in whole] == [text, text]
    last = whole[-1]["packet"]
    status, out, err = run_main(capsys, path, "--packet", str(last), "--json")
    assert (status, err) == (0, "")
    [message] = json.loads(out)["messages"]
    assert message["rsv1"] is True and message["inflated"] == text


def test_a_reader_that_stops_early_ends_it_quietly(capture: Path) -> None:
    """`wirelab dissect FILE | head`: the pipe closes under it, and that is no error."""
    with subprocess.Popen([str(BIN / "wirelab"), "dissect", str(capture)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:  # fmt: skip
        assert child.stdout is not None and child.stderr is not None
        child.stdout.readline()
        child.stdout.close()  # as head does once it has its lines
        errors = child.stderr.read().decode()
        assert child.wait(timeout=60) == 141
    assert errors == ""
