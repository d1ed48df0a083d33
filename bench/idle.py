"""Idle connections: how much memory each open, idle WebSocket costs a server.

For each server (ours on asyncio's own loop, ours on uvloop, websockets and Node's
ws by default; the servers are echo.py's, started the same way and pinned the
same way), one server at a time: a warm-up connection echoes a text and a binary
message and closes (so code loaded on first use is not counted), then the server
process's resident memory (VmRSS) is read; N WebSockets are opened, 100 at a time,
each with its own handshake, and left silent; once all are open and a second has
passed, VmRSS is read again. (after − before) / N is the memory one idle
connection costs the server process. Kernel socket buffers are not in it.

Every connection comes from 127.0.0.1, so our server's limits on connections from
one address and its 60 s idle timeout are raised for the benchmark (see echo.py's
CONNECTION_LIMIT and IDLE_TIMEOUT); websockets sends no keepalive pings
(`ping_interval=None`), so nothing but the handshake happens on any connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from echo import (  # bench/ is on sys.path when run as a script
    CLOSE_FRAME,
    HOST,
    BenchError,
    Client,
    ServerProcess,
    add_client_loop,
    check_echo,
    choose_cpus,
    choose_servers,
    client_loop_note,
    masks,
    run_on,
    start_server,
    stop_server,
    versions,
    versions_line,
)

DEFAULT_SERVERS = ("ours", "ours-uvloop", "websockets", "node-ws")
CONNECTIONS = 10_000
QUICK_CONNECTIONS = 500
# Connections opened at once: fewer than any server's listen backlog (asyncio's default
# is 100), and a batch waits for all its handshakes before the next one starts, so the
# accept queue never overflows (an overflow costs a dropped SYN and a second's wait).
BATCH = 100
BATCH_TIMEOUT = 30.0  # to open one batch, handshakes included
SETTLE = 1.0  # seconds between the last handshake (or the warm-up) and reading VmRSS
CLOSE_ALL_TIMEOUT = 30.0
SPARE_FDS = 200  # beyond one per connection: the event loop, pipes, the warm-up


@dataclass
class Result:
    server: str
    connections: int
    rss_before_kib: int
    rss_after_kib: int
    open_seconds: float  # to open them all, batch after batch

    @property
    def per_connection_kib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.connections


def rss_kib(pid: int) -> int:
    """Process `pid`'s resident memory in KiB (VmRSS in /proc/PID/status, Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as error:
        raise BenchError(f"cannot read the memory of process {pid}: {error}") from error
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])  # "VmRSS:   12345 kB"
    raise BenchError(f"no VmRSS for process {pid}")


def raise_fd_limit(connections: int) -> int:
    """Raise this process's soft limit on open files to the hard one (the servers,
    started after this, inherit it); SystemExit when `connections` cannot fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 30
    if connections + SPARE_FDS > limit:
        raise SystemExit(
            f"--connections {connections:,}: needs about {connections + SPARE_FDS:,} open"
            f" files in this process and in the server; the limit here is {limit:,}"
            " (ulimit -n)"
        )
    return limit


async def open_idle(server: ServerProcess, count: int, clients: list[Client]) -> None:
    """Open `count` WebSockets, `BATCH` at a time, each one's handshake done; the
    clients go into `clients` as soon as they connect (so they can be closed on error)."""
    loop = asyncio.get_running_loop()
    port, masked = server.port, masks(server.name)

    async def one() -> None:
        _, client = await loop.create_connection(lambda: Client(port, masked=masked), HOST, port)
        clients.append(client)
        await client.opened

    for first in range(0, count, BATCH):
        tasks = [asyncio.ensure_future(one()) for _ in range(min(BATCH, count - first))]
        try:
            async with asyncio.timeout(BATCH_TIMEOUT):
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def close_all(clients: Sequence[Client]) -> None:
    """Close every connection with 1000 and wait (bounded) for the server to close TCP;
    abort the ones still open after that, and any whose handshake never finished."""
    for client in clients:
        transport = client.transport
        if transport is None or transport.is_closing():
            continue
        if client.open:
            transport.write(CLOSE_FRAME)
            if client.masked:
                transport.write_eof()  # raw-asyncio closes on EOF, not on a close frame
        else:
            transport.abort()
    waiting = [client.closed for client in clients if not client.closed.done()]
    if waiting:
        await asyncio.wait(waiting, timeout=CLOSE_ALL_TIMEOUT)
    for client in clients:
        if not client.closed.done() and client.transport is not None:
            client.transport.abort()
    await asyncio.sleep(0)  # let the aborted ones report connection_lost


async def measure(server: ServerProcess, count: int, log: Callable[[str], None]) -> Result:
    """The server's VmRSS before and after `count` idle WebSockets are open."""
    pid = server.proc.pid
    await check_echo(server.name, server.port)  # the warm-up: every code path loaded once
    await asyncio.sleep(SETTLE)
    before = rss_kib(pid)
    clients: list[Client] = []
    try:
        start = time.perf_counter()
        try:
            await open_idle(server, count, clients)
        except (TimeoutError, ConnectionError) as error:
            reason = str(error) or type(error).__name__
            opened = sum(client.open for client in clients)
            message = f"{server.name}: {opened:,} of {count:,} opened, then {reason}"
            raise BenchError(message) from error
        seconds = time.perf_counter() - start
        await asyncio.sleep(SETTLE)
        after = rss_kib(pid)
        lost = sum(client.closed.done() for client in clients)
        if lost:
            raise BenchError(f"{server.name}: {lost:,} of {count:,} connections closed while idle")
    finally:
        await close_all(clients)
    result = Result(server.name, count, before, after, seconds)
    log(
        f"  {server.name:11} {before / 1024:,.1f} MiB → {after / 1024:,.1f} MiB:"
        f" {result.per_connection_kib:,.1f} KiB a connection ({seconds:.1f} s to open)"
    )
    return result


def format_table(results: Sequence[Result], header: str) -> str:
    cols = ["server", "RSS before", "RSS after", "per connection", "to open all"]
    units = ["", "MiB", "MiB", "KiB", "s"]
    body = [
        [
            r.server,
            f"{r.rss_before_kib / 1024:,.1f}",
            f"{r.rss_after_kib / 1024:,.1f}",
            f"{r.per_connection_kib:,.1f}",
            f"{r.open_seconds:.1f}",
        ]
        for r in results
    ]
    widths = [max(len(c), len(u), *(len(row[i]) for row in body)) for i, (c, u) in
              enumerate(zip(cols, units, strict=True))]  # fmt: skip

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    out = [header, "", line(cols), line(units), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body]
    out += [
        "",
        "per connection: (RSS after − RSS before) / connections: the server process's",
        "resident memory (VmRSS) for one open, idle WebSocket; kernel socket buffers are",
        "not in it.",
    ]
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        metavar="N",
        help=f"idle WebSockets a server (default {CONNECTIONS:,})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_CONNECTIONS} connections"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--servers",
        help=f"comma-separated servers of echo.py (default: {','.join(DEFAULT_SERVERS)};"
        " ours-uvloop and node-ws where installed)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    add_client_loop(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    count = QUICK_CONNECTIONS if args.quick else args.connections
    if count < 1:
        raise SystemExit("--connections must be at least 1")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    names, left_out = choose_servers(args.servers, DEFAULT_SERVERS, log)
    client_note = client_loop_note(args.client_loop)
    fd_limit = raise_fd_limit(count)  # before any server starts: they inherit it
    # SIGTERM unwinds like Ctrl-C, so the `finally` below stops the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinning = choose_cpus(not args.no_pin)
    log(f"pinning: {pinning.note}; {client_note}; open files: {fd_limit:,}")
    started = time.strftime("%Y-%m-%d %H:%M")
    results: list[Result] = []
    try:
        for name in names:  # one at a time, each alone with its connections
            server = start_server(name, pinning)
            try:
                results.append(run_on(measure(server, count, log), args.client_loop))
            finally:
                stop_server(server.proc)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"idle.py: {error}")
        return 1
    info = versions()
    if args.json:
        report = {
            "date": started,
            "connections": count,
            "batch": BATCH,
            **info,
            "pinning": pinning.note,
            "client_loop": args.client_loop,
            "left_out": left_out,
            "results": [{**asdict(r), "per_connection_kib": r.per_connection_kib} for r in results],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    header = (
        f"wirelab idle connections, {started}: {count:,} idle WebSockets a server,"
        f" opened {BATCH} at a time\n"
        + versions_line(info, wsproto=False)
        + f"\n{pinning.note}; {client_note}"
        + "".join(f"\n{note}" for note in left_out)
    )
    print(format_table(results, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
