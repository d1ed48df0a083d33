"""Events the engine reports: plain values, each readable as a line."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.ws.close_codes import explain
from simulator.ws.violations import Violation

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Request:
    """Server side: a valid opening handshake arrived; call `accept()` or `reject()`."""

    path: str
    host: str
    headers: Headers
    subprotocols: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()  # raw Sec-WebSocket-Extensions offers
    origin: str | None = None

    def __str__(self) -> str:
        extra = f" (subprotocols: {', '.join(self.subprotocols)})" if self.subprotocols else ""
        return f"HANDSHAKE GET {self.path}{extra}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """Client side: the server answered 101 and the connection is open."""

    subprotocol: str | None
    extensions: tuple[str, ...]
    headers: Headers

    def __str__(self) -> str:
        sub = f" subprotocol {self.subprotocol!r}" if self.subprotocol else ""
        return f"OPEN{sub}"


@dataclass(frozen=True, slots=True)
class Rejected:
    """Client side: the server answered the handshake with an HTTP error."""

    status: int
    reason: str
    headers: Headers
    body: bytes

    def __str__(self) -> str:
        return f"REJECTED {self.status} {self.reason}"


@dataclass(frozen=True, slots=True)
class HandshakeFailed:
    """The opening handshake broke the rules.

    On a server, `status` is the HTTP error already queued for the client;
    on a client, the server's response was invalid and `status` is 0.
    """

    reason: str
    status: int = 0

    def __str__(self) -> str:
        return f"HANDSHAKE FAILED{f' {self.status}' if self.status else ''}: {self.reason}"


@dataclass(frozen=True, slots=True)
class TextMessage:
    data: str

    def __str__(self) -> str:
        size = len(self.data)
        more = "…" if size > 40 else ""
        return f"TEXT {self.data[:40]!r}{more} [{size} char{'s' * (size != 1)}]"


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A whole binary message. A large one (64 KiB or more in one frame, over several
    reads) may be the `bytearray` it was read into, not a copy: treat it as read-only."""

    data: bytes | bytearray

    def __str__(self) -> str:
        size = len(self.data)
        return f"BINARY {self.data[:16].hex(' ')} [{size} byte{'s' * (size != 1)}]"


@dataclass(frozen=True, slots=True)
class Ping:
    """The peer pinged; the pong with the same payload is already queued (RFC 6455 §5.5.2)."""

    payload: bytes = b""

    def __str__(self) -> str:
        return f"PING {self.payload!r}"


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes = b""

    def __str__(self) -> str:
        return f"PONG {self.payload!r}"


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's close frame. `code` is 1005 when the frame carried none."""

    code: int
    reason: str = ""

    def __str__(self) -> str:
        return f"CLOSE {self.code} ({explain(self.code)}) {self.reason!r}"


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke the protocol: a close frame with `code` is queued, then the end.

    `violation` is the rule the peer broke (its `close_code` is `code`); None when no
    rule was broken, as when the transport closed without a close frame (1006).
    `reason` says the same in words, for people: read the violation, not the words.
    """

    code: int
    reason: str
    violation: Violation | None = None

    def __str__(self) -> str:
        return f"FAILED {self.code} ({explain(self.code)}): {self.reason}"


Event = (
    Request
    | Accepted
    | Rejected
    | HandshakeFailed
    | TextMessage
    | BinaryMessage
    | Ping
    | Pong
    | CloseReceived
    | ConnectionFailed
)
