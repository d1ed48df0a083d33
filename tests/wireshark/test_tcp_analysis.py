"""Wirelab's TCP analysis flags (`simulator.trace.analysis`) agree with tshark's, packet for packet.

For each capture and each flag, the packets wirelab marks must be exactly those tshark
marks (`tcp.analysis.<flag>`), with the same duplicate-ACK numbers and frames and the same
bracketed prefixes in the Info column. The captures:

- every built-in scenario, at the client's link;
- the packets of every lesson run (the flow-control lessons show zero windows, probes,
  window updates, full windows, duplicate ACKs and retransmissions);
- a bulk transfer with loss, seen at the sender's end and at the receiver's;
- crafted conversations that between them raise every flag;
- a seeded random mix of odd segments (gaps, resends, swaps, probes, resets, new SYNs);
- a real transfer between two sockets of this kernel, through a relay that drops and
  reorders segments, captured by tshark, in a network namespace of the test's own.

One tshark run per capture.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.ip.packet import build_ipv4, pack_address
from simulator.lessons import load_course
from simulator.lessons.run import LessonRun
from simulator.network.scenarios import BUILT_IN, bulk_transfer, run_built_in
from simulator.tcp.segment import ACK, FIN, PSH, RST, SYN, Segment
from simulator.tcp.wire import encode
from simulator.trace import LinkType, WireRecord, write_pcap
from simulator.trace.analysis import FLAGS, analyse, info_marks
from simulator.trace.pcap import open_capture
from simulator.trace.records import Layer
from simulator.trace.synth import export_pcap
from tests.wireshark.support import ended, in_ci, require_tshark, tshark

ROOT = Path(__file__).resolve().parents[2]
LESSONS = [lesson.id for lesson in load_course(user=False).lessons]
BULK_LINKS = {"sender": None, "receiver": "r3-server"}
NAMES = [
    *(f"scenario {name}" for name in sorted(BUILT_IN)),
    *(f"lesson {lesson}" for lesson in LESSONS),
    *(f"bulk at the {end}" for end in BULK_LINKS),
    "crafted",
    "random",
]

# Flags each capture must show (in tshark's view too), so that agreeing is no empty claim.
EXPECTED: dict[str, set[str]] = {
    "scenario lost-segment": {"retransmission"},
    "scenario flow-control-slow-reader": {
        "zero_window", "zero_window_probe", "zero_window_probe_ack", "window_update",
        "window_full",
    },
    "lesson tcp-flow-control": {
        "zero_window", "zero_window_probe", "zero_window_probe_ack", "window_update",
        "window_full", "duplicate_ack", "fast_retransmission", "retransmission",
    },
    "lesson lab-stalled-reader": {
        "zero_window", "zero_window_probe", "zero_window_probe_ack", "window_update",
        "window_full",
    },
    "lesson tcp-handshake": {"retransmission"},
    "bulk at the sender": {"duplicate_ack", "fast_retransmission", "retransmission"},
    "bulk at the receiver": {"duplicate_ack", "lost_segment", "out_of_order"},
    "crafted": set(FLAGS),
    "random": set(FLAGS),
}  # fmt: skip

INFO = "_ws.col.Info"
DUP_NUM, DUP_FRAME = "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame"


@dataclass
class Verdict:
    """What one tool says of a capture: for each flag, the packets that carry it; the
    duplicate-ACK number and frame of each duplicate ACK; each packet's Info prefixes."""

    flags: dict[str, set[int]]
    duplicates: dict[int, tuple[int, int]]
    marks: dict[int, list[str]]


def tshark_verdict(path: Path) -> Verdict:
    fields = [f"tcp.analysis.{name}" for name in FLAGS]
    args = ["-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for name in ("frame.number", *fields, DUP_NUM, DUP_FRAME, INFO):
        args += ["-e", name]
    verdict = Verdict({name: set() for name in FLAGS}, {}, {})
    for line in tshark(*args).splitlines():
        number_text, *values, dup_num, dup_frame, info = line.split("\t")
        number = int(number_text)
        for name, value in zip(FLAGS, values, strict=True):
            if value:
                verdict.flags[name].add(number)
        if dup_num:
            verdict.duplicates[number] = (int(dup_num), int(dup_frame))
        marks = []  # the analysis's among the bracketed prefixes ("[Continuation to #3]" is not)
        while info.startswith("[") and "] " in info:
            mark, _, info = info.partition("] ")
            if mark.startswith("[TCP "):
                marks.append(mark + "]")
        if marks:
            verdict.marks[number] = marks
    return verdict


def wirelab_verdict(path: Path) -> Verdict:
    with open_capture(path) as capture:
        capture.index()
        found = analyse(capture)
    verdict = Verdict({name: set() for name in FLAGS}, {}, {})
    for index, analysis in found.items():
        number = index + 1
        for name in analysis.flags:
            verdict.flags[name].add(number)
        if analysis.duplicate_ack_num is not None:
            assert analysis.duplicate_ack_frame is not None
            verdict.duplicates[number] = (analysis.duplicate_ack_num, analysis.duplicate_ack_frame)
        if marks := info_marks(analysis, number):
            verdict.marks[number] = marks
    return verdict


def assert_agree(path: Path) -> dict[str, int]:
    """Compare the two verdicts on `path`; returns how many packets carry each flag."""
    theirs, ours = tshark_verdict(path), wirelab_verdict(path)
    for name in FLAGS:
        assert ours.flags[name] == theirs.flags[name], (
            f"{path.name}: tcp.analysis.{name}: wirelab only "
            f"{sorted(ours.flags[name] - theirs.flags[name])}, tshark only "
            f"{sorted(theirs.flags[name] - ours.flags[name])}"
        )
    assert ours.duplicates == theirs.duplicates
    assert ours.marks == theirs.marks
    return {name: len(numbers) for name, numbers in theirs.flags.items() if numbers}


# --- the captures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("analysis")
    out: dict[str, Path] = {}

    def path(name: str) -> Path:
        out[name] = folder / f"{name.replace(' ', '-')}.pcap"
        return out[name]

    for name in sorted(BUILT_IN):
        run_built_in(name, 0).write_pcap(path(f"scenario {name}"))
    for lesson in load_course(user=False).lessons:
        trace, _ = LessonRun(lesson).capture(None)
        export_pcap(list(trace), path(f"lesson {lesson.id}"))
    bulk = bulk_transfer(3, 1 << 20)
    for end, link in BULK_LINKS.items():
        bulk.write_pcap(path(f"bulk at the {end}"), at=link)
    write_pcap(path("crafted"), records(crafted()))
    write_pcap(path("random"), records(scrambled(random.Random(2024))))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_flags_agree_with_tshark(name: str, captures: dict[str, Path]) -> None:
    require_tshark()
    counts = assert_agree(captures[name])
    missing = EXPECTED.get(name, set()) - set(counts)
    assert not missing, f"{name}: no packet flagged {sorted(missing)} ({counts})"


# --- crafted conversations ---------------------------------------------------------------------

Frame = tuple[float, bytes]


def records(frames: list[Frame]) -> list[WireRecord]:
    return [
        WireRecord(i, when, Layer.LINK, data, LinkType.RAW) for i, (when, data) in enumerate(frames)
    ]


class Talk:
    """One TCP conversation, written segment by segment: `c` is the client, `s` the server."""

    def __init__(self, frames: list[Frame], port: int, start: float, server: int = 80) -> None:
        self.frames = frames
        self.ends = {"c": ("10.0.0.1", port), "s": ("10.0.0.2", server)}
        self.now = start

    def send(
        self, side: str, seq: int, ack: int, flags: int = ACK, *, window: int = 1000,
        data: int = 0, wscale: int | None = None, after: float = 0.001,
    ) -> None:  # fmt: skip
        self.now += after
        (src, sport), (dst, dport) = self.ends[side], self.ends["s" if side == "c" else "c"]
        segment = Segment(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, window,
                          b"d" * data, wscale=wscale)  # fmt: skip
        source, destination = pack_address(src), pack_address(dst)
        packet = build_ipv4(source, destination, 6, encode(segment, source, destination))
        self.frames.append((self.now, packet))


def crafted() -> list[Frame]:
    """Conversations that between them raise every flag Wireshark's analysis has."""
    frames: list[Frame] = []
    # Window scaling, a zero window, probes, keep-alives, duplicate ACKs, resends.
    t = Talk(frames, 40001, 1000.0)
    t.send("c", 100, 0, SYN, window=65535, wscale=2)
    t.send("s", 900, 101, SYN | ACK, window=65535, wscale=2, after=0.010)  # RTT 10 ms
    t.send("c", 101, 901, window=1000, after=0.010)
    t.send("s", 901, 101, window=250)  # 250 << 2 = 1000 bytes
    t.send("c", 101, 901, data=600)
    t.send("c", 701, 901, data=400)  # to 1101 = 101 + 1000: window full
    t.send("s", 901, 1101, window=0)  # zero window
    t.send("c", 1101, 901, data=1, after=0.2)  # zero-window probe
    t.send("s", 901, 1101, window=0)  # its ACK, still zero
    t.send("s", 901, 1101, window=500, after=0.1)  # window update
    t.send("c", 1100, 901, after=5.0)  # keep-alive
    t.send("s", 901, 1101, window=500)  # keep-alive ACK
    t.send("c", 1101, 901, data=100)
    t.send("c", 1201, 901, data=100)  # lost on the way
    t.send("c", 1301, 901, data=100)
    t.send("s", 901, 1201, window=500)
    t.send("s", 901, 1201, window=500)  # duplicate ACK #1
    t.send("s", 901, 1201, window=500)  # #2
    t.send("c", 1201, 901, data=100)  # fast retransmission
    t.send("s", 901, 1401, window=500)
    t.send("c", 1301, 901, data=100, after=0.3)  # spurious: ACKed already
    t.send("c", 1401, 901, data=100)
    t.send("c", 1401, 901, data=100, after=0.3)  # retransmission, on a timeout
    t.send("c", 1601, 901, data=100)  # 1501 never seen: previous segment not captured
    t.send("c", 1501, 901, data=100, after=0.002)  # out of order (2 ms < the RTT)
    t.send("s", 901, 1801, window=500)  # ACKs 1701-1800, never seen: ACKed unseen segment
    t.send("c", 1801, 901, FIN | ACK)
    t.send("c", 1801, 901, FIN | ACK, after=0.3)  # FIN resent
    t.send("s", 901, 1802, FIN | ACK, window=500)
    t.send("c", 1802, 902, RST, window=0, after=0.001)  # RST: never a zero window
    # A new connection on the same ports: a SYN with a new initial sequence number.
    t.send("c", 7000, 0, SYN, window=65535, after=1.0)
    t.send("s", 3000, 7001, SYN | ACK, window=65535)
    t.send("c", 7001, 3001, window=65535)
    t.send("s", 3001, 7001, window=500)
    t.send("c", 7001, 3001, data=500)  # no Window Scale: 500 bytes fill the window
    # A shift count above 14 means 14 (RFC 7323 §2.3).
    t = Talk(frames, 40002, 2000.0)
    t.send("c", 0xFFFFFF00, 0, SYN, window=65535, wscale=15)
    t.send("s", 5000, 0xFFFFFF01, SYN | ACK, window=65535, wscale=15)
    t.send("c", 0xFFFFFF01, 5001, window=4)
    t.send("s", 5001, 0xFFFFFF01, window=1)  # 1 << 14
    t.send("c", 0xFFFFFF01, 5001, data=1 << 14)  # across the wrap: window full
    # Until its first ACK, the window a side sent with its SYN is not scaled.
    t = Talk(frames, 40003, 3000.0)
    t.send("c", 10, 0, SYN, window=65535, wscale=7)
    t.send("s", 20, 11, SYN | ACK, window=100, wscale=7)
    t.send("c", 11, 21, window=100)
    t.send("c", 11, 21, data=100)  # 100, not 100 << 7: window full
    # Joined mid-stream: no handshake, no window scaling known.
    t = Talk(frames, 40004, 4000.0)
    t.send("c", 5000, 8000, data=100)
    t.send("s", 8000, 4000, window=1)  # ACKs data before the capture started
    t.send("c", 5100, 8000, data=1)  # no "window full": the scaling is unknown
    # Window Scale in the SYN-ACK only: no scaling; then a SYN-ACK with another ISN.
    t = Talk(frames, 40005, 5000.0)
    t.send("c", 10, 0, SYN, window=65535)
    t.send("s", 20, 11, SYN | ACK, window=65535, wscale=7)
    t.send("c", 11, 21, window=100)
    t.send("s", 21, 11, window=500)
    t.send("c", 11, 21, data=500)  # 500, not 500 << 7: window full
    t.send("s", 3000, 11, SYN | ACK, window=65535, after=0.3)  # ports reused
    # Wireshark remembers up to 10,000 segments not yet ACKed (and past that does not count
    # a FIN's sequence number); an ACK makes it forget those it covers. (Port 4: no
    # protocol there, so tshark does not try to reassemble 10,000 bytes of HTTP.)
    t = Talk(frames, 40006, 6000.0, server=4)
    t.send("c", 1000, 0, SYN, window=65535)
    seq = 1001
    for count in range(9999):
        t.send("c", seq, 5, data=1, after=0.0001)
        seq += 1
        if count == 4999:
            t.send("s", 5, seq, window=1000)
    t.send("c", seq, 5, FIN | ACK)  # counted: only 5,000 segments are waiting
    t.send("c", seq + 1, 5, data=5)
    return frames


def scrambled(rng: random.Random, conversations: int = 80) -> list[Frame]:
    """Seeded random conversations full of gaps, resends, swaps, probes, resets and new SYNs:
    the cases where one rule of the analysis takes precedence over another."""
    frames: list[Frame] = []
    for number in range(conversations):
        chunk: list[Frame] = []
        t = Talk(chunk, 41000 + number, rng.choice([0.0, 1.0, 1.7e9]))
        isn = [rng.choice([rng.randrange(1 << 32), 0xFFFFFF00, 1]) for _ in "cs"]
        sent: dict[str, list[tuple[int, int]]] = {"c": [], "s": []}
        window = {"c": 1000, "s": 4096}
        if rng.random() < 0.8:
            t.send("c", isn[0], 0, SYN, window=65535, wscale=rng.choice([None, 0, 7]))
            t.send("s", isn[1], isn[0] + 1, SYN | ACK, window=65535, wscale=rng.choice([None, 3]))
        nxt = {"c": isn[0] + 1, "s": isn[1] + 1}
        acked = {"c": nxt["s"], "s": nxt["c"]}
        for _ in range(rng.randrange(5, 40)):
            side = rng.choice("cs")
            other = "s" if side == "c" else "c"
            gap = rng.choice([0, 0.0001, 0.001, 0.0025, 0.004, 0.015, 0.025, 0.3])
            what = rng.random()
            if what < 0.3:  # new data, sometimes not captured
                size = rng.choice([1, 2, 100, 1000])
                if rng.random() > 0.1:
                    t.send(side, nxt[side], acked[side], ACK | PSH, window=window[side],
                           data=size, after=gap)  # fmt: skip
                else:
                    t.now += gap
                sent[side].append((nxt[side], size))
                nxt[side] += size
            elif what < 0.4 and sent[side]:  # a resend
                seq, size = rng.choice(sent[side])
                t.send(side, seq, acked[side], window=window[side], data=size, after=gap)
            elif what < 0.45 and len(chunk) > 2:  # the last two swapped
                (t1, p1), (t2, p2) = chunk[-2], chunk[-1]
                chunk[-2:] = [(t1, p2), (t2, p1)]
            elif what < 0.65:  # ACKs, often repeated; now and then beyond what was sent
                acked[side] = nxt[other] + (rng.choice([0, 0, 0, 50]))
                for _ in range(rng.choice([1, 1, 2, 3])):
                    t.send(side, nxt[side], acked[side], window=window[side], after=gap)
                    gap = 0.0001
            elif what < 0.75:  # a new window, maybe zero
                window[side] = rng.choice([0, 0, 100, 1000, 4096])
                t.send(side, nxt[side], acked[side], window=window[side], after=gap)
            elif what < 0.82:  # a keep-alive or a probe
                seq = nxt[side] - rng.choice([0, 1])
                t.send(side, seq, acked[side], window=window[side], data=rng.choice([0, 1]),
                       after=gap)  # fmt: skip
            elif what < 0.87:  # FIN
                t.send(side, nxt[side], acked[side], FIN | ACK, window=window[side], after=gap)
                nxt[side] += 1
            elif what < 0.91:  # RST
                t.send(side, nxt[side] + rng.choice([0, 77]), acked[side], RST,
                       window=rng.choice([0, 100]), after=gap)  # fmt: skip
            else:  # a SYN again: resent, or a new connection
                if rng.random() < 0.5:
                    isn[0] = rng.randrange(1 << 32)
                t.send("c", isn[0], 0, SYN, window=65535, after=gap)
                nxt["c"] = isn[0] + 1
                acked["s"] = nxt["c"]
        frames += chunk
    return frames


# --- a real transfer, with loss ---------------------------------------------------------------

UNAVAILABLE = 77  # the child's exit status when this machine cannot run it
TRANSFER = 300_000  # bytes
NETNS_TIMEOUT = 30.0


def test_a_real_lossy_transfer_agrees_with_tshark(tmp_path: Path) -> None:
    """Two sockets of this kernel, a client sending 300 KB to a server, talk through a
    relay that drops and reorders some segments (a TUN device read and written by a
    thread: this test's network emulator); tshark captures on that device. All in a
    network namespace of the test's own, made with `unshare` (as root, through an
    unprivileged user namespace, or with passwordless sudo)."""
    require_tshark()
    path = tmp_path / "lossy.pcap"
    done = None
    for prefix in namespace_commands():
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "tests.wireshark.test_tcp_analysis", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=NETNS_TIMEOUT,
            check=False,
        )
        if done.returncode != UNAVAILABLE:
            break
    if done is None or done.returncode == UNAVAILABLE:
        why = "no network namespace with a TUN device could be made here" + (
            f": {done.stderr.strip().splitlines()[-1]}" if done and done.stderr.strip() else ""
        )
        if in_ci():
            pytest.fail(why)
        pytest.skip(why)
    assert done.returncode == 0, done.stderr
    counts = assert_agree(path)
    missing = {"lost_segment", "duplicate_ack"} - set(counts)
    assert not missing, f"no packet flagged {sorted(missing)} ({counts}); {done.stderr}"
    assert {"retransmission", "fast_retransmission"} & set(counts), counts


def namespace_commands() -> Iterator[list[str]]:
    """The ways to run a command in a new network namespace this machine may offer."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return
    if os.geteuid() == 0:
        yield [unshare, "--net"]
        return
    yield [unshare, "--net", "--map-root-user"]
    if shutil.which("sudo"):
        yield ["sudo", "-n", unshare, "--net"]


TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
TUN = "wltest0"
PORT = 8080
CLIENT, SERVER = "10.9.0.1", "10.9.0.2"
SERVER_SEEN_AS = "10.9.1.2"  # the relay turns 10.9.0.x into 10.9.1.x and back


def relay(tun: int, stop: threading.Event, rng: random.Random) -> None:
    """Send every IPv4 packet the kernel routes into the TUN device back in, swapped
    from 10.9.0.a → 10.9.1.b to 10.9.1.a → 10.9.0.b (the sums, and so the checksums,
    stay the same), dropping 10% of the data segments and 3% of the rest, holding back
    3% of them until the next one has gone (never a SYN, FIN or RST)."""
    held: bytes | None = None
    while not stop.is_set():
        readable, _, _ = select.select([tun], [], [], 0.05)
        if not readable:
            if held is not None:
                os.write(tun, held)
                held = None
            continue
        data = bytearray(os.read(tun, 65535))
        if len(data) < 40 or data[0] >> 4 != 4 or data[9] != 6:
            continue
        data[14], data[18] = 1, 0
        ihl = (data[0] & 0x0F) * 4
        has_data = len(data) > ihl + (data[ihl + 12] >> 4) * 4
        if not data[ihl + 13] & (SYN | FIN | RST):
            draw = rng.random()
            if draw < (0.10 if has_data else 0.03):
                continue
            if has_data and draw < 0.13 and held is None:
                held = bytes(data)
                continue
        os.write(tun, bytes(data))
        if held is not None:
            os.write(tun, held)
            held = None


def lossy_transfer(path: Path) -> int:
    """In the network namespace: the transfer, captured into `path`. Returns the exit status."""

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        print("not in a network namespace of its own: leaving this one alone", file=sys.stderr)
        return UNAVAILABLE
    try:
        ip("link", "set", "lo", "up")
        tun = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", TUN.encode(), IFF_TUN | IFF_NO_PI))
        ip("link", "set", TUN, "up")
        ip("addr", "add", f"{CLIENT}/24", "dev", TUN)
        ip("addr", "add", f"{SERVER}/24", "dev", TUN)
        ip("route", "add", "10.9.1.0/24", "dev", TUN)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"cannot set up the namespace: {error}", file=sys.stderr)
        return UNAVAILABLE
    capture = subprocess.Popen(
        [require_tshark(), "-i", TUN, "-f", f"tcp port {PORT}", "-w", str(path),
         "-a", "duration:20"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert capture.stderr is not None
    said = []
    for line in capture.stderr:  # tshark stops by itself after 20 s in any case
        said.append(line)
        if "Capture started" in line:
            break
    else:
        print(f"tshark could not capture: {''.join(said)}", file=sys.stderr)
        return UNAVAILABLE
    stop = threading.Event()
    relaying = threading.Thread(target=relay, args=(tun, stop, random.Random(7)), daemon=True)
    relaying.start()
    received: list[int] = []
    try:
        with socket.create_server((SERVER, PORT)) as server:
            server.settimeout(10)

            def serve() -> None:
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(10)
                    received.append(sum(iter(lambda: len(conn.recv(65536)), 0)))

            serving = threading.Thread(target=serve, daemon=True)
            serving.start()
            with socket.create_connection(
                (SERVER_SEEN_AS, PORT), timeout=10, source_address=(CLIENT, 0)
            ) as client:
                client.sendall(bytes(TRANSFER))
                client.shutdown(socket.SHUT_WR)
                client.recv(1)  # the server's FIN
            serving.join(10)
        assert received == [TRANSFER], received
        for _ in range(100):  # until the end of both views of the connection is written
            if ended(path, connections=2):  # the two views: before and after the relay
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the capture never held the end of the connection")
    finally:
        stop.set()
        relaying.join(5)
        with contextlib.suppress(ProcessLookupError):
            capture.send_signal(signal.SIGINT)
        try:
            capture.wait(10)
        except subprocess.TimeoutExpired:
            capture.kill()
            capture.wait()
        if path.exists():
            path.chmod(0o644)  # made by root, with sudo: the test reads it
    return 0


if __name__ == "__main__":
    sys.exit(lossy_transfer(Path(sys.argv[1])))
