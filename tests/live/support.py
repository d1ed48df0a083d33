"""Helpers for the live tests: bounded asyncio runs, raw-socket handshakes, wire parsing.

Everything talks to 127.0.0.1 on a port the kernel picks, and every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from simulator.http import read_head
from simulator.live import ConnectionInfo, Server, Session, site
from simulator.ws.frames import Frame, parse_frames
from simulator.ws.handshake import accept_key, build_request

T = TypeVar("T")

TIMEOUT = 10.0  # an upper bound for one whole scenario, never an expectation of speed
STEP = 5.0  # an upper bound for one read or one close
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample key
BIN = Path(sys.executable).parent


def run(coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT, *, loop: str = "asyncio") -> T:
    """Run one async scenario to completion in a fresh event loop, or fail after `timeout`.

    `loop`: asyncio's own, or "uvloop" (the test is skipped where it is not installed).
    """
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    from simulator.cli import run_loop

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return run_loop(bounded(), loop)


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[Server]:
    """A started `Server` on 127.0.0.1 and a free port, shut down afterwards."""
    server = site(host="127.0.0.1", port=0, **options)
    await server.start()
    try:
        yield server
    finally:
        await asyncio.wait_for(server.shutdown(), STEP)


# --- raw sockets ------------------------------------------------------------------------


def request(
    port: int,
    *,
    path: str = "/",
    key: str = KEY,
    origin: str | None = None,
    version: str | None = None,
) -> bytes:
    """A client handshake for 127.0.0.1:`port`, optionally with another version."""
    data = build_request(host=f"127.0.0.1:{port}", path=path, key=key, origin=origin)
    if version is not None:
        data = data.replace(
            b"Sec-WebSocket-Version: 13", f"Sec-WebSocket-Version: {version}".encode()
        )
    return data


@dataclass
class Raw:
    """A plain TCP connection that records every byte it writes and reads."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)

    @classmethod
    async def open(cls, port: int) -> Raw:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), STEP)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.sent += data
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), STEP)

    async def read_head(self) -> bytes:
        """Read one HTTP response head (through the blank line)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), STEP)
        self.received += head
        return head

    async def read_exactly(self, n: int) -> bytes:
        data = await asyncio.wait_for(self.reader.readexactly(n), STEP)
        self.received += data
        return data

    async def read_to_eof(self, timeout: float = STEP) -> bytes:
        """Everything the peer sends until it closes TCP; fails if it does not within `timeout`."""
        data = await asyncio.wait_for(self.reader.read(), timeout)
        self.received += data
        return data

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), STEP)


async def open_websocket(port: int, **options: Any) -> Raw:
    """A raw connection whose opening handshake succeeded (the 101 is read and checked)."""
    raw = await Raw.open(port)
    await raw.send(request(port, **options))
    head = await raw.read_head()
    response = parse_response(head)
    assert response.status == 101, head
    assert response.headers["sec-websocket-accept"] == accept_key(options.get("key", KEY))
    return raw


class Stalled:
    """A WebSocket client that sends its handshake and then stops reading, with a small
    receive buffer, so what a server sends it backs up fast. `drain()` reads at last."""

    def __init__(self, sock: socket.socket, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:  # fmt: skip
        self.sock = sock
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str) -> Stalled:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(request(port, path=path))
        await writer.drain()
        return cls(sock, reader, writer)

    def session_in(self, sessions: Iterable[Session]) -> Session:
        """Its session on the server, whose own send buffer is then made small too."""
        mine = self.sock.getsockname()[:2]
        session = next(s for s in sessions if s.info is not None and s.info.peer == mine)
        assert session.transport is not None
        server_side = session.transport.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        return session

    async def drain(self) -> list[Frame]:
        """Read everything until the server closes; the frames after the 101."""
        data = bytearray()
        while chunk := await asyncio.wait_for(self.reader.read(65536), STEP):
            data += chunk
        self.writer.close()
        return server_frames(bytes(data)[data.index(b"\r\n\r\n") + 4 :])


# --- parsing what came back -------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def parse_response(data: bytes) -> Response:
    parsed = read_head(data)
    assert parsed is not None, f"no complete HTTP head in {data!r}"
    head, used = parsed
    headers = {name.lower(): value for name, value in head.headers}
    return Response(int(head.start[1]), headers, data[used:])


def server_frames(data: bytes) -> list[Frame]:
    """Frames a server sent: all complete, none masked (RFC 6455 §5.1)."""
    frames, rest = parse_frames(data)
    assert rest == b"", f"{len(rest)} bytes of an incomplete frame: {rest[:20]!r}"
    assert not any(frame.masked for frame in frames), "a server frame is masked"
    return frames


def close_of(frame: Frame) -> tuple[int, str]:
    """(code, reason) of a close frame."""
    assert frame.opcode == 0x8, str(frame)
    assert len(frame.payload) >= 2, str(frame)
    return int.from_bytes(frame.payload[:2], "big"), frame.payload[2:].decode("utf-8")


def after_head(data: bytes) -> bytes:
    """The bytes that follow the HTTP head (the frames)."""
    end = data.index(b"\r\n\r\n") + 4
    return data[end:]


# --- recording taps and handlers --------------------------------------------------------


@dataclass
class TapRecord:
    chunks: list[tuple[ConnectionInfo, str, bytes, float]] = field(default_factory=list)

    def __call__(self, info: ConnectionInfo, direction: str, data: bytes, when: float) -> None:
        self.chunks.append((info, direction, data, when))

    def joined(self, direction: str, connection: int | None = None) -> bytes:
        return b"".join(
            data
            for info, d, data, _ in self.chunks
            if d == direction and (connection is None or info.id == connection)
        )


# --- the command line -------------------------------------------------------------------


def wirelab(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the venv's `wirelab` to completion."""
    return subprocess.run(
        [str(BIN / "wirelab"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


URL_LINE = re.compile(r"^wirelab server on (ws://127\.0\.0\.1:(\d+)/) ")


class ServeProcess:
    """`wirelab serve --headless --port 0 ...` in a child process, its stdout read by a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "wirelab"), "serve", "--headless", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        try:
            self.url, self.port = self._wait_url()
        except BaseException:
            self.stop()
            raise

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, pattern: str, timeout: float = STEP) -> re.Match[str]:
        """Wait for a stdout line matching `pattern` (searched); fail on timeout or exit."""
        regex = re.compile(pattern)
        for line in self.seen:
            if match := regex.search(line):
                return match
        while True:
            try:
                item = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {self.seen}") from None
            if item is None:
                self.lines.put(None)  # stays at the end for the next caller
                raise AssertionError(f"server exited; output: {self.seen}; {self.stderr()}")
            self.seen.append(item)
            if match := regex.search(item):
                return match

    def _wait_url(self) -> tuple[str, int]:
        match = self.wait_line(URL_LINE.pattern, timeout=20.0)
        return match.group(1), int(match.group(2))

    def signal(self, sig: signal.Signals) -> int:
        """Send `sig` to the server and return its exit status."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=STEP * 2)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def stop(self) -> None:
        """End the child (ours, by its PID) if it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STEP)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STEP)
        self._thread.join(timeout=STEP)  # the pipe reaches EOF once the child is gone
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
