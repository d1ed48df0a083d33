"""`wirelab serve --record FILE`, end to end in a child process; tshark reads what it wrote."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from simulator.live import connect
from simulator.trace import Trace, export_pcap, open_capture, reassemble
from simulator.ws import Config, TextMessage
from simulator.ws.frames import Opcode, parse_frames
from tests.live.support import STEP, ServeProcess, run, wirelab
from tests.trace.test_synth import echo_session
from tests.wireshark.support import require_tshark

WROTE = r"^wrote (\d+) packets? \((\d+) connections?\) to (.+)$"


async def talk(url: str, text: str) -> None:
    client = await connect(url, config=Config())  # uncompressed: payloads readable in the pcap
    client.send_text(text)
    assert await client.recv(STEP) == TextMessage(text)
    assert await client.close() == (1000, "")


@pytest.mark.parametrize("name", ["session.pcap", "session.pcapng"])
def test_serve_records_a_session(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    server = ServeProcess("--record", str(path))
    try:
        run(talk(server.url, "first"))
        run(talk(server.url, "second"))
        assert server.signal(signal.SIGINT) == 0
        match = server.wait_line(WROTE)
    finally:
        server.stop()
    packets, connections, where = int(match[1]), int(match[2]), match[3]
    assert (connections, where) == (2, str(path))
    capture = open_capture(path)
    capture.index()
    assert capture.format == name.rsplit(".", 1)[1] and len(capture) == packets
    assert capture.problems == [] and capture.connection_count == 2
    pdus = reassemble(capture).pdus
    texts = [
        frame.payload
        for pdu in pdus
        if pdu.kind == "websocket"
        for frame in parse_frames(pdu.data)[0]
        if frame.opcode == Opcode.TEXT
    ]
    assert texts == [b"first", b"first", b"second", b"second"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_serve_with_nothing_recorded_writes_an_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    server = ServeProcess("--record", str(path))
    try:
        assert server.signal(signal.SIGTERM) == 0
        match = server.wait_line(WROTE)
    finally:
        server.stop()
    assert match[0] == f"wrote 0 packets (0 connections) to {path}"
    assert len(open_capture(path)) == 0


@pytest.mark.parametrize("where", ["missing/dir/x.pcap", "."])
def test_unwritable_record_path_fails_before_serving(tmp_path: Path, where: str) -> None:
    target = tmp_path / where
    result = wirelab("serve", "--headless", "--port", "0", "--record", str(target), timeout=20)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wirelab: cannot write {target}: ")
    assert "server on" not in result.stdout and "Traceback" not in result.stderr


# --- tshark ---------------------------------------------------------------------------------


def tshark(*args: str) -> str:
    result = subprocess.run(
        ["tshark", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_tshark_reads_the_exported_session(tmp_path: Path) -> None:
    require_tshark()  # fails in CI when missing, skips elsewhere
    trace = Trace()
    run(echo_session(trace))
    path = tmp_path / "echo.pcap"
    export_pcap(trace, path)
    server_port = trace[0].dst.port if trace[0].dst else 0
    decode = f"tcp.port=={server_port},http"  # HTTP on whatever port the kernel picked
    opcodes = tshark(
        "-r", str(path), "-d", decode, "-Y", "websocket", "-T", "fields", "-e", "websocket.opcode"
    )
    seen = [int(op) for line in opcodes.split() for op in line.split(",")]
    pdus = sorted(reassemble(trace).pdus, key=lambda p: (p.completed_in, p.stream_offset))
    expected = [parse_frames(p.data)[0][0].opcode for p in pdus if p.kind == "websocket"]
    assert seen == expected
    assert {
        Opcode.TEXT,
        Opcode.BINARY,
        Opcode.CONTINUATION,
        Opcode.PING,
        Opcode.PONG,
        Opcode.CLOSE,
    } <= set(seen)
    expert = tshark("-r", str(path), "-d", decode, "-q", "-z", "expert")
    assert "Malformed" not in expert and "Errors" not in expert and "Warnings" not in expert
    bad = tshark(
        "-r",
        str(path),
        "-d",
        decode,
        "-Y",
        "_ws.malformed || tcp.analysis.flags",
        "-T",
        "fields",
        "-e",
        "frame.number",
    )
    assert bad.strip() == ""
    not_good = 'ip.checksum.status != "Good" || tcp.checksum.status != "Good"'
    checksums = tshark(
        "-r",
        str(path),
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-Y",
        not_good,
        "-T",
        "fields",
        "-e",
        "frame.number",
    )
    assert checksums.strip() == ""
