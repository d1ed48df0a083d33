"""Broadcast benchmark: 200 chat clients on our /chat broker, on websockets and on wsproto.

Each server runs in its own process, pinned to one CPU, and relays every
message to every other connected client. The clients run here, on another
CPU, as raw sockets in one epoll loop (Linux): they do the handshake by hand,
then only walk through frame headers and count complete messages. Two
measures, side by side in one run, each round on fresh servers:

- reach: one client sends one message; the time until all the others have it
  (median and p95 over many messages, sent one at a time);
- throughput: one or more senders pipeline many messages; how many messages
  per second the broker relays to everyone, and the deliveries per second
  (messages × receivers), with the server's CPU time per delivery.

Compression is off by default. `--compression` has every client offer
`permessage-deflate; client_no_context_takeover` and send frames deflated once,
up front; each server keeps its library's defaults, so it deflates every
receiver's copy with that receiver's own context.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# bench/ is on sys.path when run as a script.
from echo import Pinning, choose_cpus, cpu_ns, payload_length, stop_server, versions
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
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

from simulator.live import site
from simulator.live.server import default_config
from simulator.ws import Config, Opcode, serialize_frame
from simulator.ws.frames import parse_frames
from simulator.ws.handshake import accept_key

HOST = "127.0.0.1"
SERVERS = ("ours", "websockets", "wsproto")
READY_TIMEOUT = 20.0  # for a server subprocess to print its port
CONNECT_TIMEOUT = 10.0  # per client: TCP connect and the handshake
STEP_TIMEOUT = 30.0  # for one message to reach everyone
PIPELINE_TIMEOUT = 120.0  # for the pipelined run to reach everyone
QUIET = 0.3  # no byte for this long: the join notices are over
STOP_TIMEOUT = 5.0
MASK = b"\x11\x22\x33\x44"  # fixed: every frame is built once, up front
OFFER = "permessage-deflate; client_no_context_takeover"
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: the sync flush's tail, dropped on the wire
COMPRESSION = False  # set by --compression, in the parent and in the server subprocesses


class BenchError(Exception):
    """A server misbehaved or a run cannot go on: reported in one line, no traceback."""


# --- servers (run in the subprocesses) ---------------------------------------------------


async def _serve_ours(stop: asyncio.Event) -> None:
    config = default_config() if COMPRESSION else Config()
    server = site(host=HOST, port=0, config=config)  # /chat is the broker
    await server.start()
    _ready(server.port)
    await stop.wait()
    await server.shutdown()


async def _serve_websockets(stop: asyncio.Event) -> None:
    import logging

    from websockets.asyncio.server import ServerConnection, broadcast, serve

    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # clients abort at the end
    members: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        members.add(ws)
        try:
            async for message in ws:
                broadcast([other for other in members if other is not ws], message)
        finally:
            members.discard(ws)

    compression = "deflate" if COMPRESSION else None
    async with serve(handler, HOST, 0, compression=compression, ping_interval=None) as server:
        _ready(next(iter(server.sockets)).getsockname()[1])
        await stop.wait()


class WsprotoChat(asyncio.Protocol):
    """A relay on wsproto's sans-IO connection: each message to every other member."""

    def __init__(self, members: set[WsprotoChat]) -> None:
        self.ws = WSConnection(ConnectionType.SERVER)
        self.members = members
        self.transport: asyncio.Transport | None = None
        self.pieces: list[Any] = []  # a message wsproto hands out in parts

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            self.ws.receive_data(data)
        except RemoteProtocolError:
            self.transport.close()
            return
        for event in self.ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self.pieces.append(event.data)
                if event.message_finished:
                    if isinstance(event, TextMessage):
                        message: TextMessage | BytesMessage = TextMessage("".join(self.pieces))
                    else:
                        message = BytesMessage(b"".join(self.pieces))
                    self.pieces = []
                    for other in self.members:
                        if other is not self and other.ws.state is ConnectionState.OPEN:
                            assert other.transport is not None
                            other.transport.write(other.ws.send(message))
            elif isinstance(event, Ping):
                self.transport.write(self.ws.send(event.response()))
            elif isinstance(event, Request):
                extensions: list[WsprotoExtension] = [WsprotoDeflate()] if COMPRESSION else []
                self.transport.write(self.ws.send(AcceptConnection(extensions=extensions)))
                self.members.add(self)
            elif isinstance(event, CloseConnection):
                self.members.discard(self)
                self.transport.write(self.ws.send(event.response()))
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.members.discard(self)


async def _serve_wsproto(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    members: set[WsprotoChat] = set()
    server = await loop.create_server(lambda: WsprotoChat(members), HOST, 0)
    _ready(server.sockets[0].getsockname()[1])
    await stop.wait()
    server.close()


SERVE = {"ours": _serve_ours, "websockets": _serve_websockets, "wsproto": _serve_wsproto}


def _ready(port: int) -> None:
    print(f"READY {port}", flush=True)  # the parent waits for this line


def serve(name: str) -> int:
    """Run one broadcast server until SIGTERM or SIGINT."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await SERVE[name](stop)

    asyncio.run(run())
    return 0


def start_server(name: str, pinning: Pinning) -> tuple[subprocess.Popen[str], int]:
    """Start `broadcast.py --serve NAME`, pinned as chosen; wait for its port."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
    if COMPRESSION:
        cmd.append("--compression")
    if pinning.server_cpu is not None and pinning.taskset:
        cmd = ["taskset", "-c", str(pinning.server_cpu), *cmd]  # execs: the PID is the server's
    elif pinning.server_cpu is not None:
        cmd += ["--cpu", str(pinning.server_cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return proc, int(line.split()[1])
            if not line:
                break
    stop_server(proc)
    raise BenchError(f"the {name} server did not start (exit status {proc.poll()})")


# --- clients -----------------------------------------------------------------------------


class Client:
    """One chat client: its handshake by hand, then frame headers walked, messages counted.

    Payloads are skipped, never read (unless `tap` keeps the bytes for a check).
    The clients are driven by one `Clients` loop over epoll rather than asyncio:
    at a few µs per read instead of about ten, the 200 of them cost less than
    the server they measure.
    """

    def __init__(self, port: int, *, tap: bool = False) -> None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.sock = socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.extensions = ""  # the server's Sec-WebSocket-Extensions answer
        self.partial = b""  # an incomplete frame header
        self.skip = 0  # payload bytes of the current frame still to come
        self.skip_fin = False  # whether that frame ends a data message
        self.messages = 0  # whole data messages received (notices included)
        self.target = 0  # Clients.wait_for: the count it waits for
        self.reached = True
        self.out = b""  # bytes the socket did not take yet
        self.tap: bytearray | None = bytearray() if tap else None
        self.sock.sendall(
            (
                f"GET /chat HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                + (f"Sec-WebSocket-Extensions: {OFFER}\r\n" if COMPRESSION else "")
                + "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode("ascii")
        )
        head = b""
        while b"\r\n\r\n" not in head:  # the socket's timeout bounds each read
            data = self.sock.recv(65536)
            if not data or len(head) > 65536:
                raise ConnectionError("no handshake response")
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        self.extensions = headers.get("sec-websocket-extensions", "")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {lines[0]}")
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise ConnectionError("wrong Sec-WebSocket-Accept")
        if COMPRESSION and not self.extensions.startswith("permessage-deflate"):
            raise ConnectionError("the server did not accept permessage-deflate")
        self.sock.setblocking(False)
        if rest:
            self.feed(rest, len(rest))

    def feed(self, data: bytes | bytearray, n: int) -> int:
        """Walk the frames in `data[:n]`; return how many data messages it completed."""
        if self.tap is not None:
            self.tap += data[:n]
        if self.partial:
            data = self.partial + bytes(data[:n])
            n = len(data)
            self.partial = b""
        done = 0
        pos = 0
        if self.skip:
            if n < self.skip:
                self.skip -= n
                return 0
            pos = self.skip
            self.skip = 0
            done += self.skip_fin
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1]
            if length & 0x80:
                raise ConnectionError("masked frame from the server")  # RFC 6455 §5.1
            header = 2
            if length == 126:
                header = 4
            elif length == 127:
                header = 10
            if n - pos < header:
                break
            if header > 2:
                length = int.from_bytes(data[pos + 2 : pos + header], "big")
            pos += header
            # A data frame (opcode 0, 1 or 2) with FIN ends a message.
            fin = b0 & 0x80 != 0 and b0 & 0x0F < 0x8
            if n - pos < length:
                self.skip = length - (n - pos)
                self.skip_fin = fin
                pos = n
                break
            pos += length
            done += fin
        if pos < n:
            self.partial = bytes(data[pos:n])
        self.messages += done
        return done


class Clients:
    """Every client's socket in one epoll: reads, counts, and writes what is pending."""

    def __init__(self, port: int, count: int) -> None:
        self.all: list[Client] = []
        self.poll = select.epoll()
        self.by_fd: dict[int, Client] = {}
        try:
            for i in range(count):
                client = Client(port, tap=i == count - 1)  # the last one keeps its bytes
                self.all.append(client)
                self.by_fd[client.sock.fileno()] = client
                self.poll.register(client.sock.fileno(), select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self.pending = 0  # clients waited for that have not reached their target
        self.last = 0.0  # perf_counter() when the last of them did
        self.reads = 0  # recv calls that brought data
        self.buffer = bytearray(262144)  # every read lands here: no allocation per read

    def close(self) -> None:
        for client in self.all:
            client.sock.close()
        self.poll.close()

    def send(self, client: Client, data: bytes) -> None:
        """Write now what the socket takes; the loop writes the rest as it drains."""
        if client.out:
            client.out += data
            return
        try:
            sent = client.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            client.out = data[sent:]
            self.poll.modify(client.sock.fileno(), select.EPOLLIN | select.EPOLLOUT)

    def wait_for(self, targets: Sequence[tuple[Client, int]], timeout: float) -> float:
        """Run until each client has its count of messages; the time the last one did."""
        self.pending = 0
        self.last = time.perf_counter()
        for client, count in targets:
            client.target = count
            client.reached = client.messages >= count
            self.pending += not client.reached
        self.run(timeout, until_idle=False)
        return self.last

    def run(self, timeout: float, *, until_idle: bool) -> None:
        """Read until nothing is pending, or (until_idle) until nothing came for QUIET s."""
        deadline = time.monotonic() + timeout
        by_fd, poll, buffer = self.by_fd, self.poll, self.buffer
        while until_idle or self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout:.0f} s")
            events = poll.poll(min(left, QUIET) if until_idle else left)
            if not events and until_idle:
                return
            for fd, mask in events:
                client = by_fd[fd]
                if mask & select.EPOLLOUT and client.out:
                    sent = client.sock.send(client.out)
                    client.out = client.out[sent:]
                    if not client.out:
                        poll.modify(fd, select.EPOLLIN)
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    n = client.sock.recv_into(buffer)
                    if not n:
                        raise ConnectionError("a connection was closed by the server")
                    self.reads += 1
                    done = client.feed(buffer, n)
                    if done and not client.reached and client.messages >= client.target:
                        client.reached = True
                        self.pending -= 1
                        self.last = time.perf_counter()

    def settle(self) -> None:
        """Wait until no client has received anything for QUIET s (the joins announced)."""
        self.run(STEP_TIMEOUT, until_idle=True)


# --- the messages ------------------------------------------------------------------------


WORDS = (
    "hello everyone", "the next slide", "a question about TCP", "is the server up?",
    "try refreshing", "it works now", "what does FIN mean", "see RFC 6455",
    "the handshake", "a masked frame", "ping", "thanks!",
)  # fmt: skip


def chat_lines(count: int) -> list[bytes]:
    """`count` different JSON chat messages of about 70–140 bytes, as a browser would send."""
    rng = random.Random(7692)
    lines = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
        note = {"type": "chat", "from": f"student-{rng.randrange(200)}", "seq": i, "text": text}
        lines.append(json.dumps(note).encode())
    return lines


def client_frame(payload: bytes) -> bytes:
    """A masked text frame; with --compression deflated on its own (no context kept)."""
    if not COMPRESSION:
        return serialize_frame(Opcode.TEXT, payload, masking_key=MASK)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return serialize_frame(Opcode.TEXT, data[: -len(TAIL)], masking_key=MASK, rsv1=True)


# --- one round against one server --------------------------------------------------------


@dataclass
class Plan:
    clients: int
    messages: int  # sent one at a time
    pipelined: int  # sent back to back, split over the senders
    senders: int
    lines: list[bytes] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)


def check_relay(tapped: Client, expected: bytes) -> None:
    """The tapped client's last message must be `expected`, inflated as the RFC says."""
    assert tapped.tap is not None
    frames, _ = parse_frames(bytes(tapped.tap))
    tapped.tap = None
    # The server may keep its context across messages: inflate them all, in order.
    inflate = zlib.decompressobj(-15)
    messages = []
    for frame in frames:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            payload = frame.payload
            if frame.rsv1:
                try:
                    payload = inflate.decompress(payload + TAIL)
                except zlib.error as error:
                    raise BenchError(f"a relayed message does not inflate: {error}") from None
            messages.append((frame.opcode, frame.rsv1, payload))
    if not messages or messages[-1][::2] != (Opcode.TEXT, expected):
        raise BenchError("a relayed message arrived changed")
    if COMPRESSION and not messages[-1][1]:
        raise BenchError("the relayed message was not compressed")


def measure(proc: subprocess.Popen[str], port: int, plan: Plan) -> dict[str, Any]:
    clients = Clients(port, plan.clients)
    try:
        return _measure(proc, clients, plan)
    finally:
        clients.close()


def _measure(proc: subprocess.Popen[str], group: Clients, plan: Plan) -> dict[str, Any]:
    group.settle()
    clients = group.all
    sender, others = clients[0], clients[1:]
    # Check the relay on the first message: everyone gets exactly one, unchanged.
    expect = [(c, c.messages + 1) for c in others]
    group.send(sender, plan.frames[0])
    group.wait_for(expect, STEP_TIMEOUT)
    group.settle()
    if any(c.messages != count for c, count in expect):
        raise BenchError("a message reached some client more than once")
    check_relay(clients[-1], plan.lines[0])
    # (a) Reach: one message at a time, until the slowest receiver has it.
    reach = []
    for i in range(1, 1 + plan.messages):
        expect = [(c, c.messages + 1) for c in others]
        frame = plan.frames[i % len(plan.frames)]
        start = time.perf_counter()
        group.send(sender, frame)
        end = group.wait_for(expect, STEP_TIMEOUT)
        reach.append((end - start) * 1000)
    # (b) Throughput: the senders write their shares at once; every client gets
    # every message but its own.
    shares = [plan.pipelined // plan.senders] * plan.senders
    shares[0] += plan.pipelined - sum(shares)
    blobs = []
    first = 1 + plan.messages
    for share in shares:
        blobs.append(b"".join(plan.frames[(first + k) % len(plan.frames)] for k in range(share)))
        first += share
    own = shares + [0] * (len(clients) - len(shares))
    expect = [(c, c.messages + plan.pipelined - o) for c, o in zip(clients, own, strict=True)]
    cpu_before, client_cpu, reads = cpu_ns(proc.pid), time.process_time(), group.reads
    start = time.perf_counter()
    for client, blob in zip(clients, blobs, strict=False):
        group.send(client, blob)
    end = group.wait_for(expect, PIPELINE_TIMEOUT)
    cpu_after, client_cpu = cpu_ns(proc.pid), time.process_time() - client_cpu
    reads = group.reads - reads
    group.settle()
    if any(c.messages != count for c, count in expect):
        raise BenchError("some client got more messages than were sent to it")
    deliveries = sum(plan.pipelined - o for o in own)
    elapsed = end - start
    reach.sort()
    result: dict[str, Any] = {
        "reach_p50": statistics.median(reach),
        "reach_p95": reach[min(len(reach) - 1, round(0.95 * (len(reach) - 1)))],
        "messages": plan.pipelined / elapsed,
        "deliveries": deliveries / elapsed,
        "client_cpu": 100 * client_cpu / elapsed,
        "client_cpu_delivery": client_cpu * 1e6 / deliveries,
        "deliveries_per_read": deliveries / reads,
        "negotiated": sender.extensions,
    }
    if cpu_before is not None and cpu_after is not None:
        result["cpu_delivery"] = (cpu_after - cpu_before) / 1e3 / deliveries
    return result


# --- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    higher_is_better: bool


def rows_for(plan: Plan) -> tuple[Row, ...]:
    receivers = plan.clients - 1
    who = "1 sender" if plan.senders == 1 else f"{plan.senders} senders"
    return (
        Row("reach_p50", f"one message to all {receivers} others, median", "ms", False),
        Row("reach_p95", f"one message to all {receivers} others, p95", "ms", False),
        Row("messages", f"{plan.pipelined:,} pipelined ({who}): messages relayed", "msg/s", True),
        Row("deliveries", f"{plan.pipelined:,} pipelined: deliveries", "msg/s", True),
        Row("cpu_delivery", "server CPU per delivery (pipelined)", "µs", False),
    )


def run_rounds(
    names: Sequence[str], plan: Plan, pinning: Pinning, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """results[server]: one dict per round; each round starts every server afresh."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(rounds):
        order = list(names[r % len(names) :]) + list(names[: r % len(names)])
        for name in order:
            proc, port = start_server(name, pinning)
            try:
                result = measure(proc, port, plan)
            except (TimeoutError, ConnectionError, OSError) as error:
                reason = str(error) or type(error).__name__
                raise BenchError(f"{name}: {reason}") from error
            finally:
                stop_server(proc)
            results[name].append(result)
            log(
                f"round {r + 1}/{rounds} {name:10} "
                + "  ".join(f"{k}={v:,.2f}" for k, v in result.items() if isinstance(v, float))
            )
    return results


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def format_table(medians: dict[str, dict[str, float]], rows: Sequence[Row], header: str) -> str:
    names = list(medians)
    others = [n for n in names if n != "ours"] if "ours" in names else []
    cols = ["measure", "unit", *names, *(f"ours vs {o}" for o in others)]
    body = []
    for row in rows:
        if not all(row.key in medians[n] for n in names):
            continue  # no /proc/PID/schedstat here
        cells = [row.label, row.unit, *(_num(medians[n][row.key]) for n in names)]
        for other in others:
            ours, theirs = medians["ours"][row.key], medians[other][row.key]
            cells.append(f"{(ours / theirs if row.higher_is_better else theirs / ours):.2f}×")
        body.append(cells)
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([cells[0].ljust(widths[0]), *rest]).rstrip()

    out = [header, "", line(cols), line(["-" * w for w in widths]), *map(line, body)]
    if others:
        out += ["", "ratios: ≥ 1.00× means ours is at least as good (theirs/ours for ms and µs)."]
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="chat clients (default 200)")
    parser.add_argument(
        "--messages", type=int, default=50, help="messages sent one at a time (default 50)"
    )
    parser.add_argument(
        "--pipelined", type=int, default=1000, help="messages sent back to back (default 1000)"
    )
    parser.add_argument(
        "--senders", type=int, default=1, help="clients sharing the pipelined ones (default 1)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians shown (default 3)")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of {','.join(SERVERS)} (default: all)",
    )
    parser.add_argument(
        "--compression",
        action="store_true",
        help="permessage-deflate on every connection, each server with its library's defaults",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    # Server mode, used by the benchmark for its subprocesses.
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    global COMPRESSION
    args = build_parser().parse_args(argv)
    COMPRESSION = args.compression
    if args.serve:
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        return serve(args.serve)
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    if not names or any(n not in SERVERS for n in names) or len(set(names)) < len(names):
        raise SystemExit(f"--servers: a comma-separated subset of {','.join(SERVERS)}")
    if args.clients < 2 or args.rounds < 1 or args.messages < 1:
        raise SystemExit("--clients must be at least 2, --rounds and --messages at least 1")
    if not 1 <= args.senders < args.clients or args.pipelined < args.senders:
        raise SystemExit("--senders: from 1 to clients - 1, and at most --pipelined")
    plan = Plan(args.clients, args.messages, args.pipelined, args.senders)
    plan.lines = chat_lines(min(1 + args.messages + args.pipelined, 4096))
    plan.frames = [client_frame(line) for line in plan.lines]

    # SIGTERM unwinds like Ctrl-C, so every server is stopped (run_rounds' `finally`).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinning = choose_cpus(not args.no_pin)
    log(f"pinning: {pinning.note}")
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        results = run_rounds(names, plan, pinning, args.rounds)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"broadcast.py: {error}")
        return 1
    numeric = [k for k, v in results[names[0]][0].items() if isinstance(v, float)]
    medians = {
        name: {k: statistics.median(r[k] for r in rs) for k in numeric if k in rs[0]}
        for name, rs in results.items()
    }
    negotiated = {name: rs[0]["negotiated"] for name, rs in results.items()}
    sizes = [len(line) for line in plan.lines]
    wire = [payload_length(frame) for frame in plan.frames]
    info = versions()
    if args.json:
        report = {
            "date": started,
            "rounds": args.rounds,
            "plan": {k: v for k, v in vars(plan).items() if k not in ("lines", "frames")},
            "compression": {"offer": OFFER, "negotiated": negotiated} if COMPRESSION else None,
            "payload_bytes": {"min": min(sizes), "max": max(sizes), "client_wire": wire[:5]},
            "pinning": pinning.note,
            **info,
            "medians": medians,
            "samples": results,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    header = [
        f"wirelab broadcast benchmark, {started}: {args.clients} clients on /chat,"
        f" median of {args.rounds} round{'s' * (args.rounds > 1)}",
        f"wirelab {info['wirelab']}; Python {info['python']}, websockets {info['websockets']},"
        f" wsproto {info['wsproto']}",
        pinning.note,
        f"payloads: JSON chat lines of {min(sizes)}–{max(sizes)} B, all different; "
        + (
            f"compression on: the clients offer `{OFFER}`"
            f" and send {min(wire)}–{max(wire)} B deflated"
            if COMPRESSION
            else "compression off"
        ),
    ]
    if COMPRESSION:
        width = max(map(len, negotiated))
        header += [f"  {n:<{width}} answers: {a}" for n, a in negotiated.items()]
    print(format_table(medians, rows_for(plan), "\n".join(header)))
    busy = ", ".join(
        f"{n} {m['client_cpu']:.0f} % ({m['client_cpu_delivery']:.1f} µs a delivery,"
        f" {m['deliveries_per_read']:.1f} a read)"
        for n, m in medians.items()
    )
    print(f"the clients' process, busy during the pipelined run: {busy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
