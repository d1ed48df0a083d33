"""The verdict: the bytes fed to a real engine of the receiving role, and what it did.

`judge` feeds the edited bytes to a fresh engine of the *receiving* role — a
server `Connection` for a client's frame, a client `Connection` for a server's
— after a real opening handshake, exactly as a live or simulated peer would
see them, one frame at a time. The `Verdict` reports what the engine did (its
events, the close frame it queued, the code and the reason), says it in a line
(its `summary`: what was delivered or answered, what the receiver waits for,
the close code it failed with) and names the RFC rule behind it: for a
refusal, the `Violation` the engine reported, cited by `simulator.sandbox.rules`
in the failing frame's numbers. Nothing here decides whether a frame is valid:
only the engine does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from simulator.errors import WirelabError
from simulator.sandbox.model import OPCODE_NAMES, frame_spans, read_shape
from simulator.sandbox.rules import FrameFacts, cite, frame_facts
from simulator.text import plural
from simulator.ws.close_codes import CloseCode, explain
from simulator.ws.connection import Config, Connection, Role
from simulator.ws.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from simulator.ws.frames import Frame, Opcode, parse_frames
from simulator.ws.violations import Violation

Status = Literal["ACCEPTED", "REJECTED", "INCOMPLETE"]


@dataclass(frozen=True)
class Verdict:
    """What the receiving engine did with the bytes, and the RFC rule behind it.

    `summary` says in a line what happened (never empty): what was delivered or
    answered, what the receiver waits for, or the close code it failed with.
    `close_code` and `close_frame` are those of the close frame the engine queued in
    answer, if it queued one; `reason` is the engine's own words (for a failure) or a
    note; `violation` the rule the engine's failure names; `rule` that rule (or, for a
    frame taken, what the RFC says the receiver does) as "RFC 6455 §5.1: ...", from
    section `section` of `rfc`; `waiting` is how many more bytes the receiver waits for
    when the bytes stop mid-frame; `answer` is every byte the engine queued (a pong,
    the close frame).
    """

    accepted: bool
    events: list[str]
    close_code: int | None
    reason: str
    rule: str
    section: str
    close_frame: bytes | None
    summary: str
    waiting: int | None = None
    answer: bytes = b""
    violation: Violation | None = None
    rfc: str = "RFC 6455"

    @property
    def incomplete(self) -> bool:
        return self.waiting is not None

    @property
    def status(self) -> Status:
        """One word: ACCEPTED, REJECTED or INCOMPLETE."""
        if self.waiting is not None:
            return "INCOMPLETE"
        return "ACCEPTED" if self.accepted else "REJECTED"

    @property
    def citation(self) -> str:
        """Where the rule is written: "RFC 6455 §5.1"."""
        return f"{self.rfc} {self.section}"

    @property
    def meaning(self) -> str:
        """The close code's explanation (`close_codes.explain`), or "" without one."""
        return "" if self.close_code is None else explain(self.close_code)

    @property
    def replies(self) -> list[str]:
        """The frames the engine queued in answer, one line each."""
        frames, _ = parse_frames(self.answer)
        return [str(frame) for frame in frames]

    @property
    def headline(self) -> str:
        """One line: "REJECTED · close 1002: …", "ACCEPTED · the server delivered …"."""
        return f"{self.status} · {self.summary}"


# The opening handshake every judge starts from: RFC 6455 §1.3's nonce, §5.7's masking key,
# so the same bytes always get the same answer, byte for byte.
_NONCE = b"the sample nonce"
_MASKING_KEY = bytes.fromhex("37fa213d")


def _sample_random(n: int) -> bytes:
    return _NONCE if n == 16 else (_MASKING_KEY * (n // 4 + 1))[:n]


def _open_pair(max_size: int) -> tuple[Connection, Connection]:
    """A client and a server past a real opening handshake, both OPEN, queues empty."""
    config = Config(max_size=max_size)
    client = Connection(Role.CLIENT, config=config, rng=_sample_random)
    server = Connection(Role.SERVER, config=config, rng=_sample_random)
    client.connect("server.example.com", "/chat")
    server.receive_data(client.data_to_send())
    server.events()
    server.accept()
    client.receive_data(server.data_to_send())
    client.events()
    if client.closed or server.closed:  # pragma: no cover - the engine's own handshake
        raise WirelabError("the sandbox's opening handshake failed")
    return client, server


def _waiting(data: bytes) -> tuple[int, bool]:
    """Bytes the receiver still waits for after the last whole frame in `data` (0: none),
    and whether that is exact (False: the length is still unknown, so at least that)."""
    pos = 0
    while True:
        shape = read_shape(data[pos:])
        if shape is None:
            return (2 - (len(data) - pos), False) if pos < len(data) or not pos else (0, True)
        if shape.end is None:
            return shape.missing, False
        if shape.missing:
            return shape.missing, True
        pos += shape.end


_ACCEPTED: dict[type, tuple[str, str]] = {
    TextMessage: (
        "§6.2",
        "a frame that completes a message means a WebSocket message has been received, "
        "here of type text; its UTF-8 was valid (§8.1)",
    ),
    BinaryMessage: (
        "§6.2",
        "a frame that completes a message means a WebSocket message has been received, "
        "here of type binary",
    ),
    Ping: (
        "§5.5.2",
        "upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response "
        "(with the same application data, §5.5.3)",
    ),
    Pong: (
        "§5.5.3",
        "a Pong frame MAY be sent unsolicited, as a heartbeat; no response is expected",
    ),
    CloseReceived: (
        "§5.5.1",
        "an endpoint that receives a Close frame and did not send one MUST send a Close frame "
        "in response (typically echoing the status code)",
    ),
}


def _what_happened(event: Event, receiver: str, answer: Sequence[Frame]) -> str:
    """What the receiver did on `event`, in words: what it delivered, answered, closed."""
    if isinstance(event, TextMessage):
        size = plural(len(event.data.encode("utf-8")), "byte")
        return f"the {receiver} delivered a TEXT message of {size} to its application"
    if isinstance(event, BinaryMessage):
        size = plural(len(event.data), "byte")
        return f"the {receiver} delivered a BINARY message of {size} to its application"
    if isinstance(event, Ping):
        size = plural(len(event.payload), "byte")
        if any(frame.opcode == Opcode.PONG for frame in answer):
            return f"the {receiver} answered the PING ({size}) with a PONG carrying the same data"
        return f"the {receiver} took the PING ({size}) but, closing, sent no PONG"
    if isinstance(event, Pong):
        size = plural(len(event.payload), "byte")
        return f"the {receiver} took the PONG ({size}) as a heartbeat; a PONG needs no answer"
    if isinstance(event, CloseReceived):
        if event.code == CloseCode.NO_STATUS_RCVD:
            got = "a CLOSE without a status code"
        else:
            got = f"a CLOSE with code {event.code} ({explain(event.code).split(':')[0]})"
        echoed = "echoed it" if any(f.opcode == Opcode.CLOSE for f in answer) else "sent no close"
        return f"the {receiver} got {got}, {echoed} and closed the connection"
    return f"the {receiver} reported {event}"  # pragma: no cover - no other event once OPEN


@dataclass
class _OpenMessage:
    """A fragmented message the receiver has started and not finished (RFC 6455 §5.4)."""

    opcode: int
    fragments: int
    size: int


def _still_open(frames: Sequence[Frame]) -> _OpenMessage | None:
    """The message the received frames leave open, if they end inside one."""
    message: _OpenMessage | None = None
    for frame in frames:
        if frame.opcode >= 0x8:
            continue
        if frame.opcode != Opcode.CONTINUATION:
            message = _OpenMessage(frame.opcode, 1, len(frame.payload))
        elif message is not None:
            message.fragments += 1
            message.size += len(frame.payload)
        if frame.fin:
            message = None
    return message


def _waits_for_the_rest(message: _OpenMessage, receiver: str) -> str:
    name = OPCODE_NAMES.get(message.opcode, f"opcode {message.opcode:#x}").upper()
    which = "the first fragment" if message.fragments == 1 else f"{message.fragments} fragments"
    return (
        f"{which} of a {name} message ({plural(message.size, 'byte')} so far): the {receiver} "
        "waits for continuation frames (opcode 0x0, the last with FIN = 1) before it "
        "delivers the message"
    )


def judge(frame: bytes, *, from_client: bool = True, max_size: int = 1 << 20) -> Verdict:
    """Feed `frame` to a fresh, open engine of the receiving role and report its verdict.

    `from_client` says who sent the bytes: a server engine judges a client's
    frame, a client engine a server's. `max_size` is the receiver's message
    limit (`Config.max_size`).
    """
    client, server = _open_pair(max_size)
    receiver = server if from_client else client
    who = "server" if from_client else "client"
    received: list[Frame] = []
    receiver.on_frame = lambda direction, seen: received.append(seen)
    data = bytes(frame)
    # One frame at a time (the engine reads them the same in any chunks), to know which
    # frame the engine failed on: the rule quotes that frame's numbers.
    failed_on: FrameFacts | None = None
    for start, end in frame_spans(data):
        receiver.receive_data(data[start:end])
        if failed_on is None and receiver.failure is not None:
            failed_on = next(iter(frame_facts(data[start:end], limit=max_size)), None)
    events: list[Event] = receiver.events()
    answer = receiver.data_to_send()
    # A violation behind whole messages comes after them: the messages are delivered
    # first (the receiver could answer them), then the connection fails.
    events += receiver.events()
    answered, _ = parse_frames(answer)
    lines = [str(event) for event in events]
    close_frame, close_code = _close_of(answer)
    failure = next((e for e in events if isinstance(e, ConnectionFailed)), None)
    if failure is not None:
        citation = cite(failure.violation, failure.code, failed_on)
        code = close_code if close_code is not None else failure.code
        return Verdict(
            accepted=False, events=lines, close_code=close_code, reason=failure.reason,
            rule=citation.rule, section=citation.section, close_frame=close_frame,
            summary=f"close {code}: {explain(code)}", answer=answer,
            violation=failure.violation, rfc=citation.rfc,
        )  # fmt: skip
    done = [_what_happened(event, who, answered) for event in events]
    waiting, exact = (0, True) if receiver.closed else _waiting(data)
    if waiting:
        least = "" if exact else "at least "
        more = plural(waiting, "more byte")
        waits = f"the {who} waits for {least}{more} before it acts on the frame"
        return Verdict(
            accepted=False, events=lines, close_code=close_code,
            reason=f"incomplete: the receiver waits for {least}{more}",
            rule="RFC 6455 §5.2: the payload length says how many bytes of payload data "
            "follow; the receiver acts on the frame only once all of them have arrived",
            section="§5.2", close_frame=close_frame,
            summary="; then ".join([*done, waits]),
            waiting=waiting, answer=answer,
        )  # fmt: skip
    message = None if receiver.closed else _still_open(received)
    if message is not None:
        return Verdict(
            accepted=True, events=lines, close_code=close_code,
            reason="accepted: the first fragment of a message; the receiver waits for the rest"
            if message.fragments == 1
            else "accepted: fragments of a message; the receiver waits for the rest",
            rule="RFC 6455 §5.4: a fragmented message starts with FIN = 0 and continues with "
            "continuation frames (opcode 0) until one with FIN = 1",
            section="§5.4", close_frame=close_frame,
            summary="; then ".join([*done, _waits_for_the_rest(message, who)]), answer=answer,
        )  # fmt: skip
    if not events:  # pragma: no cover - whole frames always give an event or a failure
        return Verdict(
            accepted=True, events=lines, close_code=close_code, reason="accepted",
            rule="RFC 6455 §5: the frame follows RFC 6455", section="§5",
            close_frame=close_frame, summary=f"the {who} took the bytes and reported nothing",
            answer=answer,
        )  # fmt: skip
    section, text = _ACCEPTED.get(type(events[-1]), ("§5", "the frame follows RFC 6455"))
    return Verdict(
        accepted=True, events=lines, close_code=close_code, reason=f"accepted: {lines[-1]}",
        rule=f"RFC 6455 {section}: {text}", section=section, close_frame=close_frame,
        summary="; then ".join(done), answer=answer,
    )  # fmt: skip


def _close_of(answer: bytes) -> tuple[bytes | None, int | None]:
    """The close frame among the engine's answer bytes (its wire bytes) and its code."""
    frames, _ = parse_frames(answer)
    for sent in frames:
        if sent.opcode == Opcode.CLOSE:
            code = int.from_bytes(sent.payload[:2], "big") if len(sent.payload) >= 2 else None
            return sent.raw, code
    return None, None
