"""An asyncio WebSocket client running the sans-IO engine over a real TCP connection."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import socket
import string
import time
from typing import cast

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


URL_FORM = "ws://HOST[:PORT][/PATH]"
MAX_URL_LENGTH = 2048  # far beyond any real one, and a request line servers still accept
_HOST_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-._")
_NEVER_IN_URLS = frozenset('"<>\\^`{|}')  # RFC 3986 §2: these must be percent-encoded
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_url(url: str) -> tuple[str, int, str]:
    """`ws://host:port/path?query` → (host, port, resource name).

    Anything else raises `ClientError` with one line: the URL, what is wrong with it and the
    form expected. The form is RFC 6455 §3's ws-URI: no user name or password, no fragment;
    wss:// (TLS) is not supported. Nothing is looked up or connected to here.
    """
    try:
        return _split_url(url)
    except ValueError as error:
        raise ClientError(f"bad URL {_shown(url)}: {error}; expected {URL_FORM}") from None


def _shown(text: str, limit: int = 60) -> str:
    """`text` quoted on one line (control characters escaped), long ones shortened."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit - 10]!r}… ({len(text)} characters)"


def _split_url(url: str) -> tuple[str, int, str]:
    """`parse_url`'s work; a ValueError says what is wrong."""
    if not url:
        raise ValueError("it is empty")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"too long: more than {MAX_URL_LENGTH} characters")
    for number, char in enumerate(url, 1):
        if char == " ":
            raise ValueError(f"a space (character {number}); write it as %20")
        if not char.isprintable() and char.isascii():
            raise ValueError(f"a control character ({char!r}, character {number})")
        if not char.isascii():
            raise ValueError(
                f"a non-ASCII character ({char!r}, character {number}); percent-encode it"
            )
        if char in _NEVER_IN_URLS:
            raise ValueError(f"{char!r} (character {number}) is not allowed; percent-encode it")
    scheme, separator, rest = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        raise ValueError("not a ws:// URL (it does not start with ws://)")
    if scheme.lower() == "wss":
        raise ValueError("wss:// (WebSocket over TLS) is not supported, only ws://")
    if scheme.lower() != "ws":
        raise ValueError(f"not a ws:// URL ({scheme}:// is not supported, only ws://)")
    if "#" in rest:
        raise ValueError("a fragment (#...) has no place in a WebSocket URL; write # as %23")
    cut = min((at for at in (rest.find("/"), rest.find("?")) if at >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise ValueError("a user name or password (...@) is not allowed in a ws:// URL")
    host, port = _split_authority(authority)
    if _BAD_PERCENT.search(tail):
        raise ValueError("a '%' not followed by two hex digits; write % itself as %25")
    path = tail if tail.startswith("/") else "/" + tail
    return host, port, path


def _split_authority(authority: str) -> tuple[str, int]:
    """`HOST[:PORT]`, `[IPv6]`, `[IPv6]:PORT` → (host, port)."""
    if not authority:
        raise ValueError("no host")
    if authority.startswith("["):
        literal, bracket, after = authority[1:].partition("]")
        if not bracket:
            raise ValueError("invalid IPv6 address: no closing ']'")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise ValueError("invalid IPv6 address between the brackets") from None
        if after and not after.startswith(":"):
            raise ValueError(f"{_shown(after, 20)} after the IPv6 address (only :PORT may follow)")
        host, port = literal, (after[1:] if after else None)
    else:
        host, colon, port_text = authority.partition(":")
        if ":" in port_text:
            raise ValueError("an IPv6 address goes in brackets: ws://[::1]:8765/")
        _check_host_name(host)
        port = port_text if colon else None
    if port is None:
        return host, 80
    if not port:
        raise ValueError("no port after ':' (leave the ':' out for the default, 80)")
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"port {_shown(port, 20)} is not a number from 1 to 65535")
    return host, int(port)


def _check_host_name(host: str) -> None:
    """A DNS name (RFC 1123) or a dotted-quad IPv4 address, or a ValueError."""
    if not host:
        raise ValueError("no host")
    if all(char.isdigit() or char == "." for char in host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"invalid IPv4 address {_shown(host, 20)}") from None
        return
    for char in host:
        if char not in _HOST_NAME_CHARS:
            raise ValueError(f"{char!r} is not allowed in a host name")
    if len(host) > 253:
        raise ValueError(f"host name too long ({len(host)} characters, at most 253)")
    labels = host.removesuffix(".").split(".")
    if "" in labels:
        raise ValueError("the host name has an empty part (two dots in a row?)")
    if any(len(label) > 63 for label in labels):
        raise ValueError("the host name has a part longer than 63 characters")


#: Events a client keeps waiting for `recv()` before it stops reading the socket.
QUEUE_HIGH = 256


class WebSocketClient(asyncio.Protocol):
    """A connected client. Create it with `await connect(url)`."""

    def __init__(self, config: Config | None, tap: Tap | None) -> None:
        self.conn = Connection(Role.CLIENT, config=config)
        self.transport: asyncio.Transport | None = None
        self.info: ConnectionInfo | None = None
        self._tap = tap
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        # Reading stops while events wait unread (past QUEUE_HIGH) or our writes do (the
        # transport's high-water mark): a flood cannot grow either without bound.
        self._full = False
        self._blocked = False
        # The handshake's outcome; None if the connection ended first. (A result, not an
        # exception: nobody may be waiting any more, and an unread exception gets logged.)
        self.opened: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
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
        if self._events.qsize() > QUEUE_HIGH and not self._full:
            self._full = True
            self._reading()

    def pause_writing(self) -> None:
        self._blocked = True  # the server does not read what we send (pongs, say)
        self._reading()

    def resume_writing(self) -> None:
        self._blocked = False
        self._reading()

    def _reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._full or self._blocked:
            transport.pause_reading()
        else:
            transport.resume_reading()

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
        event = await asyncio.wait_for(self._events.get(), timeout)
        if self._full and self._events.qsize() <= QUEUE_HIGH // 2:
            self._full = False
            self._reading()
        return event

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
        if isinstance(error, socket.gaierror):  # the name lookup: its errno is no errno
            why = error.strerror or str(error)
        else:
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
