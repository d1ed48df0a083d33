"""An asyncio WebSocket server running the sans-IO engine, one `Session` per connection.

Each read and write is passed to the tap, if any, as it happens: the live
trace (and the byte-level views built on it) are fed from here.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulator.ws import (
    CloseCode,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    HandshakeFailed,
    Request,
    Role,
    send_message,
)

HANDSHAKE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Which connection a tapped chunk belongs to."""

    id: int
    local: tuple[str, int]
    peer: tuple[str, int]

    def __str__(self) -> str:
        return f"#{self.id} {self.peer[0]}:{self.peer[1]}"


Tap = Callable[[ConnectionInfo, str, bytes, float], None]
"""Called as tap(info, "in" | "out", data, timestamp) for every read and every write."""

Handler = Callable[["Session", Event], None]
"""Called for every event of an open connection; the default echoes messages.

Events are handed over after a whole read is parsed, so a message may arrive when
the connection is no longer OPEN (a close frame followed it): check before sending.
"""

Notify = Callable[["Session", str], None]
"""Called with a one-line note when a connection opens, is refused or ends."""


def echo(session: Session, event: Event) -> None:
    """Echo every text and binary message back to its sender (while it may still send)."""
    send_message(session.conn, event)


class Session(asyncio.Protocol):
    """One client connection: the transport, the engine and the glue between them."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = Connection(Role.SERVER, config=server.config)
        self.info: ConnectionInfo | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._tap = server.tap
        self._over_limit = False
        self._lingering = False

    # --- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        local = transport.get_extra_info("sockname")[:2]
        peer = transport.get_extra_info("peername")[:2]
        self.info = ConnectionInfo(next(self.server.ids), local, peer)
        self.server.sessions.add(self)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.server.handshake_timeout, self._handshake_timeout)
        # Over the limit, the request is still read, then answered with 503.
        self._over_limit = len(self.server.sessions) > self.server.max_connections

    def data_received(self, data: bytes) -> None:
        if self._tap is not None and self.info is not None:
            self._tap(self.info, "in", data, time.time())
        conn = self.conn
        conn.receive_data(data)
        handler = self.server.handler
        # Loop: accept() parses the bytes that came right behind the request into new events.
        while events := conn.events():
            for event in events:
                if type(event) is Request:
                    self._opened()
                    continue
                if type(event) is HandshakeFailed:
                    self._note(f"handshake refused: {event.status} {event.reason}")
                elif type(event) is ConnectionFailed:
                    self._note(f"failed with {event.code}: {event.reason}")
                try:
                    handler(self, event)
                except Exception as error:  # a bug in the handler must not kill the server
                    self._note(f"handler error: {error!r}; closing with 1011")
                    if conn.state is ConnectionState.OPEN:
                        conn.close(CloseCode.INTERNAL_ERROR, "internal server error")
        self.flush()

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.receive_eof()
        for event in self.conn.events():
            self.server.handler(self, event)
        if self._timer is not None:
            self._timer.cancel()
        self.server.sessions.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)
        if self.conn.close_received or self.conn.close_sent:
            code = (self.conn.close_received or self.conn.close_sent or (None, ""))[0]
            self._note(f"closed ({code})")

    def pause_writing(self) -> None:
        # The peer reads slower than we write: stop reading until it catches up.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # --- helpers ----------------------------------------------------------------

    def flush(self) -> None:
        """Write what the engine queued; close the transport once the engine is CLOSED."""
        transport = self.transport
        if transport is None:
            return
        chunks = self.conn.output()
        if chunks:
            if self._tap is not None and self.info is not None:
                self._tap(self.info, "out", b"".join(chunks), time.time())
            for chunk in chunks:  # not writelines(): before 3.12 it joins them all
                transport.write(chunk)
        if self.conn.state is ConnectionState.CLOSED and not transport.is_closing():
            if self.conn.close_received is None and transport.can_write_eof():
                # We refused or failed the connection while the peer may still be
                # sending: closing now could turn into a reset that destroys our
                # answer. Send FIN after it, read (and discard) until the peer
                # closes, and give up after a while.
                if not self._lingering:
                    self._lingering = True
                    transport.write_eof()
                    asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)
            else:
                transport.close()  # RFC 6455 §7.1.1: the server closes TCP first

    def _opened(self) -> None:
        if self._over_limit:
            self.conn.reject(503, "too many connections, try again later")
            self._note("refused: connection limit reached")
            return
        self.conn.accept()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sub = f" subprotocol {self.conn.subprotocol}" if self.conn.subprotocol else ""
        self._note(f"open{sub}")

    def _handshake_timeout(self) -> None:
        if self.conn.state is ConnectionState.CONNECTING and self.transport is not None:
            self._note(f"dropped: no handshake within {self.server.handshake_timeout:g} s")
            self.transport.abort()

    def _note(self, text: str) -> None:
        if self.server.notify is not None:
            self.server.notify(self, text)

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (or just drop a connection still handshaking)."""
        if self.conn.state is ConnectionState.OPEN:
            self.conn.close(code, reason)
            self.flush()
        elif self.conn.state is ConnectionState.CONNECTING and self.transport is not None:
            self.transport.close()


class Server:
    """A WebSocket server on one host:port. Use `start()`, then `shutdown()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        config: Config | None = None,
        handler: Handler = echo,
        tap: Tap | None = None,
        notify: Notify | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        max_connections: int = 1024,
    ) -> None:
        self.host = host
        self.port = port
        self.config = config or Config()
        self.handler = handler
        self.tap = tap
        self.notify = notify
        self.handshake_timeout = handshake_timeout
        self.max_connections = max_connections
        self.sessions: set[Session] = set()
        self.ids = itertools.count(1)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self), self.host, self.port, reuse_address=True
        )
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]  # the real one when port was 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/"

    async def shutdown(
        self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Stop accepting, close every connection with `code`, wait a little, drop the rest."""
        if self._server is not None:
            self._server.close()
        sessions = list(self.sessions)
        for session in sessions:
            session.close(code, reason)
        if sessions:
            _, _pending = await asyncio.wait(
                [session.closed for session in sessions], timeout=CLOSE_TIMEOUT
            )
            for session in sessions:
                if not session.closed.done() and session.transport is not None:
                    session.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
