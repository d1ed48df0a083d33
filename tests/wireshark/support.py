"""Helpers for comparing wirelab with Wireshark: tshark runs, its JSON read, a loopback capture.

tshark is required where CI is set (`scripts/test-tools` installs it) and optional elsewhere.
Every run and every wait is bounded; captures listen on `lo` only, for one port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulator.trace import CaptureError, open_capture
from simulator.trace.segments import FIN, tcp_segment
from tests.live.support import BIN

RUN_TIMEOUT = 30.0  # one tshark or wirelab run over a small capture
READY_TIMEOUT = 10.0  # tshark opening the loopback interface
CAPTURE_LIMIT = 20  # seconds: tshark stops by itself after this, whatever happens
POLL = 0.1  # seconds between two looks at a capture being written

Pairs = list[tuple[str, Any]]  # a JSON object with its keys in order, repeats kept


def in_ci() -> bool:
    """Whether this is a CI run, where skipping the Wireshark comparison is not allowed."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tshark() -> str:
    """The tshark executable: missing, it fails the test in CI and skips it elsewhere."""
    path = shutil.which("tshark")
    if path is None:
        why = "tshark is not installed (scripts/test-tools, run by `make test`, installs it)"
        if in_ci():
            pytest.fail(f"{why}; CI must compare wirelab with Wireshark")
        pytest.skip(why)
    return path


def tshark(*args: str) -> str:
    """Run tshark to completion; its stdout. Fails the test on a non-zero exit."""
    result = subprocess.run(
        [require_tshark(), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"tshark {' '.join(args)}: {result.stderr}"
    return result.stdout


def tshark_json(*args: str) -> list[Pairs]:
    """tshark -T json -x: one list of (layer, fields) pairs per packet.

    Pairs, not dicts: several WebSocket frames in one packet give several
    "websocket" layers, and several header lines several "http.request.line" keys.
    """
    out = tshark(*args, "-T", "json", "-x")
    packets = json.loads(out, object_pairs_hook=list) if out.strip() else []
    return [dict(dict(packet)["_source"])["layers"] for packet in packets]


def values(pairs: Pairs, key: str) -> list[Any]:
    return [value for name, value in pairs if name == key]


def value(pairs: Pairs, key: str, default: Any = None) -> Any:
    found = values(pairs, key)
    return found[0] if found else default


# --- what both tools say about each WebSocket frame and each handshake message -----------


@dataclass(frozen=True)
class WsFrame:
    """One WebSocket frame as a dissector shows it, and the packet that completed it."""

    packet: int
    fin: bool
    rsv: int  # RSV1 RSV2 RSV3 as three bits
    opcode: int
    mask: bool
    masking_key: str | None  # hex
    length_bits: int  # 7, 16 or 64: how the payload length was written
    payload_length: int
    payload: bytes = field(repr=False)  # unmasked

    def __str__(self) -> str:
        return (
            f"packet {self.packet}: fin={int(self.fin)} rsv={self.rsv} opcode={self.opcode:#x} "
            f"mask={int(self.mask)} key={self.masking_key} len={self.payload_length}"
            f"/{self.length_bits}-bit payload={self.payload[:12].hex()}…"
        )


@dataclass(frozen=True)
class HttpHead:
    """One HTTP message head: its start line and header fields, in order."""

    packet: int
    start_line: str
    headers: tuple[tuple[str, str], ...]


def _flag(text: str) -> bool:
    return text.lower() in ("1", "true")


def tshark_frames(path: Path, *decode: str) -> list[WsFrame]:
    """Every WebSocket frame tshark dissects in `path`, in packet order."""
    frames = []
    for layers in tshark_json("-r", str(path), *decode, "-Y", "websocket"):
        number = int(value(value(layers, "frame"), "frame.number"))
        for ws in values(layers, "websocket"):
            ext16 = value(ws, "websocket.payload_length_ext_16")
            ext64 = value(ws, "websocket.payload_length_ext_64")
            length = int(ext64 or ext16 or value(ws, "websocket.payload_length"))
            key = value(ws, "websocket.masking_key_raw")
            payload = value(ws, "websocket.payload_raw")  # the unmasked bytes
            frames.append(
                WsFrame(
                    packet=number,
                    fin=_flag(value(ws, "websocket.fin")),
                    rsv=int(value(ws, "websocket.rsv"), 16),
                    opcode=int(value(ws, "websocket.opcode")),
                    mask=_flag(value(ws, "websocket.mask")),
                    masking_key=key[0] if key else None,
                    length_bits=64 if ext64 else 16 if ext16 else 7,
                    payload_length=length,
                    payload=bytes.fromhex(payload[0]) if payload else b"",
                )
            )
    return frames


def tshark_heads(path: Path, *decode: str) -> list[HttpHead]:
    """Every HTTP message head tshark dissects in `path`, in packet order."""
    heads = []
    for layers in tshark_json("-r", str(path), *decode, "-Y", "http"):
        number = int(value(value(layers, "frame"), "frame.number"))
        for http in values(layers, "http"):
            # The first key is the start line itself ("GET / HTTP/1.1\\r\\n"): its parts are
            # the fields inside it.
            first = http[0][1]
            if value(first, "http.request.method") is not None:
                parts = ("http.request.method", "http.request.uri", "http.request.version")
                lines = values(http, "http.request.line")
            else:
                parts = ("http.response.version", "http.response.code", "http.response.phrase")
                lines = values(http, "http.response.line")
            start = " ".join(value(first, part) for part in parts)
            headers = []
            for line in lines:
                name, sep, rest = line.removesuffix("\r\n").partition(": ")
                assert sep, f"packet {number}: header line {line!r}"
                headers.append((name, rest))
            heads.append(HttpHead(number, start, tuple(headers)))
    return heads


def wirelab_json(path: Path, *args: str) -> dict[str, Any]:
    """`wirelab dissect FILE --json [ARGS]`, parsed; fails the test on an error or a
    traceback."""
    result = subprocess.run(
        [str(BIN / "wirelab"), "dissect", str(path), "--json", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def walk(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        out.append(f)
        out += walk(f["children"])
    return out


def _one(fields: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((f for f in fields if f["name"] == name), None)


WS_FIELDS = (
    "ws.fin", "ws.rsv1", "ws.rsv2", "ws.rsv3", "ws.opcode", "ws.mask", "ws.payload_length",
    "ws.extended_payload_length", "ws.masking_key", "ws.payload",  # when the frame has them
)  # fmt: skip


def wirelab_frames(document: dict[str, Any]) -> list[WsFrame]:
    """Every WebSocket frame in a `wirelab dissect --json` document, from its field tree."""
    frames = []
    for message in document["messages"]:
        if message["kind"] != "websocket":
            continue
        fields = walk(message["fields"])
        found = {name: _one(fields, name) for name in WS_FIELDS}
        missing = [name for name in WS_FIELDS[:7] if found[name] is None]
        assert not missing, f"packet {message['packet']}: no {missing}"
        ext, key, payload = (found[n] for n in WS_FIELDS[7:])
        head = {name: f["value"] for name, f in found.items() if f is not None}
        frame = WsFrame(
            packet=message["packet"],
            fin=head["ws.fin"],
            rsv=head["ws.rsv1"] << 2 | head["ws.rsv2"] << 1 | head["ws.rsv3"],
            opcode=head["ws.opcode"],
            mask=head["ws.mask"],
            masking_key=key["value"] if key else None,
            length_bits=7 if ext is None else (ext["end"] - ext["start"]) * 8,
            payload_length=head["ws.payload_length"] if ext is None else ext["value"],
            payload=bytes.fromhex(payload["value"]) if payload else b"",
        )
        # The message's summary keys say what its field tree says.
        summary = (frame.fin, frame.opcode, frame.mask, frame.masking_key, frame.payload.hex())
        keys = ("fin", "opcode", "mask", "masking_key", "payload")
        assert tuple(message[k] for k in keys) == summary, frame
        assert message["payload_length"] == frame.payload_length
        frames.append(frame)
    return frames


def wirelab_heads(document: dict[str, Any]) -> list[HttpHead]:
    """Every HTTP message head in a `wirelab dissect --json` document."""
    heads = []
    for message in document["messages"]:
        if message["kind"] != "http":
            continue
        (top,) = (f for f in message["fields"] if f["name"] == "http")
        headers = []
        for header in (f for f in top["children"] if f["name"] == "http.header"):
            name = _one(header["children"], "http.header.name")
            text = _one(header["children"], "http.header.value")
            assert name is not None and text is not None, header
            headers.append((name["value"], text["value"]))
        heads.append(HttpHead(message["packet"], message["start_line"], tuple(headers)))
    return heads


# --- a capture on the loopback interface -------------------------------------------------


def ended(path: Path, connections: int) -> bool:
    """Whether the capture at `path` holds the whole TCP teardown of `connections` connections:
    a FIN from each side of each, and the packet after the last FIN (its ACK)."""
    try:
        with open_capture(path) as capture:
            capture.index()
            flags = [s.flags if (s := tcp_segment(r)) else 0 for r in capture]
    except CaptureError:
        return False  # not even the file header yet
    fins = [i for i, f in enumerate(flags) if f & FIN]
    return len(fins) >= 2 * connections and fins[-1] < len(flags) - 1


@contextlib.asynccontextmanager
async def loopback_capture(port: int, path: Path, *, connections: int) -> AsyncIterator[None]:
    """tshark capturing TCP port `port` on `lo` into `path` while the body runs.

    The body starts once tshark says the capture started (its "Capturing on"
    comes earlier). tshark writes what it captured in batches and drops what it
    has not written when stopped, so afterwards the file is read until the
    `connections` connections the body made have ended in it; then tshark is
    stopped with SIGINT, by its PID (its own time limit stops it in any case).
    """
    proc = await asyncio.create_subprocess_exec(
        require_tshark(),
        "-i",
        "lo",
        "-f",
        f"tcp port {port}",
        "-w",
        str(path),
        "-a",
        f"duration:{CAPTURE_LIMIT}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    said: list[str] = []
    try:
        try:
            await asyncio.wait_for(_ready(proc.stderr, said), READY_TIMEOUT)
        except (TimeoutError, EOFError):
            why = f"tshark could not capture on lo: {''.join(said)}"
            if in_ci():
                pytest.fail(why)
            pytest.skip(why)
        yield
        for _ in range(int(READY_TIMEOUT / POLL)):
            if ended(path, connections):
                break
            await asyncio.sleep(POLL)
        else:
            pytest.fail(f"the capture never held the end of {connections} connections")
    finally:
        await _stop(proc)


async def _ready(stderr: asyncio.StreamReader, said: list[str]) -> None:
    while line := (await stderr.readline()).decode(errors="replace"):
        said.append(line)
        if "Capture started" in line:
            return
    raise EOFError


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Stop our tshark (by its PID: SIGINT, then SIGKILL if it lingers) and reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.communicate(), READY_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.communicate()
