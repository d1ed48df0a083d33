"""Classroom benchmark: one teacher's `Share` serving many followers, from the teacher's side.

This process is the teacher: it runs `simulator.live.classroom.Share` on
`share_server(...)` in its own asyncio loop, as `wirelab teach --share` does
(without the Textual app), with a lesson of one checkpoint whose answer is 61.
The followers (1,000 by default) run in another process, started as
`classroom.py --followers-process URL`, so the CPU measured is the teacher's:
raw sockets in one epoll loop (Linux), each doing what a real follower does —
the upgrade to ws://127.0.0.1:PORT/CODE by hand, a `join` with its own key and
name, reading `hello`, `welcome`, every `moment` (in order) and its `verdict`,
and answering when told to. The followers' process reports arrivals to this one
as JSON lines on its stdout, with CLOCK_MONOTONIC timestamps (`time.monotonic()`,
one clock for every process on Linux); it takes its orders on its stdin.

Measured:

- step reach: `share.move(...)` to a new step, one at a time; from just before
  the call until the last follower has read that moment;
- answer tally: the followers' process is told (on its stdin, not over the
  classroom channel) to answer the checkpoint at once, follower i with
  ("61", "62", "64", "61")[i % 4]; from that order until the teacher's poll
  holds every answer; then the reveal, `move(..., revealed=(step,))`, until
  every follower has its verdict (each checked, and the tally line too);
- the teacher process's CPU time (`time.process_time()`) and its RSS (VmRSS).

Progress goes to stderr, the table (or `--json`) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import platform
import resource
import select
import signal
import socket
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script

from simulator.live.classroom import (
    MAX_STEPS,
    Position,
    Share,
    Verdict,
    class_url,
    decode,
    share_server,
)
from simulator.live.poll import MAX_MEMBERS
from simulator.ws import Opcode, serialize_frame
from simulator.ws.handshake import accept_key

HOST = "127.0.0.1"
LESSON = "tcp-handshake"
DIGEST = "0123456789abcdef"
TITLE = "The TCP handshake"
RIGHT = "61"
MIX = ("61", "62", "64", "61")  # follower i answers MIX[i % 4]
MASK = b"\x5a\x17\xc3\x08"  # fixed: the followers' frames are built once
SPARE_FILES = 64  # open files beyond one per follower
STOP_TIMEOUT = 5.0  # SIGTERM, then SIGKILL after this long
JOIN_TIME = 0.05  # s a follower, over --timeout, for all of them to join
GOAL_REACH_P95_MS = 100.0
GOAL_TALLY_MS = 1000.0  # for 1,000 answers


class BenchError(Exception):
    """A run cannot go on: reported in one line, no traceback."""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def raise_open_files(need: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit if `need` files do not
    fit under it; the soft limit now. `BenchError` when even the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        raise BenchError(f"{need} open files are needed, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kb() -> int | None:
    """This process's resident set size (VmRSS), kB; None when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- the followers (their own process) ---------------------------------------------------


def key_of(index: int) -> str:
    return f"{index:016x}"  # 16 hex digits, unique in the class


def name_of(index: int) -> str:
    return f"s{index}"


def text_frame(fields: dict[str, object]) -> bytes:
    data = json.dumps(fields, separators=(",", ":")).encode()
    return serialize_frame(Opcode.TEXT, data, masking_key=MASK)


class Seat:
    """One follower in the followers' process."""

    __slots__ = ("answer", "hello", "index", "number", "out", "partial", "seq", "sock")

    def __init__(self, index: int, sock: socket.socket) -> None:
        self.index = index
        self.sock = sock
        self.partial = b""  # an incomplete frame
        self.out = b""  # bytes the socket did not take yet
        self.seq = -1  # the last moment's seq
        self.hello = False
        self.number: int | None = None  # from the teacher's welcome
        self.answer: str | None = None  # sent, waiting for its verdict


class Class:
    """Every follower's socket in one epoll, with the control pipe (stdin)."""

    def __init__(self, url: str, count: int, timeout: float) -> None:
        address, _, path = url.partition("/")
        host, _, port = address.rpartition(":")
        self.host, self.port, self.path = host, int(port), "/" + path
        self.count = count
        self.timeout = timeout
        self.seats: list[Seat] = []
        self.by_fd: dict[int, Seat] = {}
        self.epoll = select.epoll()
        self.control = b""  # an incomplete line from stdin
        self.quit = False
        self.welcomed = 0
        self.arrivals: dict[int, list[float]] = {}  # seq: [followers, first, last]
        self.asked: tuple[str, int] | None = None  # the checkpoint the class answers
        self.verdicts = 0
        self.right = 0
        self.mismatched: list[str] = []
        self.last_verdict = 0.0

    def close(self) -> None:
        for seat in self.seats:
            seat.sock.close()
        self.epoll.close()

    # --- connecting

    def connect_all(self) -> None:
        for index in range(self.count):
            self.connect(index)
        os.set_blocking(0, False)
        self.epoll.register(0, select.EPOLLIN)
        self.pump(lambda: self.welcomed == self.count and all(s.hello for s in self.seats))

    def connect(self, index: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        seat = Seat(index, sock)
        self.seats.append(seat)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:  # the socket's timeout bounds each read
            data = sock.recv(65536)
            if not data or len(head) > 65536:
                raise ConnectionError(f"follower {index}: no handshake response")
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise ConnectionError(f"follower {index}: handshake refused: {lines[0]}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise ConnectionError(f"follower {index}: wrong Sec-WebSocket-Accept")
        sock.sendall(text_frame({"type": "join", "key": key_of(index), "name": name_of(index)}))
        sock.setblocking(False)
        self.by_fd[sock.fileno()] = seat
        self.epoll.register(sock.fileno(), select.EPOLLIN)
        if rest:
            self.feed(seat, rest, time.monotonic())

    # --- the loop

    def pump(self, until: Callable[[], bool], timeout: float | None = None) -> None:
        """Read and write until `until()`; `TimeoutError` after `timeout` (default: the
        run's) seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        epoll, by_fd = self.epoll, self.by_fd
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the followers waited too long")
            for fd, mask in epoll.poll(min(left, 1.0)):
                if fd == 0:
                    self.command()
                    continue
                seat = by_fd[fd]
                if mask & select.EPOLLOUT:
                    self.write(seat, b"")
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    data = seat.sock.recv(65536)
                    now = time.monotonic()
                    if not data:
                        raise ConnectionError(f"follower {seat.index}: the connection was closed")
                    self.feed(seat, data, now)

    def write(self, seat: Seat, data: bytes) -> None:
        """Write now what the socket takes; the rest when it drains."""
        data = seat.out + data
        try:
            sent = seat.sock.send(data) if data else 0
        except BlockingIOError:
            sent = 0
        seat.out = data[sent:]
        fd = seat.sock.fileno()
        self.epoll.modify(fd, select.EPOLLIN | (select.EPOLLOUT if seat.out else 0))

    def feed(self, seat: Seat, data: bytes, now: float) -> None:
        """Walk the teacher's frames in `data`: whole text messages are read."""
        if seat.partial:
            data = seat.partial + data
        n, pos = len(data), 0
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1]
            if length & 0x80:
                raise ConnectionError(f"follower {seat.index}: a masked frame from the server")
            header = 2 if length < 126 else 4 if length == 126 else 10
            if n - pos < header:
                break
            if header > 2:
                length = int.from_bytes(data[pos + 2 : pos + header], "big")
            end = pos + header + length
            if end > n:
                break
            if b0 != 0x81:  # FIN and text: all the teacher sends, unfragmented
                why = f"a frame {b0:#04x} from the teacher"
                if b0 & 0x0F == Opcode.CLOSE:
                    payload = data[pos + header : end]
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                    reason = payload[2:].decode(errors="replace")
                    why = f"closed by the teacher with {code} {reason}".rstrip()
                raise ConnectionError(f"follower {seat.index}: {why}")
            self.message(seat, data[pos + header : end], now)
            pos = end
        seat.partial = data[pos:] if pos < n else b""

    def message(self, seat: Seat, payload: bytes, now: float) -> None:
        # Moments, the bulk, are parsed with json alone; the others through the
        # protocol's own decoder, which checks every field.
        fields = json.loads(payload)
        kind = fields.get("type")
        if kind == "moment":
            seq = fields["seq"]
            if not seat.hello or seq != seat.seq + 1 or fields["lesson"] != LESSON:
                raise ConnectionError(f"follower {seat.index}: moment {seq} after {seat.seq}")
            seat.seq = seq
            entry = self.arrivals.get(seq)
            if entry is None:
                entry = self.arrivals[seq] = [0, now, now]
            entry[0] += 1
            entry[2] = now
            if entry[0] == self.count:
                del self.arrivals[seq]
                report("moment", seq=seq, first=entry[1], last=entry[2])
            return
        kind, message = decode(payload.decode())
        if kind == "hello" and isinstance(message, Position) and not seat.hello:
            seat.hello, seat.seq = True, message.seq
        elif kind == "welcome" and isinstance(message, tuple) and seat.number is None:
            seat.number = message[0]
            self.welcomed += 1
        elif kind == "verdict" and isinstance(message, Verdict):
            self.verdict(seat, message, now)
        else:
            raise ConnectionError(
                f"follower {seat.index}: a {kind} from the teacher: {message!r:.80}"
            )

    def verdict(self, seat: Seat, verdict: Verdict, now: float) -> None:
        if seat.answer is None or (verdict.lesson, verdict.step) != self.asked:
            raise ConnectionError(f"follower {seat.index}: a verdict it did not wait for")
        expected = (seat.answer, seat.answer == RIGHT, RIGHT)
        if (verdict.answer, verdict.right, verdict.expected) != expected:
            self.mismatched.append(f"follower {seat.index}: {verdict}")
        seat.answer = None
        self.verdicts += 1
        self.right += verdict.right
        self.last_verdict = now
        if self.verdicts == self.count:
            report(
                "verdicts",
                count=self.verdicts,
                right=self.right,
                last=self.last_verdict,
                mismatched=self.mismatched[:5],
                mismatches=len(self.mismatched),
            )

    def command(self) -> None:
        """Orders from the teacher's benchmark, one a line: `answer LESSON STEP`, `quit`."""
        data = os.read(0, 4096)
        if not data:
            self.quit = True  # the benchmark is gone
            return
        self.control += data
        while b"\n" in self.control:
            line, _, self.control = self.control.partition(b"\n")
            words = line.decode().split()
            if words == ["quit"]:
                self.quit = True
            elif len(words) == 3 and words[0] == "answer":
                self.answer_all(words[1], int(words[2]))
            else:
                raise ValueError(f"unknown order {line!r}")

    def answer_all(self, lesson: str, step: int) -> None:
        """Every follower answers at once, follower i with MIX[i % 4]."""
        first = time.monotonic()
        self.asked = (lesson, step)
        self.verdicts = self.right = 0
        self.mismatched = []
        frames = {
            text: text_frame({"type": "answer", "lesson": lesson, "step": step, "answer": text})
            for text in set(MIX)
        }
        for seat in self.seats:
            seat.answer = MIX[seat.index % len(MIX)]
            self.write(seat, frames[seat.answer])
        report("answers", count=len(self.seats), first=first, last=time.monotonic())


def report(kind: str, **fields: object) -> None:
    """One JSON line for the teacher's benchmark."""
    fields["kind"] = kind
    fields["cpu"] = time.process_time()
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def run_followers(url: str, count: int, timeout: float, lifetime: float) -> int:
    """The followers' process: connect, say `ready`, then follow until told to quit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the teacher's benchmark stops this one
    group: Class | None = None
    try:
        raise_open_files(count + SPARE_FILES)
        group = Class(url, count, timeout)
        report("started")
        # Connect on the teacher's order, so that its CPU per join leaves out this start-up.
        readable, _, _ = select.select([0], [], [], timeout)
        if not readable or os.read(0, 64) != b"connect\n":
            raise ConnectionError("no order to connect")
        started = time.monotonic()
        group.connect_all()
        report("ready", count=count, seconds=time.monotonic() - started)
        group.pump(lambda: group.quit, lifetime)
        report("bye")
        return 0
    except Exception as error:
        report("error", error=f"{type(error).__name__}: {error}" if str(error) else repr(error))
        return 1
    finally:
        if group is not None:
            group.close()


# --- the teacher ---------------------------------------------------------------------------


class Checkpoint:
    """The lesson's judge: one checkpoint, at `step`, whose answer is 61."""

    def __init__(self, step: int) -> None:
        self.step = step

    def expected(self, lesson: str, step: int) -> str | None:
        return RIGHT if (lesson, step) == (LESSON, self.step) else None

    def judge(self, lesson: str, step: int, answer: str) -> bool:
        return answer.strip() == RIGHT

    def question(self, lesson: str, step: int) -> str:
        return "What TTL does the server see?"


@dataclass
class Watch:
    """Notes, from the Share's on_change, when the poll holds `target` answers."""

    share: Share | None = None
    key: tuple[str, int] | None = None
    target: int = 0
    at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def changed(self) -> None:
        if self.key is None or self.at is not None or self.share is None:
            return
        if len(self.share.poll.answers.get(self.key, ())) >= self.target:
            self.at = time.monotonic()
            self.done.set()


class Followers:
    """The followers' process, seen from the teacher: its orders and its reports."""

    def __init__(self, proc: asyncio.subprocess.Process, timeout: float) -> None:
        self.proc = proc
        self.timeout = timeout
        self.seen: dict[tuple[str, int], dict[str, Any]] = {}

    async def order(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def wait(self, kind: str, seq: int = 0, timeout: float | None = None) -> dict[str, Any]:
        """The report of `kind` (for a moment: of `seq`); `BenchError` on a timeout, on the
        process's own error or if it ended."""
        assert self.proc.stdout is not None
        timeout = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (kind, seq) not in self.seen:
            left = deadline - loop.time()
            if left <= 0:
                raise BenchError(f"no {kind} report from the followers within {timeout:g} s")
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            except TimeoutError:
                continue
            if not line:
                status = None
                with contextlib.suppress(TimeoutError):
                    status = await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
                raise BenchError(f"the followers' process ended (exit status {status})")
            message = json.loads(line)
            if message["kind"] == "error":
                raise BenchError(f"followers: {message['error']}")
            self.seen[(message["kind"], message.get("seq", 0))] = message
        return self.seen.pop((kind, seq))

    async def stop(self) -> None:
        """End the process by its PID: SIGTERM, then SIGKILL if it lingers."""
        proc = self.proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)


async def start_followers(url: str, args: argparse.Namespace, cpu: int | None) -> Followers:
    lifetime = args.timeout * (args.moves + 10)
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--followers-process", url,
        "--followers", str(args.followers), "--timeout", str(args.timeout),
        "--lifetime", str(lifetime),
    ]  # fmt: skip
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,  # Ctrl-C reaches this process only; it stops that one
    )
    return Followers(proc, args.timeout)


async def one_round(args: argparse.Namespace, cpu: int | None) -> dict[str, Any]:
    n, moves = args.followers, args.moves
    steps = moves + 1
    checkpoint = moves  # the last step moved to asks the question
    gc.collect()
    cpu_start = time.process_time()
    watch = Watch()
    share = Share(watch.changed, judge=Checkpoint(checkpoint))
    watch.share = share
    server = share_server(share, host=HOST, port=0)
    # 1,000 followers from one address: over the defaults (256 an address, 1,024 in all).
    server.max_per_address = server.max_connections = n + SPARE_FILES
    await server.start()
    share.move(LESSON, DIGEST, TITLE, 0, steps)
    url = class_url(server, share)
    gc.collect()
    rss_before = rss_kb()
    result: dict[str, Any] = {}
    followers: Followers | None = None
    try:
        followers = await start_followers(url, args, cpu)
        await followers.wait("started")
        cpu_joins = time.process_time()
        await followers.order("connect")
        # Joining one after the other: the timeout, plus 50 ms a follower.
        ready = await followers.wait("ready", timeout=args.timeout + n * JOIN_TIME)
        if share.count != n or len(share.poll.members) != n:
            raise BenchError(f"{share.count} followers seated, {len(share.poll.members)} joined")
        result["join_s"] = ready["seconds"]
        result["cpu_per_join_us"] = (time.process_time() - cpu_joins) * 1e6 / n
        gc.collect()
        rss_connected = rss_kb()
        log(f"  {n} followers joined in {ready['seconds']:.2f} s")

        # 1. Step reach: one move at a time, until the last follower has it.
        reach, calls, cpu_moves = [], [], []
        first_cpu, first_wall = ready["cpu"], time.monotonic()
        moment: dict[str, Any] = {}
        for step in range(1, moves + 1):
            cpu0 = time.process_time()
            start = time.monotonic()
            share.move(LESSON, DIGEST, TITLE, step, steps)
            calls.append((time.monotonic() - start) * 1000)
            assert share.position is not None
            moment = await followers.wait("moment", share.position.seq)
            cpu_moves.append((time.process_time() - cpu0) * 1000)
            reach.append((moment["last"] - start) * 1000)
        followers_busy = (moment["cpu"] - first_cpu) / (time.monotonic() - first_wall)
        log(
            f"  {moves} moves: reach median {statistics.median(reach):.1f} ms,"
            f" max {max(reach):.1f} ms"
        )

        # 2. Answers: all at once, on an order to the followers' process.
        key = (LESSON, checkpoint)
        watch.key, watch.target = key, n
        cpu0 = time.process_time()
        asked = time.monotonic()
        await followers.order(f"answer {LESSON} {checkpoint}")
        try:
            await asyncio.wait_for(watch.done.wait(), args.timeout)
        except TimeoutError:
            await followers.wait("answers", timeout=1.0)  # its own error, if it has one
            got = len(share.poll.answers.get(key, ()))
            raise BenchError(f"{got} of {n} answers within {args.timeout:g} s") from None
        assert watch.at is not None
        cpu_answers = time.process_time() - cpu0
        sent = await followers.wait("answers")
        check_answers(share, key, n)
        before_reveal = share.tally_line(*key)
        if before_reveal != f"Class: {n} of {n} answered":
            raise BenchError(f"before the reveal the tally says {before_reveal!r}")
        tally = watch.at - asked
        log(f"  {n} answers tallied in {tally * 1000:.1f} ms")

        # 3. The reveal: a moment to all, and each follower's verdict.
        cpu0 = time.process_time()
        start = time.monotonic()
        share.move(LESSON, DIGEST, TITLE, checkpoint, steps, revealed=(checkpoint,))
        reveal_call = time.monotonic() - start
        verdicts = await followers.wait("verdicts")
        cpu_reveal = time.process_time() - cpu0
        line = share.tally_line(*key)
        check_verdicts(verdicts, line, n)
        log(f"  reveal to all in {(verdicts['last'] - start) * 1000:.1f} ms: {line}")
        cpu_total = time.process_time() - cpu_start
        gc.collect()
        rss_end = rss_kb()

        await followers.order("quit")
        await followers.wait("bye")
        result.update(
            reach_median_ms=statistics.median(reach),
            reach_p95_ms=percentile(reach, 0.95),
            reach_max_ms=max(reach),
            move_call_median_ms=statistics.median(calls),
            cpu_per_move_ms=statistics.median(cpu_moves),
            tally_ms=tally * 1000,
            answers_written_ms=(sent["last"] - sent["first"]) * 1000,
            cpu_per_answer_us=cpu_answers * 1e6 / n,
            reveal_ms=(verdicts["last"] - start) * 1000,
            reveal_call_ms=reveal_call * 1000,
            cpu_reveal_ms=cpu_reveal * 1000,
            cpu_total_s=cpu_total,
            followers_busy=100 * followers_busy,
            tally_line=line,
            reach_samples_ms=reach,
            move_call_samples_ms=calls,
            cpu_move_samples_ms=cpu_moves,
        )
        if rss_before and rss_connected and rss_end:
            result.update(
                rss_before_mb=rss_before / 1024,
                rss_connected_mb=rss_connected / 1024,
                rss_end_mb=rss_end / 1024,
                rss_per_follower_kb=(rss_connected - rss_before) / n,
            )
        return result
    finally:
        if followers is not None:
            await followers.stop()
        await server.shutdown()


def check_answers(share: Share, key: tuple[str, int], n: int) -> None:
    """The poll holds exactly the mix: follower i's answer under its key and name."""
    answers = share.poll.answers.get(key, {})
    if len(answers) != n:
        raise BenchError(f"the poll holds {len(answers)} answers, not {n}")
    for member_key, answer in answers.items():
        index = int(member_key, 16)
        if answer.text != MIX[index % len(MIX)] or answer.member.name != name_of(index):
            raise BenchError(f"follower {index}'s answer was recorded as {answer.text!r}")


def expected_mix(n: int) -> tuple[int, dict[str, int]]:
    """How many answers are right, and each wrong answer's count."""
    right = sum(MIX[i % len(MIX)] == RIGHT for i in range(n))
    wrong: dict[str, int] = {}
    for i in range(n):
        if MIX[i % len(MIX)] != RIGHT:
            wrong[MIX[i % len(MIX)]] = wrong.get(MIX[i % len(MIX)], 0) + 1
    return right, wrong


def check_verdicts(verdicts: dict[str, Any], line: str, n: int) -> None:
    right, wrong = expected_mix(n)
    if verdicts["mismatches"]:
        raise BenchError(
            f"{verdicts['mismatches']} verdicts do not match the answers, e.g. "
            + "; ".join(verdicts["mismatched"])
        )
    if verdicts["count"] != n or verdicts["right"] != right:
        raise BenchError(f"{verdicts['count']} verdicts, {verdicts['right']} right: not the mix")
    head = f"Class: {n} of {n} answered · {right} right ({round(100 * right / n)} %)"
    shown, _, rest = line.partition(" · wrong: ")
    counts = {part.rsplit(" ×", 1)[0].strip("“”"): int(part.rsplit(" ×", 1)[1])
              for part in rest.split(", ")} if rest else {}  # fmt: skip
    if shown != head or counts != wrong:
        raise BenchError(f"the tally says {line!r}, the mix was {right} right and {wrong}")


async def run_rounds(
    args: argparse.Namespace, cpus: tuple[int, int] | None
) -> list[dict[str, Any]]:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM unwinds like Ctrl-C, so the followers' process is stopped (one_round's finally).
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results = []
    for r in range(args.rounds):
        log(f"round {r + 1}/{args.rounds}: {args.followers} followers, {args.moves} moves")
        results.append(await one_round(args, cpus[1] if cpus else None))
    return results


def choose_cpus(pin: bool) -> tuple[tuple[int, int] | None, str]:
    """Pin the teacher to the first allowed CPU, the followers to the second."""
    if not pin:
        return None, "not pinned (--no-pin)"
    if not hasattr(os, "sched_setaffinity"):
        return None, "not pinned (no sched_setaffinity on this system)"
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, f"not pinned (only CPU {allowed[0]} available)"
    try:
        os.sched_setaffinity(0, {allowed[0]})
    except OSError as error:
        return None, f"not pinned ({error.strerror})"
    return (allowed[0], allowed[1]), (
        f"teacher on CPU {allowed[0]}, followers' process on CPU {allowed[1]}"
    )


MEDIANS = (
    "reach_median_ms", "reach_p95_ms", "reach_max_ms", "move_call_median_ms", "cpu_per_move_ms",
    "tally_ms", "answers_written_ms", "cpu_per_answer_us", "reveal_ms", "reveal_call_ms",
    "cpu_reveal_ms", "cpu_total_s", "followers_busy", "join_s", "cpu_per_join_us",
)  # fmt: skip


def summary_line(n: int, m: dict[str, Any], first: dict[str, Any]) -> str:
    text = (
        f"{n} followers: step reach median {m['reach_median_ms']:.1f} ms,"
        f" p95 {m['reach_p95_ms']:.1f} ms; {n} answers tallied in {m['tally_ms']:.1f} ms;"
        f" reveal to all in {m['reveal_ms']:.1f} ms;"
        f" teacher CPU {m['cpu_total_s']:.2f} s ({m['cpu_per_move_ms']:.2f} ms per move)"
    )
    if "rss_before_mb" in first:
        text += (
            f"; RSS {first['rss_before_mb']:.1f} MB → {first['rss_connected_mb']:.1f} MB"
            f" ({first['rss_per_follower_kb']:.1f} kB per follower)"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--followers", type=int, default=1000, metavar="N", help="followers (default 1000)"
    )
    parser.add_argument(
        "--moves", type=int, default=30, metavar="N", help="steps moved one at a time (default 30)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, metavar="N", help="rounds; medians shown (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="50 followers, 5 moves")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="bound for every wait (default 30 s; for the joins, plus 50 ms a follower)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    # The followers' process, started by the benchmark.
    parser.add_argument("--followers-process", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=3600.0, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.followers_process:
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        return run_followers(args.followers_process, args.followers, args.timeout, args.lifetime)
    if args.quick:
        args.followers, args.moves = 50, 5
    if not 1 <= args.followers <= MAX_MEMBERS:
        raise SystemExit(f"--followers: from 1 to {MAX_MEMBERS} (the poll's limit)")
    if not 1 <= args.moves < MAX_STEPS:
        raise SystemExit(f"--moves: from 1 to {MAX_STEPS - 1} (a lesson's steps, at most)")
    if args.rounds < 1 or args.timeout <= 0:
        raise SystemExit("--rounds must be at least 1, --timeout above 0")
    cpus, pinning = choose_cpus(not args.no_pin)
    log(f"pinning: {pinning}")
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        files = raise_open_files(args.followers + SPARE_FILES)
        rounds = asyncio.run(run_rounds(args, cpus))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return 130
    except BenchError as error:
        log(f"classroom.py: {error}")
        return 1
    n = args.followers
    medians = {k: statistics.median(r[k] for r in rounds) for k in MEDIANS}
    first = rounds[0]
    met = medians["reach_p95_ms"] <= GOAL_REACH_P95_MS and medians["tally_ms"] <= GOAL_TALLY_MS
    goal = {"reach_p95_ms": GOAL_REACH_P95_MS, "tally_ms": GOAL_TALLY_MS, "met": met}
    info = {"python": platform.python_version(), "wirelab": revision()}
    if args.json:
        report = {
            "date": started,
            "followers": n,
            "moves": args.moves,
            "rounds": args.rounds,
            "pinning": pinning,
            "open_files_limit": files,
            **info,
            "goal": goal,
            "medians": medians,
            "samples": rounds,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    rounds_text = f"median of {args.rounds} rounds" if args.rounds > 1 else "1 round"
    print(
        f"wirelab classroom benchmark, {started}: {n} followers, {args.moves} moves, {rounds_text}"
    )
    print(f"wirelab {info['wirelab']}; Python {info['python']}; {pinning}")
    print()
    print(summary_line(n, medians, first))
    verdict = "met" if goal["met"] else "NOT met"
    print(
        f"goal (step reach p95 ≤ {GOAL_REACH_P95_MS:.0f} ms, 1,000 answers tallied within"
        f" {GOAL_TALLY_MS / 1000:.0f} s): {verdict}"
        + (f" (with {n:,} followers instead of 1,000)" if n != 1000 else "")
    )
    print()
    m = medians
    rows = [
        ("share.move() call (the teacher writes to all)", f"{m['move_call_median_ms']:.2f} ms"),
        ("step reach, max", f"{m['reach_max_ms']:.1f} ms"),
        ("teacher CPU per move", f"{m['cpu_per_move_ms']:.2f} ms"),
        ("answers written by the followers' process", f"{m['answers_written_ms']:.1f} ms"),
        ("teacher CPU per answer", f"{m['cpu_per_answer_us']:.0f} µs"),
        ("share.move() call with the reveal", f"{m['reveal_call_ms']:.1f} ms"),
        ("teacher CPU for the reveal", f"{m['cpu_reveal_ms']:.1f} ms"),
        ("followers joined (one after the other)", f"{m['join_s']:.2f} s"),
        ("teacher CPU per join", f"{m['cpu_per_join_us']:.0f} µs"),
        ("followers' process busy during the moves", f"{m['followers_busy']:.0f} %"),
    ]
    if "rss_end_mb" in first:
        rows.append(("teacher RSS at the end (round 1)", f"{first['rss_end_mb']:.1f} MB"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>10}")
    print(f"  tally: {first['tally_line']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
