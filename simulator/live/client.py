"""An asyncio WebSocket client running the sans-IO engine over a real TCP connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from urllib.parse import urlsplit

from simulator.errors import WirelabError
from simulator.live.server import (
    CLOSE_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    ConnectionInfo,
    Tap,
    default_config,
)
from simulator.ws import (
    Accepted,
    CloseCode,
    Config,
    Connection,
    ConnectionState,
    Event,
    HandshakeFailed,
    Rejected,
    Role,
)


class ClientError(WirelabError):
    """The client could not connect or the handshake failed."""


def parse_url(url: str) -> tuple[str, int, str]:
    """`ws://host:port/path?query` → (host, port, resource name)."""
    parts = urlsplit(url)
    if parts.scheme == "wss":
        raise ClientError("wss:// (WebSocket over TLS) is not supported; use ws://")
    if parts.scheme != "ws" or not parts.hostname:
        raise ClientError(f"not a ws:// URL: {url!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise ClientError(f"bad port in {url!r}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path


class WebSocketClient(asyncio.Protocol):
    """A connected client. Create it with `await connect(url)`."""

    def __init__(self, config: Config | None, tap: Tap | None) -> None:
        self.conn = Connection(Role.CLIENT, config=config)
        self.transport: asyncio.Transport | None = None
        self.info: ConnectionInfo | None = None
        self._tap = tap
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        # The handshake's outcome; None if the connection ended first. (A result, not an
        # exception: nobody may be waiting any more, and an unread exception gets logged.)
        self.opened: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.info = ConnectionInfo(
            0, transport.get_extra_info("sockname")[:2], transport.get_extra_info("peername")[:2]
        )

    def data_received(self, data: bytes) -> None:
        if self._tap is not None and self.info is not None:
            self._tap(self.info, "in", data, time.time())
        self.conn.receive_data(data)
        self._dispatch()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.receive_eof()
        self._dispatch()
        self._events.put_nowait(None)
        if not self.opened.done():
            self.opened.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)

    def _dispatch(self) -> None:
        for event in self.conn.events():
            if type(event) in (Accepted, Rejected, HandshakeFailed) and not self.opened.done():
                self.opened.set_result(event)
            else:
                self._events.put_nowait(event)
        self.flush()

    def flush(self) -> None:
        chunks = self.conn.output()
        if chunks and self.transport is not None:
            if self._tap is not None and self.info is not None:
                self._tap(self.info, "out", b"".join(chunks), time.time())
            for chunk in chunks:  # not writelines(): before 3.12 it joins them all
                self.transport.write(chunk)
        failed = self.conn.state is ConnectionState.CLOSED and self.conn.failure is not None
        if failed and self.transport is not None:
            # We failed the connection: no need to wait for the server (§7.1.7).
            self.transport.close()

    # --- API --------------------------------------------------------------------

    async def recv(self, timeout: float | None = None) -> Event | None:
        """The next event (message, ping, pong, close, failure); None once the socket is gone."""
        if self._events.empty() and self.lost.done():
            return None
        return await asyncio.wait_for(self._events.get(), timeout)

    def send_text(self, text: str, *, fragment_size: int | None = None) -> None:
        self.conn.send_text(text, fragment_size=fragment_size)
        self.flush()

    def send_binary(self, data: bytes, *, fragment_size: int | None = None) -> None:
        self.conn.send_binary(data, fragment_size=fragment_size)
        self.flush()

    def ping(self, payload: bytes = b"") -> None:
        self.conn.ping(payload)
        self.flush()

    async def close(
        self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = ""
    ) -> tuple[int, str] | None:
        """Close with `code`; wait for the server's close and for it to end TCP (§7.1.1).

        Returns the server's (code, reason), or None if it never answered.
        """
        if self.conn.state is ConnectionState.OPEN:
            self.conn.close(code, reason)
            self.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.lost), CLOSE_TIMEOUT)
        if self.transport is not None:
            self.transport.close()
        return self.conn.close_received


async def connect(
    url: str,
    *,
    config: Config | None = None,
    tap: Tap | None = None,
    origin: str | None = None,
    timeout: float = HANDSHAKE_TIMEOUT,
) -> WebSocketClient:
    """Open a TCP connection to `url` and complete the opening handshake.

    Without `config`, permessage-deflate is offered, as browsers do.
    Raises `ClientError` with a one-line reason when that fails.
    """
    host, port, path = parse_url(url)
    if config is None:
        config = default_config()
    loop = asyncio.get_running_loop()
    try:
        _, client = await asyncio.wait_for(
            loop.create_connection(lambda: WebSocketClient(config, tap), host, port), timeout
        )
    except TimeoutError:
        raise ClientError(f"timed out connecting to {host}:{port}") from None
    except OSError as error:
        why = os.strerror(error.errno) if error.errno else str(error)
        raise ClientError(f"cannot connect to {host}:{port}: {why}") from None
    authority = f"[{host}]" if ":" in host else host  # an IPv6 literal (RFC 9110 §7.2)
    if port != 80:
        authority += f":{port}"
    client.conn.connect(authority, path, origin=origin)
    client.flush()
    try:
        result = await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    except TimeoutError:
        if client.transport is not None:
            client.transport.abort()
        raise ClientError(
            f"no handshake response from {host}:{port} within {timeout:g} s"
        ) from None
    if result is None:
        raise ClientError(f"{host}:{port} closed the connection during the handshake")
    if isinstance(result, Rejected):
        if client.transport is not None:
            client.transport.close()
        raise ClientError(f"the server refused the upgrade: {result.status} {result.reason}")
    if isinstance(result, HandshakeFailed):
        if client.transport is not None:
            client.transport.close()
        raise ClientError(f"invalid handshake response: {result.reason}")
    return client


__all__ = ["ClientError", "WebSocketClient", "connect", "parse_url"]
