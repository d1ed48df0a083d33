"""The HTTP layer's error: a message that cannot be taken, and the status that says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.errors import WirelabError

if TYPE_CHECKING:
    from simulator.http.head import Headers


class HttpError(WirelabError):
    """An HTTP message that cannot be taken. `status` is a server's answer to it (400
    malformed, 431 a head too large, 413, 501, 505, ...); `headers` go with that answer.

    The WebSocket engine's `HandshakeError` is one too: a refused opening handshake
    is answered with an HTTP status.
    """

    def __init__(self, reason: str, status: int = 400, headers: Headers = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers
