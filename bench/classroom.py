"""Classroom benchmark: one teacher's `Share` serving many followers, from the teacher's side.

This process is the teacher: it runs `simulator.live.classroom.Share` on
`share_server(...)` in its own asyncio loop, as `wirelab teach --share` does
(without the Textual app), with a lesson of one checkpoint whose answer is 61.
The followers (1,000 by default) run in another process, started as
`classroom.py --followers-process URL`, so the CPU measured is the teacher's:
raw sockets in one epoll loop (Linux), each doing what a real follower does —
the upgrade to ws://127.0.0.1:PORT/CODE by hand, a `join` with its own key and
name, reading `hello`, `welcome`, every `moment` (in order) and its `verdict`,
and answering when told to. A share of them (`--browsers`, half by default) are
browsers: they join with `"view": true` and also read the `view` messages the
teacher sends them, latest-wins (a browser behind gets the latest later, not each).
The teacher's `share.viewer` makes real documents, as `wirelab teach --share`
does: `step_document(...)` of a run of the built-in lesson tcp-flow-control.
The followers' process reports arrivals to this one as JSON lines on its stdout,
with CLOCK_MONOTONIC timestamps (`time.monotonic()`, one clock for every process
on Linux); it takes its orders on its stdin.

Measured:

- step reach: `share.move(...)` to a new step, one at a time; from just before
  the call until the last follower has read that moment (the next move follows
  at once);
- view reach: from the same start until every browser holds a view of that
  moment or of a later one; the view messages' size; how many views the
  browsers did not get (latest-wins skipped them); the time the teacher spends
  making each document (`share.viewer`);
- answer tally: the followers' process is told (on its stdin, not over the
  classroom channel) to answer the checkpoint at once, follower i with
  ("61", "62", "64", "61")[i % 4]; from that order until the teacher's poll
  holds every answer; then the reveal, `move(..., revealed=(step,))`, until
  every follower has its verdict (each checked, and the tally line too), and
  every browser the view of that last moment;
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
VIEW_LESSON = "tcp-flow-control"  # the built-in lesson whose documents browsers get
VIEW_HEAD = b'{"type":"view","seq":'  # how the teacher's `view` messages begin


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


def browser_count(followers: int, share: float) -> int:
    return round(followers * share)


def is_browser(index: int, followers: int, browsers: int) -> bool:
    """Whether follower `index` is a browser: `browsers` of the `followers`, spread
    evenly (every second one for half)."""
    return (index + 1) * browsers // followers > index * browsers // followers


def key_of(index: int) -> str:
    return f"{index:016x}"  # 16 hex digits, unique in the class


def name_of(index: int) -> str:
    return f"s{index}"


def text_frame(fields: dict[str, object]) -> bytes:
    data = json.dumps(fields, separators=(",", ":")).encode()
    return serialize_frame(Opcode.TEXT, data, masking_key=MASK)


class Seat:
    """One follower in the followers' process."""

    __slots__ = (
        "answer", "browser", "hello", "hello_seq", "index", "number", "out", "partial", "seq",
        "sock", "view_seq",
    )  # fmt: skip

    def __init__(self, index: int, sock: socket.socket, browser: bool) -> None:
        self.index = index
        self.sock = sock
        self.browser = browser  # joined with "view": true
        self.partial = b""  # an incomplete frame
        self.out = b""  # bytes the socket did not take yet
        self.seq = -1  # the last moment's seq
        self.hello = False
        self.hello_seq = -1  # the moment its hello carried
        self.view_seq = -1  # the last view's seq (a browser)
        self.number: int | None = None  # from the teacher's welcome
        self.answer: str | None = None  # sent, waiting for its verdict


class Class:
    """Every follower's socket in one epoll, with the control pipe (stdin)."""

    def __init__(self, url: str, count: int, browsers: int, timeout: float) -> None:
        address, _, path = url.partition("/")
        host, _, port = address.rpartition(":")
        self.host, self.port, self.path = host, int(port), "/" + path
        self.count = count
        self.browsers = browsers
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
        self.steps: dict[int, int] = {}  # seq: the step of that moment
        self.viewing = 0  # browsers that have had a view
        self.views: dict[int, bytes] = {}  # seq: its view message (the same for all)
        self.view_counts: dict[int, int] = {}  # seq: browsers that got its view
        self.covered: dict[int, int] = {}  # seq: browsers holding a view at least as recent

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
        self.pump(
            lambda: (
                self.welcomed == self.count
                and self.viewing == self.browsers
                and all(s.hello for s in self.seats)
            )
        )

    def connect(self, index: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        browser = is_browser(index, self.count, self.browsers)
        seat = Seat(index, sock, browser)
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
        join: dict[str, object] = {"type": "join", "key": key_of(index), "name": name_of(index)}
        if browser:
            join["view"] = True
        sock.sendall(text_frame(join))
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
        # Moments, the bulk, are parsed with json alone; views (10 kB or so) once per
        # seq, then compared; the others through the protocol's own decoder, which
        # checks every field.
        if payload.startswith(VIEW_HEAD):
            self.view(seat, payload, now)
            return
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
                self.steps[seq] = fields["step"]
            entry[0] += 1
            entry[2] = now
            if entry[0] == self.count:
                del self.arrivals[seq]
                report("moment", seq=seq, first=entry[1], last=entry[2])
            return
        kind, message = decode(payload.decode())
        if kind == "hello" and isinstance(message, Position) and not seat.hello:
            seat.hello, seat.seq = True, message.seq
            seat.hello_seq = message.seq
            self.steps.setdefault(message.seq, message.step)
        elif kind == "welcome" and isinstance(message, tuple) and seat.number is None:
            seat.number = message[0]
            self.welcomed += 1
        elif kind == "verdict" and isinstance(message, Verdict):
            self.verdict(seat, message, now)
        else:
            raise ConnectionError(
                f"follower {seat.index}: a {kind} from the teacher: {message!r:.80}"
            )

    def view(self, seat: Seat, payload: bytes, now: float) -> None:
        """A `view`: the whole message is parsed and checked the first time its seq comes
        (the teacher makes it once for all), later copies only compared with it. Its seq
        must be of a moment this browser has read, and above the last view's."""
        end = payload.find(b",", len(VIEW_HEAD))
        seq = int(payload[len(VIEW_HEAD) : end]) if end > 0 else -1
        known = self.views.get(seq)
        if known is None:
            fields = json.loads(payload)
            self.check_view(seat, seq, fields)
            self.views[seq] = payload
        elif payload != known:
            raise ConnectionError(f"follower {seat.index}: view {seq} differs from another's")
        last = seat.view_seq
        if not seat.browser or seq <= last or seq > seat.seq:
            why = "not a browser" if not seat.browser else f"after view {last}, moment {seat.seq}"
            raise ConnectionError(f"follower {seat.index}: view {seq} {why}")
        seat.view_seq = seq
        self.view_counts[seq] = self.view_counts.get(seq, 0) + 1
        if last < 0:
            self.viewing += 1
            last = seat.hello_seq - 1
        covered = self.covered
        for held in range(last + 1, seq + 1):  # this view stands for the ones skipped
            browsers = covered.get(held, 0) + 1
            if browsers == self.browsers:
                covered.pop(held, None)
                report("view", seq=held, last=now)
            else:
                covered[held] = browsers

    def check_view(self, seat: Seat, seq: int, fields: dict[str, Any]) -> None:
        """The first copy of a view: of this seq, of the tcp-flow-control lesson, at the
        step of its moment (modulo the lesson's steps, as the teacher makes it)."""
        lesson, step = fields.get("lesson"), fields.get("step")
        ok = (
            fields.get("type") == "view"
            and fields.get("seq") == seq
            and isinstance(lesson, dict)
            and lesson.get("id") == VIEW_LESSON
            and isinstance(step, dict)
            and seq in self.steps
            and step.get("index") == self.steps[seq] % lesson.get("steps", 1)
            and isinstance(fields.get("narration"), list)
            and "ladder" in fields
        )
        if not ok:
            raise ConnectionError(f"follower {seat.index}: not the view of moment {seq}")

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


def run_followers(url: str, count: int, browsers: int, timeout: float, lifetime: float) -> int:
    """The followers' process: connect, say `ready`, then follow until told to quit; its
    last report (`bye`) says how many browsers got each view, and each view's size."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the teacher's benchmark stops this one
    group: Class | None = None
    try:
        raise_open_files(count + SPARE_FILES)
        group = Class(url, count, browsers, timeout)
        report("started")
        # Connect on the teacher's order, so that its CPU per join leaves out this start-up.
        readable, _, _ = select.select([0], [], [], timeout)
        if not readable or os.read(0, 64) != b"connect\n":
            raise ConnectionError("no order to connect")
        started = time.monotonic()
        group.connect_all()
        report("ready", count=count, seconds=time.monotonic() - started)
        group.pump(lambda: group.quit, lifetime)
        sizes = {seq: len(message) for seq, message in group.views.items()}
        report("bye", view_counts=group.view_counts, view_sizes=sizes)
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


class Viewer:
    """`share.viewer` as `wirelab teach --share` sets it (`CourseApp._step_document`): the
    document of a step of a run of the built-in lesson tcp-flow-control (the moment's
    step modulo its steps), its checkpoint not answered; each call timed."""

    def __init__(self, view: Any) -> None:
        from simulator.views.page import step_document

        self.make = step_document
        self.view = view
        self.steps = len(view.lesson.steps)
        self.seconds: list[float] = []  # each document's making

    def __call__(self, position: Position) -> dict[str, object] | None:
        start = time.perf_counter()
        document = self.make(
            self.view, position.step % self.steps, answered=False, shown=None, picked=None
        )
        self.seconds.append(time.perf_counter() - start)
        return document


def warm_up() -> None:
    """One document made and thrown away: the first costs about 150 ms more (imports and
    caches), paid by the teacher's app before it shares (its lesson screen shows steps)."""
    from simulator.views.page import step_document

    step_document(lesson_view(), 0, answered=False, shown=None, picked=None)


def lesson_view() -> Any:
    """A `LessonView` of a fresh run of tcp-flow-control, as the teacher's app holds it."""
    from simulator.lessons import load_course
    from simulator.lessons.run import LessonRun
    from simulator.views.lesson import LessonView

    lesson = load_course(user=False).find(VIEW_LESSON)
    if lesson is None:
        raise BenchError(f"no built-in lesson {VIEW_LESSON}")
    return LessonView(LessonRun(lesson))


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
        "--followers", str(args.followers), "--browsers", repr(args.browsers),
        "--timeout", str(args.timeout), "--lifetime", str(lifetime),
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
    browsers = browser_count(n, args.browsers)
    steps = moves + 1
    checkpoint = moves  # the last step moved to asks the question
    viewer = Viewer(lesson_view())  # the lesson's run is there before the class is shared
    gc.collect()
    cpu_start = time.process_time()
    watch = Watch()
    share = Share(watch.changed, judge=Checkpoint(checkpoint))
    share.viewer = viewer
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

        # 1. Step reach: one move at a time, until the last follower has it; the next
        # move at once, whether the browsers have their views yet or not.
        reach, calls, cpu_moves, starts = [], [], [], {}
        made = len(viewer.seconds)
        first_cpu, first_wall = ready["cpu"], time.monotonic()
        cpu_phase = time.process_time()
        moment: dict[str, Any] = {}
        for step in range(1, moves + 1):
            cpu0 = time.process_time()
            start = time.monotonic()
            share.move(LESSON, DIGEST, TITLE, step, steps)
            calls.append((time.monotonic() - start) * 1000)
            assert share.position is not None
            starts[share.position.seq] = start
            moment = await followers.wait("moment", share.position.seq)
            cpu_moves.append((time.process_time() - cpu0) * 1000)
            reach.append((moment["last"] - start) * 1000)
        followers_busy = (moment["cpu"] - first_cpu) / (time.monotonic() - first_wall)
        log(
            f"  {moves} moves: reach median {statistics.median(reach):.1f} ms,"
            f" max {max(reach):.1f} ms"
        )
        view_reach = []
        if browsers:
            for seq, start in starts.items():
                view = await followers.wait("view", seq)
                view_reach.append((view["last"] - start) * 1000)
            log(
                f"  {browsers} browsers: view reach median {statistics.median(view_reach):.1f}"
                f" ms, max {max(view_reach):.1f} ms"
            )
        cpu_phase = time.process_time() - cpu_phase
        documents = [t * 1000 for t in viewer.seconds[made:]]

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
        if browsers:  # each browser ends with the view of the last moment
            assert share.position is not None
            view = await followers.wait("view", share.position.seq)
            result["reveal_view_ms"] = (view["last"] - start) * 1000
        cpu_total = time.process_time() - cpu_start
        gc.collect()
        rss_end = rss_kb()

        await followers.order("quit")
        bye = await followers.wait("bye")
        if browsers:  # the viewer is called for browsers only
            result.update(view_figures(bye, list(starts), browsers, view_reach))
            result.update(
                document_median_ms=statistics.median(documents),
                document_max_ms=max(documents),
                document_samples_ms=documents,
            )
        result.update(
            reach_median_ms=statistics.median(reach),
            reach_p95_ms=percentile(reach, 0.95),
            reach_max_ms=max(reach),
            move_call_median_ms=statistics.median(calls),
            cpu_per_move_ms=statistics.median(cpu_moves),
            cpu_move_mean_ms=cpu_phase * 1000 / moves,
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


def view_figures(
    bye: dict[str, Any], seqs: list[int], browsers: int, reach: list[float]
) -> dict[str, Any]:
    """The browsers' figures over the moves: view reach, the views' size (bytes of the
    message), how many views latest-wins skipped (browsers × moves − views received)."""
    counts = {int(seq): count for seq, count in bye["view_counts"].items()}
    sizes = {int(seq): size for seq, size in bye["view_sizes"].items()}
    moved = [sizes[seq] for seq in seqs if seq in sizes]
    received = sum(counts.get(seq, 0) for seq in seqs)
    return {
        "browsers": browsers,
        "view_reach_median_ms": statistics.median(reach),
        "view_reach_p95_ms": percentile(reach, 0.95),
        "view_reach_max_ms": max(reach),
        "view_bytes_median": statistics.median(moved),
        "view_bytes_min": min(moved),
        "view_bytes_max": max(moved),
        "views_received": received,
        "views_skipped": browsers * len(seqs) - received,
        "view_reach_samples_ms": reach,
        "view_bytes_samples": moved,
        "view_count_samples": [counts.get(seq, 0) for seq in seqs],
    }


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
    warm_up()
    results = []
    browsers = browser_count(args.followers, args.browsers)
    for r in range(args.rounds):
        log(
            f"round {r + 1}/{args.rounds}: {args.followers} followers ({browsers} browsers),"
            f" {args.moves} moves"
        )
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
    "cpu_move_mean_ms",
    "tally_ms", "answers_written_ms", "cpu_per_answer_us", "reveal_ms", "reveal_call_ms",
    "cpu_reveal_ms", "cpu_total_s", "followers_busy", "join_s", "cpu_per_join_us",
)  # fmt: skip
VIEW_MEDIANS = (
    "view_reach_median_ms", "view_reach_p95_ms", "view_reach_max_ms", "view_bytes_median",
    "view_bytes_min", "view_bytes_max", "views_received", "views_skipped", "reveal_view_ms",
    "document_median_ms", "document_max_ms",
)  # fmt: skip


def summary_line(
    n: int, browsers: int, moves: int, m: dict[str, Any], first: dict[str, Any]
) -> str:
    text = (
        f"{n} followers: step reach median {m['reach_median_ms']:.1f} ms,"
        f" p95 {m['reach_p95_ms']:.1f} ms;"
    )
    if browsers:
        text += (
            f" {browsers} browsers: view reach median {m['view_reach_median_ms']:.1f} ms,"
            f" p95 {m['view_reach_p95_ms']:.1f} ms, view {m['view_bytes_median'] / 1000:.1f} kB"
            f" ({m['view_bytes_min'] / 1000:.1f}–{m['view_bytes_max'] / 1000:.1f}),"
            f" {m['views_skipped']:.0f} of {browsers * moves} views skipped;"
        )
    text += (
        f" {n} answers tallied in {m['tally_ms']:.1f} ms;"
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
    parser.add_argument(
        "--browsers",
        type=float,
        default=0.5,
        metavar="F",
        help="the share of the followers that are browsers (view messages; default 0.5)",
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
        browsers = browser_count(args.followers, args.browsers)
        return run_followers(
            args.followers_process, args.followers, browsers, args.timeout, args.lifetime
        )
    if args.quick:
        args.followers, args.moves = 50, 5
    if not 1 <= args.followers <= MAX_MEMBERS:
        raise SystemExit(f"--followers: from 1 to {MAX_MEMBERS} (the poll's limit)")
    if not 1 <= args.moves < MAX_STEPS:
        raise SystemExit(f"--moves: from 1 to {MAX_STEPS - 1} (a lesson's steps, at most)")
    if args.rounds < 1 or args.timeout <= 0:
        raise SystemExit("--rounds must be at least 1, --timeout above 0")
    if not 0 <= args.browsers <= 1:
        raise SystemExit("--browsers: a share of the followers, from 0 to 1")
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
    browsers = browser_count(n, args.browsers)
    keys = MEDIANS + (VIEW_MEDIANS if browsers else ())
    medians = {k: statistics.median(r[k] for r in rounds) for k in keys}
    first = rounds[0]
    # A browser has the step when it has its view: the goal holds for both reaches.
    reach_p95 = max(medians["reach_p95_ms"], medians.get("view_reach_p95_ms", 0.0))
    met = reach_p95 <= GOAL_REACH_P95_MS and medians["tally_ms"] <= GOAL_TALLY_MS
    goal = {"reach_p95_ms": GOAL_REACH_P95_MS, "tally_ms": GOAL_TALLY_MS, "met": met}
    info = {"python": platform.python_version(), "wirelab": revision()}
    if args.json:
        report = {
            "date": started,
            "followers": n,
            "browsers": browsers,
            "view_lesson": VIEW_LESSON,
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
    who = f"{browsers} browsers, views of {VIEW_LESSON}" if browsers else "no browsers"
    print(
        f"wirelab classroom benchmark, {started}: {n} followers ({who}), {args.moves} moves,"
        f" {rounds_text}"
    )
    print(f"wirelab {info['wirelab']}; Python {info['python']}; {pinning}")
    print()
    print(summary_line(n, browsers, args.moves, medians, first))
    verdict = "met" if goal["met"] else "NOT met"
    print(
        f"goal (step reach p95 ≤ {GOAL_REACH_P95_MS:.0f} ms"
        + (", views included" if browsers else "")
        + f", 1,000 answers tallied within {GOAL_TALLY_MS / 1000:.0f} s): {verdict}"
        + (f" (with {n:,} followers instead of 1,000)" if n != 1000 else "")
    )
    print()
    m = medians
    rows = [
        ("share.move() call (the teacher writes to all)", f"{m['move_call_median_ms']:.2f} ms"),
        ("step reach, max", f"{m['reach_max_ms']:.1f} ms"),
        *(
            [
                ("view reach, max", f"{m['view_reach_max_ms']:.1f} ms"),
                ("views received by the browsers", f"{m['views_received']:.0f}"),
            ]
            if browsers
            else []
        ),
        ("teacher CPU per move", f"{m['cpu_per_move_ms']:.2f} ms"),
        ("teacher CPU per move, all the moves' work (mean)", f"{m['cpu_move_mean_ms']:.2f} ms"),
        *(
            [
                ("view document made (share.viewer), median", f"{m['document_median_ms']:.2f} ms"),
                ("view document made, max", f"{m['document_max_ms']:.2f} ms"),
            ]
            if browsers
            else []
        ),
        ("answers written by the followers' process", f"{m['answers_written_ms']:.1f} ms"),
        ("teacher CPU per answer", f"{m['cpu_per_answer_us']:.0f} µs"),
        ("share.move() call with the reveal", f"{m['reveal_call_ms']:.1f} ms"),
        *(
            [("view of the reveal to every browser", f"{m['reveal_view_ms']:.1f} ms")]
            if browsers
            else []
        ),
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
