"""The classroom channel: the teacher's moment and the class's answers, over wirelab's
own WebSocket server.

`wirelab teach --share` runs a `Share` on a `Server` at a path made of a short
join code (`ws://HOST:PORT/k7q2`), so a student cannot follow another class on
the same network by mistake. Each follower that connects gets a `hello` with the
teacher's moment, then a `moment` for every change, in order. Messages are
small JSON texts; from the teacher:

    {"type": "hello", "version": 2, "code": "k7q2", ...the moment}
    {"type": "moment", "lesson": "tcp-handshake", "digest": "…", "title": "…",
     "step": 3, "steps": 12, "seq": 41, "shown": 2, "playing": true,
     "picked": null, "revealed": [4]}
    {"type": "welcome", "number": 7, "name": "Ada"}
    {"type": "verdict", "lesson": "…", "step": 4, "answer": "…", "right": false,
     "expected": "…"}
    {"type": "note", "text": "…"}

The moment is everything the projector shows that a follower mirrors: the
lesson (`digest` hashes its file: a student whose copy differs is told so, never
shown something else), the step, how many of its packets are shown while they
play (`shown`, null when all), the packet picked on the ladder, and which
checkpoints the teacher revealed. `seq` counts the moments.

A follower says only two things, each validated here:

    {"type": "join", "key": "3f9c…", "name": "Ada"}
    {"type": "answer", "lesson": "tcp-handshake", "step": 4, "answer": "61"}

`key` is made up by the follower, so a reconnection keeps its number and its
answers. An answer is recorded for a checkpoint of the teacher's lesson that is
not revealed yet; it is judged by the lesson's own code, and its verdict goes to
the follower when the teacher reveals (or at once, if the teacher chose so).
Anything else — not JSON, another type, a field out of bounds, more than a few
messages a second — closes that follower with 1008 (Policy Violation); the class
goes on. A follower that stops reading is dropped by the server's bounded send
buffer with 1013 and reconnects like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simulator.errors import WirelabError
from simulator.live.addresses import host_in_url
from simulator.live.chat import relay
from simulator.live.client import ClientError, WebSocketClient, connect
from simulator.live.poll import MAX_ANSWER, MAX_NAME, Judge, Member, Poll, clean
from simulator.live.server import Server, Service, Session
from simulator.ws import (
    BinaryMessage,
    CloseCode,
    CloseReceived,
    Config,
    ConnectionFailed,
    Event,
    TextMessage,
    UsageError,
)
from simulator.ws.connection import MAX_CLOSE_REASON

VERSION = 2
DEFAULT_PORT = 8766
SHARE_BUFFER_LIMIT = 64 * 1024  # ~200 moments a follower may fall behind before it is dropped
MAX_MESSAGE = 4096  # nothing a follower or the teacher legitimately sends is bigger
MAX_STEPS = 1000  # a lesson's steps, at most (a moment naming more is not believed)
MAX_SHOWN = 100_000  # packets of one step
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # then every 5 s
RECONNECT_ATTEMPTS = 120  # about ten minutes without a teacher, then give up
VIEW_BACKLOG = 16 * 1024  # a browser with more unsent gets the latest view later, not each
VIEW_RETRY = 0.1  # seconds between two looks at the browsers still behind
BURST = 10  # messages a follower may send at once…
RATE = 2.0  # …and then per second
CODE_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
CODE_LENGTH = 4
VERDICTS = ("reveal", "now")  # when a follower learns whether it was right
_KEY = re.compile(r"[0-9A-Za-z_-]{8,64}")
_CODE = re.compile(f"[{CODE_LETTERS}]{{{CODE_LENGTH}}}")
_GIVEN = re.compile(r"[A-Za-z0-9+/=]{0,64}")
NO_CLASS = "no class with this join code here: check the address the teacher shows"


class ClassroomError(WirelabError):
    """A message that is not what the classroom protocol says."""


@dataclass(frozen=True, slots=True)
class Position:
    """The teacher's moment (see the module)."""

    lesson: str
    digest: str
    title: str
    step: int  # from 0
    steps: int
    seq: int
    shown: int | None = None  # the step's packets shown so far while they play; None: all
    playing: bool = False
    picked: int | None = None  # a packet (trace number) picked on the ladder
    revealed: tuple[int, ...] = ()  # checkpoint steps whose answers the teacher revealed
    field: int | None = None  # the field selected in the field pane: its place in a walk
    given: str = ""  # what the step's question hands out (a fresh Sec-WebSocket-Key)

    def same_moment(self, other: Position | None) -> bool:
        return other is not None and asdict(self) | {"seq": 0} == asdict(other) | {"seq": 0}


@dataclass(frozen=True, slots=True)
class Verdict:
    lesson: str
    step: int
    answer: str
    right: bool
    expected: str


def new_code() -> str:
    return "".join(secrets.choice(CODE_LETTERS) for _ in range(CODE_LENGTH))


def lesson_digest(path: Path) -> str:
    """A short hash of a lesson file: the same text on both sides, the same lesson."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _json(fields: dict[str, object]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def encode(kind: str, position: Position, *, code: str = "") -> str:
    """A `hello` (with `code`) or a `moment` message."""
    fields: dict[str, object] = {"type": kind}
    if kind == "hello":
        fields["version"] = VERSION
        fields["code"] = code
    fields.update(asdict(position))
    fields["revealed"] = list(position.revealed)
    return _json(fields)


def _string(data: dict[str, object], name: str, limit: int = 200) -> str:
    value = data.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ClassroomError(f"{name!r} is not a string of at most {limit} characters")
    return value


def _number(data: dict[str, object], name: str, limit: int, *, empty: bool = False) -> int:
    value = data.get(name)
    if value is None and empty:
        return -1
    if type(value) is not int or not 0 <= value <= limit:
        raise ClassroomError(f"{name!r} is not a whole number from 0 to {limit}")
    return value


def _flag(data: dict[str, object], name: str) -> bool:
    value = data.get(name)
    if type(value) is not bool:
        raise ClassroomError(f"{name!r} is not true or false")
    return value


def _object(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ClassroomError("not JSON") from None
    if not isinstance(data, dict):
        raise ClassroomError("not a JSON object")
    return data


def _position(data: dict[str, object]) -> Position:
    steps = _number(data, "steps", MAX_STEPS)
    step = _number(data, "step", MAX_STEPS)
    if step >= steps:
        raise ClassroomError("step is past the lesson's last")
    shown = _number(data, "shown", MAX_SHOWN, empty=True)
    picked = _number(data, "picked", 10 * MAX_SHOWN, empty=True)
    field = _number(data, "field", 10 * MAX_SHOWN, empty=True)
    given = data.get("given", "")
    if not isinstance(given, str) or not _GIVEN.fullmatch(given):
        raise ClassroomError("'given' is not a short base64 text")
    revealed = data.get("revealed")
    if (
        not isinstance(revealed, list)
        or len(revealed) > steps
        or any(type(i) is not int or not 0 <= i < steps for i in revealed)
    ):
        raise ClassroomError("'revealed' is not a list of the lesson's steps")
    return Position(
        lesson=_string(data, "lesson"),
        digest=_string(data, "digest"),
        title=_string(data, "title"),
        step=step,
        steps=steps,
        seq=_number(data, "seq", 1 << 53),
        shown=None if shown < 0 else shown,
        playing=_flag(data, "playing"),
        picked=None if picked < 0 else picked,
        revealed=tuple(sorted(set(revealed))),
        field=None if field < 0 else field,
        given=given,
    )


def decode(text: str) -> tuple[str, object]:
    """Parse one message from the teacher: ("hello" | "moment", Position), ("verdict",
    Verdict), ("welcome", (number, name)) or ("note", text). `ClassroomError` says what
    is wrong with anything else."""
    data = _object(text)
    kind = data.get("type")
    if kind == "hello":
        if data.get("version") != VERSION:
            raise ClassroomError(
                f"the teacher's wirelab speaks classroom protocol {data.get('version')!r}, "
                f"this one {VERSION}: use the same wirelab version"
            )
        return kind, _position(data)
    if kind == "moment":
        return kind, _position(data)
    if kind == "verdict":
        verdict = Verdict(
            lesson=_string(data, "lesson"),
            step=_number(data, "step", MAX_STEPS),
            answer=_string(data, "answer", MAX_ANSWER),
            right=_flag(data, "right"),
            expected=_string(data, "expected", 1000),
        )
        return kind, verdict
    if kind == "welcome":
        return kind, (_number(data, "number", 1 << 20), _string(data, "name", MAX_NAME))
    if kind == "note":
        return kind, _string(data, "text", 300)
    raise ClassroomError(f"unknown message type {str(kind)[:40]!r}")


@dataclass(frozen=True, slots=True)
class Join:
    key: str
    name: str
    view: bool = False  # a browser: it needs what the step shows (`view` messages)


@dataclass(frozen=True, slots=True)
class Reply:
    """A follower's answer to a checkpoint."""

    lesson: str
    step: int
    answer: str


def decode_from_follower(text: str) -> Join | Reply:
    """Parse one message from a follower; `ClassroomError` for anything but a join or
    an answer."""
    data = _object(text)
    kind = data.get("type")
    if kind == "join":
        key = _string(data, "key", 64)
        if not _KEY.fullmatch(key):
            raise ClassroomError("'key' is not 8 to 64 letters, digits, - or _")
        name = data.get("name", "")
        if not isinstance(name, str) or len(name) > 4 * MAX_NAME:
            raise ClassroomError(f"'name' is not a string of at most {4 * MAX_NAME} characters")
        view = data.get("view", False)
        if type(view) is not bool:
            raise ClassroomError("'view' is not true or false")
        return Join(key, name, view)
    if kind == "answer":
        return Reply(
            _string(data, "lesson"),
            _number(data, "step", MAX_STEPS),
            _string(data, "answer", MAX_ANSWER),
        )
    raise ClassroomError(f"a follower may only join and answer, not {str(kind)[:40]!r}")


@dataclass(slots=True)
class _Seat:
    """What the teacher's side knows of one follower connection."""

    session: Session
    member: Member | None = None
    view: bool = False  # sent `view` messages (a browser)
    view_seq: int = -1  # the moment of the last view it was sent
    tokens: float = BURST
    last: float = field(default_factory=time.monotonic)

    def allowed(self) -> bool:
        """One message more within the rate (a token bucket)."""
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.last) * RATE)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Share(Service):
    """The teacher's side: every follower gets each moment, in order; answers are
    collected in `poll` and judged by `judge`."""

    name = "classroom"

    def __init__(
        self,
        on_change: Callable[[], None] | None = None,
        *,
        code: str | None = None,
        judge: Judge | None = None,
        verdicts: str = "reveal",
    ) -> None:
        if verdicts not in VERDICTS:
            raise ValueError(f"verdicts must be one of {VERDICTS}")
        self.code = code or new_code()
        self.seats: dict[int, _Seat] = {}
        self.position: Position | None = None
        self.on_change = on_change
        self.judge = judge
        self.verdicts = verdicts
        self.poll = Poll()
        self.results: Path | None = None  # the results file, written after every reveal
        # For browsers: what the step shows, as a JSON-able document (None: nothing).
        self.viewer: Callable[[Position], dict[str, object] | None] | None = None
        self._view: tuple[int, str] | None = None  # (seq, message) of the last view made
        self._view_retry: asyncio.TimerHandle | None = None
        self._seq = 0

    @property
    def count(self) -> int:
        return len(self.seats)

    @property
    def followers(self) -> dict[int, Session]:
        return {number: seat.session for number, seat in self.seats.items()}

    # --- the teacher ----------------------------------------------------------------

    def move(
        self,
        lesson: str,
        digest: str,
        title: str,
        step: int,
        steps: int,
        *,
        shown: int | None = None,
        playing: bool = False,
        picked: int | None = None,
        revealed: tuple[int, ...] = (),
        field: int | None = None,
        given: str = "",
    ) -> None:
        """The teacher's moment changed: tell every follower (nothing when it did not).
        A checkpoint newly in `revealed` sends each answer's verdict to its follower."""
        position = Position(
            lesson, digest, title, step, steps, self._seq + 1,
            shown, playing, picked, tuple(sorted(set(revealed))), field, given,
        )  # fmt: skip
        if position.same_moment(self.position):
            return
        self._seq += 1
        self.position = position
        relay(TextMessage(encode("moment", position)), [s.session for s in self.seats.values()])
        self._send_views()
        for index in position.revealed:
            if (lesson, index) not in self.poll.revealed:
                self.poll.revealed.add((lesson, index))
                self._send_verdicts(lesson, index)

    def _send_views(self, only: _Seat | None = None) -> None:
        """The current view to every browser not behind (or to `only`); only the latest one
        matters, so a browser still reading earlier ones gets the latest once it caught
        up (never a queue of them: its send buffer stays small, it is not dropped for it)."""
        if only is None and self._view_retry is not None:
            self._view_retry.cancel()
            self._view_retry = None
        position = self.position
        seats = [only] if only is not None else list(self.seats.values())
        if position is None or not any(seat.view for seat in seats):
            return
        view = self._view_message()
        if view is None:
            return
        ready, behind = [], False
        for seat in seats:
            if not seat.view or seat.view_seq == position.seq:
                continue
            transport = seat.session.transport
            if transport is not None and transport.get_write_buffer_size() > VIEW_BACKLOG:
                behind = True
                continue
            seat.view_seq = position.seq
            ready.append(seat.session)
        relay(TextMessage(view), ready)
        if behind and self._view_retry is None:
            loop = asyncio.get_running_loop()
            self._view_retry = loop.call_later(VIEW_RETRY, self._send_views)

    def _view_message(self) -> str | None:
        """The `view` message of the current moment, made once for every browser."""
        position = self.position
        if position is None or self.viewer is None:
            return None
        if self._view is not None and self._view[0] == position.seq:
            return self._view[1]
        try:
            document = self.viewer(position)
        except Exception:  # a lesson that cannot be shown must not stop the class
            document = None
        if document is None:
            return None
        message = _json({"type": "view", "seq": position.seq, **document})
        self._view = (position.seq, message)
        return message

    def tally_line(self, lesson: str, step: int) -> str:
        """The class's answers to a checkpoint, as one line for the teacher's screen."""
        revealed = (lesson, step) in self.poll.revealed
        return self.poll.tally(lesson, step).line(self.count, revealed=revealed)

    def _send_verdicts(self, lesson: str, step: int) -> None:
        judge = self.judge
        if judge is None:
            return
        self.poll.judge(judge, lesson, step)
        expected = judge.expected(lesson, step) or ""
        by_key = {seat.member.key: seat for seat in self.seats.values() if seat.member}
        for answer in self.poll.answers.get((lesson, step), {}).values():
            seat = by_key.get(answer.member.key)
            if seat is not None:
                self._verdict(seat, lesson, step, answer.text, bool(answer.right), expected)
        if self.results is not None:
            with contextlib.suppress(OSError):  # said when the teacher quits and it is written
                self.poll.write(self.results, judge)
        self._changed()

    def _verdict(
        self, seat: _Seat, lesson: str, step: int, text: str, right: bool, expected: str
    ) -> None:
        fields = {"type": "verdict", "lesson": lesson, "step": step, "answer": text}
        seat.session.send_text(_json({**fields, "right": right, "expected": expected}))

    # --- the followers --------------------------------------------------------------

    def opened(self, session: Session) -> None:
        if session.info is None:
            return
        self.seats[session.info.id] = _Seat(session)
        if self.position is not None:
            session.send_text(encode("hello", self.position, code=self.code))
        self._changed()

    def received(self, session: Session, event: Event) -> None:
        seat = self.seats.get(session.info.id) if session.info is not None else None
        if seat is None or type(event) is not TextMessage:
            if seat is not None and type(event) is BinaryMessage:
                self._refuse(seat, "only JSON text messages are read here")
            return
        if not seat.allowed():
            self._refuse(seat, "too many messages")
            return
        try:
            message = decode_from_follower(event.data)
        except ClassroomError as error:
            self._refuse(seat, str(error))
            return
        if isinstance(message, Join):
            self._join(seat, message.key, message.name, view=message.view)
        else:
            self._answer(seat, message.lesson, message.step, message.answer)

    def _join(self, seat: _Seat, key: str, name: str, *, view: bool = False) -> None:
        member = self.poll.join(key, name)
        if member is None:
            self._refuse(seat, "the class is full")
            return
        seat.member = member
        fields = {"type": "welcome", "number": member.number, "name": member.name}
        seat.session.send_text(_json(fields))
        if view and not seat.view:
            seat.view = True
            self._send_views(seat)
        self._changed()

    def _answer(self, seat: _Seat, lesson: str, step: int, text: str) -> None:
        position, judge = self.position, self.judge
        if seat.member is None:
            self._refuse(seat, "join before answering")
            return
        if position is None or position.lesson != lesson or step >= position.steps:
            self._note(seat, "That answer is for a lesson the teacher is not showing.")
            return
        expected = judge.expected(lesson, step) if judge is not None else None
        if expected is None:
            self._note(seat, f"Step {step + 1} has no checkpoint to answer.")
            return
        if not clean(text, MAX_ANSWER):
            self._note(seat, "An empty answer is not counted.")
            return
        if judge is not None and (lesson, step) not in self.poll.questions:
            self.poll.questions[(lesson, step)] = judge.question(lesson, step)
        answer = self.poll.answer(seat.member, lesson, step, text)
        if answer is None:
            self._note(seat, "The teacher has revealed that answer already.")
            return
        if self.verdicts == "now" and judge is not None:
            self.poll.judge(judge, lesson, step)
            self._verdict(seat, lesson, step, answer.text, bool(answer.right), expected)
        self._changed()

    def _note(self, seat: _Seat, text: str) -> None:
        seat.session.send_text(_json({"type": "note", "text": text}))

    def _refuse(self, seat: _Seat, why: str) -> None:
        # A close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5), and `why` may
        # quote what the follower sent: cut it on a character's edge.
        reason = why.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
        seat.session.close(CloseCode.POLICY_VIOLATION, reason)

    def closed(self, session: Session) -> None:
        if session.info is not None and self.seats.pop(session.info.id, None) is not None:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


class WrongClass(Service):
    """Any path but the class's: closed with 1008 and why."""

    name = "wrong join code"

    def opened(self, session: Session) -> None:
        session.close(CloseCode.POLICY_VIOLATION, NO_CLASS)


PAGE = "class.html"  # in assets/: the browser follower
PAGE_FILES = ("class.js", "class.css", "favicon.svg")


def class_page(share: Share) -> Callable[[str, str], bytes]:
    """The plain HTTP answers of a class's server: the browser follower's page at the
    join code's path (and the files it loads), 404 saying why for anything else."""
    from simulator.live.static import CONTENT_TYPES, asset_for, response

    def answer(method: str, path: str) -> bytes:
        if method not in ("GET", "HEAD"):
            return response(405, b"Only GET and HEAD are served here.\n",
                            extra=(("Allow", "GET, HEAD"),))  # fmt: skip
        name = PAGE if path == f"/{share.code}" else path[1:]
        file = asset_for(f"/{name}") if name == PAGE or name in PAGE_FILES else None
        if file is None:
            return response(404, f"{NO_CLASS}.\n".encode(), head=method == "HEAD")
        return response(200, file.read_bytes(), content_type=CONTENT_TYPES[file.suffix],
                        head=method == "HEAD")  # fmt: skip

    return answer


def share_server(share: Share, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Server:
    """The server a `Share` runs on: its join code's path follows (a WebSocket) or
    gets the browser follower's page (a plain GET); no compression."""
    return Server(
        host=host,
        port=port,
        config=Config(max_size=MAX_MESSAGE),
        services={f"/{share.code}": share},
        default=WrongClass(),
        http=class_page(share),
        send_buffer_limit=SHARE_BUFFER_LIMIT,
    )


def class_url(server: Server, share: Share, host: str | None = None) -> str:
    """The address followers use, without a scheme (`wirelab follow` reads it as ws://):
    the server's host (or `host`), its port and the join code."""
    return f"{host_in_url(host or server.host)}:{server.port}/{share.code}"


def follow_url(text: str) -> str:
    """The WebSocket URL of what a student typed: HOST:PORT/CODE, ws://… or http://…"""
    text = text.strip()
    if not text:
        return text
    if text.startswith("http://"):
        return "ws://" + text[len("http://") :]
    if "://" not in text:
        return "ws://" + text
    return text


class Follower:
    """The student's side: follows a teacher's `Share`, reconnecting when it drops.

    `on_position(kind, position)` is called for each hello and moment; `on_status(text)`
    with a line for people ("connected", "reconnecting in 2 s: …", "the teacher
    ended the class"); `on_verdict(verdict)` when the teacher's side judged an answer;
    `on_note(text)` for a line the teacher's side sends about an answer. `answer()`
    sends the student's answer (again after a reconnection, until it is judged or
    revealed). `run()` returns when `stop()` is called or it gives up.
    """

    def __init__(
        self,
        url: str,
        on_position: Callable[[str, Position], None],
        on_status: Callable[[str], None] = lambda text: None,
        *,
        name: str = "",
        key: str | None = None,
        on_verdict: Callable[[Verdict], None] = lambda verdict: None,
        on_note: Callable[[str], None] = lambda text: None,
        delays: tuple[float, ...] = RECONNECT_DELAYS,
        attempts: int = RECONNECT_ATTEMPTS,
    ) -> None:
        self.url = url
        self.on_position = on_position
        self.on_status = on_status
        self.on_verdict = on_verdict
        self.on_note = on_note
        self.name = clean(name, MAX_NAME)
        self.key = key or secrets.token_hex(8)
        self.delays = delays
        self.attempts = attempts
        self.client: WebSocketClient | None = None
        self.connections = 0  # how many times it (re)connected
        self.number: int | None = None  # the teacher's side's number for this student
        self.last_close: tuple[int, str] | None = None
        self.pending: dict[tuple[str, int], str] = {}  # answers not yet judged or revealed
        self._stopping = asyncio.Event()

    def answer(self, lesson: str, step: int, text: str) -> None:
        """Send an answer to the teacher's side (now if connected, else on reconnecting)."""
        self.pending[(lesson, step)] = text[:MAX_ANSWER]
        self._send_answer(lesson, step)

    def _send_answer(self, lesson: str, step: int) -> None:
        text = self.pending.get((lesson, step))
        if text is not None:
            self._send({"type": "answer", "lesson": lesson, "step": step, "answer": text})

    def _send(self, fields: dict[str, object]) -> None:
        """Send a message now if connected (a connection closing under it: not sent)."""
        client = self.client
        if client is not None:
            with contextlib.suppress(ClientError, UsageError):
                client.send_text(_json(fields))

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set() and failures < self.attempts:
            try:
                client = await connect(self.url, config=Config(max_size=MAX_MESSAGE))
            except ClientError as error:
                failures += 1
                await self._pause(failures, str(error))
                continue
            failures = 0
            self.client = client
            self.connections += 1
            self.on_status("connected")
            self._send({"type": "join", "key": self.key, "name": self.name})
            for lesson, step in list(self.pending):
                self._send_answer(lesson, step)
            why = await self._follow(client)
            self.client = None
            if self._stopping.is_set():
                return
            if self.last_close is not None and self.last_close[0] == CloseCode.POLICY_VIOLATION:
                self.on_status(f"refused by the teacher's wirelab: {self.last_close[1]}")
                return  # the same address would be refused again
            failures += 1
            await self._pause(failures, why)
        if not self._stopping.is_set():
            self.on_status(f"gave up after {self.attempts} attempts to reach the teacher")

    async def _follow(self, client: WebSocketClient) -> str:
        """Read until the connection ends; why it ended."""
        while True:
            stop = asyncio.ensure_future(self._stopping.wait())
            receive = asyncio.ensure_future(client.recv())
            done, _ = await asyncio.wait({stop, receive}, return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receive
                await client.close()
                return "stopped"
            stop.cancel()
            event = receive.result()
            if event is None:
                return "the connection was lost"
            if isinstance(event, TextMessage):
                try:
                    kind, message = decode(event.data)
                except ClassroomError as error:
                    await client.close(CloseCode.POLICY_VIOLATION, "bad message")
                    return f"the teacher sent something unreadable ({error})"
                self._handle(kind, message)
            elif isinstance(event, CloseReceived):
                self.last_close = (event.code, event.reason)
                if event.code == 1001:
                    return "the teacher ended the class"
                return f"closed by the teacher with {event.code} {event.reason}".rstrip()
            elif isinstance(event, ConnectionFailed):
                return f"connection failed ({event.code}: {event.reason})"

    def _handle(self, kind: str, message: object) -> None:
        if isinstance(message, Position):
            for step in message.revealed:
                self.pending.pop((message.lesson, step), None)
            self.on_position(kind, message)
        elif isinstance(message, Verdict):
            self.pending.pop((message.lesson, message.step), None)
            self.on_verdict(message)
        elif kind == "welcome" and isinstance(message, tuple):
            self.number = message[0]
        elif kind == "note" and isinstance(message, str):
            self.on_note(message)

    async def _pause(self, failures: int, why: str) -> None:
        delay = self.delays[min(failures - 1, len(self.delays) - 1)]
        self.on_status(f"{why}; reconnecting in {delay:g} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    def stop(self) -> None:
        self._stopping.set()


__all__ = [
    "DEFAULT_PORT",
    "ClassroomError",
    "Follower",
    "Join",
    "Position",
    "Reply",
    "Share",
    "Verdict",
    "class_url",
    "decode",
    "decode_from_follower",
    "encode",
    "follow_url",
    "lesson_digest",
    "share_server",
]
