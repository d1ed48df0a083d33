"""Inspector benchmark: `wirelab inspect` against tshark on a generated 100,000-packet capture."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script

# Nothing from simulator/ (or Textual) is imported at the top: the child processes that
# time "launch to first screen" must import only what `wirelab inspect` imports (the
# standard-library modules above that it does not import cost ~5 ms).

MIB = 1 << 20
HUGE = 16 * MIB  # the one large message: 1,048,576 hex rows
SEED = 20261122
PACKETS = 100_000
QUICK_PACKETS = 20_000
CONCURRENT = 32  # connections open at once while the capture is generated
SERVER = ("192.168.0.1", 8765)
CLIENT_NET = "192.168.1."
LAN_MSS = 1460  # as simulator.trace.synth: a 1500-byte MTU
LOOP_MSS = 65483  # the 16 MiB message crosses loopback: 64 KiB segments
FIRST_SCREEN_ROWS = 40
TUI_SIZE = (120, 40)
HEX_ROWS = 30  # the hex pane's height in the hex-view measurement
TSHARK_DECODE = ("-n", "-d", f"tcp.port=={SERVER[1]},http")  # so tshark sees WebSocket
FILTERS = (
    f"tcp.port == {SERVER[1]}",  # every packet
    "ip.addr == 192.168.1.7",  # none: the clients are .10 to .249
    "ip.addr == 192.168.1.17",  # the connections of one client
    'http.request.method == "GET"',  # the upgrade requests, in the packet completing each
    "websocket.opcode == 9",  # pings
    "tcp.analysis.retransmission",  # none here: nothing is lost
)
CHILD_TIMEOUT = 300.0
TSHARK_TIMEOUT = 300.0


class BenchError(Exception):
    """A run cannot go on: reported in one line."""


# --- the capture ---------------------------------------------------------------------
#
# WebSocket traffic made by the real engine (simulator.ws: handshakes, masked client
# frames, pings, close handshakes), cut into IPv4/TCP packets the way
# simulator.trace.synth.synthesize() does, byte for byte (checked against it on every
# generation), but with struct and our own checksums instead of scapy: ~15 µs a packet
# instead of ~1.3 ms (100,000 packets in ~4 s instead of ~2 minutes).

_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the one's-complement sum, folded, inverted.

    2**16 ≡ 1 (mod 0xFFFF), so the sum of the 16-bit words is the whole buffer read as
    one big number, modulo 0xFFFF (0xFFFF, not 0, when the words are not all zero).
    """
    if len(data) & 1:
        data += b"\0"
    number = int.from_bytes(data, "big")
    folded = number % 0xFFFF
    if folded == 0 and number:
        folded = 0xFFFF
    return ~folded & 0xFFFF


class _Flow:
    """One TCP connection's packets: the same choices as simulator.trace.synth._Flow."""

    def __init__(self, number: int, client: tuple[str, int], server: tuple[str, int], mss: int):
        self.client, self.server, self.mss = client, server, mss
        name = f"{number}|{client[0]}:{client[1]}|{server[0]}:{server[1]}"
        self.isn = {
            client: zlib.crc32(f"{name}|client".encode()),
            server: zlib.crc32(f"{name}|server".encode()),
        }
        self.seq = dict(self.isn)
        self.ip_id = {side: isn & 0xFFFF for side, isn in self.isn.items()}
        self.address = {side: socket.inet_aton(side[0]) for side in (client, server)}

    def other(self, side: tuple[str, int]) -> tuple[str, int]:
        return self.server if side == self.client else self.client

    def packet(self, sender: tuple[str, int], flags: int, payload: bytes = b"") -> bytes:
        receiver = self.other(sender)
        src, dst = self.address[sender], self.address[receiver]
        syn = bool(flags & _SYN)
        # MSS, NOP, window scale 7: what scapy writes for synth's SYN options.
        options = struct.pack("!BBHBBBB", 2, 4, self.mss, 1, 3, 3, 7) if syn else b""
        header = 20 + len(options)
        ack = self.seq[receiver] & 0xFFFFFFFF if flags & _ACK else 0
        tcp = _TCP.pack(
            sender[1],
            receiver[1],
            self.seq[sender] & 0xFFFFFFFF,
            ack,
            (header // 4) << 4,
            flags,
            65535 if syn else 8192,
            0,
            0,
        )
        length = header + len(payload)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, length)
        tcp_sum = _checksum(pseudo + tcp + options + payload)
        ident = self.ip_id[sender]
        self.ip_id[sender] = (ident + 1) & 0xFFFF
        ip = _IP.pack(0x45, 0, 20 + length, ident, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + _checksum(ip).to_bytes(2, "big") + ip[12:]
        return b"".join((ip, tcp[:16], tcp_sum.to_bytes(2, "big"), tcp[18:], options, payload))

    def handshake(self) -> list[bytes]:
        client, server = self.client, self.server
        syn = self.packet(client, _SYN)
        self.seq[client] += 1
        syn_ack = self.packet(server, _SYN | _ACK)
        self.seq[server] += 1
        return [syn, syn_ack, self.packet(client, _ACK)]

    def data(self, sender: tuple[str, int], payload: bytes) -> list[bytes]:
        """One write: MSS-sized segments, PSH on the last, an ACK back after it (and every 64)."""
        receiver = self.other(sender)
        packets = []
        mss = self.mss
        for count, start in enumerate(range(0, len(payload), mss), 1):
            piece = payload[start : start + mss]
            last = start + mss >= len(payload)
            packets.append(self.packet(sender, _PSH | _ACK if last else _ACK, piece))
            self.seq[sender] += len(piece)
            if last or count % 64 == 0:
                packets.append(self.packet(receiver, _ACK))
        return packets

    def teardown(self, closer: tuple[str, int]) -> list[bytes]:
        other = self.other(closer)
        fin = self.packet(closer, _FIN | _ACK)
        self.seq[closer] += 1
        fin_back = self.packet(other, _FIN | _ACK)
        self.seq[other] += 1
        return [fin, fin_back, self.packet(closer, _ACK)]


def _chunk_cost(length: int, mss: int) -> int:
    """Packets `_Flow.data` makes of one write of `length` bytes."""
    segments = -(-length // mss)
    return segments + (segments - 1) // 64 + 1


class _WebSocketPair:
    """A client and a server endpoint of the real engine, talking to each other."""

    def __init__(self, rng: random.Random) -> None:
        from simulator.ws import Config, Connection, Role

        config = Config(max_size=32 * MIB)
        self.client = Connection(Role.CLIENT, config=config, rng=rng.randbytes)
        self.server = Connection(Role.SERVER, config=config)

    def upgrade(self, host: str) -> tuple[bytes, bytes]:
        client, server = self.client, self.server
        client.connect(host, "/chat")
        request = client.data_to_send()
        server.receive_data(request)
        server.events()
        server.accept()
        response = server.data_to_send()
        client.receive_data(response)
        client.events()
        return request, response

    def echo(self, message: str | bytes) -> tuple[bytes, bytes]:
        """The client sends a message, the server echoes it: the bytes each side wrote."""
        from simulator.ws import BinaryMessage, TextMessage

        client, server = self.client, self.server
        if isinstance(message, str):
            client.send_text(message)
        else:
            client.send_binary(message)
        sent = client.data_to_send()
        server.receive_data(sent)
        for event in server.events():
            if isinstance(event, TextMessage):
                server.send_text(event.data)
            elif isinstance(event, BinaryMessage):
                server.send_binary(event.data)
        reply = server.data_to_send()
        client.receive_data(reply)
        for event in client.events():
            if not isinstance(event, TextMessage | BinaryMessage):
                raise BenchError(f"generating the capture: the client got {event}")
        return sent, reply

    def ping(self, payload: bytes) -> tuple[bytes, bytes]:
        self.client.ping(payload)
        sent = self.client.data_to_send()
        self.server.receive_data(sent)
        self.server.events()
        pong = self.server.data_to_send()  # the engine answers pings itself
        self.client.receive_data(pong)
        self.client.events()
        return sent, pong

    def close(self) -> tuple[bytes, bytes]:
        self.client.close(1000)
        sent = self.client.data_to_send()
        self.server.receive_data(sent)
        self.server.events()
        reply = self.server.data_to_send()  # the engine echoes the close frame
        return sent, reply


@dataclass
class _Conn:
    number: int
    client: tuple[str, int]
    flow: _Flow
    pair: _WebSocketPair
    messages: int  # still to echo before closing


@dataclass
class CaptureInfo:
    path: str
    packets: int
    connections: int
    size: int
    messages: int
    huge_packet: int  # index of the packet that completes the client's 16 MiB frame
    huge_connection: tuple[int, int]  # its connection's first and last packet indexes
    build_seconds: float
    checked_against_synth: bool


class _Writer:
    """Packets with increasing timestamps, and the budget left."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.packets: list[bytes] = []
        self.times: list[float] = []
        self.now = 1_763_769_600.0  # 2025-11-22 00:00 UTC: any fixed start will do

    def add(self, packets: list[bytes]) -> int:
        """Append packets, 10 µs apart, after a pause; returns the index of the first."""
        first = len(self.packets)
        self.now += self.rng.expovariate(500.0)  # ~2 ms between writes, on average
        for data in packets:
            self.packets.append(data)
            self.times.append(self.now)
            self.now += 10e-6
        return first

    def write(self, path: str) -> int:
        out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        header = struct.Struct("<IIII")
        for when, data in zip(self.times, self.packets, strict=True):
            seconds = int(when)
            micros = round((when - seconds) * 1e6)
            if micros >= 1_000_000:
                seconds, micros = seconds + 1, micros - 1_000_000
            out += header.pack(seconds, micros, len(data), len(data))
            out += data
        with open(path, "wb") as file:
            file.write(out)
        return len(out)


def _text(rng: random.Random, number: int, seq: int) -> str:
    words = ("ping", "chat", "wirelab", "frame", "hello", "écho", "octet", "mask", "42", "ok")
    body = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 40)))
    return json.dumps({"seq": seq, "from": f"client-{number}", "text": body}, ensure_ascii=False)


def build_capture(path: str, target: int, *, seed: int = SEED) -> CaptureInfo:
    """Write a deterministic capture of exactly `target` packets of WebSocket traffic."""
    started = time.perf_counter()
    rng = random.Random(seed)
    out = _Writer(rng)
    pool: list[_Conn] = []
    numbers = iter(range(1_000_000))
    messages = 0
    huge_packet = -1
    huge_span = (-1, -1)
    close_cost = 7  # close frame + ACK each way, then FIN, FIN, ACK

    def open_connection() -> None:
        number = next(numbers)
        client = (f"{CLIENT_NET}{10 + number % 240}", 40000 + number)
        conn = _Conn(number, client, _Flow(number, client, SERVER, LAN_MSS), _WebSocketPair(rng), 0)
        conn.messages = rng.randrange(10, 120)
        request, response = conn.pair.upgrade(f"{SERVER[0]}:{SERVER[1]}")
        flow = conn.flow
        out.add(flow.handshake() + flow.data(client, request))
        out.add(flow.data(SERVER, response))
        pool.append(conn)

    def close_connection(conn: _Conn) -> None:
        sent, reply = conn.pair.close()
        out.add(conn.flow.data(conn.client, sent))
        # The server wrote last, so it closes TCP first, as synth does.
        out.add(conn.flow.data(SERVER, reply) + conn.flow.teardown(SERVER))
        pool.remove(conn)

    def exchange(conn: _Conn, sent: bytes, reply: bytes) -> None:
        out.add(conn.flow.data(conn.client, sent))
        out.add(conn.flow.data(SERVER, reply))

    def huge_connection() -> None:
        nonlocal huge_packet, huge_span
        number = next(numbers)
        client, server = ("127.0.0.1", 50000), ("127.0.0.1", SERVER[1])
        flow = _Flow(number, client, server, LOOP_MSS)
        pair = _WebSocketPair(rng)
        request, response = pair.upgrade(f"127.0.0.1:{SERVER[1]}")
        first = out.add(flow.handshake() + flow.data(client, request))
        out.add(flow.data(server, response))
        sent, reply = pair.echo(random.Random(seed + 1).randbytes(HUGE))
        packets = flow.data(client, sent)
        huge_packet = out.add(packets) + len(packets) - 2  # the last segment, before its ACK
        out.add(flow.data(server, reply))
        sent, reply = pair.close()
        out.add(flow.data(client, sent))
        packets = flow.data(server, reply) + flow.teardown(server)
        huge_span = (first, out.add(packets) + len(packets) - 1)

    while True:
        left = target - len(out.packets) - close_cost * len(pool)
        if huge_packet < 0 and len(out.packets) >= target // 4:
            huge_connection()
            continue
        if left <= 60:
            # Fill the budget exactly: a server push of left - 1 full segments (and an ACK).
            conn = pool[0]
            size = (left - 1) * LAN_MSS
            payload = size - (4 if size - 4 <= 65535 else 10)
            conn.pair.server.send_binary(rng.randbytes(payload))
            push = conn.pair.server.data_to_send()
            assert len(push) == size and _chunk_cost(size, LAN_MSS) == left
            conn.pair.client.receive_data(push)
            conn.pair.client.events()
            out.add(conn.flow.data(SERVER, push))
            messages += 1
            for conn in list(pool):
                close_connection(conn)
            break
        if len(pool) < CONCURRENT and left > 400:
            open_connection()
            continue
        conn = rng.choice(pool)
        if conn.messages == 0:
            close_connection(conn)
            continue
        conn.messages -= 1
        messages += 1
        roll = rng.random()
        if left <= 400 or roll < 0.65:
            sent, reply = conn.pair.echo(_text(rng, conn.number, conn.messages))
        elif roll < 0.75:
            sent, reply = conn.pair.ping(rng.randbytes(8))
        elif roll < 0.99:
            sent, reply = conn.pair.echo(rng.randbytes(rng.randrange(100, 4000)))
        else:
            sent, reply = conn.pair.echo(rng.randbytes(rng.randrange(20_000, 64_000)))
        cost = _chunk_cost(len(sent), LAN_MSS) + _chunk_cost(len(reply), LAN_MSS)
        if left > 400 or cost <= 4:
            exchange(conn, sent, reply)
        else:
            raise AssertionError("a large message near the end of the budget")
    if len(out.packets) != target:
        raise BenchError(f"generated {len(out.packets)} packets instead of {target}")
    size = out.write(path)
    return CaptureInfo(
        path=path,
        packets=target,
        connections=next(numbers),
        size=size,
        messages=messages,
        huge_packet=huge_packet,
        huge_connection=huge_span,
        build_seconds=time.perf_counter() - started,
        checked_against_synth=check_against_synth(),
    )


def check_against_synth() -> bool:
    """Our packets must be synth's, byte for byte: one small connection through both.

    Returns False (and the capture is still used) when scapy is not installed.
    """
    try:
        import scapy  # noqa: F401
    except ImportError:
        return False
    from simulator.trace.records import Endpoint, Layer, WireRecord
    from simulator.trace.synth import synthesize

    rng = random.Random(SEED)
    client, number = (f"{CLIENT_NET}77", 40077), 77
    pair = _WebSocketPair(rng)
    writes = []  # (sender, bytes)
    request, response = pair.upgrade(f"{SERVER[0]}:{SERVER[1]}")
    writes += [(client, request), (SERVER, response)]
    for message in ("hi", rng.randbytes(3000), _text(rng, number, 1), rng.randbytes(1460 * 64 + 9)):
        sent, reply = pair.echo(message)
        writes += [(client, sent), (SERVER, reply)]
    sent, reply = pair.ping(b"12345678")
    writes += [(client, sent), (SERVER, reply)]
    sent, reply = pair.close()
    writes += [(client, sent), (SERVER, reply)]

    def endpoint(side: tuple[str, int]) -> Endpoint:
        return Endpoint(side[0], side[1])

    records = [
        WireRecord(
            i,
            float(i),
            Layer.STREAM,
            data,
            src=endpoint(side),
            dst=endpoint(SERVER if side == client else client),
            connection=number,
        )
        for i, (side, data) in enumerate(writes)
    ]
    expected = [record.data for record in synthesize(records)]
    flow = _Flow(number, client, SERVER, LAN_MSS)
    ours = flow.handshake()
    for side, data in writes:
        ours += flow.data(side, data)
    ours += flow.teardown(SERVER)
    if ours != expected:
        bad = next(i for i, (a, b) in enumerate(zip(ours, expected, strict=False)) if a != b)
        raise BenchError(
            f"the packet builder disagrees with synthesize() at packet {bad + 1} "
            f"({len(ours)} packets against {len(expected)})"
        )
    return True


# --- processes -----------------------------------------------------------------------


@dataclass
class Finished:
    returncode: int
    wall: float  # seconds from just before the fork to the exit
    maxrss_kib: int  # the process's peak resident set size (wait4's ru_maxrss)
    stdout: str
    stderr: str


GNU_TIME = "/usr/bin/time"
_MAXRSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def run_process(
    cmd: Sequence[str],
    *,
    timeout: float,
    capture: bool = True,
    env: dict[str, str] | None = None,
) -> Finished:
    """Run a command to its end, timing it and reading its peak RSS.

    The peak RSS comes from GNU time (`/usr/bin/time -v`) when it is installed, else
    from wait4(). Not from wait4() by choice: Linux carries a process's ru_maxrss over
    fork and exec, so a process started by this one (hundreds of MiB by then) would
    report at least that much; started by `time`, it starts from `time`'s ~2 MiB.
    `time` costs the same extra exec (~1 ms) on both sides of every comparison.
    Output goes to temporary files (or /dev/null), never a pipe, so a chatty process
    cannot block. Past `timeout` (or on Ctrl-C, SIGTERM) the process is killed, with what
    it started: only its own process group, by the PID we got.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(prefix="wirelab-bench-time-") as report,
    ):
        name = Path(cmd[0]).name
        if os.access(GNU_TIME, os.X_OK):
            cmd = [GNU_TIME, "-v", "-o", report.name, *cmd]
        stdout = out if capture else subprocess.DEVNULL
        start = time.perf_counter()
        # Its own process group: `time` and what it runs can be stopped together.
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env, start_new_session=True)
        reaped = False
        try:
            _await_exit(proc, timeout, name)
            _, status, usage = os.wait4(proc.pid, 0)
            reaped = True
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if not reaped:
                # Unreaped, so the PID (and the group named after it) is still the one we
                # started: stop it and the command `time` runs.
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
        found = _MAXRSS.search(Path(report.name).read_text(errors="replace"))
        out.seek(0)
        err.seek(0)
        return Finished(
            proc.returncode,
            wall,
            int(found.group(1)) if found else usage.ru_maxrss,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace")[-4000:],
        )


def _await_exit(proc: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    """Block until the process exits (without reaping it), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{name} took more than {timeout:.0f} s")
            if pidfd >= 0:
                if select.select([pidfd], [], [], left)[0]:
                    return
            else:  # no pidfd: poll without reaping
                info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                if info is not None:
                    return
                time.sleep(0.001)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


CHILD_ENV: dict[str, str] | None = None  # see child_environment()


def child_environment(folder: str) -> dict[str, str]:
    """The children's environment: bytecode caching on, the cache in our temporary folder.

    A launch should cost what it costs an installed wirelab, whose modules are
    compiled once. Where PYTHONDONTWRITEBYTECODE is set (as on the machine the
    figures below come from), every launch would compile simulator/ again (0.3-0.5 s).
    PYTHONPYCACHEPREFIX keeps the .pyc files out of the source tree; an untimed
    warm-up launch fills it.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(folder, "pycache")
    return env


def run_child(mode: str, path: str, *extra: str) -> tuple[dict[str, Any], Finished]:
    """Run this script as `--child MODE` in a fresh interpreter; its JSON and its process."""
    launch = time.monotonic_ns()  # CLOCK_MONOTONIC: the same clock in the child
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, path, str(launch)]
    done = run_process([*cmd, *extra], timeout=CHILD_TIMEOUT, env=CHILD_ENV)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise BenchError(f"child {mode} failed ({done.returncode}): {last[0]}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]), done
    except (ValueError, IndexError) as error:
        raise BenchError(f"child {mode} printed no result: {done.stdout[-200:]!r}") from error


def tshark(path: str, *args: str, output: bool = False) -> Finished:
    done = run_process(
        ["tshark", *TSHARK_DECODE, "-r", path, *args], timeout=TSHARK_TIMEOUT, capture=output
    )
    if done.returncode != 0:
        raise BenchError(
            f"tshark {' '.join(args)} failed ({done.returncode}): {done.stderr[-300:]}"
        )
    return done


# --- the children --------------------------------------------------------------------


def _since(start_ns: int) -> float:
    return (time.monotonic_ns() - start_ns) / 1e9


def _maxrss_mib() -> float:
    """This process's peak RSS so far: VmHWM (this program only, not what ran before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_first_screen_model(path: str, launch: int) -> dict[str, Any]:
    """`wirelab inspect`'s model: open the capture, the rows of the first screen."""
    from simulator.cli import _model
    from simulator.trace.pcap import open_capture
    from simulator.tui.app import InspectorApp  # noqa: F401  (imported by `wirelab inspect`)

    imported = time.monotonic_ns()
    capture = open_capture(path)
    opened = time.monotonic_ns()
    model = _model(capture)
    rows = [model.row(i) for i in range(min(FIRST_SCREEN_ROWS, len(model)))]
    done = time.monotonic_ns()
    if len(rows) < FIRST_SCREEN_ROWS or not rows[-1].protocol:
        raise BenchError(f"first screen: {len(rows)} rows")
    return {
        "imports": (imported - launch) / 1e9,
        "open": (opened - imported) / 1e9,
        "in_process": (done - imported) / 1e9,
        "from_launch": (done - launch) / 1e9,
        "rows": len(rows),
        "protocols": sorted({row.protocol for row in rows}),
    }


def child_first_screen_tui(path: str, launch: int) -> dict[str, Any]:
    """The real inspector, headless, until a frame with the packet list's rows is out."""
    from simulator.cli import _model
    from simulator.trace.pcap import open_capture
    from simulator.tui.app import InspectorApp
    from simulator.tui.packet_list import PacketList

    imported = time.monotonic_ns()
    painted: set[int] = set()
    seen: dict[str, Any] = {}
    render_line = PacketList.render_line

    def counting_render_line(self: PacketList, y: int) -> Any:
        strip = render_line(self, y)
        position = round(self.scroll_y) + y - 1
        if y >= 1 and 0 <= position < self.count:
            painted.add(position)
            seen["list"] = self
        return strip

    PacketList.render_line = counting_render_line  # type: ignore[method-assign]

    async def run() -> None:
        capture = open_capture(path)
        app = InspectorApp(_model(capture), source=os.path.basename(path))
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            packets = seen.get("list")
            if "painted" in seen or packets is None or renderable is None:
                return
            visible = min(packets.count, packets.scrollable_content_region.height - 1)
            if visible > 0 and len(painted) >= visible:
                seen["painted"] = time.monotonic_ns()
                seen["rows"] = len(painted)

        app._display = timed_display  # type: ignore[method-assign]
        async with app.run_test(size=TUI_SIZE) as pilot:
            deadline = time.monotonic() + CHILD_TIMEOUT / 2
            while "painted" not in seen:
                if time.monotonic() > deadline:
                    raise BenchError("the packet list never painted its rows")
                await pilot.pause(0.001)
            seen["indexed"] = len(capture)

    asyncio.run(run())
    done = seen["painted"]
    return {
        "imports": (imported - launch) / 1e9,
        "in_process": (done - imported) / 1e9,
        "from_launch": (done - launch) / 1e9,
        "rows": seen["rows"],
        "indexed_when_painted": seen["indexed"],
    }


def child_memory(path: str, launch: int, picks: int, seed: int, huge: int) -> dict[str, Any]:
    """Open, index fully, dissect `picks` random packets: the peak RSS at each stage."""
    from simulator.cli import _model
    from simulator.trace.pcap import open_capture
    from simulator.views.inspector import SourceModel  # noqa: F401  (imported by _model)

    stages = {"imports": _maxrss_mib()}
    start = time.monotonic_ns()
    capture = open_capture(path)
    model = _model(capture)
    for _ in model.indexing():  # the TUI's worker: the index, then the filter columns
        pass
    indexed = time.monotonic_ns()
    stages["indexed"] = _maxrss_mib()
    rng = random.Random(seed)
    chosen = [rng.randrange(len(model)) for _ in range(picks)]
    for index in chosen:
        model.dissect(index)
    stages["dissected"] = _maxrss_mib()
    huge_connection = capture.connection_of(huge)
    return {
        "picks_in_16mib_connection": sum(
            capture.connection_of(i) == huge_connection for i in chosen
        ),
        "connections_touched": len({capture.connection_of(i) for i in chosen}),
        "maxrss_mib": stages,
        "index_seconds": (indexed - start) / 1e9,
        "dissect_seconds": _since(indexed),
        "packets": len(capture),
        "picks": picks,
    }


def child_main(mode: str, path: str, launch: int, extra: Sequence[str]) -> int:
    if mode == "model":
        result = child_first_screen_model(path, launch)
    elif mode == "tui":
        result = child_first_screen_tui(path, launch)
    elif mode == "memory":
        result = child_memory(path, launch, int(extra[0]), int(extra[1]), int(extra[2]))
    else:
        raise SystemExit(f"unknown child mode {mode}")
    print(json.dumps(result), flush=True)
    return 0


# --- in-process measurements ---------------------------------------------------------


def measure_index(path: str) -> dict[str, float]:
    """Open + index the whole capture, both ways the code does it."""
    from simulator.cli import _model
    from simulator.trace.pcap import open_capture

    start = time.perf_counter()
    capture = open_capture(path)
    capture.index()
    direct = time.perf_counter() - start
    capture.close()
    start = time.perf_counter()
    capture = open_capture(path)
    model = _model(capture)
    for _ in model.indexing():  # what the inspector's background worker runs first
        if capture.done:
            break  # then it reads the filter columns: the filter section measures that
    steps = time.perf_counter() - start
    capture.close()
    return {"index": direct, "index_steps": steps}


def measure_filters(capture: Any) -> dict[str, Any]:
    """Display filters as the inspector runs them: its model's columns read once (the
    background steps `model.indexing()` runs after indexing), then each filter over every
    packet through `model.matcher`. Per filter: seconds and the packet numbers kept; or
    why it was not timed."""
    from simulator.cli import _model
    from simulator.dissect.filters import FilterError, compile_filter

    model = _model(capture)  # the capture is indexed: its steps are the columns'
    start = time.perf_counter()
    for _ in model.indexing():
        pass
    build = time.perf_counter() - start
    columns = model.columns
    if columns is None or len(columns) != len(capture):
        raise BenchError("the model read no columns for the capture")
    found: dict[str, Any] = {}
    for text in FILTERS:
        try:
            test = compile_filter(text)
        except FilterError as error:
            found[text] = {"skipped": f"not a wirelab filter here: {error}"}
            continue
        if not columns.covers(test):
            found[text] = {"skipped": "reads fields the columns do not hold: it dissects "
                           "every packet (not timed)"}  # fmt: skip
            continue
        match = model.matcher(test)
        start = time.perf_counter()
        numbers = [index + 1 for index in range(len(capture)) if match(index)]
        found[text] = {"seconds": time.perf_counter() - start, "numbers": numbers}
    return {"build": build, "filters": found}


def measure_columns_memory(path: str) -> dict[str, float]:
    """What the columns keep for the capture, and their peak while being read (tracemalloc,
    so once and untimed: it slows Python down)."""
    import tracemalloc

    from simulator.dissect.columns import Columns
    from simulator.trace.pcap import open_capture

    capture = open_capture(path)
    capture.index()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        columns = Columns(capture)
        columns.build()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        capture.close()
    return {"kept_mib": (kept - before) / MIB, "peak_mib": (peak - before) / MIB,
            "rows": sum(columns.packet(i) is not None for i in range(len(columns)))}  # fmt: skip


def measure_dissect(capture: Any, picks: Sequence[int]) -> list[float]:
    """Seconds for model.dissect(i), each on a fresh model: its connection is reassembled."""
    from simulator.cli import _model

    times = []
    for index in picks:
        model = _model(capture)
        start = time.perf_counter()
        model.dissect(index)
        times.append(time.perf_counter() - start)
    return times


def fed_before(capture: Any, index: int) -> int:
    """How many packets of its connection a fresh dissect of `index` reassembles."""
    import bisect

    number = capture.connection_of(index)
    if number is None:
        return 1
    return bisect.bisect_right(capture.connection_packets(number), index)


def huge_buffer(capture: Any, index: int) -> bytes:
    from simulator.cli import _model

    dissection = _model(capture).dissect(index)
    found = [b.data for b in dissection.buffers if len(b.data) == HUGE]
    if not found:
        sizes = [len(b.data) for b in dissection.buffers]
        raise BenchError(f"packet {index + 1} shows no 16 MiB buffer (buffers: {sizes})")
    return found[0]


def measure_hex_lines(data: bytes, rng: random.Random, sample: int) -> dict[str, float]:
    """hex_line: µs for one screen of rows, and per row over a sample spread over the buffer."""
    from simulator.dissect.hexdump import hex_line, offset_digits, row_count

    digits = offset_digits(len(data))
    total = row_count(len(data))
    middle = total // 2
    repeats = 50
    start = time.perf_counter()
    for _ in range(repeats):
        for row in range(middle, middle + HEX_ROWS):
            hex_line(data, row, digits=digits, highlight=(0, 14), cursor=0)
    screen = (time.perf_counter() - start) / repeats
    rows = [rng.randrange(total) for _ in range(sample)]
    start = time.perf_counter()
    for row in rows:
        hex_line(data, row, digits=digits, highlight=(0, 14), cursor=0)
    per_row = (time.perf_counter() - start) / sample
    return {
        "hex_line_screen_us": screen * 1e6,
        "hex_line_row_us": per_row * 1e6,
        "hex_line_all_rows_s": per_row * total,
        "rows_total": total,
    }


def measure_hex_view(data: bytes) -> dict[str, Any]:
    """The real HexView in a headless app: render_line calls and time per screen."""
    from textual.app import App, ComposeResult

    from simulator.tui.hex_view import HexView

    calls: list[tuple[int, float]] = []  # (row shown, seconds in render_line)
    frames: list[int] = []
    render_line = HexView.render_line

    def counting_render_line(self: HexView, y: int) -> Any:
        start = time.perf_counter()
        strip = render_line(self, y)
        calls.append((round(self.scroll_y) + y, time.perf_counter() - start))
        return strip

    class HexApp(App[None]):
        CSS = f"HexView {{ height: {HEX_ROWS}; }}"

        def compose(self) -> ComposeResult:
            yield HexView(id="hex")

    result: dict[str, Any] = {}

    async def run() -> None:
        app = HexApp()
        display = app._display

        def counting_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            frames.append(len(calls))

        app._display = counting_display  # type: ignore[method-assign]
        HexView.render_line = counting_render_line  # type: ignore[method-assign]
        try:
            async with app.run_test(size=TUI_SIZE) as pilot:
                view = app.query_one(HexView)
                await pilot.pause()
                actions: list[tuple[str, Callable[[], object]]] = [
                    ("top", lambda: view.show(data, name="16 MiB")),
                    ("middle", lambda: view.scroll_to(y=len(data) // 32, animate=False)),
                ]
                for label, action in actions:
                    calls.clear()
                    frames.clear()
                    start = time.perf_counter()
                    action()
                    deadline = time.monotonic() + 30
                    while not (frames and frames[-1] > 0):
                        if time.monotonic() > deadline:
                            raise BenchError("the hex view never painted")
                        await pilot.pause(0.001)
                    wall = time.perf_counter() - start
                    shown = sorted({row for row, _ in calls})
                    result[label] = {
                        "calls": len(calls),
                        "rows": [shown[0], shown[-1]] if shown else [],
                        "render_us": sum(s for _, s in calls) * 1e6,
                        "frame_ms": wall * 1e3,
                    }
        finally:
            HexView.render_line = render_line  # type: ignore[method-assign]

    asyncio.run(run())
    return result


# --- rounds --------------------------------------------------------------------------


@dataclass
class Sizes:
    packets: int = PACKETS
    picks: int = 20  # dissect picks per position per round
    memory_picks: int = 1000
    hex_sample: int = 20_000


QUICK = Sizes(packets=QUICK_PACKETS, picks=5, memory_picks=200, hex_sample=2000)


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)


class Bench:
    """The rounds: every measurement, ours and tshark's side by side, in alternating order.

    `sections`: "main" (first screen, indexing, dissecting, memory, the hex pane) and
    "filter" (display filters over the whole capture)."""

    def __init__(
        self,
        info: CaptureInfo,
        sizes: Sizes,
        use_tshark: bool,
        log: Callable[[str], None],
        *,
        sections: Sequence[str] = ("main", "filter"),
    ) -> None:
        from simulator.trace.pcap import open_capture

        self.info, self.sizes, self.use_tshark, self.log = info, sizes, use_tshark, log
        self.sections = sections
        self.path = info.path
        self.samples = Samples()
        self.capture = open_capture(self.path)
        self.capture.index()
        n = len(self.capture)
        if n != info.packets:
            raise BenchError(f"the inspector indexed {n} of {info.packets} packets")
        if "main" in sections:
            self.huge = huge_buffer(self.capture, info.huge_packet)
            self.samples.notes["huge_fed"] = fed_before(self.capture, info.huge_packet)
        self.rng = random.Random(SEED)
        self.windows = {"middle": (n // 2 - 1000, n // 2 + 1000), "end": (n - 2000, n)}
        self.selected: dict[tuple[str, str], list[int]] = {}  # (who, filter) → packet numbers

    def run(self, rounds: int) -> Samples:
        try:
            if "filter" in self.sections:
                self.columns_memory()
            for r in range(rounds):
                ours_first = r % 2 == 0  # within each pair, who goes first alternates
                self.log(f"round {r + 1}/{rounds} ({'wirelab' if ours_first else 'tshark'} first)")
                chosen = {
                    where: [self.rng.randrange(*window) for _ in range(self.sizes.picks)]
                    for where, window in self.windows.items()
                }
                pairs: list[tuple[Callable[..., None], Callable[..., None], tuple[Any, ...]]] = []
                if "main" in self.sections:
                    pairs += [
                        (self.first_screen, self.first_screen_tshark, ()),
                        (self.index, self.index_tshark, (SEED + r,)),
                        (self.dissect, self.dissect_tshark, (chosen,)),
                    ]
                if "filter" in self.sections:
                    pairs.append((self.filter, self.filter_tshark, ()))
                for ours, theirs, args in pairs:
                    steps = [ours] + ([theirs] if self.use_tshark else [])
                    for step in steps if ours_first else steps[::-1]:
                        step(*args)
                if "main" in self.sections:
                    self.hex_view()
                self.check_filters()
        finally:
            self.capture.close()
        return self.samples

    # 1. first screen
    def first_screen(self) -> None:
        model, _ = run_child("model", self.path)
        tui, _ = run_child("tui", self.path)
        add = self.samples.add
        add("screen_model_launch", model["from_launch"])
        add("screen_model_in", model["in_process"])
        add("screen_tui_launch", tui["from_launch"])
        add("screen_tui_in", tui["in_process"])
        add("imports", tui["imports"])
        self.samples.notes["tui_rows"] = tui["rows"]
        self.samples.notes.setdefault("tui_indexed_when_painted", []).append(
            tui["indexed_when_painted"]
        )
        self.log(
            f"  first screen: model {model['in_process'] * 1e3:.0f} ms in process, "
            f"{model['from_launch'] * 1e3:.0f} ms from launch; TUI "
            f"{tui['in_process'] * 1e3:.0f} / {tui['from_launch'] * 1e3:.0f} ms "
            f"({tui['rows']} rows)"
        )

    def first_screen_tshark(self) -> None:
        done = tshark(self.path, "-c", "1")
        self.samples.add("tshark_first", done.wall)
        self.log(f"  tshark -c 1: {done.wall * 1e3:.0f} ms")

    # 2. full index, and 4. memory
    def index(self, seed: int) -> None:
        times = measure_index(self.path)
        add = self.samples.add
        add("index", times["index"])
        add("index_steps", times["index_steps"])
        picks, huge = str(self.sizes.memory_picks), str(self.info.huge_packet)
        memory, done = run_child("memory", self.path, picks, str(seed), huge)
        self.samples.notes.setdefault("memory_child", []).append(memory)
        stages = memory["maxrss_mib"]
        add("rss", done.maxrss_kib / 1024)
        add("rss_indexed", stages["indexed"])
        add("rss_imports", stages["imports"])
        add("memory_dissect", memory["dissect_seconds"])
        self.log(
            f"  index {times['index']:.2f} s (index_steps {times['index_steps']:.2f} s); "
            f"peak RSS {done.maxrss_kib / 1024:.0f} MiB (imports {stages['imports']:.0f}, "
            f"indexed {stages['indexed']:.0f}; {memory['picks']} dissects in "
            f"{memory['dissect_seconds']:.1f} s)"
        )

    def index_tshark(self, seed: int) -> None:
        done = tshark(self.path)
        self.samples.add("tshark_full", done.wall)
        self.samples.add("tshark_rss", done.maxrss_kib / 1024)
        self.log(f"  tshark -r: {done.wall:.2f} s, peak RSS {done.maxrss_kib / 1024:.0f} MiB")

    # 3. dissect on selection
    def dissect(self, chosen: dict[str, list[int]]) -> None:
        for where, picks in chosen.items():
            times = measure_dissect(self.capture, picks)
            for value in times:
                self.samples.add(f"dissect_{where}", value)
            fed = [fed_before(self.capture, i) for i in picks]
            self.samples.notes.setdefault(f"fed_{where}", []).extend(fed)
            self.log(
                f"  dissect {where}: median {statistics.median(times) * 1e3:.1f} ms "
                f"({statistics.median(fed):.0f} packets of the connection reassembled)"
            )
        times = measure_dissect(self.capture, [self.info.huge_packet])
        self.samples.add("dissect_huge", times[0])
        self.log(f"  dissect the 16 MiB message: {times[0] * 1e3:.0f} ms")

    def dissect_tshark(self, chosen: dict[str, list[int]]) -> None:
        numbers = {where: picks[0] + 1 for where, picks in chosen.items()}
        numbers["huge"] = self.info.huge_packet + 1
        for where, number in numbers.items():
            done = tshark(self.path, "-Y", f"frame.number=={number}", "-V")
            self.samples.add(f"tshark_dissect_{where}", done.wall)
            self.log(f"  tshark -Y frame.number=={number} -V: {done.wall:.2f} s")

    # 6. display filters
    def columns_memory(self) -> None:
        memory = measure_columns_memory(self.path)
        self.samples.add("columns_kept", memory["kept_mib"])
        self.samples.add("columns_peak", memory["peak_mib"])
        self.samples.notes["columns_rows"] = memory["rows"]
        self.log(
            f"  filter columns: {memory['kept_mib']:.1f} MiB kept, {memory['peak_mib']:.1f} MiB "
            f"at the peak of reading; {memory['rows']:,} packets have a row"
        )

    def filter(self) -> None:
        measured = measure_filters(self.capture)
        self.samples.add("columns_build", measured["build"])
        self.log(f"  filter columns read in {measured['build']:.2f} s")
        for text, result in measured["filters"].items():
            if "skipped" in result:
                self.samples.notes.setdefault("filters_skipped", {})[text] = result["skipped"]
                self.log(f"  filter {text}: {result['skipped']}")
                continue
            self.samples.add(f"filter:{text}", result["seconds"])
            self.selected["wirelab", text] = result["numbers"]
            self.log(
                f"  filter {text}: {len(result['numbers']):,} packets in "
                f"{result['seconds'] * 1e3:.0f} ms"
            )

    def filter_tshark(self) -> None:
        for text in FILTERS:
            done = tshark(self.path, "-Y", text, "-T", "fields", "-e", "frame.number", output=True)
            numbers = [int(n) for n in done.stdout.split()]
            self.samples.add(f"tshark_filter:{text}", done.wall)
            self.selected["tshark", text] = numbers
            self.log(f"  tshark -Y {text!r}: {len(numbers):,} packets in {done.wall:.2f} s")

    def check_filters(self) -> None:
        """Both must keep the same packets, or the times compare nothing."""
        for text in FILTERS:
            ours, theirs = self.selected.get(("wirelab", text)), self.selected.get(("tshark", text))
            if ours is None or theirs is None or ours == theirs:
                continue
            differ = sorted(set(ours) ^ set(theirs))
            raise BenchError(
                f"{text!r}: wirelab keeps {len(ours):,} packets, tshark {len(theirs):,}; they "
                f"differ on {len(differ):,}, the first being packet {differ[0]}"
            )
        self.samples.notes["filters_agree"] = sorted(
            text for text in FILTERS if ("wirelab", text) in self.selected
            and self.selected["wirelab", text] == self.selected.get(("tshark", text))
        )  # fmt: skip

    # 5. the hex view of the 16 MiB message
    def hex_view(self) -> None:
        lines = measure_hex_lines(self.huge, self.rng, self.sizes.hex_sample)
        view = measure_hex_view(self.huge)
        for key in ("hex_line_screen_us", "hex_line_row_us", "hex_line_all_rows_s"):
            self.samples.add(key, lines[key])
        for where in ("top", "middle"):
            self.samples.add(f"hexview_{where}_us", view[where]["render_us"])
            self.samples.add(f"hexview_{where}_frame_ms", view[where]["frame_ms"])
            self.samples.add(f"hexview_{where}_calls", view[where]["calls"])
        self.samples.notes["hexview_rows"] = {w: view[w]["rows"] for w in ("top", "middle")}
        self.log(
            f"  hex: HexView {view['top']['calls']} + {view['middle']['calls']} render_line "
            f"calls, {view['middle']['render_us']:.0f} µs a screen; hex_line "
            f"{lines['hex_line_row_us']:.1f} µs a row, all rows ≈ "
            f"{lines['hex_line_all_rows_s']:.1f} s"
        )


# --- report --------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    unit: str
    scale: float  # multiply seconds (or MiB, ...) by this for the unit shown
    ours: str
    theirs: str | None = None
    note: str = ""


MAIN_ROWS = (
    Row("first screen from launch: 40 rows via the model", "ms", 1e3, "screen_model_launch",
        "tshark_first", "tshark -c 1"),
    Row("first screen from launch: the TUI's first frame", "ms", 1e3, "screen_tui_launch",
        "tshark_first", "tshark -c 1"),
    Row("  of which Python start + imports", "ms", 1e3, "imports"),
    Row("first screen in process: open + 40 rows", "ms", 1e3, "screen_model_in",
        "tshark_first", "tshark -c 1, startup included"),
    Row("first screen in process: the TUI's first frame", "ms", 1e3, "screen_tui_in",
        "tshark_first", "tshark -c 1, startup included"),
    Row("index the whole capture: open_capture + index()", "s", 1, "index", "tshark_full",
        "tshark -r (dissects everything)"),
    Row("  the same through model.indexing() (the TUI's worker)", "s", 1, "index_steps",
        "tshark_full", "tshark -r"),
    Row("dissect a packet on selection, middle of the file", "ms", 1e3, "dissect_middle",
        "tshark_dissect_middle", "tshark -Y frame.number==N -V: a whole file pass"),
    Row("dissect a packet on selection, end of the file", "ms", 1e3, "dissect_end",
        "tshark_dissect_end", "the same"),
    Row("dissect the packet completing the 16 MiB message", "ms", 1e3, "dissect_huge",
        "tshark_dissect_huge", "the same"),
    Row("peak RSS: open, index, dissect random packets", "MiB", 1, "rss", "tshark_rss",
        "tshark -r"),
    Row("  of which after indexing and reading the filter columns", "MiB", 1, "rss_indexed"),
    Row("  of which Python + imports", "MiB", 1, "rss_imports"),
)  # fmt: skip

HEX_ROWS_REPORT = (
    Row("HexView: render_line calls for one screen (top)", "calls", 1, "hexview_top_calls"),
    Row("HexView: render_line calls after scrolling to the middle", "calls", 1,
        "hexview_middle_calls"),
    Row("HexView: one screen, time in render_line (top)", "µs", 1, "hexview_top_us"),
    Row("HexView: one screen, time in render_line (middle)", "µs", 1, "hexview_middle_us"),
    Row("HexView: show() until the frame is out", "ms", 1, "hexview_top_frame_ms"),
    Row("HexView: scroll to the middle until the frame is out", "ms", 1,
        "hexview_middle_frame_ms"),
    Row(f"hex_line × {HEX_ROWS} rows (one screen)", "µs", 1, "hex_line_screen_us"),
    Row("hex_line, per row (random rows)", "µs", 1, "hex_line_row_us"),
    Row("hex_line × all 1,048,576 rows (extrapolated)", "s", 1, "hex_line_all_rows_s"),
)  # fmt: skip


def filter_rows() -> tuple[Row, ...]:
    """The filter section: the columns, read once, then each filter over them."""
    rows = [
        Row("filter columns: read the capture once (background)", "s", 1, "columns_build"),
        Row("  what they keep", "MiB", 1, "columns_kept"),
        Row("  peak while reading them", "MiB", 1, "columns_peak"),
    ]
    for text in FILTERS:
        rows.append(Row(f"filter {text}", "ms", 1e3, f"filter:{text}",
                        f"tshark_filter:{text}", "tshark -Y FILTER -T fields"))  # fmt: skip
    return tuple(rows)


def _num(value: float, unit: str = "") -> str:
    if unit == "calls":
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def summarize(samples: Samples) -> dict[str, dict[str, Any]]:
    return {
        key: {"median": statistics.median(v), "min": min(v), "max": max(v), "samples": v}
        for key, v in samples.values.items()
        if v
    }


def table(rows: Sequence[Row], stats: dict[str, dict[str, Any]], *, compare: bool) -> str:
    cols = ["measurement", "unit", "wirelab"]
    if compare:
        cols += ["tshark", "ratio", "tshark command"]
    body = []
    for row in rows:
        if row.ours not in stats:
            continue
        ours = stats[row.ours]["median"] * row.scale
        cells = [row.label, row.unit, _num(ours, row.unit)]
        if compare:
            if row.theirs is not None and row.theirs in stats:
                theirs = stats[row.theirs]["median"] * row.scale
                cells += [_num(theirs), f"{theirs / ours:.2f}×", row.note]
            else:
                cells += ["", "", ""]
        body.append(cells)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            left = i == 0 or (compare and i == len(cols) - 1)
            out.append(cell.ljust(width) if left else cell.rjust(width))
        return "  ".join(out).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, body)])


def versions(use_tshark: bool) -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version(), "textual": version("textual")}
    if use_tshark:
        done = subprocess.run(["tshark", "--version"], capture_output=True, text=True, timeout=30)
        found["tshark"] = done.stdout.splitlines()[0] if done.stdout else "unknown"
    found["wirelab"] = revision()
    return found


def check_tshark(info: CaptureInfo, log: Callable[[str], None]) -> None:
    """tshark must read every packet and see the WebSocket frames: one untimed pass."""
    done = subprocess.run(
        ["tshark", *TSHARK_DECODE, "-r", info.path, "-T", "fields", "-e", "frame.number",
         "-e", "_ws.col.Protocol"],
        capture_output=True, text=True, timeout=TSHARK_TIMEOUT,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    websocket = sum(line.endswith("WebSocket") for line in lines)
    if done.returncode != 0 or len(lines) != info.packets or not websocket:
        raise BenchError(
            f"tshark read {len(lines)} of {info.packets} packets, {websocket} WebSocket "
            f"(exit status {done.returncode}): {done.stderr[-200:]}"
        )
    done = subprocess.run(
        ["tshark", *TSHARK_DECODE, "-r", info.path, "-Y", f"frame.number=={info.huge_packet + 1}",
         "-V"],
        capture_output=True, text=True, timeout=TSHARK_TIMEOUT,
    )  # fmt: skip
    if f"Payload length: {HUGE}" not in done.stdout and "16777216" not in done.stdout:
        raise BenchError("tshark does not reassemble the 16 MiB message")
    log(f"tshark reads all {len(lines):,} packets ({websocket:,} shown as WebSocket)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, metavar="N", help="rounds (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: 1 round, {QUICK_PACKETS:,} packets, fewer picks",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--packets", type=int, metavar="N", help=f"packets in the capture (default {PACKETS:,})"
    )
    parser.add_argument("--picks", type=int, metavar="N", help="dissect picks per place per round")
    parser.add_argument("--save", metavar="FILE", help="also keep the generated capture here")
    parser.add_argument("--no-tshark", action="store_true", help="measure wirelab only")
    parser.add_argument(
        "--section",
        choices=("all", "main", "filter"),
        default="all",
        help="main: first screen, index, dissect, memory, hex pane; filter: display filters "
        "(default: all)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        mode, path, launch, *extra = args.child
        return child_main(mode, path, int(launch), extra)
    sizes = QUICK if args.quick else Sizes()
    if args.packets is not None:
        sizes = replace(sizes, packets=args.packets)
    if args.picks is not None:
        sizes = replace(sizes, picks=args.picks)
    rounds = 1 if args.quick else args.rounds
    if rounds < 1 or sizes.packets < 5000 or sizes.picks < 1:
        raise SystemExit("--rounds and --picks must be at least 1, --packets at least 5000")
    use_tshark = not args.no_tshark and shutil.which("tshark") is not None

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if not use_tshark and not args.no_tshark:
        log("tshark not found: measuring wirelab only")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory(prefix="wirelab-bench-") as folder:
            path = os.path.join(folder, "inspect-bench.pcap")
            log(f"generating {sizes.packets:,} packets ...")
            info = build_capture(path, sizes.packets)
            log(
                f"  {info.packets:,} packets, {info.connections} connections, "
                f"{info.messages:,} messages, {info.size / MIB:.1f} MiB in "
                f"{info.build_seconds:.1f} s; the 16 MiB message completes in packet "
                f"{info.huge_packet + 1:,}"
                + ("; packets identical to synthesize()" if info.checked_against_synth else "")
            )
            if args.save:
                shutil.copyfile(path, args.save)
                log(f"  saved as {args.save}")
            with open(path, "rb") as file:  # the page cache, warm for everyone
                while file.read(8 * MIB):
                    pass
            if use_tshark:
                check_tshark(info, log)
            global CHILD_ENV
            CHILD_ENV = child_environment(folder)
            sections = ("main", "filter") if args.section == "all" else (args.section,)
            if "main" in sections:
                log("warm-up launches (untimed): the TUI, the model" + ", tshark" * use_tshark)
                run_child("tui", path)
                run_child("model", path)
            if use_tshark:
                tshark(path, "-c", "1")
            bench = Bench(info, sizes, use_tshark, log, sections=sections)
            samples = bench.run(rounds)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"inspector.py: {error}")
        return 1
    stats = summarize(samples)
    load_after = os.getloadavg()
    found = versions(use_tshark)
    if args.json:
        report = {
            "date": started,
            "rounds": rounds,
            "sizes": asdict(sizes),
            "capture": {k: v for k, v in asdict(info).items() if k != "path"},
            "loadavg": {"before": load_before, "after": load_after},
            **found,
            "tshark_options": list(TSHARK_DECODE),
            "filters": list(FILTERS),
            "results": stats,
            "notes": samples.notes,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    header = [
        f"wirelab inspector benchmark, {started}, median of {rounds} round{'s' * (rounds > 1)}",
        f"wirelab {found['wirelab']}; Python {found['python']}, Textual {found['textual']}"
        + (f"; {found['tshark']}" if use_tshark else ""),
        f"capture: {info.packets:,} packets (IPv4/TCP, raw IP), {info.connections} WebSocket "
        f"connections, {info.size / MIB:.1f} MiB; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after",
        "",
    ]
    print("\n".join(header))
    if "main" in sections:
        print(table(MAIN_ROWS, stats, compare=use_tshark))
        print()
        rows = 1_048_576
        screen = stats["hexview_middle_us"]["median"]
        print(f"hex pane, one 16 MiB message ({rows:,} rows), {HEX_ROWS} rows on screen")
        print()
        print(table(HEX_ROWS_REPORT, stats, compare=False))
        all_rows = stats["hex_line_all_rows_s"]["median"] * 1e6
        print(f"\nall rows / one HexView screen: {all_rows / screen:,.0f}×")
    if "filter" in sections:
        if "main" in sections:
            print()
        print(f"display filters over all {info.packets:,} packets\n")
        print(table(filter_rows(), stats, compare=use_tshark))
        agree = samples.notes.get("filters_agree", [])
        for text, why in samples.notes.get("filters_skipped", {}).items():
            print(f"{text}: {why}")
        if use_tshark:
            print(f"the same packets as tshark: {len(agree)} of {len(FILTERS)} filters")
    if use_tshark:
        print(
            "\nratio = tshark / wirelab: ≥ 1.00× means wirelab is faster (or smaller). tshark "
            f"runs with {' '.join(TSHARK_DECODE)}\n(so it decodes the WebSocket traffic); its "
            "times are whole-process wall times, startup and file pass included."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
