"""Classroom follow: the teacher's lesson position, served over wirelab's own WebSocket server.

`wirelab teach --share` runs a `Share` on a `Server`: each follower that connects
gets a `hello` with the teacher's position, then one `step` message for every
move, in order. Messages are small JSON texts:

    {"type": "hello", "version": 1, "lesson": "tcp-handshake", "digest": "…",
     "title": "…", "step": 3, "steps": 12, "seq": 41}
    {"type": "step", ...the same fields but version...}

`digest` is a hash of the lesson file, so a student whose copy differs is told
so instead of being shown the wrong thing. `seq` counts the teacher's moves. The
follower (`Follower`) reconnects with a growing pause when the connection
drops, and a fresh `hello` puts it back in step. Followers send nothing the
teacher acts on; what they send is ignored.

A follower that stops reading is not allowed to cost the teacher memory: the
server's bounded send buffer drops it with 1013 (Try Again Later), and it
reconnects and resyncs like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from simulator.errors import WirelabError
from simulator.live.chat import relay
from simulator.live.client import ClientError, WebSocketClient, connect
from simulator.live.server import Server, Service, Session
from simulator.ws import (
    CloseReceived,
    Config,
    ConnectionFailed,
    Event,
    TextMessage,
)

VERSION = 1
DEFAULT_PORT = 8766
SHARE_BUFFER_LIMIT = 64 * 1024  # ~400 moves a follower may fall behind before it is dropped
MAX_MESSAGE = 4096  # nothing a follower legitimately sends is bigger
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # then every 5 s
RECONNECT_ATTEMPTS = 120  # about ten minutes without a teacher, then give up


class ClassroomError(WirelabError):
    """A message from the teacher that is not what the protocol says."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where the teacher is."""

    lesson: str
    digest: str
    title: str
    step: int  # from 0
    steps: int
    seq: int


def lesson_digest(path: Path) -> str:
    """A short hash of a lesson file: the same text on both sides, the same lesson."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def encode(kind: str, position: Position) -> str:
    fields: dict[str, object] = {"type": kind}
    if kind == "hello":
        fields["version"] = VERSION
    fields.update(asdict(position))
    return json.dumps(fields, separators=(",", ":"))


def decode(text: str) -> tuple[str, Position]:
    """Parse one message from the teacher; `ClassroomError` says what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ClassroomError("not JSON") from None
    if not isinstance(data, dict):
        raise ClassroomError("not a JSON object")
    kind = data.get("type")
    if kind not in ("hello", "step"):
        raise ClassroomError(f"unknown message type {kind!r}")
    if kind == "hello" and data.get("version") != VERSION:
        raise ClassroomError(
            f"the teacher's wirelab speaks classroom protocol {data.get('version')!r}, "
            f"this one {VERSION}: use the same wirelab version"
        )
    strings = {name: data.get(name) for name in ("lesson", "digest", "title")}
    numbers = {name: data.get(name) for name in ("step", "steps", "seq")}
    for name, value in strings.items():
        if not isinstance(value, str) or len(value) > 200:
            raise ClassroomError(f"{name!r} is not a short string")
    for name, value in numbers.items():
        if type(value) is not int or value < 0:
            raise ClassroomError(f"{name!r} is not a whole number")
    if numbers["step"] >= numbers["steps"]:  # type: ignore[operator]
        raise ClassroomError("step is past the lesson's last")
    return kind, Position(**strings, **numbers)  # type: ignore[arg-type]


class Share(Service):
    """The teacher's side: every follower gets each move, in order."""

    name = "classroom"

    def __init__(self, on_change: Callable[[int], None] | None = None) -> None:
        self.followers: dict[int, Session] = {}
        self.position: Position | None = None
        self.on_change = on_change
        self._seq = 0

    @property
    def count(self) -> int:
        return len(self.followers)

    def move(self, lesson: str, digest: str, title: str, step: int, steps: int) -> None:
        """The teacher is now at `step` of `lesson`: tell every follower."""
        self._seq += 1
        self.position = Position(lesson, digest, title, step, steps, self._seq)
        relay(TextMessage(encode("step", self.position)), list(self.followers.values()))

    def opened(self, session: Session) -> None:
        if session.info is not None:
            self.followers[session.info.id] = session
        if self.position is not None:
            session.send_text(encode("hello", self.position))
        self._changed()

    def received(self, session: Session, event: Event) -> None:
        """Followers have nothing to say; whatever they send is ignored."""

    def closed(self, session: Session) -> None:
        if session.info is not None and self.followers.pop(session.info.id, None) is not None:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.count)


def share_server(share: Share, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Server:
    """The server a `Share` runs on: every path follows; no page, no compression."""
    return Server(
        host=host,
        port=port,
        config=Config(max_size=MAX_MESSAGE),
        services={},
        default=share,
        http=False,
        send_buffer_limit=SHARE_BUFFER_LIMIT,
    )


class Follower:
    """The student's side: follows a teacher's `Share`, reconnecting when it drops.

    `on_position(kind, position)` is called for each hello and step; `on_status(text)`
    with a line for people ("connected", "reconnecting in 2 s: …", "the teacher
    ended the class"). `run()` returns when `stop()` is called or it gives up.
    """

    def __init__(
        self,
        url: str,
        on_position: Callable[[str, Position], None],
        on_status: Callable[[str], None] = lambda text: None,
        *,
        delays: tuple[float, ...] = RECONNECT_DELAYS,
        attempts: int = RECONNECT_ATTEMPTS,
    ) -> None:
        self.url = url
        self.on_position = on_position
        self.on_status = on_status
        self.delays = delays
        self.attempts = attempts
        self.client: WebSocketClient | None = None
        self.connections = 0  # how many times it (re)connected
        self.last_close: tuple[int, str] | None = None
        self._stopping = asyncio.Event()

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
            why = await self._follow(client)
            self.client = None
            if self._stopping.is_set():
                return
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
                    kind, position = decode(event.data)
                except ClassroomError as error:
                    await client.close(1008, "bad message")
                    return f"the teacher sent something unreadable ({error})"
                self.on_position(kind, position)
            elif isinstance(event, CloseReceived):
                self.last_close = (event.code, event.reason)
                if event.code == 1001:
                    return "the teacher ended the class"
                return f"closed by the teacher with {event.code} {event.reason}".rstrip()
            elif isinstance(event, ConnectionFailed):
                return f"connection failed ({event.code}: {event.reason})"

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
    "Position",
    "Share",
    "decode",
    "encode",
    "lesson_digest",
    "share_server",
]
