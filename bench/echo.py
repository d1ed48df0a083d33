"""Echo benchmark: one cheap raw client against our server, websockets, wsproto and Node's ws.

`--compression` runs it with permessage-deflate (RFC 7692) on both sides: the
client offers `permessage-deflate; client_no_context_takeover` and sends
compressed frames (compressed once, up front: without context takeover each
stands alone); each server keeps its library's defaults and its own context
takeover for the echoes. `--compression=zlib` gives every server zlib's own
defaults instead (32 KiB windows, memLevel 8, level 6), so all three do the
same work. The payloads are then JSON-like text, which compresses the way
real messages do.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import platform
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.extensions.permessage_deflate import (
    ServerPerMessageDeflateFactory,
    enable_server_permessage_deflate,
)
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension as WsprotoExtension
from wsproto.extensions import PerMessageDeflate as WsprotoDeflate
from wsproto.utilities import RemoteProtocolError

from simulator.live import Server
from simulator.live.server import default_config
from simulator.ws import Config, Opcode, serialize_frame
from simulator.ws.deflate import PerMessageDeflate
from simulator.ws.frames import parse_frames
from simulator.ws.handshake import accept_key

HOST = "127.0.0.1"
MIB = 1 << 20
MAX_SIZE = 32 * MIB  # every server accepts messages this large
PYTHON_SERVERS = ("ours", "websockets", "wsproto")
NODE = Path(__file__).resolve().parent / "node"  # Node's ws: `scripts/bench-tools` installs it
SERVERS = (*PYTHON_SERVERS, "node-ws")
MASKING_KEY = b"\x9a\x3c\x51\xe7"  # fixed: the client's frames are built once, up front
READY_TIMEOUT = 20.0  # for a server subprocess to print its port
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
# Set by --compression, in the parent and in the server subprocesses: "" (off),
# "defaults" (each library's own permessage-deflate settings) or "zlib" (zlib's).
COMPRESSION = ""
COMPRESSION_MODES = ("defaults", "zlib")
OFFER = "permessage-deflate; client_no_context_takeover"
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: the sync flush's tail, dropped on the wire


class BenchError(Exception):
    """A server misbehaved or a run cannot go on: reported in one line, no traceback."""


# --- servers (run in the subprocesses) -----------------------------------------------


async def _serve_ours(port: int, stop: asyncio.Event) -> None:
    extensions = default_config().extensions if COMPRESSION else ()
    if COMPRESSION == "zlib":
        extensions = (PerMessageDeflate,)  # no window bits asked: 15; memLevel 8, level 6
    server = Server(host=HOST, port=port, config=Config(max_size=MAX_SIZE, extensions=extensions))
    await server.start()
    _ready(server.port)
    await stop.wait()
    await server.shutdown()


async def _serve_websockets(port: int, stop: asyncio.Event) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for msg in ws:
            await ws.send(msg)

    # compression="deflate" adds 4 KiB windows and memLevel 5 unless a deflate
    # factory is already there; without arguments that factory keeps zlib's defaults.
    extensions = [ServerPerMessageDeflateFactory()] if COMPRESSION == "zlib" else None
    # No keepalive pings: they are not per-message work and would only add frames.
    async with websockets_serve(
        handler,
        HOST,
        port,
        compression="deflate" if COMPRESSION else None,
        extensions=extensions,
        max_size=MAX_SIZE,
        ping_interval=None,
    ) as server:
        _ready(next(iter(server.sockets)).getsockname()[1])
        await stop.wait()


class WsprotoEcho(asyncio.Protocol):
    """An echo server on wsproto's sans-IO connection, written as plainly as ours."""

    def __init__(self) -> None:
        self.ws = WSConnection(ConnectionType.SERVER)
        self.transport: asyncio.Transport | None = None
        self.text: list[str] = []
        self.binary: list[bytes | bytearray] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        ws = self.ws
        try:
            ws.receive_data(data)
        except RemoteProtocolError:
            self.transport.close()  # a broken handshake
            return
        out = []
        close = False
        for event in ws.events():
            if isinstance(event, TextMessage):
                # wsproto hands out a message in pieces as they arrive.
                if not event.message_finished:
                    self.text.append(event.data)
                    continue
                text = event.data
                if self.text:
                    self.text.append(text)
                    text = "".join(self.text)
                    self.text = []
                out.append(ws.send(TextMessage(data=text)))
            elif isinstance(event, BytesMessage):
                if not event.message_finished:
                    self.binary.append(event.data)
                    continue
                payload = event.data
                if self.binary:
                    self.binary.append(payload)
                    payload = b"".join(self.binary)
                    self.binary = []
                out.append(ws.send(BytesMessage(data=payload)))
            elif isinstance(event, Ping):
                out.append(ws.send(event.response()))
            elif isinstance(event, Request):
                # wsproto's deflate defaults are zlib's: 32 KiB windows, memLevel 8.
                extensions: list[WsprotoExtension] = [WsprotoDeflate()] if COMPRESSION else []
                out.append(ws.send(AcceptConnection(extensions=extensions)))
            elif isinstance(event, CloseConnection):
                out.append(ws.send(event.response()))
                close = True
        if len(out) == 1:
            self.transport.write(out[0])  # a large message: no extra copy
        elif out:
            self.transport.write(b"".join(out))  # many small ones: one write
        if close:
            self.transport.close()

    def eof_received(self) -> bool | None:
        return None  # let the transport close itself

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()  # the same backpressure as our server

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


async def _serve_wsproto(port: int, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(WsprotoEcho, HOST, port, reuse_address=True)
    _ready(server.sockets[0].getsockname()[1])
    await stop.wait()
    server.close()
    await server.wait_closed()


SERVE: dict[str, Callable[[int, asyncio.Event], Awaitable[None]]] = {
    "ours": _serve_ours,
    "websockets": _serve_websockets,
    "wsproto": _serve_wsproto,
}


def _ready(port: int) -> None:
    print(f"READY {port}", flush=True)  # the parent waits for this line


def serve(name: str, port: int) -> int:
    """Run one echo server until SIGTERM or SIGINT."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await SERVE[name](port, stop)

    asyncio.run(run())
    return 0


@dataclass
class ServerProcess:
    name: str
    proc: subprocess.Popen[str]
    port: int
    negotiated: str = ""  # its Sec-WebSocket-Extensions answer, seen by the echo check


def node_ws_missing() -> str | None:
    """Why Node's ws cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE / "node_modules" / "ws").is_dir():
        return "ws is not installed (scripts/bench-tools installs it)"
    return None


def start_server(name: str, pinning: Pinning) -> ServerProcess:
    """Start `echo.py --serve NAME` (or Node's ws), pinned as chosen; wait for its port."""
    cpu = pinning.server_cpu
    if name == "node-ws":
        missing = node_ws_missing()
        if missing is not None:
            raise BenchError(f"node-ws: {missing}")
        cmd = ["node", str(NODE / "echo.js"), "0", COMPRESSION]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name, "--port", "0"]
        if COMPRESSION:
            cmd.append(f"--compression={COMPRESSION}")
    if cpu is not None and pinning.taskset:
        cmd = ["taskset", "-c", str(cpu), *cmd]  # taskset execs: the PID stays the server's
    elif cpu is not None and name != "node-ws":
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if cpu is not None and not pinning.taskset and name == "node-ws":
        os.sched_setaffinity(proc.pid, {cpu})  # Node's threads start after this: they inherit
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise BenchError(f"{name} server did not start (exit status {proc.poll()})")
            readable, _, _ = select.select([proc.stdout], [], [], left)
            if readable:
                line = proc.stdout.readline()
                if line.startswith("READY "):
                    return ServerProcess(name, proc, int(line.split()[1]))
                if not line:
                    raise BenchError(f"{name} server closed its output before READY")
    except BaseException:
        stop_server(proc)
        raise


def stop_server(proc: subprocess.Popen[str]) -> None:
    """Terminate one server we started, by its PID; kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    if proc.stdout is not None:
        proc.stdout.close()


# --- the client ----------------------------------------------------------------------


class Client(asyncio.Protocol):
    """A minimal WebSocket client: its own handshake, frames skipped by header lengths.

    It never looks at payload bytes (unless `tap` is set): per reply it reads
    a 2-, 4- or 10-byte header and counts, so the server is the bottleneck.
    """

    def __init__(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.head = bytearray()
        self.open = False  # the 101 arrived
        self.partial = b""  # an incomplete frame header
        self.skip = 0  # payload bytes of the current frame still to come
        self.frame_b0 = 0  # first header byte of the frame being skipped
        self.frame_len = 0
        self.messages = 0  # complete data messages received
        self.payload_bytes = 0
        self.target = 0
        self.waiter: asyncio.Future[int] | None = None  # resolves with perf_counter_ns()
        self.close_seen = False
        self.tap: bytearray | None = None  # when set, every byte after the handshake
        self.extensions = ""  # the server's Sec-WebSocket-Extensions answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            (
                f"GET / HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                + (f"Sec-WebSocket-Extensions: {OFFER}\r\n" if COMPRESSION else "")
                + "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode("ascii")
        )

    def _handshake(self, data: bytes) -> bytes:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > 65536:
                self._fail("handshake response too long")
            return b""
        lines = bytes(self.head[:end]).decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        if not lines[0].startswith("HTTP/1.1 101"):
            self._fail(f"handshake refused: {lines[0]}")
        elif COMPRESSION and "permessage-deflate" not in headers.get(
            "sec-websocket-extensions", ""
        ):
            self._fail("the server did not accept permessage-deflate")
        elif headers.get("sec-websocket-accept") != accept_key(self.key):
            self._fail("wrong Sec-WebSocket-Accept")
        else:
            self.extensions = headers.get("sec-websocket-extensions", "")
            self.open = True
            self.opened.set_result(None)
            return bytes(self.head[end + 4 :])
        return b""

    def _fail(self, reason: str) -> None:
        error = ConnectionError(reason)
        for future in (self.opened, self.waiter):
            if future is not None and not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self.open:
            if self.opened.done():
                return  # the handshake failed or was given up on: closing
            data = self._handshake(data)
            if not data:
                return
        if self.tap is not None:
            self.tap += data
        if self.partial:
            data = self.partial + data
            self.partial = b""
        n = len(data)
        pos = 0
        if self.skip:
            if n < self.skip:
                self.skip -= n
                return
            pos = self.skip
            self.skip = 0
            self._frame_end(self.frame_b0, self.frame_len)
        while n - pos >= 2:
            b0 = data[pos]
            length = data[pos + 1]  # MASK clear: the 7-bit length itself
            if length & 0x80:
                self._fail("masked frame from the server")  # RFC 6455 §5.1
                return
            if length < 126:
                pos += 2
            elif length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                pos += 4
            else:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                pos += 10
            if n - pos < length:
                self.skip = length - (n - pos)
                self.frame_b0 = b0
                self.frame_len = length
                return
            pos += length
            self._frame_end(b0, length)
        if pos < n:
            self.partial = data[pos:]

    def _frame_end(self, b0: int, length: int) -> None:
        opcode = b0 & 0x0F
        if opcode >= 0x8:
            if opcode == Opcode.CLOSE:
                self.close_seen = True
            return
        self.payload_bytes += length
        if b0 & 0x80:  # FIN: a whole message
            self.messages += 1
            if self.messages >= self.target and self.waiter is not None:
                if not self.waiter.done():
                    self.waiter.set_result(time.perf_counter_ns())
                self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError(f"connection lost: {exc or 'closed by the server'}")
        if not self.opened.done():
            self.opened.set_exception(error)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        if not self.closed.done():
            self.closed.set_result(None)

    # --- used by the workloads ---

    def until(self, count: int) -> asyncio.Future[int]:
        """A future resolved (with the arrival time in ns) once `count` messages have come."""
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if self.messages >= count:
            waiter.set_result(time.perf_counter_ns())
        else:
            self.target = count
            self.waiter = waiter
        return waiter

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def close(self) -> None:
        """Send a close frame and wait for the server to close TCP (or give up)."""
        if self.transport is None:
            return
        if not self.transport.is_closing():
            self.transport.write(CLOSE_FRAME)
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT)
        except TimeoutError:
            self.transport.abort()


CLOSE_FRAME = serialize_frame(Opcode.CLOSE, (1000).to_bytes(2, "big"), masking_key=MASKING_KEY)


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        _, client = await loop.create_connection(lambda: Client(port), HOST, port)
        await client.opened
    try:
        yield client
    finally:
        await client.close()


# --- workloads -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much each workload sends; `--quick` shrinks the counts, not the sizes."""

    small_count: int = 10_000
    small_size: int = 32
    trips: int = 2_000
    large_count: int = 64
    large_size: int = MIB
    large_window: int = 4
    huge_size: int = 16 * MIB
    huge_trips: int = 3


QUICK = Sizes(small_count=1_000, trips=200, large_count=8, huge_trips=1)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    target_vs_websockets: float | None  # None: shown, not judged


METRICS = (
    Metric("small", "{small_count:,} × {small_size} B text, pipelined", "msg/s", True, 1.0),
    Metric("lat_p50", "round trip {small_size} B, median", "µs", False, 1.0),
    Metric("lat_p99", "round trip {small_size} B, p99", "µs", False, 1.0),
    Metric("large", "{large_count} × 1 MiB binary, {large_window} in flight", "MB/s", True, 0.8),
    Metric("huge", "16 MiB binary round trip", "ms", False, 0.8),
)
# Server CPU time per echoed message, from /proc/PID/schedstat: steadier than wall
# time on a busy machine, since time the server spends waiting does not count.
CPU_METRICS = tuple(
    Metric(f"cpu_{name}", label, "µs/msg", False, None)
    for name, label in (
        ("small", "server CPU, pipelined small messages"),
        ("latency", "server CPU, round trips"),
        ("large", "server CPU, 1 MiB messages"),
        ("huge", "server CPU, 16 MiB messages"),
    )
)
TARGET_VS_WSPROTO = 1.0
TARGET_VS_NODE_WS = 1.0  # at least on par with Node's ws on every workload


def json_like(size: int, rng: random.Random) -> bytes:
    """`size` bytes of JSON-ish records: what chat and API messages look like."""
    words = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
    parts = []
    total = 0
    while total < size:
        item = (
            f'{{"id":{rng.randrange(10**6)},"user":"{rng.choice(words)}{rng.randrange(100)}",'
            f'"active":{rng.choice(("true", "false"))},"score":{rng.random():.3f}}},'
        )
        parts.append(item)
        total += len(item)
    return "".join(parts).encode()[:size]


def data_frame(opcode: Opcode, payload: bytes) -> bytes:
    """One client frame: compressed on its own when --compression, always masked."""
    if not COMPRESSION:
        return serialize_frame(opcode, payload, masking_key=MASKING_KEY)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return serialize_frame(opcode, data[:-4], masking_key=MASKING_KEY, rsv1=True)


def payload_length(frame: bytes) -> int:
    """The payload length a frame's header announces (RFC 6455 §5.2)."""
    length = frame[1] & 0x7F
    if length == 126:
        return int.from_bytes(frame[2:4], "big")
    if length == 127:
        return int.from_bytes(frame[2:10], "big")
    return length


class Frames:
    """Every frame the client sends, masked (and compressed) once before any timing."""

    def __init__(self, sizes: Sizes) -> None:
        rng = random.Random(6455)
        self.deflated: dict[int, int] = {}  # message size → its deflated size, compressed
        if COMPRESSION:
            small = json_like(sizes.small_size, rng)
            large, huge = json_like(sizes.large_size, rng), json_like(sizes.huge_size, rng)
            self.small = data_frame(Opcode.TEXT, small)
            self.large = data_frame(Opcode.TEXT, large)
            self.huge = data_frame(Opcode.TEXT, huge)
            self.deflated = {
                size: payload_length(frame)
                for size, frame in (
                    (sizes.small_size, self.small),
                    (sizes.large_size, self.large),
                    (sizes.huge_size, self.huge),
                )
            }
            return
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(sizes.small_size))
        self.small = serialize_frame(Opcode.TEXT, text.encode(), masking_key=MASKING_KEY)
        self.large = serialize_frame(
            Opcode.BINARY, rng.randbytes(sizes.large_size), masking_key=MASKING_KEY
        )
        self.huge = serialize_frame(
            Opcode.BINARY, rng.randbytes(sizes.huge_size), masking_key=MASKING_KEY
        )


async def small_pipelined(client: Client, frames: Frames, sizes: Sizes) -> dict[str, float]:
    """Write every small message at once, then wait for all the echoes."""
    warm = client.until(client.messages + 500)
    client.write(frames.small * 500)
    async with asyncio.timeout(30):
        await warm
    blob = frames.small * sizes.small_count
    done = client.until(client.messages + sizes.small_count)
    start = time.perf_counter_ns()
    client.write(blob)
    async with asyncio.timeout(120):
        end = await done
    return {"small": sizes.small_count / ((end - start) / 1e9)}


async def latency(client: Client, frames: Frames, sizes: Sizes) -> dict[str, float]:
    """One small message at a time; each timed from write to the echo's arrival."""
    samples = []
    frame = frames.small
    async with asyncio.timeout(120):
        for i in range(100 + sizes.trips):  # the first 100 warm up
            done = client.until(client.messages + 1)
            start = time.perf_counter_ns()
            client.write(frame)
            end = await done
            if i >= 100:
                samples.append((end - start) / 1e3)
    samples.sort()
    return {
        "lat_p50": statistics.median(samples),
        "lat_p99": samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))],
    }


async def large_windowed(client: Client, frames: Frames, sizes: Sizes) -> dict[str, float]:
    """1 MiB messages with at most `large_window` unanswered at any time."""

    async def run(count: int) -> tuple[int, int]:
        base = client.messages
        sent = 0
        start = time.perf_counter_ns()
        end = start
        async with asyncio.timeout(120):
            while client.messages - base < count:
                while sent < count and sent - (client.messages - base) < sizes.large_window:
                    client.write(frames.large)
                    sent += 1
                end = await client.until(client.messages + 1)
        return start, end

    await run(sizes.large_window)  # warm-up
    start, end = await run(sizes.large_count)
    return {"large": sizes.large_count * sizes.large_size / 1e6 / ((end - start) / 1e9)}


async def huge_round_trip(client: Client, frames: Frames, sizes: Sizes) -> dict[str, float]:
    """One 16 MiB message, written, echoed and received whole; median of a few."""
    times = []
    async with asyncio.timeout(120):
        for i in range(1 + sizes.huge_trips):  # the first warms up
            done = client.until(client.messages + 1)
            start = time.perf_counter_ns()
            client.write(frames.huge)
            end = await done
            if i:
                times.append((end - start) / 1e6)
    return {"huge": statistics.median(times)}


Workload = Callable[[Client, Frames, Sizes], Awaitable[dict[str, float]]]
WORKLOADS: tuple[tuple[str, Workload], ...] = (
    ("small", small_pipelined),
    ("latency", latency),
    ("large", large_windowed),
    ("huge", huge_round_trip),
)


async def check_echo(name: str, port: int) -> str:
    """Make sure a server echoes exactly, text and binary, before timing it.

    Returns its Sec-WebSocket-Extensions answer.
    """
    try:
        return await _check_echo(port)
    except (TimeoutError, ConnectionError) as error:
        reason = str(error) or type(error).__name__
        raise BenchError(f"{name} failed the echo check: {reason}") from error


async def _check_echo(port: int) -> str:
    text = "héllo wirelab " * 10
    rng = random.Random(1)
    data = json_like(200_000, rng) if COMPRESSION else rng.randbytes(200_000)
    async with connected(port) as client:
        client.tap = bytearray()
        done = client.until(3)
        client.write(data_frame(Opcode.TEXT, text.encode()))
        client.write(data_frame(Opcode.BINARY, data))
        client.write(data_frame(Opcode.TEXT, text.encode()))  # with context: a back-reference
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await done
        replies, rest = parse_frames(bytes(client.tap))
        client.tap = None
        negotiated = client.extensions
    inflate = zlib.decompressobj(-15)  # the servers keep their context: one for all replies
    got = [
        (f.opcode, inflate.decompress(f.payload + TAIL) if f.rsv1 else f.payload) for f in replies
    ]
    wanted = [(Opcode.TEXT, text.encode()), (Opcode.BINARY, data), (Opcode.TEXT, text.encode())]
    if got != wanted or rest:
        raise BenchError(f"wrong echo: {[str(f) for f in replies]}")
    if COMPRESSION and not all(f.rsv1 for f in replies):
        raise BenchError("the echoes were not compressed")
    return negotiated


def cpu_ns(pid: int) -> int | None:
    """Nanoseconds process `pid` has run on a CPU (Linux), or None when unknown."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


async def run_rounds(
    servers: Sequence[ServerProcess],
    sizes: Sizes,
    frames: Frames,
    *,
    rounds: int,
    warmup: int,
    log: Callable[[str], None],
) -> dict[str, dict[str, list[float]]]:
    """samples[metric][server]: one value per round; the `warmup` rounds before are dropped."""
    for server in servers:
        server.negotiated = await check_echo(server.name, server.port)
    names = [server.name for server in servers]
    by_name = {server.name: server for server in servers}
    samples: dict[str, dict[str, list[float]]] = {
        m.key: {name: [] for name in names} for m in METRICS + CPU_METRICS
    }
    for r in range(-warmup, rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        log(f"round {r + 1}/{rounds} ({', '.join(order)})" if r >= 0 else "warm-up round")
        for workload_name, workload in WORKLOADS:
            for name in order:
                server = by_name[name]
                try:
                    async with connected(server.port) as client:
                        before = cpu_ns(server.proc.pid)
                        values = await workload(client, frames, sizes)
                        after = cpu_ns(server.proc.pid)
                except (TimeoutError, ConnectionError) as error:
                    reason = str(error) or type(error).__name__
                    raise BenchError(f"{workload_name} against {name}: {reason}") from error
                if before is not None and after is not None:
                    # Warm-up included: every message this connection echoed.
                    values[f"cpu_{workload_name}"] = (after - before) / 1e3 / client.messages
                if r >= 0:
                    for key, value in values.items():
                        samples[key][name].append(value)
                log(f"  {workload_name:8} {name:11} " + _fmt_values(values))
    return samples


def _fmt_values(values: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:,.1f}" for k, v in values.items())


# --- report ----------------------------------------------------------------------------


def deflate_settings(name: str) -> str:
    """The zlib settings a server compresses its echoes with (not visible on the wire)."""
    level, mem_level = 6, 8  # zlib's defaults (level -1 means 6)
    if name == "ours":
        factory = default_config().extensions[0] if COMPRESSION == "defaults" else None
        deflate = factory() if factory is not None else PerMessageDeflate()
        assert isinstance(deflate, PerMessageDeflate)
        level, mem_level = deflate.level, deflate.mem_level
    elif name == "websockets" and COMPRESSION == "defaults":
        theirs = enable_server_permessage_deflate(None)[0]
        assert isinstance(theirs, ServerPerMessageDeflateFactory)
        settings = theirs.compress_settings or {}
        level = settings.get("level", 6)
        mem_level = settings.get("memLevel", 8)
    # wsproto always compresses with zlib's defaults; so does ws, which by default leaves
    # messages under 1 KiB uncompressed (its threshold; 0 with --compression=zlib).
    if name == "node-ws" and COMPRESSION == "defaults":
        return f"level {level}, memLevel {mem_level}, messages of 1 KiB and more only"
    return f"level {level}, memLevel {mem_level}"


def describe_compression(servers: Sequence[ServerProcess], frames: Frames, sizes: Sizes) -> str:
    """The payloads, the client's offer and what each server answered, for the header."""
    kinds = (
        "each server with its library's defaults"
        if COMPRESSION == "defaults"
        else ("every server with zlib's defaults")
    )
    shrink = ", ".join(
        f"{_size(size)} → {_size(deflated)}"
        + (f" ({size / deflated:.1f}:1)" if size > 1000 else "")
        for size, deflated in frames.deflated.items()
    )
    lines = [
        f"permessage-deflate, {kinds}. Payloads: JSON-like text records"
        f" ({_size(sizes.small_size)}, {_size(sizes.large_size)}, {_size(sizes.huge_size)}).",
        f"client offers: {OFFER}; it deflates each frame once, up front (level 6,"
        f" 32 KiB window): {shrink}",
    ]
    width = max(len(s.name) for s in servers)
    for server in servers:
        lines.append(
            f"  {server.name:<{width}} answers: {server.negotiated or '(nothing)'};"
            f" compresses with {deflate_settings(server.name)}"
        )
    return "\n".join(lines)


def _size(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    return f"{n:,} B"


def ratio(metric: Metric, ours: float, theirs: float) -> float:
    """≥ 1.0 means ours is at least as good, whichever way the metric points."""
    return ours / theirs if metric.higher_is_better else theirs / ours


def _label(metric: Metric, sizes: Sizes) -> str:
    label = metric.label.format(**vars(sizes))
    return label.replace("binary", "JSON text") if COMPRESSION else label


def summarize(samples: dict[str, dict[str, list[float]]], sizes: Sizes) -> list[dict[str, Any]]:
    rows = []
    for metric in METRICS + CPU_METRICS:
        per_server = samples[metric.key]
        if not all(per_server.values()):
            continue  # e.g. no /proc/PID/schedstat here
        medians = {name: statistics.median(values) for name, values in per_server.items()}
        row: dict[str, Any] = {
            "metric": metric.key,
            "label": _label(metric, sizes),
            "unit": metric.unit,
            "higher_is_better": metric.higher_is_better,
            "judged": metric.target_vs_websockets is not None,
            "median": medians,
            "min": {name: min(v) for name, v in per_server.items()},
            "max": {name: max(v) for name, v in per_server.items()},
            "samples": per_server,
            "ratio": {},
            "target": {},
        }
        if "ours" in medians:
            for other, target in (
                ("websockets", metric.target_vs_websockets),  # None for CPU metrics
                ("wsproto", TARGET_VS_WSPROTO),
                ("node-ws", TARGET_VS_NODE_WS),
            ):
                if other in medians:
                    row["ratio"][other] = ratio(metric, medians["ours"], medians[other])
                    if target is not None and row["judged"]:
                        row["target"][other] = target
        rows.append(row)
    return rows


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def format_table(rows: list[dict[str, Any]], names: Sequence[str], header: str) -> str:
    others = [n for n in ("websockets", "wsproto", "node-ws") if n in names and "ours" in names]
    cols = ["workload", "unit", *names, *(f"ours vs {o}" for o in others)]
    body: list[list[str]] = []
    for i, row in enumerate(rows):
        if i and rows[i - 1]["judged"] and not row["judged"]:
            body.append([""] * len(cols))  # a blank line before the CPU rows
        cells = [row["label"], row["unit"], *(_num(row["median"][n]) for n in names)]
        for other in others:
            value = row["ratio"][other]
            target = row["target"].get(other)
            mark = " *" if target is not None and value < target else ""
            cells.append(f"{value:.2f}×{mark}")
        body.append(cells)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    out = [header, "", line(cols), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body]
    if others:
        out += [
            "",
            "ratios: ≥ 1.00× means ours is at least as good (theirs/ours for µs and ms);",
            "* = below target (websockets: 1.0× for small messages and latency, 0.8× for",
            "1 MiB and 16 MiB; wsproto and Node's ws: 1.0× everywhere). Server CPU: the server",
            "process's on-CPU time per echoed message (/proc/PID/schedstat, warm-up",
            "included), not judged.",
        ]
    return "\n".join(out)


# --- main ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pinning:
    server_cpu: int | None
    taskset: bool  # else the server pins itself with sched_setaffinity
    note: str


def choose_cpus(pin: bool) -> Pinning:
    """Pin this client to the second allowed CPU; say where the servers go."""
    if not pin:
        return Pinning(None, False, "not pinned (--no-pin)")
    if not hasattr(os, "sched_setaffinity"):
        return Pinning(None, False, "not pinned (no sched_setaffinity on this system)")
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return Pinning(None, False, f"not pinned (only CPU {allowed[0]} available)")
    server_cpu, client_cpu = allowed[0], allowed[1]
    try:
        os.sched_setaffinity(0, {client_cpu})
    except OSError as error:
        return Pinning(None, False, f"not pinned ({error.strerror})")
    taskset = shutil.which("taskset") is not None
    how = "taskset" if taskset else "sched_setaffinity"
    return Pinning(
        server_cpu, taskset, f"servers on CPU {server_cpu} ({how}), client on CPU {client_cpu}"
    )


def versions() -> dict[str, str]:
    speedups = importlib.util.find_spec("websockets.speedups") is not None
    return {
        "python": platform.python_version(),
        "websockets": f"{version('websockets')} ({'C speedups' if speedups else 'pure Python'})",
        "wsproto": version("wsproto"),
        "wirelab": revision(),
        "node_ws": node_ws_version(),
    }


def node_ws_version() -> str:
    """Node's and ws's versions, as the header prints them ("" when not installed)."""
    if node_ws_missing() is not None:
        return ""
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()  # fmt: skip
        ws = json.loads((NODE / "node_modules" / "ws" / "package.json").read_text())["version"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return ""
    native = (NODE / "node_modules" / "bufferutil").is_dir()
    return f"Node {node}, ws {ws}" + (" with bufferutil" if native else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, metavar="N", help="rounds (default 7)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        metavar="N",
        help="untimed rounds first, to reach a steady state (default 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round, no warm-up, small counts"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--servers",
        help=f"comma-separated subset of {','.join(SERVERS)} (default: all; node-ws where "
        "scripts/bench-tools installed it)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument(
        "--compression",
        nargs="?",
        const="defaults",
        default="",
        choices=COMPRESSION_MODES,
        help="permessage-deflate on both sides, each server with its library's defaults;"
        " =zlib: every server with zlib's (32 KiB windows, memLevel 8, level 6)",
    )
    # Server mode, used by the benchmark for its subprocesses.
    parser.add_argument("--serve", choices=PYTHON_SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    global COMPRESSION
    args = build_parser().parse_args(argv)
    COMPRESSION = args.compression
    if args.serve:
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        return serve(args.serve, args.port)
    every = SERVERS if node_ws_missing() is None else PYTHON_SERVERS
    names = [n.strip() for n in (args.servers or ",".join(every)).split(",") if n.strip()]
    if not names or any(n not in SERVERS for n in names) or len(set(names)) < len(names):
        raise SystemExit(f"--servers: a comma-separated subset of {','.join(SERVERS)}")
    sizes = QUICK if args.quick else Sizes()
    frames = Frames(sizes)
    rounds = 1 if args.quick else args.rounds
    warmup = 0 if args.quick else args.warmup
    if rounds < 1 or warmup < 0:
        raise SystemExit("--rounds must be at least 1 and --warmup at least 0")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # SIGTERM unwinds like Ctrl-C, so the `finally` below stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinning = choose_cpus(not args.no_pin)
    log(f"pinning: {pinning.note}")
    started = time.strftime("%Y-%m-%d %H:%M")
    servers: list[ServerProcess] = []
    try:
        for name in names:
            servers.append(start_server(name, pinning))
        run = run_rounds(servers, sizes, frames, rounds=rounds, warmup=warmup, log=log)
        samples = asyncio.run(run)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"echo.py: {error}")
        return 1
    finally:
        for server in servers:
            stop_server(server.proc)
    rows = summarize(samples, sizes)
    info = versions()
    if args.json:
        report = {"date": started, "rounds": rounds, "warmup_rounds": warmup, **info}
        report["pinning"] = pinning.note
        report["sizes"] = vars(sizes)
        if COMPRESSION:
            report["compression"] = {
                "mode": COMPRESSION,
                "offer": OFFER,
                "client_payload_bytes": frames.deflated,
                "negotiated": {s.name: s.negotiated for s in servers},
                "zlib": {s.name: deflate_settings(s.name) for s in servers},
            }
        print(json.dumps({**report, "rows": rows}, indent=2, ensure_ascii=False))
    else:
        header = (
            f"wirelab echo benchmark{' with permessage-deflate' if COMPRESSION else ''}, "
            f"{started}, median of {rounds} round{'s' * (rounds > 1)}"
            f" after {warmup} warm-up round{'s' * (warmup != 1)}\n"
            f"wirelab {info['wirelab']}; Python {info['python']}, websockets"
            f" {info['websockets']}, wsproto {info['wsproto']}"
            + (f", {info['node_ws']}" if info["node_ws"] else "")
            + f"\n{pinning.note}"
        )
        if COMPRESSION:
            header += "\n" + describe_compression(servers, frames, sizes)
        print(format_table(rows, names, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
