"""Echo benchmark: one cheap raw client against our server, websockets, wsproto and Node's ws.

Our server runs twice, on asyncio's own event loop ("ours") and on uvloop
("ours-uvloop"). "raw-asyncio" is not a WebSocket server: after the opening
handshake it writes back every byte it receives, unchanged, so it is the floor
for an echo on asyncio (the client accepts its own masked frames from it, and
from no other server).

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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar, cast

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
from simulator.live.server import BACKLOG, default_config
from simulator.ws import Config, Opcode, serialize_frame
from simulator.ws.deflate import PerMessageDeflate
from simulator.ws.frames import parse_frames
from simulator.ws.handshake import accept_key

HOST = "127.0.0.1"
MIB = 1 << 20
MAX_SIZE = 32 * MIB  # every server accepts messages this large
RAW = "raw-asyncio"  # not a WebSocket server: it echoes the client's bytes unchanged
PYTHON_SERVERS = ("ours", "ours-uvloop", "websockets", "wsproto", RAW)
NODE = Path(__file__).resolve().parent / "node"  # Node's ws: `scripts/bench-tools` installs it
SERVERS = ("ours", "ours-uvloop", "websockets", "wsproto", "node-ws", RAW)
OURS = ("ours", "ours-uvloop")  # the same server, on asyncio's loop and on uvloop
LOOPS = ("asyncio", "uvloop")
# The benchmarks open many connections from 127.0.0.1 at once: 200 in the `conns`
# workload, 10,000 idle ones in idle.py. Our server's limits on them (connections from
# one address, open WebSockets, handshakes in progress) guard against hostile clients;
# a benchmark client is not one, so they are raised past anything the fd limit allows.
CONNECTION_LIMIT = 1_000_000
# Our server closes a WebSocket that has sent no message for 60 s (IDLE_TIMEOUT); idle.py
# holds its connections silent while it reads the server's memory. Raised, not disabled,
# so that each connection still carries its idle timer, as it does by default.
IDLE_TIMEOUT = 3600.0
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
    """Our server with its default echo handler (on whichever loop `serve` runs it)."""
    extensions = default_config().extensions if COMPRESSION else ()
    if COMPRESSION == "zlib":
        extensions = (PerMessageDeflate,)  # no window bits asked: 15; memLevel 8, level 6
    server = Server(
        host=HOST,
        port=port,
        config=Config(max_size=MAX_SIZE, extensions=extensions),
        # See CONNECTION_LIMIT and IDLE_TIMEOUT: 200 (echo.py) or 10,000 (idle.py)
        # connections from 127.0.0.1, kept open while idle.py measures.
        max_connections=CONNECTION_LIMIT,
        max_per_address=CONNECTION_LIMIT,
        max_pending=CONNECTION_LIMIT,
        idle_timeout=IDLE_TIMEOUT,
    )
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
        backlog=BACKLOG,
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
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
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
    server = await loop.create_server(WsprotoEcho, HOST, port, reuse_address=True, backlog=BACKLOG)
    _ready(server.sockets[0].getsockname()[1])
    await stop.wait()
    server.close()
    await server.wait_closed()


class RawEcho(asyncio.Protocol):
    """Not a WebSocket server: the floor for an echo on asyncio.

    It answers the opening handshake (101 with the right Sec-WebSocket-Accept),
    then writes back every byte it receives, unchanged: no parsing, no
    unmasking, no framing, no copy. The client gets its own masked frames back.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head: bytearray | None = bytearray()  # the request head, until answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if self.head is None:
            transport.write(data)
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > 65536:
                transport.close()
            return
        key = ""
        for line in bytes(self.head[:end]).decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        rest = bytes(self.head[end + 4 :])  # frames sent right behind the request
        self.head = None
        if not key:
            transport.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            transport.close()
            return
        transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode("ascii")
            + b"\r\n\r\n"
            + rest
        )

    def eof_received(self) -> bool | None:
        return None  # the client's half-close ends the connection

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()  # the same backpressure as the others

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


async def _serve_raw(port: int, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RawEcho, HOST, port, reuse_address=True, backlog=BACKLOG)
    _ready(server.sockets[0].getsockname()[1])
    await stop.wait()
    server.close()
    await server.wait_closed()


SERVE: dict[str, Callable[[int, asyncio.Event], Awaitable[None]]] = {
    "ours": _serve_ours,
    "ours-uvloop": _serve_ours,  # `serve` runs it on uvloop
    "websockets": _serve_websockets,
    "wsproto": _serve_wsproto,
    RAW: _serve_raw,
}


def _ready(port: int) -> None:
    print(f"READY {port}", flush=True)  # the parent waits for this line


def serve(name: str, port: int) -> int:
    """Run one echo server until SIGTERM or SIGINT ("ours-uvloop" on uvloop)."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await SERVE[name](port, stop)

    run_on(run(), "uvloop" if name == "ours-uvloop" else "asyncio")
    return 0


T = TypeVar("T")


def run_on(main: Coroutine[Any, Any, T], loop: str) -> T:
    """Run `main` on asyncio's own event loop or on uvloop's ("asyncio" or "uvloop")."""
    if loop == "uvloop":
        import uvloop  # only where it is installed: uvloop_missing() says

        return uvloop.run(main)
    return asyncio.run(main)


def uvloop_missing() -> str | None:
    """Why uvloop cannot run here, or None when it can."""
    if importlib.util.find_spec("uvloop") is None:
        return "uvloop is not installed"
    return None


def masks(name: str) -> bool:
    """Whether a server sends masked frames: only raw-asyncio, which echoes the client's."""
    return name == RAW


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
    A masked frame from the server fails the connection (RFC 6455 §5.1), unless
    `masked` is set: raw-asyncio echoes the client's own frames, masking keys and all.
    """

    def __init__(self, port: int, *, masked: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.masked = masked  # accept masked frames (and skip their masking keys)
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
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
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
            key = 0  # masking key bytes after the length
            if length & 0x80:
                if not self.masked:
                    self._fail("masked frame from the server")  # RFC 6455 §5.1
                    return
                length &= 0x7F
                key = 4
            if length < 126:
                if key and n - pos < 6:
                    break
                pos += 2 + key
            elif length == 126:
                if n - pos < 4 + key:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                pos += 4 + key
            else:
                if n - pos < 10 + key:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                pos += 10 + key
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
            if self.masked:
                self.transport.write_eof()  # raw-asyncio closes on EOF, not on a close frame
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT)
        except TimeoutError:
            self.transport.abort()


CLOSE_FRAME = serialize_frame(Opcode.CLOSE, (1000).to_bytes(2, "big"), masking_key=MASKING_KEY)


class Trips(Client):
    """A client that writes `frame` again each time an echo completes: `trips` in all.

    The next message goes out from `data_received` itself, with no task switch.
    """

    def __init__(self, port: int, frame: bytes, trips: int, *, masked: bool = False) -> None:
        super().__init__(port, masked=masked)
        self.frame = frame
        self.trips = trips

    def _frame_end(self, b0: int, length: int) -> None:
        before = self.messages
        super()._frame_end(b0, length)
        if before < self.messages < self.trips and self.transport is not None:
            self.transport.write(self.frame)


@contextlib.asynccontextmanager
async def connected(port: int, *, masked: bool = False) -> AsyncIterator[Client]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        _, client = await loop.create_connection(lambda: Client(port, masked=masked), HOST, port)
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
    conns: int = 200  # connections opened at once, each with its own handshake
    conn_trips: int = 50  # round trips of a small message on each, all concurrently


QUICK = Sizes(small_count=1_000, trips=200, large_count=8, huge_trips=1, conns=20, conn_trips=10)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    target_vs_websockets: float | None  # None: shown, not judged
    # Against raw-asyncio, which does no WebSocket work: judged on the 16 MiB round
    # trip alone, where ours must take at most 1.3 times its time.
    target_vs_raw: float | None = None


TARGET_VS_RAW_HUGE = 1 / 1.3
METRICS = (
    Metric("small", "{small_count:,} × {small_size} B text, pipelined", "msg/s", True, 1.0),
    Metric("lat_p50", "round trip {small_size} B, median", "µs", False, 1.0),
    Metric("lat_p99", "round trip {small_size} B, p99", "µs", False, 1.0),
    Metric("large", "{large_count} × 1 MiB binary, {large_window} in flight", "MB/s", True, 0.8),
    Metric("huge", "16 MiB binary round trip", "ms", False, 0.8, TARGET_VS_RAW_HUGE),
    Metric("conns", "{conns:,} connections × {conn_trips} round trips", "ms", False, 1.0),
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
        ("conns", "server CPU, {conns:,} connections"),
    )
)
# Connections dropped because the server's accept queue was full, during `conns`: each
# costs a second (the client's SYN is sent again), so they are counted and reported.
OVERFLOWS = "conns_listen_overflows"
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


async def many_connections(server: ServerProcess, frames: Frames, sizes: Sizes) -> dict[str, float]:
    """`conns` connections opened at once, then `conn_trips` round trips on each, all
    concurrently; timed from the first connect to the last echo, handshakes included.

    Server CPU per echoed message too, from before the first connect to the last echo.
    """
    loop = asyncio.get_running_loop()
    port, masked, trips = server.port, masks(server.name), sizes.conn_trips
    clients: list[Trips] = []

    async def one() -> int:
        _, client = await loop.create_connection(
            lambda: Trips(port, frames.small, trips, masked=masked), HOST, port
        )
        clients.append(client)
        await client.opened
        client.write(frames.small)  # the others go out as the echoes arrive
        return await client.until(trips)

    overflows = listen_overflows()
    before = cpu_ns(server.proc.pid)
    start = time.perf_counter_ns()
    tasks = [asyncio.ensure_future(one()) for _ in range(sizes.conns)]
    done = False
    try:
        async with asyncio.timeout(120):
            ends = await asyncio.gather(*tasks)
        after = cpu_ns(server.proc.pid)
        overflows_after = listen_overflows()
        done = True
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if done:
            await asyncio.gather(*(client.close() for client in clients))
        else:
            for client in clients:
                if client.transport is not None:
                    client.transport.abort()
    values = {"conns": (max(ends) - start) / 1e6}
    if before is not None and after is not None:
        values["cpu_conns"] = (after - before) / 1e3 / (sizes.conns * trips)
    if overflows is not None and overflows_after is not None:
        values[OVERFLOWS] = overflows_after - overflows
    return values


Workload = Callable[[Client, Frames, Sizes], Awaitable[dict[str, float]]]
Run = Callable[[ServerProcess, Frames, Sizes], Awaitable[dict[str, float]]]


def on_one_connection(name: str, workload: Workload) -> Run:
    """Run `workload` on a fresh connection; add the server's CPU per echoed message."""

    async def run(server: ServerProcess, frames: Frames, sizes: Sizes) -> dict[str, float]:
        async with connected(server.port, masked=masks(server.name)) as client:
            before = cpu_ns(server.proc.pid)
            values = await workload(client, frames, sizes)
            after = cpu_ns(server.proc.pid)
        if before is not None and after is not None:
            # Warm-up included: every message this connection echoed.
            values[f"cpu_{name}"] = (after - before) / 1e3 / client.messages
        return values

    return run


WORKLOADS: tuple[tuple[str, Run], ...] = (
    ("small", on_one_connection("small", small_pipelined)),
    ("latency", on_one_connection("latency", latency)),
    ("large", on_one_connection("large", large_windowed)),
    ("huge", on_one_connection("huge", huge_round_trip)),
    ("conns", many_connections),
)


async def check_echo(name: str, port: int) -> str:
    """Make sure a server echoes exactly, text and binary, before timing it.

    Returns its Sec-WebSocket-Extensions answer.
    """
    try:
        return await _check_echo(port, masked=masks(name))
    except (TimeoutError, ConnectionError) as error:
        reason = str(error) or type(error).__name__
        raise BenchError(f"{name} failed the echo check: {reason}") from error


async def _check_echo(port: int, *, masked: bool) -> str:
    text = "héllo wirelab " * 10
    rng = random.Random(1)
    data = json_like(200_000, rng) if COMPRESSION else rng.randbytes(200_000)
    async with connected(port, masked=masked) as client:
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


def listen_overflows() -> int | None:
    """How many times a listening socket's accept queue was full (Linux, every socket of
    the machine: TcpExt ListenOverflows), or None when unknown. Each time, a connection's
    handshake is dropped and the client tries again a second later."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            with contextlib.suppress(KeyError, ValueError):
                return int(table["ListenOverflows"])
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
    samples[OVERFLOWS] = {name: [] for name in names}  # not a row: a note under the table
    for r in range(-warmup, rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        log(f"round {r + 1}/{rounds} ({', '.join(order)})" if r >= 0 else "warm-up round")
        for workload_name, workload in WORKLOADS:
            for name in order:
                try:
                    values = await workload(by_name[name], frames, sizes)
                except (TimeoutError, ConnectionError) as error:
                    reason = str(error) or type(error).__name__
                    raise BenchError(f"{workload_name} against {name}: {reason}") from error
                if r >= 0:
                    for key, value in values.items():
                        samples[key][name].append(value)
                log(f"  {workload_name:8} {name:11} " + _fmt_values(values))
    return samples


def _fmt_values(values: dict[str, float]) -> str:
    return "  ".join(
        f"listen_overflows={v:,.0f}" if k == OVERFLOWS else f"{k}={v:,.1f}"
        for k, v in values.items()
    )


# --- report ----------------------------------------------------------------------------


def deflate_settings(name: str) -> str:
    """The zlib settings a server compresses its echoes with (not visible on the wire)."""
    level, mem_level = 6, 8  # zlib's defaults (level -1 means 6)
    if name in OURS:
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


def targets(metric: Metric) -> dict[str, float | None]:
    """Each peer's target ratio for a metric (None: shown, not judged)."""
    judged = metric.target_vs_websockets is not None  # CPU rows are never judged
    return {
        "websockets": metric.target_vs_websockets,
        "wsproto": TARGET_VS_WSPROTO if judged else None,
        "node-ws": TARGET_VS_NODE_WS if judged else None,
        RAW: metric.target_vs_raw,  # only the 16 MiB round trip
    }


def summarize(samples: dict[str, dict[str, list[float]]], sizes: Sizes) -> list[dict[str, Any]]:
    """One row a metric: medians, spread, samples; ratio[subject][peer] for ours and
    ours-uvloop against every peer, target[subject][peer] where one applies."""
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
        for subject in (s for s in OURS if s in medians):
            row["ratio"][subject] = {}
            row["target"][subject] = {}
            for other, target in targets(metric).items():
                if other in medians:
                    row["ratio"][subject][other] = ratio(metric, medians[subject], medians[other])
                    if target is not None:
                        row["target"][subject][other] = target
        rows.append(row)
    return rows


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _grid(cols: Sequence[str], body: Sequence[Sequence[str]], groups: str = "") -> list[str]:
    """Aligned lines: the first column left, the others right; `groups` above the header."""
    widths = [max(len(c), *(len(r[i]) for r in body if r)) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        if not cells:
            return ""
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [*([groups] if groups else []), line(cols), line(["-" * w for w in widths])] + [
        line(cells) for cells in body
    ]


def _ratio_groups(
    cols: Sequence[str], body: Sequence[Sequence[str]], starts: dict[int, str]
) -> str:
    """A line naming each group of ratio columns above its first column."""
    widths = [max(len(c), *(len(r[i]) for r in body if r)) for i, c in enumerate(cols)]
    out = ""
    x = 0
    for i, width in enumerate(widths):
        if i in starts:
            out = out.ljust(x) + starts[i]
        x += width + 2
    return out


def overflow_note(overflows: dict[str, list[float]]) -> str:
    """One line on accept-queue overflows during `conns` ("" when they were not counted)."""
    if not overflows or not all(overflows.values()):
        return ""
    hit = {name: [n for n in values if n] for name, values in overflows.items()}
    if not any(hit.values()):
        return "accept queues: no overflow during the connections workload"
    return (
        "accept queue full during the connections workload (those connects retried after"
        " 1 s; ListenOverflows counts the whole machine): "
        + ", ".join(
            f"{name} in {len(rounds)} of {len(overflows[name])} rounds ({sum(rounds):,.0f})"
            for name, rounds in hit.items()
            if rounds
        )
    )


def format_table(
    rows: list[dict[str, Any]], names: Sequence[str], header: str, note: str = ""
) -> str:
    """The medians, then (when ours runs with a peer) the ratios as a second table."""
    cols = ["workload", "unit", *names]
    body: list[list[str]] = []
    for i, row in enumerate(rows):
        if i and rows[i - 1]["judged"] and not row["judged"]:
            body.append([])  # a blank line before the CPU rows
        body.append([row["label"], row["unit"], *(_num(row["median"][n]) for n in names)])
    out = [header, "", *_grid(cols, body)]
    if note:
        out += ["", note]
    subjects = [s for s in OURS if s in names]
    others = [n for n in ("websockets", "wsproto", "node-ws", RAW) if n in names]
    if not subjects or not others:
        return "\n".join(out)
    cols = ["ratios", *(o for _ in subjects for o in others)]
    body = []
    for i, row in enumerate(rows):
        if i and rows[i - 1]["judged"] and not row["judged"]:
            body.append([])
        cells = [row["label"]]
        for subject in subjects:
            for other in others:
                value = row["ratio"][subject][other]
                target = row["target"][subject].get(other)
                mark = " *" if target is not None and value < target else ""
                cells.append(f"{value:.2f}×{mark}")
        body.append(cells)
    starts = {1 + k * len(others): f"{subject} vs" for k, subject in enumerate(subjects)}
    out += ["", *_grid(cols, body, _ratio_groups(cols, body, starts))]
    out += [
        "",
        "ratios: ≥ 1.00× means ours is at least as good (theirs/ours for µs and ms);",
        "* = below target: websockets 1.0× for small messages, latency and connections, 0.8×",
        "for 1 MiB and 16 MiB; wsproto and Node's ws 1.0× everywhere; raw-asyncio (no WebSocket",
        f"work, asyncio's own loop) {TARGET_VS_RAW_HUGE:.2f}×, i.e. 1.3 times its time, on the"
        " 16 MiB round trip only.",
        "Server CPU: the server process's on-CPU time per echoed message (/proc/PID/schedstat,",
        "warm-up included; handshakes too for the connections), not judged.",
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
        "uvloop": uvloop_version(),
    }


def versions_line(info: dict[str, str], *, wsproto: bool = True) -> str:
    """The header line naming what was measured: wirelab, Python and every peer's version."""
    return (
        f"wirelab {info['wirelab']}; Python {info['python']}, websockets {info['websockets']}"
        + (f", wsproto {info['wsproto']}" if wsproto else "")
        + (f", {info['node_ws']}" if info["node_ws"] else "")
        + (f", uvloop {info['uvloop']}" if info["uvloop"] else "")
    )


def uvloop_version() -> str:
    """uvloop's version ("" when it is not installed)."""
    try:
        return version("uvloop")
    except PackageNotFoundError:
        return ""


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
        "scripts/bench-tools installed it, ours-uvloop where uvloop is installed, raw-asyncio"
        " not with --compression)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    add_client_loop(parser)
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


def add_client_loop(parser: argparse.ArgumentParser) -> None:
    """--client-loop: the load generator's event loop (uvloop where installed)."""
    parser.add_argument(
        "--client-loop",
        choices=LOOPS,
        default="uvloop" if uvloop_missing() is None else "asyncio",
        help="the client's event loop (default: uvloop when installed; a faster client"
        " keeps the server the bottleneck)",
    )


def client_loop_note(loop: str) -> str:
    """The header's words for the client's event loop; SystemExit if it cannot run."""
    if loop == "uvloop":
        missing = uvloop_missing()
        if missing is not None:
            raise SystemExit(f"--client-loop uvloop: {missing}")
        return f"client on uvloop {uvloop_version()}"
    return "client on asyncio's own event loop"


def choose_servers(
    arg: str | None, default: Sequence[str], log: Callable[[str], None]
) -> tuple[list[str], list[str]]:
    """The servers to run, from --servers (else those of `default` that can run here),
    and a one-line note for each left out. SystemExit for an unknown or missing one."""
    missing = {"node-ws": node_ws_missing(), "ours-uvloop": uvloop_missing()}
    if COMPRESSION:
        missing[RAW] = "not a WebSocket server (it echoes bytes): no permessage-deflate"
    names = [n.strip() for n in (arg or ",".join(default)).split(",") if n.strip()]
    if not names or any(n not in SERVERS for n in names) or len(set(names)) < len(names):
        raise SystemExit(f"--servers: a comma-separated subset of {','.join(SERVERS)}")
    notes = []
    for name in list(names):
        reason = missing.get(name)
        if reason is None:
            continue
        if arg and name != RAW:
            raise SystemExit(f"--servers: {name}: {reason}")
        names.remove(name)
        notes.append(f"{name} left out: {reason}")
        log(notes[-1])
    if not names:
        raise SystemExit("--servers: none of them can run")
    return names, notes


def main(argv: Sequence[str] | None = None) -> int:
    global COMPRESSION
    args = build_parser().parse_args(argv)
    COMPRESSION = args.compression
    if args.serve:
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        return serve(args.serve, args.port)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    names, left_out = choose_servers(args.servers, SERVERS, log)
    client_note = client_loop_note(args.client_loop)
    sizes = QUICK if args.quick else Sizes()
    frames = Frames(sizes)
    rounds = 1 if args.quick else args.rounds
    warmup = 0 if args.quick else args.warmup
    if rounds < 1 or warmup < 0:
        raise SystemExit("--rounds must be at least 1 and --warmup at least 0")
    # SIGTERM unwinds like Ctrl-C, so the `finally` below stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinning = choose_cpus(not args.no_pin)
    log(f"pinning: {pinning.note}; {client_note}")
    started = time.strftime("%Y-%m-%d %H:%M")
    servers: list[ServerProcess] = []
    try:
        for name in names:
            servers.append(start_server(name, pinning))
        run = run_rounds(servers, sizes, frames, rounds=rounds, warmup=warmup, log=log)
        samples = run_on(run, args.client_loop)
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
        report["client_loop"] = args.client_loop
        report["left_out"] = left_out
        report["conns_listen_overflows"] = samples[OVERFLOWS]
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
            + versions_line(info)
            + f"\n{pinning.note}; {client_note}"
            + "".join(f"\n{note}" for note in left_out)
        )
        if COMPRESSION:
            header += "\n" + describe_compression(servers, frames, sizes)
        print(format_table(rows, names, header, overflow_note(samples[OVERFLOWS])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
