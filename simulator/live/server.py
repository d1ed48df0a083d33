"""An asyncio WebSocket server running the sans-IO engine, one `Session` per connection.

Each read and write is passed to the tap, if any, as it happens: the live
trace (and the byte-level views built on it) are fed from here.

A WebSocket upgrade is routed by its path to a `Service` (any path without one
of its own: the default, an echo); a plain HTTP request goes to the `http`
answer when there is one; everything else gets the HTTP error the engine names.
wirelab's own site (the page, `/chat`, echo) is put together in `site.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import cast

from simulator.http import Head, HttpError, build_error_response, read_head
from simulator.live.heap import keep_freed_heap
from simulator.ws import (
    BinaryMessage,
    CloseCode,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    HandshakeFailed,
    Pong,
    Request,
    Role,
    TextMessage,
    send_message,
)
from simulator.ws.deflate import PerMessageDeflate
from simulator.ws.extensions import Extension

HANDSHAKE_TIMEOUT = 10.0
#: A WebSocket that has sent no message this long after opening is closed (1008): idle
#: connections cannot hold the server's slots for ever.
IDLE_TIMEOUT = 60.0
CLOSE_TIMEOUT = 2.0
#: How long a peer may leave our writes unread (the transport paused at its high-water
#: mark) before it is dropped with 1013: reading pauses too, so the byte limit alone
#: would never be reached by a client that sends and then stops reading.
STALL_TIMEOUT = 10.0
SEND_BUFFER_LIMIT = 1 << 20
#: Connections the kernel queues before they are accepted (asyncio's default is 100): a
#: class of 200 connecting at once would see dropped SYNs and a second's retry.
BACKLOG = 1024
#: A session reads with `data_received` (bytes: the fewest calls per message) until a
#: large frame arrives; then into the engine's buffers (a `BufferedProtocol`, no copy)
#: until this many reads in a row bring no large frame.
SMALL_READS = 64
LARGE_WRITE = 64 * 1024  # chunks this big are written as views (see _write_raw)
PING_COMMAND = "/ping"
PING_PAYLOAD = b"wirelab"


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


class Service:
    """What a WebSocket path does. One instance serves every session on its path.

    `opened` runs once the 101 response is queued, `received` for every event of
    an open connection, `closed` once when the connection is gone (only for
    sessions that were opened).
    """

    name = "service"
    #: A broadcast service: its connections compress every message afresh (permessage-
    #: deflate's server_no_context_takeover, which RFC 7692 §7.1.1.1 lets a server choose),
    #: so one compressed frame serves every member instead of one compression each.
    fresh_compression = False

    def opened(self, session: Session) -> None:
        """A client completed the handshake on this path."""

    def received(self, session: Session, event: Event) -> None:
        """An event (message, ping, pong, close, failure) of an open session."""

    def closed(self, session: Session) -> None:
        """An opened session ended."""


class HandlerService(Service):
    """A plain `Handler` function as a service."""

    def __init__(self, handler: Handler, name: str = "handler") -> None:
        self.handler = handler
        self.name = name

    def received(self, session: Session, event: Event) -> None:
        self.handler(session, event)


def ping_command(session: Session, event: Event) -> bool:
    """Browsers cannot send pings from JavaScript: the text `/ping` asks the server to
    send one. The browser answers with a pong by itself (RFC 6455 §5.5.2), and the
    server then reports the round trip in a JSON text message. Returns whether
    `event` was part of that exchange (and so is not a chat or echo message)."""
    if type(event) is TextMessage and event.data == PING_COMMAND:
        if session.conn.state is ConnectionState.OPEN:
            session.ping_sent = time.perf_counter()
            session.conn.ping(PING_PAYLOAD)
            session.flush()
        return True
    if type(event) is Pong and event.payload == PING_PAYLOAD and session.ping_sent is not None:
        elapsed = (time.perf_counter() - session.ping_sent) * 1000
        session.ping_sent = None
        note = {"type": "pong", "payload": PING_PAYLOAD.decode(), "ms": round(elapsed, 3)}
        session.send_text(json.dumps(note))
        return True
    return False


class Echo(Service):
    """Every text and binary message goes back to its sender; `/ping` pings."""

    name = "echo"

    def received(self, session: Session, event: Event) -> None:
        if type(event) is BinaryMessage or (
            type(event) is TextMessage and event.data != PING_COMMAND
        ):
            send_message(session.conn, event)  # the common case, first
        elif not ping_command(session, event):
            send_message(session.conn, event)


class Session(asyncio.Protocol):
    """One client connection: the transport, the engine and the glue between them."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = Connection(Role.SERVER, config=server.config)
        self.info: ConnectionInfo | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.path: str | None = None  # the request's path, once it arrived
        self.service: Service | None = None  # set when the upgrade was accepted
        self.kind = "pending"  # "pending" → "websocket" or "http"
        self.bytes_in = 0
        self.bytes_out = 0
        self.dropped: str | None = None  # why we cut the connection, if we did
        self.ping_sent: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None  # writes unread since pause_writing
        self._tap = server.tap
        self._head = bytearray()  # the request head, until we know what it asks for
        self._request_head: Head | None = None  # ...and parsed, for the engine
        self._small_reads = 0  # reads in a row without a large frame, read into buffers
        self._pending = False  # holding one of the server's handshake slots
        self._established = False  # counted among its open WebSockets
        self._idle: asyncio.TimerHandle | None = None  # no message yet since it opened
        self._lingering = False

    # --- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self.transport = transport
        local = transport.get_extra_info("sockname")[:2]
        peer = transport.get_extra_info("peername")[:2]
        self.info = ConnectionInfo(next(self.server.ids), local, peer)
        self.server.sessions.add(self)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.server.handshake_timeout, self._handshake_timeout)
        address = self.info.peer[0]
        counts = self.server.per_address
        counts[address] = counts.get(address, 0) + 1
        server = self.server
        # One address holds at most `max_per_address` connections of any kind; past them
        # it is answered at once, before it takes a handshake slot (so one host cannot
        # take every slot). Handshakes in progress have slots of their own, apart from
        # open WebSockets: slow or stalled handshakes (slowloris) can fill them, never
        # lock out the open ones.
        if counts[address] > server.max_per_address:
            self._refuse_now("too many connections from your address, try again later",
                             "the limit of connections from one address reached")  # fmt: skip
        else:
            server.pending += 1
            self._pending = True
            if server.pending > server.max_pending:
                self._refuse_now("too many handshakes in progress, try again later",
                                 "the limit of handshakes in progress reached")  # fmt: skip
        self.server.changed(self)

    def _refuse_now(self, answer: str, note: str) -> None:
        """503 before the request is read, and close: no slot is held for it."""
        self.kind = "http"  # nothing more is read
        self._leave_pending()
        self._write_raw(build_error_response(503, answer))
        self._note(f"refused: {note}")
        if self.transport is not None:
            self.transport.close()

    def _leave_pending(self) -> None:
        if self._pending:
            self._pending = False
            self.server.pending -= 1

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self._tap is not None and self.info is not None:
            self._tap(self.info, "in", data, time.time())  # still masked
        conn = self.conn
        if self.kind == "websocket":
            conn.receive_data(data)
        elif self.kind == "http":
            return  # the answer is on its way; nothing more is read
        else:
            self._head += data
            if not self._route():
                return
            data = bytes(self._head)
            self._head.clear()
            conn = self.conn  # _route may have made a new one
            if self._request_head is not None:
                conn.receive_request(self._request_head, data)  # parsed once, not twice
                self._request_head = None
            else:
                conn.receive_data(data)
        self._answer(conn)
        if conn.reading_large:
            # The rest of a large payload: read it where the engine keeps it. (The
            # reader is made afresh each time, and the session keeps no reference to
            # it: no cycle is left for the garbage collector.)
            self._small_reads = 0
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.set_protocol(_BufferedReads(self))

    def _read_into(self, view: memoryview, nbytes: int) -> None:
        """The transport read `nbytes` into `view`, which `conn.get_buffer()` gave."""
        self.bytes_in += nbytes
        if self._tap is not None and self.info is not None:
            self._tap(self.info, "in", bytes(view[:nbytes]), time.time())  # still masked
        conn = self.conn
        conn.buffer_updated(nbytes)
        self._answer(conn)
        if conn.reading_large:
            self._small_reads = 0
        else:
            self._small_reads += 1
            if self._small_reads >= SMALL_READS:  # small messages again: bytes it is
                transport = self.transport
                if transport is not None and not transport.is_closing():
                    transport.set_protocol(self)

    def _answer(self, conn: Connection) -> None:
        """Hand the events of what was read to the service, then write its answers."""
        # Loop: accept() parses the bytes that came right behind the request into new
        # events; and a violation found behind messages comes once they are answered.
        while events := conn.events():
            for event in events:
                if type(event) is Request:
                    self._opened()
                    continue
                if self._idle is not None and type(event) in (TextMessage, BinaryMessage):
                    self._idle.cancel()
                    self._idle = None
                if type(event) is HandshakeFailed:
                    self._note(f"handshake refused: {event.status} {event.reason}")
                elif type(event) is ConnectionFailed:
                    self._note(f"failed with {event.code}: {event.reason}")
                service = self.service
                if service is None:
                    continue
                try:
                    service.received(self, event)
                except Exception as error:  # a bug in a service must not kill the server
                    self._note(f"handler error: {error!r}; closing with 1011")
                    if conn.state is ConnectionState.OPEN:
                        conn.close(CloseCode.INTERNAL_ERROR, "internal server error")
        self.flush()

    def _route(self) -> bool:
        """Decide from the request head whether this is a WebSocket upgrade (True: feed
        the engine) or a plain HTTP request (answered here; False). Until the head is
        complete, wait."""
        try:
            parsed = read_head(self._head)
        except HttpError:
            self._leave_pending()
            self.kind = "websocket"
            return True  # the engine answers a malformed or oversized head (400, 431)
        if parsed is None:
            return False
        self._leave_pending()  # the request is in: the engine or the page answers it now
        head, _ = parsed
        self._request_head = head
        method, target, _version = head.start
        self.path = target.split("?", 1)[0]
        upgrade = "websocket" in (token.lower() for token in head.tokens("Upgrade"))
        if upgrade or head.get_all("Sec-WebSocket-Key"):  # two of them: the engine's 400
            self.kind = "websocket"
            if self.server.service_for(self.path).fresh_compression:
                self.conn = Connection(Role.SERVER, config=self.server.fresh_config)
            return True
        answer = self.server.http(method, self.path) if self.server.http else None
        if answer is None:
            self.kind = "websocket"  # the engine explains what is missing (426, 400, …)
            return True
        self.kind = "http"
        self._write_raw(answer)
        status = answer[9:12].decode("ascii", "replace")  # "HTTP/1.1 200 OK"
        self._note(f"{method} {self.path[:80]} → {status}")
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.transport.close()  # the answer says Connection: close
        self.server.changed(self)
        return False

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self.info is not None:
            counts = self.server.per_address
            address = self.info.peer[0]
            counts[address] = counts.get(address, 1) - 1
            if counts[address] <= 0:
                del counts[address]
        self._leave_pending()
        if self._established:
            self._established = False
            self.server.established -= 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self.conn.receive_eof()
        service = self.service
        for event in self.conn.events():
            if service is not None:
                service.received(self, event)
        if self._timer is not None:
            self._timer.cancel()
        self.server.sessions.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)
        if self.conn.close_received or self.conn.close_sent:
            code = (self.conn.close_received or self.conn.close_sent or (None, ""))[0]
            self._note(f"closed ({code})")
        if service is not None:
            try:
                service.closed(self)
            except Exception as error:
                self._note(f"handler error on close: {error!r}")
        self.server.changed(self)

    def pause_writing(self) -> None:
        # The peer reads slower than we write: stop reading until it catches up, and
        # drop it if it does not within the stall timeout.
        if self.transport is not None:
            self.transport.pause_reading()
            if self._stall is None and self.dropped is None:
                loop = asyncio.get_running_loop()
                self._stall = loop.call_later(self.server.stall_timeout, self._stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _stalled(self) -> None:
        self._stall = None
        transport = self.transport
        if transport is not None and not transport.is_closing() and self.dropped is None:
            self._too_slow(transport.get_write_buffer_size())

    # --- sending ----------------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send a text message now, if the connection is open (else nothing)."""
        if self.conn.state is ConnectionState.OPEN:
            self.conn.send_text(text)
            self.flush()

    def send_binary(self, data: bytes) -> None:
        """Send a binary message now, if the connection is open (else nothing)."""
        if self.conn.state is ConnectionState.OPEN:
            self.conn.send_binary(data)
            self.flush()

    def send(self, event: Event) -> bool:
        """Send the message a `TextMessage`/`BinaryMessage` carries (a relay)."""
        sent = send_message(self.conn, event)
        if sent:
            self.flush()
        return sent

    @property
    def state(self) -> str:
        """For people: pending, http, connecting, open, closing, closed or dropped."""
        if self.dropped is not None:
            return "dropped"
        if self.kind == "http":
            return "http"
        if self.kind == "pending" and not self.closed.done():
            return "pending"
        return self.conn.state.value

    # --- helpers ----------------------------------------------------------------

    def flush(self) -> None:
        """Write what the engine queued; close the transport once the engine is CLOSED."""
        transport = self.transport
        if transport is None:
            return
        conn = self.conn
        chunks = conn.output()
        if chunks:
            if self.dropped is not None:
                return  # cut off for reading too slowly: its buffer does not grow again
            limit = self.server.send_buffer_limit
            if limit is not None:
                # Over the limit before this write: the peer has stopped reading. (Not
                # "over it after": a client that reads, with a few KiB still in flight,
                # would be dropped for the next message as big as the limit.) What
                # waits stays under the limit plus one message.
                waiting = transport.get_write_buffer_size()
                if waiting > limit:
                    self._too_slow(waiting)
                    return
            if len(chunks) == 1 and self._tap is None and not transport.is_closing():
                chunk = chunks[0]  # _write_raw's common case, inline
                self.bytes_out += len(chunk)
                transport.write(chunk if len(chunk) < LARGE_WRITE else memoryview(chunk))
            else:
                self._write_raw(*chunks)
        if conn.state is ConnectionState.CLOSED and not transport.is_closing():
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

    def _write_raw(self, *chunks: bytes | bytearray) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # gone (a broker may still relay to it before it is told): nothing to do
        size = sum(map(len, chunks))
        self.bytes_out += size
        if self._tap is not None and self.info is not None:
            self._tap(self.info, "out", b"".join(chunks), time.time())
        for chunk in chunks:  # not writelines(): before 3.12 it joins them all
            # A view: what the socket does not take at once is then copied once into the
            # transport's buffer, not first sliced off into a new bytes object as well.
            transport.write(chunk if len(chunk) < LARGE_WRITE else memoryview(chunk))

    def _too_slow(self, waiting: int) -> None:
        """The peer stopped reading and its unsent bytes reached the limit: fail the
        connection with 1013 Try Again Later behind what is already queued, and cut it
        off if it does not read that within the close timeout. The messages that did not
        fit are dropped; a client that reconnects starts afresh."""
        transport = self.transport
        assert transport is not None
        self.dropped = f"too slow: {waiting} bytes unread"
        self._note(f"dropped with 1013: it read too slowly ({waiting} bytes waiting)")
        if self.conn.state is ConnectionState.OPEN:
            self.conn.close(CloseCode.TRY_AGAIN_LATER, "you read too slowly; reconnect")
            self._write_raw(*self.conn.output())  # the close frame, behind what is queued
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)
        self.server.changed(self)

    def _opened(self) -> None:
        if self.server.established >= self.server.max_connections:
            self.conn.reject(503, "too many connections, try again later")
            self._note("refused: connection limit reached")
            return
        self.conn.accept()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.conn.state is not ConnectionState.OPEN:
            return  # the extension offer was malformed: the engine answered 400
        self._established = True
        self.server.established += 1
        if self.server.idle_timeout is not None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.server.idle_timeout, self._idle_expired)
        service = self.server.service_for(self.path or "/")
        self.service = service
        sub = f" subprotocol {self.conn.subprotocol}" if self.conn.subprotocol else ""
        ext = ", ".join(e.name for e in self.conn.extensions)
        self._note(f"open {self.path} ({service.name}){sub}{f' with {ext}' if ext else ''}")
        try:
            service.opened(self)
        except Exception as error:
            self._note(f"handler error on open: {error!r}; closing with 1011")
            self.conn.close(CloseCode.INTERNAL_ERROR, "internal server error")
        self.server.changed(self)

    def _idle_expired(self) -> None:
        self._idle = None
        if self.conn.state is ConnectionState.OPEN:
            timeout = self.server.idle_timeout
            self._note(f"closed with 1008: no message within {timeout:g} s of opening")
            self.close(CloseCode.POLICY_VIOLATION, f"idle: no message within {timeout:g} s")

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


HttpAnswer = Callable[[str, str], bytes | None]
"""Called as http(method, path) for a request that is not a WebSocket upgrade: the
whole response to send (then the connection closes), or None to let the WebSocket
engine answer it (426 Upgrade Required and the like)."""

Observer = Callable[[Session], None]
"""Called whenever a session appears, changes state or ends."""


def _deflate() -> PerMessageDeflate:
    # 4 KiB windows and zlib's memLevel 5, as the websockets library chooses: about
    # 40 kB per connection instead of 300 kB, so a full classroom stays small.
    return PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)


def _fresh(factory: Callable[[], Extension]) -> Callable[[], Extension]:
    """`factory`, its permessage-deflate set to start every message it sends afresh."""

    def make() -> Extension:
        extension = factory()
        if isinstance(extension, PerMessageDeflate):
            extension.server_no_context_takeover = True
        return extension

    return make


def default_config() -> Config:
    """The live engine's settings: 1 MiB messages, permessage-deflate offered/accepted."""
    return Config(extensions=(_deflate,))


class _BufferedReads(asyncio.BufferedProtocol):
    """A session while it reads into the engine's buffers (see `SMALL_READS`); all but
    the reads is the session's."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._view = memoryview(b"")

    def get_buffer(self, sizehint: int) -> memoryview:
        self._view = self.session.conn.get_buffer()
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self.session._read_into(self._view, nbytes)

    def eof_received(self) -> bool | None:
        return self.session.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost(exc)

    def pause_writing(self) -> None:
        self.session.pause_writing()

    def resume_writing(self) -> None:
        self.session.resume_writing()


class Server:
    """A WebSocket server on one host:port. Use `start()`, then `shutdown()`.

    By default every path echoes and plain HTTP gets the engine's error (426). Pass
    `handler` (a function) to have every path run it instead, or `services` and
    `default` to route paths, and `http` to answer plain requests
    (`simulator.live.site.site` is wirelab's own site: the page, `/chat`, echo).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        config: Config | None = None,
        handler: Handler | None = None,
        services: Mapping[str, Service] | None = None,
        default: Service | None = None,
        http: HttpAnswer | None = None,
        tap: Tap | None = None,
        notify: Notify | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        stall_timeout: float = STALL_TIMEOUT,
        idle_timeout: float | None = IDLE_TIMEOUT,
        max_connections: int = 1024,
        max_per_address: int = 256,
        max_pending: int = 1024,
        send_buffer_limit: int | None = SEND_BUFFER_LIMIT,
    ) -> None:
        self.host = host
        self.port = port
        self.config = default_config() if config is None else config
        self.services: dict[str, Service] = dict(services or {})
        if handler is not None:
            self.default: Service = HandlerService(handler)
        else:
            self.default = default if default is not None else Echo()
        self.http = http
        # For broadcast services: each permessage-deflate starts every message afresh.
        self.fresh_config = replace(
            self.config, extensions=tuple(_fresh(f) for f in self.config.extensions)
        )
        self.tap = tap
        self.notify = notify
        self.observers: list[Observer] = []
        self.handshake_timeout = handshake_timeout
        self.stall_timeout = stall_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections  # open WebSockets
        self.max_per_address = max_per_address  # connections of any kind from one address
        self.max_pending = max_pending  # handshakes in progress
        self.per_address: dict[str, int] = {}  # connections by peer address
        self.pending = 0  # handshakes in progress
        self.established = 0  # open WebSockets
        self.send_buffer_limit = send_buffer_limit
        self.sessions: set[Session] = set()
        self.ids = itertools.count(1)
        self._server: asyncio.Server | None = None

    def service_for(self, path: str) -> Service:
        return self.services.get(path, self.default)

    def changed(self, session: Session) -> None:
        for observer in self.observers:
            observer(session)

    async def start(self) -> None:
        keep_freed_heap()  # large messages do not give back and fault in their memory
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self), self.host, self.port, reuse_address=True, backlog=BACKLOG
        )
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]  # the real one when port was 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/"

    @property
    def page_url(self) -> str:
        """The browser page's address."""
        return "http" + self.url[2:]

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
