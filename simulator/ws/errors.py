"""The WebSocket engine's errors.

    WirelabError
    └── WebSocketError
        ├── ProtocolError       the peer's bytes broke RFC 6455; ``close_code`` says how
        │   └── HandshakeError  the opening handshake failed; ``status`` is the HTTP answer
        └── UsageError          this program called the engine in the wrong state

A `ProtocolError` never escapes `Connection.receive_data`: the connection fails
itself, queues the close frame (or HTTP error response) and reports an event.
"""

from __future__ import annotations

from simulator.errors import WirelabError
from simulator.ws.close_codes import CloseCode


class WebSocketError(WirelabError):
    """Base class of the engine's errors."""


class ProtocolError(WebSocketError):
    """The peer broke the protocol. `close_code` is what the close frame carries."""

    def __init__(self, reason: str, *, close_code: int = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close_code = close_code


class HandshakeError(ProtocolError):
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
