"""Hostile peers against the live server: what each attack costs, how attackers are cut off.

What an attack costs is taken on the server (its memory) and on a well-behaved client
(its echo latency).

Every attack runs against a fresh server in its own process: `simulator.live.Server`
with its defaults (the browser page, the `/chat` broker, echo on any other path) on
127.0.0.1 and a free port, its notes on connections printed on its stdout as
`wirelab serve --headless` prints them, each with a timestamp. While the attack runs
the benchmark takes:

- the server process's RSS (`VmRSS` in /proc/PID/status) every 20 ms, and its peak;
- a control client in this process (its own thread, a blocking socket) echoing a
  16-byte text on `/echo` every 20 ms, one in flight: the round trips' p50 and p95;
- how each attacking connection ended: the close code it received, the HTTP status
  that answered its request head, a reset or a FIN (or it was not cut off), and
  after how long from its connect; for an attacker that never reads (and so cannot
  see its close frame), the code and time of the server's note about its port;
- a newcomer: every 2 s a new `/echo` client connects and waits for one echo;
- the server's log: its notes (stdout) and the lines it printed on stderr.

The attackers are raw sockets in one asyncio loop, with hand-made handshakes and
frames masked as clients must. `--against DIR` runs every attack against DIR's server
as well (an older checkout: the server starts in DIR, with PYTHONPATH=DIR), and the
report gives both side by side. A server whose RSS reaches `--cap` is killed and its
attack reported as "≥ cap". Progress goes to stderr, the report to stdout (`--json`
for a document).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script

from simulator.ws import Opcode, serialize_frame
from simulator.ws.handshake import accept_key, build_request

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MIB = 1 << 20
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample key
MASK = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's masking key: every frame is built once
READY_TIMEOUT = 20.0  # for a server process to print its port
STOP_TIMEOUT = 5.0  # SIGTERM, then SIGKILL
CONNECT_TIMEOUT = 5.0  # one TCP connect, and one handshake's answer
CONTROL_EVERY = 0.02  # the control client's pace
CONTROL_WAIT = 5.0  # after the attack, for an echo still on its way
PROBE_EVERY = 2.0  # a newcomer this often
RSS_EVERY = 0.02
RETRY = 0.05  # an attacker refused waits this long before it connects again
HEAD_PAUSE = 0.05  # between two requests of one worker (attacks 7 and 8)
SLOW = 0.5  # slowloris: one byte of the request head this often
BLOCK = 64 * 1024  # bytes of frames written at a time
CAP = 3 * 10**9  # bytes of RSS: the server is killed there
TCP_ESTABLISHED = 1
TCP_CLOSE_WAIT = 8


class BenchError(Exception):
    """A server misbehaved or a run cannot go on: reported in one line, no traceback."""


# --- the server process -----------------------------------------------------------------

# Runs in the tree measured (cwd and PYTHONPATH): wirelab's server with its defaults and
# a `serve --headless`-like note per connection event, until SIGTERM.
SERVER_CHILD = r"""
import asyncio, signal, sys, time
import simulator
from simulator.live import site


def note(session, text):  # with when: the bench reads who was cut off when, and how
    print(f"{time.monotonic():.4f} {session.info}  {text}", flush=True)


async def main():
    server = site(host="127.0.0.1", port=0, notify=note)
    await server.start()
    print("READY", server.port, simulator.__file__, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.shutdown()


asyncio.run(main())
"""

RUNNING: set[subprocess.Popen[bytes]] = set()  # every server not stopped yet


@dataclass(frozen=True)
class Tree:
    """A source tree whose server is attacked."""

    label: str  # "this" or the other tree's revision
    root: Path
    revision: str


class ServerProcess:
    """One server in its own process; its stdout and stderr go to files (never a full pipe)."""

    def __init__(self, tree: Tree, folder: Path) -> None:
        self.tree = tree
        stem = f"{tree.label}-{time.monotonic_ns()}"
        self.out_path = folder / f"{stem}.out"
        self.err_path = folder / f"{stem}.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        environment = {**os.environ, "PYTHONPATH": str(self.tree.root)}
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER_CHILD], cwd=self.tree.root, env=environment,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )  # fmt: skip
        RUNNING.add(self.proc)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            first = self.out_path.read_bytes().split(b"\n", 1)
            if len(first) == 2 and first[0].startswith(b"READY "):
                _, port, module = first[0].decode().split(" ", 2)
                self.port = int(port)
                if not Path(module).resolve().is_relative_to(self.tree.root):
                    raise BenchError(f"{self.tree.root}'s server imported {module}, not its own")
                return
            if self.proc.poll() is not None:
                tail = self.err_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise BenchError(f"{self.tree.label}'s server exited: {' '.join(tail)}")
            await asyncio.sleep(0.05)
        raise BenchError(f"{self.tree.label}'s server printed no port in {READY_TIMEOUT:g} s")

    def stop(self) -> None:
        """Terminate the server by its PID; kill it if it lingers."""
        if self.proc is not None:
            stop(self.proc)

    def log(self) -> dict[str, Any]:
        """Its notes (after the READY line), its stderr lines, the commonest notes."""
        lines = self.out_path.read_text(errors="replace").splitlines()[1:]
        kinds = Counter(_note_kind(line) for line in lines)
        errors = self.err_path.read_text(errors="replace").splitlines()
        return {
            "notes": len(lines),
            "stderr_lines": len(errors),
            "commonest_notes": [{"note": k, "count": n} for k, n in kinds.most_common(5)],
            "first_stderr_lines": errors[:3],
        }


class Notes:
    """The server's notes as they come, by the peer's port: (time.monotonic(), text)."""

    LINE = re.compile(rb"^(\d+\.\d+) #\d+ [^ ]+:(\d+)  (.*)$")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.by_port: dict[int, list[tuple[float, str]]] = {}

    def poll(self) -> None:
        with self.path.open("rb") as out:
            out.seek(self.offset)
            data = out.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            found = self.LINE.match(line)
            if found:
                text = found[3].decode("utf-8", "replace")
                self.by_port.setdefault(int(found[2]), []).append((float(found[1]), text))

    def cut(self, port: int) -> tuple[str, float] | None:
        """The close code the server says it cut this peer off with, and when."""
        for at, text in self.by_port.get(port, ()):
            found = re.search(r"(?:with|closed \()\s*(\d{4})", text)
            if found and found[1] != "1000":
                return f"{found[1]} (the server's note)", at
        return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    RUNNING.discard(proc)


def _note_kind(line: str) -> str:
    """A note without its connection and numbers (close codes and HTTP statuses kept)."""
    text = line.split("  ", 1)[-1]
    return re.sub(r"\d+", lambda m: m[0] if re.fullmatch(r"10\d\d|[1-5]\d\d", m[0]) else "N", text)


def read_rss(pid: int) -> int | None:
    """The process's resident set in bytes, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssWatch(threading.Thread):
    """Samples a process's RSS; kills it (by its PID) once the RSS reaches `cap`."""

    def __init__(self, pid: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.cap = cap
        self.first = read_rss(pid) or 0
        self.peak = self.first
        self.capped_at: float | None = None  # monotonic() when it was killed
        self.timeline: list[tuple[float, int]] = []  # (monotonic(), RSS) about every second
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(RSS_EVERY):
            rss = read_rss(self.pid)
            if rss is None:
                return
            now = time.monotonic()
            if not self.timeline or now - self.timeline[-1][0] >= 1.0:
                self.timeline.append((now, rss))
            self.peak = max(self.peak, rss)
            if rss >= self.cap:
                self.capped_at = time.monotonic()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                return


# --- reading the server's frames --------------------------------------------------------


class Walker:
    """Walks the server's frames by their headers: counts messages, keeps the close code."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skip = 0  # payload bytes of the current frame still to come
        self.messages = 0
        self.big = 0  # messages whose last frame carried at least 1 KiB
        self.close_code: int | None = None

    def feed(self, data: bytes) -> None:
        if self.skip:
            if len(data) <= self.skip:
                self.skip -= len(data)
                return
            data = data[self.skip :]
            self.skip = 0
        buf = self.buf
        buf += data
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length, at = b1 & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = int.from_bytes(buf[2:10], "big"), 10
            opcode = b0 & 0x0F
            if opcode == Opcode.CLOSE:
                if len(buf) < at + length:
                    return
                payload = buf[at : at + length]
                self.close_code = int.from_bytes(payload[:2], "big") if length >= 2 else 1005
            elif b0 & 0x80 and opcode in (Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY):
                self.messages += 1
                self.big += length >= 1024
            end = at + length
            if len(buf) >= end:
                del buf[:end]
            else:
                self.skip = end - len(buf)
                buf.clear()
                return


def answer_kind(data: bytes) -> str | None:
    """An HTTP answer as `400 “its body's first line”`, or None when it is not one."""
    if not data.startswith(b"HTTP/"):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ", 2)[1:2]
    kind = status[0].decode("ascii", "replace") if status else "?"
    reason = body.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    reason = reason.removesuffix(", try again later").removesuffix(", try again")
    if reason:
        kind += f" “{reason[:56]}”"
    return kind


def _answer_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return found is None or len(body) >= int(found[1])


def linger_close(sock: socket.socket) -> None:
    """Close with a reset: the server forgets the connection at once and no TIME_WAIT is
    left behind on our side."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def tcp_state(sock: socket.socket) -> int:
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 0


def request(port: int, path: str = "/echo", offer: str | None = None) -> bytes:
    extensions = (offer,) if offer else ()
    return build_request(host=f"{HOST}:{port}", path=path, key=KEY, extensions=extensions)


# --- the control client -----------------------------------------------------------------


class Control(threading.Thread):
    """A well-behaved client on `/echo`: a 16-byte text every 20 ms, one in flight, each
    round trip timed from the write to the arrival of its echo."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[tuple[float, float]] = []  # (sent at, round trip)
        self.outstanding: float | None = None  # when the echo awaited was sent
        self.lost: tuple[str, float] | None = None  # how it was cut off, and when
        self.error: str | None = None
        self.ready = threading.Event()
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            sock = socket.create_connection((HOST, self.port), timeout=CONNECT_TIMEOUT)
        except OSError as error:
            self.error = f"cannot connect: {error}"
            self.ready.set()
            return
        try:
            self._run(sock)
        except OSError as error:
            if self.ready.is_set():
                how = "reset" if isinstance(error, ConnectionResetError) else type(error).__name__
                self.lost = (how, time.monotonic())
            else:
                self.error = f"handshake: {error}"
        finally:
            self.ready.set()
            with contextlib.suppress(OSError):
                sock.sendall(serialize_frame(Opcode.CLOSE, b"\x03\xe8", masking_key=MASK))
            sock.close()

    def _run(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request(self.port))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("no answer to the upgrade")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101") or accept_key(KEY).encode() not in head:
            first = head.split(b"\r\n", 1)[0].decode(errors="replace")
            self.error = f"upgrade refused: {first}"
            return
        walker = Walker()
        walker.feed(rest)
        sock.settimeout(0.1)
        self.ready.set()
        tick = time.monotonic()
        for seq in range(10**9):
            if self.halt.is_set():
                return
            frame = serialize_frame(Opcode.TEXT, f"control {seq:08d}".encode(), masking_key=MASK)
            before = walker.messages
            sent = self.outstanding = time.monotonic()
            sock.sendall(frame)
            while walker.messages == before and walker.close_code is None:
                if self.halt.is_set():
                    return
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    self.lost = ("FIN", time.monotonic())
                    return
                walker.feed(chunk)
            if walker.close_code is not None:
                self.lost = (f"close {walker.close_code}", time.monotonic())
                return
            self.samples.append((sent, time.monotonic() - sent))
            self.outstanding = None
            tick += CONTROL_EVERY
            pause = tick - time.monotonic()
            if pause > 0:
                self.halt.wait(pause)
            else:
                tick = time.monotonic()


# --- attack plumbing --------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    seconds: float = 8.0  # most attacks
    waits: float = 14.0  # attacks whose defence is a 10 s timeout (slowloris, bare LF)
    unread: float = 20.0  # 10 s of writes unread, then 1013, and the cut 2 s later
    idle_hold: float = 65.0  # idle WebSockets: past the 60 s idle timeout
    baseline: float = 3.0
    fragment_connections: int = 60
    unread_clients: int = 200
    idle_most: int = 1100
    slowloris: int = 1100
    members: int = 100
    workers: int = 8


QUICK = Scale(seconds=2.0, waits=2.5, unread=2.5, idle_hold=2.5, baseline=1.0,
              fragment_connections=4, unread_clients=6, idle_most=20, slowloris=20, members=5,
              workers=3)  # fmt: skip


@dataclass
class Tally:
    """How connections ended, by who they were (a kind of attacker, or ""): a kind (close
    code, HTTP answer, reset…) and the times from their connect."""

    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, kind: str, after: float, who: str = "") -> None:
        self.times.setdefault((who, kind), []).append(after)

    def summary(self) -> list[dict[str, Any]]:
        rows = [
            {"who": who, "kind": kind, "count": len(values),
             "median_s": round(statistics.median(values), 4), "max_s": round(max(values), 4)}
            for (who, kind), values in self.times.items()
        ]  # fmt: skip
        order = list(dict.fromkeys(who for who, _ in self.times))
        return sorted(rows, key=lambda row: (order.index(row["who"]), -row["count"]))


def describe(rows: list[dict[str, Any]]) -> str:
    """`who: 1009 ×12 after 40 ms, not cut off ×3 (held 8.0 s); other: …`."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        kind, count, median = row["kind"], row["count"], row["median_s"]
        if kind == "kept":
            text = f"not cut off ×{count} (held {median:.1f} s)"
        else:
            text = f"{kind} ×{count} after {_seconds(median)}"
        groups.setdefault(row.get("who", ""), []).append(text)
    return (
        "; ".join(f"{who}: " * bool(who) + ", ".join(parts) for who, parts in groups.items()) or "-"
    )


def _seconds(value: float) -> str:
    if value < 0.1:
        return f"{value * 1000:.1f} ms" if value < 0.01 else f"{value * 1000:.0f} ms"
    return f"{value:.1f} s"


@dataclass
class Ctx:
    """One attack on one server: where, until when, and what it found."""

    port: int
    scale: Scale
    deadline: float  # monotonic()
    stopped: Callable[[], bool]  # the server was killed (over the cap) or died
    notes: Notes  # what the server says, polled while the attack runs
    tally: Tally = field(default_factory=Tally)
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # newcomers may start
    figures: dict[str, Any] = field(default_factory=dict)
    sockets: set[socket.socket] = field(default_factory=set)
    connecting: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    sent: int = 0  # bytes the attackers wrote

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def record(self, kind: str, after: float, who: str = "") -> None:
        if not self.stopped():
            self.tally.add(kind, after, who)

    def count(self, name: str, n: int = 1) -> None:
        self.figures[name] = self.figures.get(name, 0) + n

    def drop(self, sock: socket.socket) -> None:
        self.sockets.discard(sock)
        linger_close(sock)

    async def tcp(self, *, counted: bool = True) -> socket.socket:
        """A connected non-blocking socket (closed at the end of the attack at the latest);
        `counted` among the attackers' connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        self.sockets.add(sock)
        try:
            async with self.connecting:
                loop = asyncio.get_running_loop()
                await asyncio.wait_for(loop.sock_connect(sock, (HOST, self.port)), CONNECT_TIMEOUT)
        except BaseException:
            self.drop(sock)
            raise
        if counted:
            self.count("connections")
        return sock


@dataclass
class Link:
    """A connection an attacker holds, from its connect on."""

    sock: socket.socket
    started: float
    rest: bytes = b""  # bytes that came behind the 101
    extensions: str = ""


@dataclass(frozen=True)
class Refusal:
    """An upgrade that did not open: how it ended, and when (from the connect)."""

    kind: str
    after: float


async def upgrade(
    ctx: Ctx, path: str = "/echo", offer: str | None = None, *, counted: bool = True
) -> Link | Refusal:
    """Connect and upgrade: the open link, or how the attempt ended (a kind for a tally)."""
    started = time.monotonic()
    try:
        sock = await ctx.tcp(counted=counted)
    except TimeoutError:
        return Refusal("no answer to connect", time.monotonic() - started)
    except OSError as error:
        return Refusal(f"connect: {error.strerror or type(error).__name__}", 0.0)
    loop = asyncio.get_running_loop()
    data = b""
    try:
        await loop.sock_sendall(sock, request(ctx.port, path, offer))
        async with asyncio.timeout(CONNECT_TIMEOUT):
            while b"\r\n\r\n" not in data or not _answer_complete(data):
                chunk = await loop.sock_recv(sock, 65536)
                if not chunk:
                    break
                data += chunk
                if data.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in data:
                    break
    except TimeoutError:
        ctx.drop(sock)
        return Refusal("no answer to the upgrade", time.monotonic() - started)
    except OSError:
        ctx.drop(sock)
        return Refusal(answer_kind(data) or "reset", time.monotonic() - started)
    head, _, rest = data.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 101") and accept_key(KEY).encode() in head:
        found = re.search(rb"(?im)^sec-websocket-extensions:\s*(.*)$", head)
        extensions = found[1].decode("ascii", "replace").strip() if found else ""
        return Link(sock, started, rest, extensions)
    ctx.drop(sock)
    return Refusal(answer_kind(data) or "FIN", time.monotonic() - started)


async def watch(
    ctx: Ctx, link: Link, reads: str, walker: Walker | None = None
) -> tuple[str, float]:
    """Until the server cuts the link off: how, and when. `reads` is "ws" (frames are read
    and walked), "http" (an answer to a request head is read) or "none" (nothing is read).

    A link that reads nothing may not learn it was cut off: the server's close frame waits
    behind the bytes it left unread, and on Linux the reset that follows is not taken by
    a socket whose receive window is shut. So its TCP state is polled, and the server's
    own note about its port is taken as the word that it was cut off."""
    sock = link.sock
    walker = walker if walker is not None else Walker()
    if reads == "none":
        port = sock.getsockname()[1]
        while tcp_state(sock) == TCP_ESTABLISHED:
            said = ctx.notes.cut(port)
            if said is not None:
                return said
            await asyncio.sleep(0.1)
        return _drain(sock, walker), time.monotonic()
    return await _read_until_cut(link, reads, walker), time.monotonic()


async def _read_until_cut(link: Link, reads: str, walker: Walker) -> str:
    loop = asyncio.get_running_loop()
    sock = link.sock
    data = bytearray()
    if reads == "ws":
        walker.feed(link.rest)
    while True:
        try:
            chunk = await loop.sock_recv(sock, 1 << 16)
        except OSError:
            return _ended(walker, data, "reset")
        if not chunk:
            return _ended(walker, data, "FIN")
        if reads == "http":
            data += chunk[: 65536 - len(data)]
            if b"\r\n\r\n" in data and _answer_complete(bytes(data)):
                return answer_kind(bytes(data)) or "not HTTP"
            if not data.startswith(b"HTTP/"[: len(data)]):
                return "not HTTP"
        else:
            walker.feed(chunk)
            if walker.close_code is not None:
                return f"close {walker.close_code}"


def _ended(walker: Walker, data: bytearray, how: str) -> str:
    if walker.close_code is not None:
        return f"close {walker.close_code}"
    return answer_kind(bytes(data)) or how


def _drain(sock: socket.socket, walker: Walker) -> str:
    """What a link that never read got before it went down: its close code if it came."""
    how = "FIN" if tcp_state(sock) == TCP_CLOSE_WAIT else "reset"
    for _ in range(1024):  # at most 64 MiB
        try:
            chunk = sock.recv(1 << 16)
        except OSError:
            break
        if not chunk:
            break
        walker.feed(chunk)
        if walker.close_code is not None:
            break
    return f"close {walker.close_code}" if walker.close_code is not None else how


Action = Callable[[socket.socket], Awaitable[None]]


async def engage(
    ctx: Ctx,
    link: Link,
    action: Action | None,
    *,
    reads: str = "ws",
    label: str = "",
    walker: Walker | None = None,
) -> None:
    """Run `action` on the link until the server cuts it off or the attack ends; tally how
    it ended and close it."""
    watcher = asyncio.ensure_future(watch(ctx, link, reads, walker))
    doer = asyncio.ensure_future(action(link.sock)) if action is not None else None
    try:
        done, _ = await asyncio.wait({watcher}, timeout=max(0.0, ctx.left()))
        if done:
            kind, at = watcher.result()
            ctx.record(kind, at - link.started, label)
        elif time.monotonic() - link.started >= 0.1:  # not one opened as the attack ended
            ctx.record("kept", time.monotonic() - link.started, label)
    finally:
        for task in (watcher, doer):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (watcher, doer) if t is not None), return_exceptions=True)
        ctx.drop(link.sock)


async def attempt(ctx: Ctx, action: Action, **options: Any) -> None:
    """One attacker's connection: upgrade, attack until cut off, tally; then pause if the
    server refused."""
    path, offer = options.pop("path", "/echo"), options.pop("offer", None)
    link = await upgrade(ctx, path, offer)
    if isinstance(link, Refusal):
        ctx.record(link.kind, link.after, options.get("label", ""))
        await asyncio.sleep(RETRY)
        return
    await engage(ctx, link, action, **options)


def _sender(ctx: Ctx, *chunks: bytes, forever: bytes | None = None) -> Action:
    """An action writing `chunks`, then `forever` again and again."""

    async def action(sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for chunk in chunks:
            await loop.sock_sendall(sock, chunk)
            ctx.sent += len(chunk)
            await asyncio.sleep(0)
        while forever is not None:
            # sock_sendall returns without yielding when the kernel took it all: yield, or a
            # server that reads fast would keep this loop from ever seeing its answer.
            await loop.sock_sendall(sock, forever)
            ctx.sent += len(forever)
            await asyncio.sleep(0)

    return action


# --- the attacks ------------------------------------------------------------------------


async def baseline(ctx: Ctx) -> None:
    ctx.ready.set()
    await asyncio.sleep(max(0.0, ctx.left()))


async def continuation(ctx: Ctx) -> None:
    await _fragments(ctx, 1, 0)


async def fragments(ctx: Ctx) -> None:
    await _fragments(ctx, ctx.scale.fragment_connections, 2)


async def _fragments(ctx: Ctx, connections: int, size: int) -> None:
    """A FIN=0 text frame, then continuation frames of `size` bytes without end; each
    connection reconnects once it is cut off."""
    first = serialize_frame(Opcode.TEXT, b"x" * size, fin=False, masking_key=MASK)
    piece = serialize_frame(Opcode.CONTINUATION, b"y" * size, fin=False, masking_key=MASK)
    action = _sender(ctx, first, forever=piece * (BLOCK // len(piece)))

    async def slot() -> None:
        while ctx.left() > 0:
            await attempt(ctx, action)

    ctx.ready.set()
    await asyncio.gather(*(slot() for _ in range(connections)))


async def unread(ctx: Ctx) -> None:
    """Echo clients that send 4 × 1 MiB and never read."""
    frame = serialize_frame(Opcode.BINARY, bytes(MIB), masking_key=MASK)
    action = _sender(ctx, frame, frame, frame, frame)
    clients = ctx.scale.unread_clients

    async def client() -> None:
        link = await upgrade(ctx)
        if isinstance(link, Refusal):
            ctx.record(link.kind, link.after)
        else:
            ctx.count("accepted")
            await engage(ctx, link, action, reads="none")

    ctx.ready.set()
    await asyncio.gather(*(client() for _ in range(clients)))


async def idle(ctx: Ctx) -> None:
    """WebSockets that never send a message, as many as the server accepts (up to a bound)."""
    held: list[Link] = []
    while len(held) < ctx.scale.idle_most and ctx.left() > 0:
        batch = min(32, ctx.scale.idle_most - len(held))
        links = await asyncio.gather(*(upgrade(ctx) for _ in range(batch)))
        held += [link for link in links if isinstance(link, Link)]
        refusals = [link for link in links if isinstance(link, Refusal)]
        for refusal in refusals:
            ctx.record(refusal.kind, refusal.after)
        if refusals:
            break
    ctx.figures["accepted"] = len(held)
    ctx.ready.set()
    await asyncio.gather(*(engage(ctx, link, None) for link in held))


async def slowloris(ctx: Ctx) -> None:
    """Request heads sent one byte every half second; each connection reconnects once cut off."""
    started = time.monotonic()
    count = ctx.scale.slowloris
    head = request(ctx.port)

    async def trickle(sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for i in range(len(head)):
            await loop.sock_sendall(sock, head[i : i + 1])
            ctx.sent += 1
            await asyncio.sleep(SLOW)

    async def slot() -> None:
        while ctx.left() > 0:
            try:
                sock = await ctx.tcp()
            except (OSError, TimeoutError) as error:
                kind = "no answer to connect" if isinstance(error, TimeoutError) else "refused"
                ctx.record(kind, 0.0)
                await asyncio.sleep(RETRY)
                continue
            if ctx.figures.get("connections", 0) >= count:
                ctx.ready.set()
            await engage(ctx, Link(sock, time.monotonic()), trickle, reads="http")
            await asyncio.sleep(2 * RETRY)

    async def ready_anyway() -> None:
        await asyncio.sleep(3.0)
        ctx.ready.set()

    waiter = asyncio.ensure_future(ready_anyway())
    await asyncio.gather(*(slot() for _ in range(count)))
    waiter.cancel()
    ctx.figures["open_s"] = round(time.monotonic() - started, 2)


BOMB_OFFER = "permessage-deflate; client_max_window_bits"
_BOMB: list[bytes] = []


def bomb_frame() -> bytes:
    """One binary message, RSV1 set: 1 GiB of zeros deflated into 1,042,556 bytes."""
    if not _BOMB:
        # 16 MiB of zeros ends with a full flush, so the same bytes may follow themselves
        # 64 times; the message's last 4 bytes (the flush's 00 00 ff ff) are left off
        # (RFC 7692 §7.2.1). A 4 KiB window: whatever the server asks of the client.
        squeeze = zlib.compressobj(9, zlib.DEFLATED, -12, 9)
        piece = squeeze.compress(bytes(16 * MIB)) + squeeze.flush(zlib.Z_FULL_FLUSH)
        payload = (piece * 64)[:-4]
        _BOMB.append(serialize_frame(Opcode.BINARY, payload, rsv1=True, masking_key=MASK))
    return _BOMB[0]


async def bomb(ctx: Ctx) -> None:
    """The bomb, again on a new connection each time the server cuts one off."""
    action = _sender(ctx, bomb_frame())
    ctx.ready.set()
    while ctx.left() > 0:
        link = await upgrade(ctx, offer=BOMB_OFFER)
        if isinstance(link, Refusal):
            ctx.record(link.kind, link.after)
            await asyncio.sleep(RETRY)
            continue
        if "permessage-deflate" not in link.extensions:
            ctx.drop(link.sock)
            raise BenchError("the server did not accept permessage-deflate")
        ctx.count("bombs")
        await engage(ctx, link, action)


CHAT_OFFER = "permessage-deflate"
SENDER_OFFER = "permessage-deflate; client_no_context_takeover"
_CHAT: list[bytes] = []
WORDS = [
    "the", "a", "packet", "window", "segment", "frame", "socket", "server", "client", "message",
    "ack", "syn", "fin", "lesson", "byte", "stream", "header", "mask", "payload", "route", "kernel",
]  # fmt: skip


def chat_frame() -> bytes:
    """A 1,000,000-byte text of words, deflated once (no context takeover: each copy stands
    alone), masked."""
    if not _CHAT:
        rng = random.Random(20261208)
        words: list[str] = []
        size = 0
        while size < 1_000_000:
            words.append(rng.choice(WORDS))
            size += len(words[-1]) + 1
        text = " ".join(words)[:1_000_000].encode()
        squeeze = zlib.compressobj(6, zlib.DEFLATED, -12, 8)
        payload = (squeeze.compress(text) + squeeze.flush(zlib.Z_SYNC_FLUSH))[:-4]
        _CHAT.append(serialize_frame(Opcode.TEXT, payload, rsv1=True, masking_key=MASK))
    return _CHAT[0]


async def chat(ctx: Ctx) -> None:
    """`/chat` with permessage-deflate: members that read everything, one sender of 1 MB
    texts without pause."""
    frame = chat_frame()
    members = ctx.scale.members
    walkers = [Walker() for _ in range(members)]
    joined: list[Link] = []
    for start in range(0, members, 32):
        links = await asyncio.gather(
            *(upgrade(ctx, "/chat", CHAT_OFFER) for _ in range(start, min(members, start + 32)))
        )
        for link in links:
            if isinstance(link, Refusal):
                ctx.record(link.kind, link.after, "member")
            else:
                joined.append(link)
    sender = await upgrade(ctx, "/chat", SENDER_OFFER)
    if isinstance(sender, Refusal):
        raise BenchError(f"the chat sender was refused: {sender.kind}")
    if not all(CHAT_OFFER in link.extensions for link in [*joined, sender]):
        raise BenchError("a chat member got no permessage-deflate")
    ctx.figures["members"] = len(joined)
    ctx.figures["compressed_bytes"] = len(frame)
    ctx.ready.set()
    tasks = [
        engage(ctx, link, None, label="member", walker=walker)
        for link, walker in zip(joined, walkers, strict=False)
    ]
    action = _sender(ctx, forever=frame)
    await asyncio.gather(*tasks, engage(ctx, sender, action, label="sender"))
    got = [walker.big for walker in walkers[: len(joined)]]
    if got:
        ctx.figures["texts_each_member_got"] = min(got)
        ctx.figures["texts_sent"] = ctx.sent // len(frame)


def heads_two_keys_bare_lf(port: int) -> list[tuple[str, bytes]]:
    two_keys = (
        f"GET /echo HTTP/1.1\r\nHost: {HOST}:{port}\r\nSec-WebSocket-Key: {KEY}\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    return [("two keys, no Upgrade", two_keys), ("bare LF", request(port).replace(b"\r\n", b"\n"))]


def heads_oversized(port: int) -> list[tuple[str, bytes]]:
    base = request(port)[:-2]  # without the blank line
    big = base + b"X-Filler: " + b"a" * (20 * 1024) + b"\r\n\r\n"
    many = base + b"".join(f"X-Header-{i}: v\r\n".encode() for i in range(150)) + b"\r\n"
    return [("20 KiB head", big), ("150 headers", many), ("endless head", base)]


async def bad_heads(ctx: Ctx) -> None:
    await _heads(ctx, heads_two_keys_bare_lf(ctx.port))


async def big_heads(ctx: Ctx) -> None:
    await _heads(ctx, heads_oversized(ctx.port))


async def _heads(ctx: Ctx, variants: list[tuple[str, bytes]]) -> None:
    """Workers, each sending one kind of head in a loop, every connection a new one; an
    "endless head" sends header lines without end."""
    endless = b"X-Endless: " + b"b" * 4000 + b"\r\n"

    async def worker(i: int) -> None:
        label, data = variants[i % len(variants)]
        action = _sender(ctx, data, forever=endless if label == "endless head" else None)
        while ctx.left() > 0:
            try:
                sock = await ctx.tcp()
            except (OSError, TimeoutError):
                ctx.record("connect failed", 0.0, label)
                await asyncio.sleep(RETRY)
                continue
            link = Link(sock, time.monotonic())
            await engage(ctx, link, action, reads="http", label=label)
            await asyncio.sleep(HEAD_PAUSE)

    ctx.ready.set()
    await asyncio.gather(*(worker(i) for i in range(max(ctx.scale.workers, len(variants)))))


@dataclass(frozen=True)
class Attack:
    key: str
    number: str
    title: Callable[[Scale], str]
    run: Callable[[Ctx], Awaitable[None]]
    seconds: Callable[[Scale], float]
    together: bool = False  # against both trees at once: it costs no CPU once set up
    probe_after: float = 1.0  # newcomers start then, or once the attack says it is set up


ATTACKS = [
    Attack("baseline", "0", lambda s: "no attack: the control client alone", baseline,
           lambda s: s.baseline),
    Attack("continuation", "1a", lambda s: "empty continuation frames after a FIN=0 text "
           "frame, 1 connection (reconnecting when cut off)", continuation, lambda s: s.seconds),
    Attack("fragments", "1b", lambda s: f"2-byte continuation frames after a FIN=0 text "
           f"frame, {s.fragment_connections} connections (reconnecting)", fragments,
           lambda s: s.seconds),
    Attack("unread", "2", lambda s: f"{s.unread_clients} echo clients send 4 × 1 MiB and "
           "never read", unread, lambda s: s.unread),
    Attack("idle", "3", lambda s: f"idle WebSockets, as many as one address gets (at most "
           f"{s.idle_most:,}), never a message", idle, lambda s: s.idle_hold, together=True,
           probe_after=math.inf),
    Attack("slowloris", "4", lambda s: f"slowloris: {s.slowloris:,} connections send the "
           f"request head a byte every {SLOW:g} s (reconnecting)", slowloris,
           lambda s: s.waits, probe_after=math.inf),
    Attack("bomb", "5", lambda s: "permessage-deflate bomb: 1 GiB of zeros in one message "
           f"({len(bomb_frame()) / 1e6:.2f} MB), a new connection each time", bomb,
           lambda s: s.seconds),
    Attack("chat", "6", lambda s: f"/chat with permessage-deflate: {s.members} members, one "
           "sender of 1 MB texts without pause", chat, lambda s: s.seconds),
    Attack("bad-heads", "7", lambda s: f"two Sec-WebSocket-Key fields without Upgrade, and "
           f"bare-LF heads, {s.workers} workers in a loop", bad_heads, lambda s: s.waits),
    Attack("big-heads", "8", lambda s: f"oversized heads: 20 KiB, 150 headers, endless; "
           f"{s.workers} workers in a loop", big_heads, lambda s: s.seconds),
]  # fmt: skip
BY_KEY = {attack.key: attack for attack in ATTACKS}
SHORT = {
    "baseline": "no attack",
    "continuation": "endless empty continuations",
    "fragments": "endless 2-byte fragments",
    "unread": "echo clients never reading",
    "idle": "idle WebSockets",
    "slowloris": "slowloris",
    "bomb": "deflate bomb",
    "chat": "/chat, deflate, 1 MB texts",
    "bad-heads": "two keys, bare-LF heads",
    "big-heads": "oversized heads",
}


# --- running one attack against one tree ------------------------------------------------


async def newcomers(ctx: Ctx, tally: Tally, after: float) -> None:
    """Every PROBE_EVERY seconds a new client on `/echo`: it is in once one echo came back."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ctx.ready.wait(), None if after == math.inf else after)
    loop = asyncio.get_running_loop()
    while ctx.left() > 0.5:
        started = time.monotonic()
        link = await upgrade(ctx, counted=False)
        if isinstance(link, Refusal):
            kind = link.kind
        else:
            walker = Walker()
            walker.feed(link.rest)
            try:
                await loop.sock_sendall(link.sock, serialize_frame(Opcode.TEXT, b"newcomer",
                                                                   masking_key=MASK))  # fmt: skip
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    while not walker.messages and walker.close_code is None:
                        chunk = await loop.sock_recv(link.sock, 65536)
                        if not chunk:
                            break
                        walker.feed(chunk)
                kind = "in" if walker.messages else "101, then no echo"
            except (OSError, TimeoutError):
                kind = "101, then no echo"
            ctx.drop(link.sock)
        if not ctx.stopped():
            tally.add(kind, time.monotonic() - started)
        await asyncio.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started)))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def run_one(attack: Attack, tree: Tree, scale: Scale, cap: int, folder: Path,
                  log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """A fresh server of `tree`, the control client, the attack for its time; the figures."""
    server = ServerProcess(tree, folder)
    watch: RssWatch | None = None
    control: Control | None = None
    ctx: Ctx | None = None
    try:
        await server.start()
        watch = RssWatch(server.pid, cap)
        watch.start()
        control = Control(server.port)
        control.start()
        await asyncio.to_thread(control.ready.wait, READY_TIMEOUT)
        if control.error is not None:
            raise BenchError(f"{tree.label}: the control client: {control.error}")
        await asyncio.sleep(0.3)  # a few echoes first
        proc = server.proc
        assert proc is not None
        w = watch

        def stopped() -> bool:
            return w.capped_at is not None or proc.poll() is not None

        seconds = attack.seconds(scale)
        started = time.monotonic()
        ctx = Ctx(server.port, scale, started + seconds, stopped, Notes(server.out_path))
        rss_start = read_rss(server.pid) or 0
        probes = Tally()
        task = asyncio.ensure_future(attack.run(ctx))
        prober = asyncio.ensure_future(newcomers(ctx, probes, attack.probe_after))
        hard = ctx.deadline + 10.0
        while not task.done():
            if stopped() or time.monotonic() > hard:
                task.cancel()
                break
            ctx.notes.poll()
            await asyncio.sleep(0.05)
        ended = time.monotonic()
        await asyncio.gather(task, return_exceptions=True)
        failure = None if task.cancelled() else task.exception()
        if isinstance(failure, BenchError):
            raise failure
        if failure is not None:
            raise BenchError(f"{attack.key} against {tree.label}: {failure!r}")
        prober.cancel()
        await asyncio.gather(prober, return_exceptions=True)
        for sock in list(ctx.sockets):
            ctx.drop(sock)
        # The echo in flight when the attack ended is waited for a little: it was delayed
        # by the attack too.
        waited_until = time.monotonic() + CONTROL_WAIT
        while time.monotonic() < waited_until and control.lost is None:
            sent = control.outstanding
            if sent is None or sent > ended:
                break
            await asyncio.sleep(0.01)
        sent = control.outstanding
        control.halt.set()
        await asyncio.to_thread(control.join, 2.0)
        rtts = [rtt for at, rtt in control.samples if started <= at <= ended]
        unanswered = None
        if sent is not None and started <= sent <= ended and control.lost is None:
            unanswered = time.monotonic() - sent
            rtts.append(unanswered)  # a lower bound
        lost = None
        if control.lost is not None:
            lost = {"how": control.lost[0], "after_s": round(control.lost[1] - started, 2)}
        watch.halt.set()
        watch.join(1.0)
        capped = watch.capped_at
        result = {
            "tree": tree.label,
            "revision": tree.revision,
            "cap_gb": cap / 1e9,
            "attack": attack.key,
            "seconds": round(ended - started, 2),
            "rss_start_mb": round(rss_start / 1e6, 1),
            "rss_peak_mb": round(watch.peak / 1e6, 1),
            "capped_after_s": None if capped is None else round(capped - started, 2),
            "rss_each_second_mb": [round(rss / 1e6) for at, rss in watch.timeline if at >= started],
            "control": {
                "echoes": len(rtts),
                "p50_ms": round(percentile(rtts, 0.5) * 1000, 2) if rtts else None,
                "p95_ms": round(percentile(rtts, 0.95) * 1000, 2) if rtts else None,
                "max_ms": round(max(rtts) * 1000, 2) if rtts else None,
                "unanswered_ms": None if unanswered is None else round(unanswered * 1000),
                "lost": lost,
            },
            "attackers": ctx.tally.summary(),
            "newcomer": probes.summary(),
            "figures": {**ctx.figures, "sent_mb": round(ctx.sent / 1e6, 1)},
        }
    finally:
        if control is not None:
            control.halt.set()
        if ctx is not None:
            for sock in list(ctx.sockets):
                ctx.drop(sock)
        if watch is not None:
            watch.halt.set()
        server.stop()
    result["log"] = server.log()
    log(f"{attack.number} {attack.key} against {tree.label}: {summary_line(result)}")
    return result


def summary_line(result: dict[str, Any]) -> str:
    control = result["control"]
    line = f"peak RSS {rss_cell(result)}, control p95 {ms(control['p95_ms'])}"
    return f"{line}; {describe(result['attackers'])}"


# --- the report -------------------------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def rss_cell(result: dict[str, Any]) -> str:
    if result["capped_after_s"] is not None:
        return f"≥ {result['cap_gb']:g} GB (killed at {result['capped_after_s']:.1f} s)"
    return f"{result['rss_start_mb']:.0f} → {result['rss_peak_mb']:,.0f} MB"


def control_cell(result: dict[str, Any]) -> str:
    control = result["control"]
    if not control["echoes"]:
        cell = "no echo"
    else:
        cell = f"{ms(control['p50_ms'])} / {ms(control['p95_ms'])} / {ms(control['max_ms'])}"
    if control["lost"] is not None:
        cell += f"; lost: {control['lost']['how']} at {control['lost']['after_s']:.1f} s"
    return cell


def newcomer_cell(result: dict[str, Any]) -> str:
    rows = result["newcomer"]
    return ", ".join(f"{row['kind']} ×{row['count']}" for row in rows) or "-"


def log_cell(result: dict[str, Any]) -> str:
    log = result["log"]
    return f"{log['notes']:,} / {log['stderr_lines']:,}"


FIGURES = {
    "accepted": "{:,} accepted",
    "members": "{} members",
    "texts_sent": "texts written: {}",
    "texts_each_member_got": "received by each member: {}",
    "bombs": "{:,} bombs",
    "connections": "{:,} connections",
    "sent_mb": "{:,.1f} MB sent",
}


def figures_cell(result: dict[str, Any]) -> str:
    figures = result["figures"]
    found = (FIGURES[k].format(figures[k]) for k in FIGURES if figures.get(k))
    return ", ".join(re.sub(r"^1 (\w+)s\b", r"1 \1", text) for text in found)


def short_outcome(rows: list[dict[str, Any]]) -> str:
    """The two commonest ways the attackers were cut off, or that they were not."""
    cut: dict[str, list[float]] = {}
    for row in rows:
        if row["kind"] != "kept":
            kind = row["kind"].removeprefix("close ")
            code = kind.split(" ", 1)[0]
            cut.setdefault(code if code.isdigit() else kind, []).extend(
                [row["median_s"]] * row["count"]
            )
    if not cut:
        held = [row["median_s"] for row in rows]
        return f"not cut off ({max(held):.0f} s)" if held else "-"
    top = sorted(cut.items(), key=lambda item: -len(item[1]))[:2]
    return ", ".join(
        f"{kind} ×{len(times)} ({_seconds(statistics.median(times))})" for kind, times in top
    )


def summary_table(report: dict[str, Any]) -> list[str]:
    """One line an attack: peak RSS, control p95 and how attackers were cut off, the
    trees side by side."""
    trees = [t["label"] for t in report["trees"]]
    by = {(r["attack"], r["tree"]): r for r in report["results"]}
    rows = []
    for attack in report["attacks"]:
        found = [by.get((attack["key"], tree)) for tree in trees]
        cells = [f"{attack['number']:<3} {SHORT[attack['key']]}"]
        cells += [rss_cell(r).split(" → ")[-1] if r else "-" for r in found]
        cells += [ms(r["control"]["p95_ms"]) if r else "-" for r in found]
        cells += [short_outcome(r["attackers"]) if r else "-" for r in found]
        rows.append(cells)
    n = len(trees)
    head = ["attack", *(["peak RSS"] + [""] * (n - 1)), *(["control p95"] + [""] * (n - 1)),
            *(["attackers cut off (median time)"] + [""] * (n - 1))]  # fmt: skip
    sub = ["", *trees * 3]
    widths = [max(len(str(row[i])) for row in [head, sub, *rows]) for i in range(len(head))]
    widths[1 : 1 + 2 * n] = [max(w, 9) for w in widths[1 : 1 + 2 * n]]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return [line(head), line(sub), line(["-" * w for w in widths]), *map(line, rows), ""]


def format_report(report: dict[str, Any]) -> str:
    out = [
        f"wirelab live server under attack, {report['date']}; Python {report['python']}, "
        f"{report['cpus']} CPUs; load average {report['load_average']['before'][0]:.2f} before, "
        f"{report['load_average']['after'][0]:.2f} after",
        "trees: "
        + ", ".join(
            f"this ({t['revision']})" if t["label"] == "this" else f"--against ({t['revision']})"
            for t in report["trees"]
        ),
        "each attack: a fresh simulator.live.Server (its defaults) in its own process on "
        "127.0.0.1; control: one /echo client, a 16-byte text every 20 ms, one in flight; "
        "newcomer: a new /echo client every 2 s, in once one echo is back",
        "",
        *summary_table(report),
        "each attack, in detail. Columns: RSS (at the attack's start → peak); control echo p50 "
        "/ p95 / max; server log lines (notes on stdout / stderr); newcomers",
        "",
    ]
    results = report["results"]
    width = max((len(r["tree"]) for r in results), default=4)
    cells = [(rss_cell(r), control_cell(r), log_cell(r), newcomer_cell(r)) for r in results]
    widths = [max([len(c[i]) for c in cells] + [8]) for i in range(4)]
    for attack in report["attacks"]:
        rows = [(r, c) for r, c in zip(results, cells, strict=True) if r["attack"] == attack["key"]]
        if not rows:
            continue
        out.append(f"{attack['number']:<3} {attack['title']}, {rows[0][0]['seconds']:.0f} s")
        for result, row in rows:
            padded = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            out.append(f"    {result['tree']:<{width}}  {padded}".rstrip())
        for result, _ in rows:
            line = describe(result["attackers"])
            out.append(f"    {result['tree']:<{width}}  attackers: {line}")
            if figures := figures_cell(result):
                out.append(f"    {'':<{width}}  ({figures})")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- main ---------------------------------------------------------------------------------


def tree_revision(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else root.name


async def run_all(attacks: Sequence[Attack], trees: Sequence[Tree], scale: Scale, cap: int,
                  folder: Path, log: Callable[[str], None]) -> list[dict[str, Any]]:  # fmt: skip
    results: list[dict[str, Any]] = []
    for attack in attacks:
        log(f"{attack.number} {attack.key}: {attack.title(scale)}")
        if attack.together and len(trees) > 1:
            both = [run_one(attack, tree, scale, cap, folder, log) for tree in trees]
            results += await asyncio.gather(*both)
        else:
            for tree in trees:
                results.append(await run_one(attack, tree, scale, cap, folder, log))
    return results


def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def build_parser() -> argparse.ArgumentParser:
    keys = ", ".join(f"{a.number} {a.key}" for a in ATTACKS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attacks", default="all",
                        help=f"a comma-separated subset of: {keys} (numbers or names)")  # fmt: skip
    parser.add_argument("--against", type=Path, help="another wirelab source tree to attack too")
    parser.add_argument("--quick", action="store_true",
                        help="a couple of seconds an attack, a few connections")  # fmt: skip
    parser.add_argument("--seconds", type=float, help="the length of most attacks (default 8)")
    parser.add_argument("--cap", type=float, default=CAP / 1e9,
                        help="GB of RSS at which a server is killed (default 3)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    return parser


def choose(spec: str) -> list[Attack]:
    if spec == "all":
        return list(ATTACKS)
    chosen = []
    for word in (w.strip() for w in spec.split(",") if w.strip()):
        found = BY_KEY.get(word) or next((a for a in ATTACKS if a.number == word), None)
        if found is None:
            raise SystemExit(f"--attacks: no attack {word!r}; see --help")
        chosen.append(found)
    if not chosen:
        raise SystemExit("--attacks: name at least one attack")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    attacks = choose(args.attacks)
    scale = QUICK if args.quick else Scale()
    if args.seconds is not None:
        if args.seconds <= 0:
            raise SystemExit("--seconds must be more than 0")
        scale = replace(scale, seconds=args.seconds)
    trees = [Tree("this", ROOT, revision())]
    if args.against is not None:
        other = args.against.resolve()
        if not (other / "simulator" / "live" / "server.py").is_file():
            raise SystemExit(f"--against: {args.against} holds no wirelab tree")
        trees.append(Tree(tree_revision(other), other, tree_revision(other)))

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # SIGTERM unwinds like Ctrl-C, so the `finally` below stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    raise_open_files()
    date = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="wirelab-attacks-"))
    try:
        results = asyncio.run(run_all(attacks, trees, scale, int(args.cap * 1e9), folder, log))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"attacks.py: {error}")
        return 1
    finally:
        for proc in list(RUNNING):
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "date": date,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "trees": [{"label": t.label, "revision": t.revision} for t in trees],
        "scale": vars(scale),
        "attacks": [{"key": a.key, "number": a.number, "title": a.title(scale)} for a in attacks],
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(format_report(report), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
