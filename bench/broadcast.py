"""Broadcast benchmark: 200 chat clients on our /chat broker and on a websockets one.

Each server runs in its own process, pinned to one CPU; the clients run here,
on another, as cheap raw asyncio protocols that do the handshake by hand and
then only count bytes (every relayed message is one frame of a known size).
Two measures, side by side in one run:

- reach: one client sends one message; the time until all the others have it
  (median and p95 over many messages, sent one at a time);
- throughput: one client pipelines many messages; how many messages per second
  the broker relays to everyone (and deliveries per second: messages × receivers).

Compression is off on both servers: compressed, each receiver's copy is
compressed with its own context (and has its own size, which this client,
counting bytes, cannot follow); `bench/echo.py --compression` measures zlib's
part.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from echo import Pinning, choose_cpus, versions  # bench/ is on sys.path when run as a script

from simulator.live import Server
from simulator.ws import Config, Opcode, serialize_frame

HOST = "127.0.0.1"
READY_TIMEOUT = 20.0
STEP_TIMEOUT = 30.0
MASK = b"\x11\x22\x33\x44"
PAYLOAD = b"x" * 32  # one chat line; its relayed frame is 34 bytes
SERVERS = ("ours", "websockets")


class BenchError(Exception):
    """Reported in one line."""


# --- servers (subprocesses) --------------------------------------------------------------


async def _serve(name: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if name == "ours":
        server = Server(host=HOST, port=0, config=Config())  # no compression
        await server.start()
        print(f"READY {server.port}", flush=True)
        await stop.wait()
        await server.shutdown()
        return
    import logging

    from websockets.asyncio.server import ServerConnection, broadcast, serve

    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # clients abort at the end

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                broadcast([c for c in clients if c is not ws], message)
        finally:
            clients.discard(ws)

    async with serve(handler, HOST, 0, compression=None, ping_interval=None) as server:
        print(f"READY {next(iter(server.sockets)).getsockname()[1]}", flush=True)
        await stop.wait()


def start_server(name: str, pinning: Pinning) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
    if pinning.server_cpu is not None and pinning.taskset:
        cmd = ["taskset", "-c", str(pinning.server_cpu), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return proc, int(line.split()[1])
    stop_server(proc)
    raise BenchError(f"the {name} server did not start")


def stop_server(proc: subprocess.Popen[str]) -> None:
    """End a server we started, by its PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


# --- clients -----------------------------------------------------------------------------


class Client(asyncio.Protocol):
    """Handshake by hand, then count the bytes that arrive."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""
        self.received = 0  # bytes after the handshake
        self.target = 0
        self.waiter: asyncio.Future[float] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /chat HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(BenchError(self.head.split(b"\r\n")[0].decode()))
                return
            data = self.head[end + 4 :]
            self.opened.set_result(None)
        self.received += len(data)
        if self.waiter is not None and self.received >= self.target:
            if not self.waiter.done():
                self.waiter.set_result(time.perf_counter())
            self.waiter = None

    def until(self, total: int) -> asyncio.Future[float]:
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.received >= total:
            waiter.set_result(time.perf_counter())
        else:
            self.target, self.waiter = total, waiter
        return waiter


async def quiet(clients: Sequence[Client]) -> None:
    """Wait until no client has received anything for 0.3 s (joins announced)."""
    last = -1
    for _ in range(200):
        total = sum(c.received for c in clients)
        if total == last:
            return
        last = total
        await asyncio.sleep(0.3)
    raise BenchError("the join notices never stopped")


async def measure(port: int, count: int, messages: int, pipelined: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    for _ in range(count):
        _, client = await loop.create_connection(lambda: Client(port), HOST, port)
        await asyncio.wait_for(client.opened, STEP_TIMEOUT)
        clients.append(client)
    await quiet(clients)
    sender, receivers = clients[0], clients[1:]
    frame = serialize_frame(Opcode.TEXT, PAYLOAD, masking_key=MASK)
    assert sender.transport is not None
    # How many bytes one relayed message is, measured on the first one.
    base = [c.received for c in receivers]
    sender.transport.write(frame)
    await asyncio.wait_for(
        asyncio.gather(*(c.until(b + 1) for c, b in zip(receivers, base, strict=True))),
        STEP_TIMEOUT,
    )
    await quiet(clients)
    size = receivers[0].received - base[0]
    if any(c.received - b != size for c, b in zip(receivers, base, strict=True)):
        raise BenchError("receivers got different amounts for one message")
    reach = []
    for _ in range(messages):
        waits = [c.until(c.received + size) for c in receivers]
        start = time.perf_counter()
        sender.transport.write(frame)
        ends = await asyncio.wait_for(asyncio.gather(*waits), STEP_TIMEOUT)
        reach.append((max(ends) - start) * 1000)
    waits = [c.until(c.received + size * pipelined) for c in receivers]
    start = time.perf_counter()
    sender.transport.write(frame * pipelined)
    end = max(await asyncio.wait_for(asyncio.gather(*waits), 120))
    for client in clients:
        if client.transport is not None:
            client.transport.abort()
    reach.sort()
    rate = pipelined / (end - start)
    return {
        "reach_p50": statistics.median(reach),
        "reach_p95": reach[min(len(reach) - 1, round(0.95 * (len(reach) - 1)))],
        "messages": rate,
        "deliveries": rate * len(receivers),
        "frame": size,
    }


# --- the run -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="chat clients (default 200)")
    parser.add_argument("--messages", type=int, default=50, help="one-at-a-time messages (50)")
    parser.add_argument("--pipelined", type=int, default=1000, help="pipelined messages (1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians reported (3)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    if args.clients < 2 or args.rounds < 1:
        raise SystemExit("--clients must be at least 2 and --rounds at least 1")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinning = choose_cpus(not args.no_pin)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SERVERS}
    try:
        for _ in range(args.rounds):
            for name in SERVERS:
                proc, port = start_server(name, pinning)
                try:
                    run = measure(port, args.clients, args.messages, args.pipelined)
                    results[name].append(asyncio.run(run))
                finally:
                    stop_server(proc)
    except (BenchError, TimeoutError, OSError) as error:
        print(f"broadcast.py: {str(error) or type(error).__name__}", file=sys.stderr)
        return 1
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in results.items()}
    info = versions()
    print(
        f"wirelab broadcast benchmark: {args.clients} clients on /chat, {len(PAYLOAD)} B text, "
        f"compression off, median of {args.rounds} rounds\n"
        f"wirelab {info['wirelab']}; Python {info['python']}, websockets {info['websockets']}\n"
        f"{pinning.note}\n"
    )
    rows = [
        ("one message to all others, median", "ms", "reach_p50", False),
        ("one message to all others, p95", "ms", "reach_p95", False),
        (f"{args.pipelined} pipelined: messages relayed", "msg/s", "messages", True),
        (f"{args.pipelined} pipelined: deliveries", "msg/s", "deliveries", True),
    ]
    print(f"{'measure':<42} {'unit':>6} {'ours':>10} {'websockets':>11} {'ours vs websockets':>19}")
    for label, unit, key, higher in rows:
        ours, theirs = med["ours"][key], med["websockets"][key]
        ratio = ours / theirs if higher else theirs / ours
        print(f"{label:<42} {unit:>6} {ours:>10,.2f} {theirs:>11,.2f} {ratio:>18.2f}×")
    print("\nratios: ≥ 1.00× means ours is at least as good (theirs/ours for ms).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
