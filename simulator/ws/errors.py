"""The WebSocket engine's errors.

    WirelabError
    └── WebSocketError
        ├── ProtocolError       the peer's bytes broke RFC 6455; ``violation`` names the
        │   │                   rule (a `Violation`), ``close_code`` the close frame's code
        │   └── HandshakeError  the opening handshake failed (an http.HttpError too); ``status``
        │                       is the HTTP answer
        └── UsageError          this program called the engine in the wrong state

A `ProtocolError` never escapes `Connection.receive_data`: the connection fails
itself, queues the close frame (or HTTP error response) and reports an event.
"""

from __future__ import annotations

from simulator.errors import WirelabError
from simulator.http import HttpError
from simulator.ws.close_codes import CloseCode
from simulator.ws.violations import Violation


class WebSocketError(WirelabError):
    """Base class of the engine's errors."""


class ProtocolError(WebSocketError):
    """The peer broke the protocol.

    `violation` is the rule it broke (None for a failed handshake, which names its
    fault with an HTTP status); `close_code` is what the close frame carries: the
    violation's, unless given. `reason` is the same fault in words, for people.
    """

    def __init__(
        self,
        reason: str,
        *,
        violation: Violation | None = None,
        close_code: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.violation = violation
        if close_code is None:
            close_code = CloseCode.PROTOCOL_ERROR if violation is None else violation.close_code
        self.close_code = close_code


class HandshakeError(ProtocolError, HttpError):
    """The opening handshake failed.

    On the server, `status` and `headers` are the HTTP error response to send
    (RFC 6455 §4.2.1-§4.2.2); on the client they are unused.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.headers = headers


class UsageError(WebSocketError):
    """The program asked the engine for something its state does not allow."""
