"""Applications on simulated hosts: the real WebSocket engine over simulated TCP.

`WebSocketClient` and `WebSocketServer` drive `simulator.ws.Connection` — the
same engine the live server runs over real sockets — with bytes read from and
written to a simulated `Socket`. Nothing here builds a frame or a header.

Reading is where flow control comes from: an application takes bytes out of
its socket's receive buffer according to its `ReadPolicy` — at once, at a
fixed rate, or not at all while paused — and the TCP window follows.

Closing follows RFC 6455 §7.1.1: after the close handshake the server closes
the TCP connection first; the client closes its side when the server's FIN
arrives.

The server speaks plain HTTP/1.1 too: a request without `Upgrade: websocket`
is answered from its resource table (`simulator.network.http.Site`), and the
connection stays open for the next request unless either side says
`Connection: close`. A request with `Upgrade: websocket` — the first on the
connection or a later one — goes to the WebSocket engine, which answers 101
or an HTTP error. `HttpClient` is the client side: requests on one kept-alive
connection, responses read by their `Content-Length`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from simulator.network.faults import Rewrite, send_encoded_text
from simulator.network.http import (
    HttpError,
    HttpRequest,
    HttpResponse,
    Resource,
    Site,
    build_response,
    error_response,
    is_websocket_upgrade,
    leading_empty_lines,
    parse_request_head,
    read_request,
    read_response,
)
from simulator.network.sim import Event as SimEvent
from simulator.network.sockets import Socket
from simulator.network.topology import Host
from simulator.tcp import Connected, DataReceived, EndOfStream, Reset, State, TcpConfig
from simulator.tcp import Event as TcpEvent
from simulator.tcp import UsageError as TcpUsageError
from simulator.ws import (
    BinaryMessage,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    HandshakeFailed,
    Rejected,
    Request,
    Role,
    TextMessage,
    send_message,
)


@dataclass
class ReadPolicy:
    """How an application drains its receive buffer.

    rate None: everything, as soon as it arrives. Otherwise `chunk` bytes at a
    time, one read every chunk / rate seconds while there is something to read.
    """

    rate: float | None = None  # bytes per second
    chunk: int = 4096
    paused: bool = False

    @property
    def interval(self) -> float:
        return 0.0 if self.rate is None else self.chunk / self.rate


# TCP states in which this side may still close its half (send its FIN).
_OPEN_FOR_CLOSE = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.SYN_RECEIVED})


class AppNote(NamedTuple):
    """Something an application saw or did (a WebSocket event, mostly)."""

    time: float
    node: str
    connection: int
    event: Event | HttpRequest | HttpResponse | str


class StreamApp:
    """An application on one socket, reading by its policy."""

    def __init__(self, host: Host, policy: ReadPolicy | None = None) -> None:
        self.host = host
        self.policy = policy or ReadPolicy()
        self.socket: Socket | None = None
        self._tick: SimEvent | None = None
        self._last_read = -1e9
        self.received_bytes = 0

    @property
    def now(self) -> float:
        return self.host.network.sim.now

    def attach(self, socket: Socket) -> None:
        self.socket = socket
        socket.handler = self._on_tcp

    def _on_tcp(self, socket: Socket, event: TcpEvent) -> None:
        if type(event) is Connected:
            self.on_connected()
        elif type(event) is DataReceived:
            self.readable()
        elif type(event) is EndOfStream:
            self.readable()
            self.on_end_of_stream()
        elif type(event) is Reset:
            self.on_reset(event)

    def readable(self) -> None:
        """Data is waiting: read it now, or when the policy next allows."""
        sock, policy = self.socket, self.policy
        if sock is None or policy.paused or self._tick is not None or not sock.readable:
            return
        if policy.rate is None:
            data = sock.read(None)
            self._deliver(data)
            return
        due = max(self.now, self._last_read + policy.interval)
        self._tick = self.host.network.sim.at(due, self._read_tick)

    def _read_tick(self) -> None:
        self._tick = None
        sock = self.socket
        if sock is None or self.policy.paused:
            return
        self._last_read = self.now
        data = sock.read(self.policy.chunk)
        if data:
            self._deliver(data)
        self.readable()

    def _deliver(self, data: bytes) -> None:
        self.received_bytes += len(data)
        self.on_bytes(data)

    def set_policy(self, policy: ReadPolicy) -> None:
        self.policy = policy
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self.readable()

    # --- for subclasses ---------------------------------------------------------

    def on_connected(self) -> None:
        pass

    def on_bytes(self, data: bytes) -> None:
        pass

    def on_end_of_stream(self) -> None:
        pass

    def on_reset(self, event: Reset) -> None:
        pass


class WebSocketPeer(StreamApp):
    """One end of a WebSocket connection over a simulated socket."""

    role: Role

    def __init__(
        self, host: Host, *, config: Config | None = None, policy: ReadPolicy | None = None
    ) -> None:
        super().__init__(host, policy)
        rng = host.network.ws_rng
        self.conn = Connection(self.role, config=config, rng=rng.randbytes)
        self.events: list[Event] = []
        self.on_event: Callable[[WebSocketPeer, Event], None] | None = None
        # A troubleshooting lab's fault (simulator.network.faults): what this peer does
        # wrong to the bytes it reads and writes, and how it encodes text.
        self.rewrite: Rewrite | None = None
        self.text_encoding = "utf-8"
        self.stalls = False  # stops reading once the WebSocket connection is open

    @property
    def number(self) -> int:
        return self.socket.number if self.socket is not None else 0

    def note(self, event: Event | HttpRequest | HttpResponse | str) -> None:
        self.host.network.apps_log.append(AppNote(self.now, self.host.name, self.number, event))

    def flush(self) -> None:
        """Write what the engine produced; close TCP when the engine is done."""
        sock = self.socket
        if sock is None:
            return
        rewrite = self.rewrite
        for chunk in self.conn.output():
            piece = bytes(chunk)  # the simulated network keeps what it is given
            if rewrite is not None:
                piece = rewrite.outgoing(piece)
                if not piece:
                    continue
            try:
                sock.send(piece)
            except TcpUsageError:
                self.note(f"{len(piece)} bytes not sent: the TCP connection is {sock.state.value}")
        if self.conn.state is ConnectionState.CLOSED and self.should_close_first():
            self._close_transport()

    def should_close_first(self) -> bool:
        return self.role is Role.SERVER

    def _close_transport(self) -> None:
        sock = self.socket
        if sock is not None and sock.state in _OPEN_FOR_CLOSE:
            sock.close()

    def _deliver(self, data: bytes) -> None:
        if self.rewrite is not None:
            self.received_bytes += len(data)
            data = self.rewrite.incoming(data)
            if data:
                self.on_bytes(data)
            return
        super()._deliver(data)

    def on_bytes(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        while events := conn.events():
            for event in events:
                self.events.append(event)
                self.note(event)
                self.handle(event)
        self.flush()
        if self.stalls and conn.state is ConnectionState.OPEN and not self.policy.paused:
            self.set_policy(replace(self.policy, paused=True))  # a lab's stalled reader

    def on_end_of_stream(self) -> None:
        self._transport_gone()
        self._close_transport()

    def on_reset(self, event: Reset) -> None:
        self.note(f"TCP connection reset: {event.reason}")
        self._transport_gone()

    def _transport_gone(self) -> None:
        """No more bytes will come: without a close handshake that is 1006 (RFC 6455 §7.1.5)."""
        conn = self.conn
        if conn.state is not ConnectionState.CLOSED:
            conn.receive_eof()
            for event in conn.events():
                self.events.append(event)
                self.note(event)

    def handle(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(self, event)

    # --- what a lesson step does ------------------------------------------------

    def send_text(self, text: str, *, fragment_size: int | None = None) -> None:
        if self.text_encoding != "utf-8":
            send_encoded_text(self, text, self.text_encoding, fragment_size)
        else:
            self.conn.send_text(text, fragment_size=fragment_size)
        self.flush()

    def send_binary(self, data: bytes, *, fragment_size: int | None = None) -> None:
        self.conn.send_binary(data, fragment_size=fragment_size)
        self.flush()

    def ping(self, payload: bytes = b"") -> None:
        self.conn.ping(payload)
        self.flush()

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        self.conn.close(code, reason)
        self.flush()


class WebSocketClient(WebSocketPeer):
    """Opens a TCP connection, sends the upgrade request, then talks WebSocket."""

    role = Role.CLIENT

    def __init__(
        self,
        host: Host,
        server: str | ipaddress.IPv4Address,
        port: int = 80,
        *,
        path: str = "/",
        origin: str | None = None,
        config: Config | None = None,
        policy: ReadPolicy | None = None,
        tcp: TcpConfig | None = None,
    ) -> None:
        super().__init__(host, config=config, policy=policy)
        self.server = ipaddress.IPv4Address(server)
        self.port = port
        self.path = path
        self.origin = origin
        self.tcp = tcp
        self.upgrade_when_connected = True

    def open(self, *, upgrade: bool = True) -> Socket:
        """Connect; with `upgrade`, send the handshake request as soon as TCP is up."""
        self.upgrade_when_connected = upgrade
        sock = self.host.tcp.connect(self.server, self.port, config=self.tcp)
        self.attach(sock)
        return sock

    def on_connected(self) -> None:
        if self.upgrade_when_connected:
            self.upgrade()

    def upgrade(self) -> None:
        """Send the opening handshake (RFC 6455 §4.1)."""
        host = str(self.server) if self.port == 80 else f"{self.server}:{self.port}"
        self.conn.connect(host, self.path, origin=self.origin)
        self.flush()

    def should_close_first(self) -> bool:
        return False  # RFC 6455 §7.1.1: the server closes TCP first

    def handle(self, event: Event) -> None:
        if type(event) in (Rejected, HandshakeFailed):
            # RFC 6455 §4.1: an answer other than a valid 101 fails the connection, and
            # failing it before it was established is closing TCP (§7.1.7).
            self._close_transport()
        super().handle(event)


def echo(peer: WebSocketPeer, event: Event) -> None:
    """Send every message back to whoever sent it (while it may still send)."""
    send_message(peer.conn, event)


class WebSocketServer:
    """Listens on a port; every connection gets a server-side engine.

    mode "echo" sends each message back; "broker" sends it to every *other*
    open connection (a chat server: why WebSocket servers relay); "discard"
    keeps what it receives to itself. Plain HTTP requests are answered from
    `resources` (default `simulator.network.http.DEFAULT_RESOURCES`), with
    `credentials` (user → password) for the private ones.
    """

    def __init__(
        self,
        host: Host,
        port: int = 80,
        *,
        mode: str = "echo",
        config: Config | None = None,
        policy: ReadPolicy | None = None,
        tcp: TcpConfig | None = None,
        resources: Mapping[str, Resource] | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        if mode not in ("echo", "broker", "discard"):
            raise ValueError(f"unknown server mode {mode!r}: echo, broker or discard")
        self.host = host
        self.port = port
        self.mode = mode
        self.config = config
        self.policy = policy or ReadPolicy()
        self.tcp = tcp
        self.site = Site(resources, credentials)
        self.sessions: list[ServerSession] = []
        # A lab's faulty server (simulator.network.faults): each session's rewrite, and
        # whether its application stops reading once a WebSocket connection is open.
        self.rewrite: Callable[[], Rewrite] | None = None
        self.stalls = False
        host.tcp.listen(port, self._accept, config=tcp)

    def set_tcp(self, config: TcpConfig) -> None:
        """The TCP configuration of the connections accepted from now on."""
        self.tcp = config
        self.host.tcp.listen(self.port, self._accept, config=config)

    def _accept(self, sock: Socket) -> None:
        policy = ReadPolicy(self.policy.rate, self.policy.chunk, self.policy.paused)
        session = ServerSession(self, policy)
        if self.rewrite is not None:
            session.rewrite = self.rewrite()
        session.stalls = self.stalls
        session.attach(sock)
        self.sessions.append(session)

    def set_policy(self, policy: ReadPolicy) -> None:
        self.policy = policy
        for session in self.sessions:
            session.set_policy(ReadPolicy(policy.rate, policy.chunk, policy.paused))

    def relay(self, sender: ServerSession, event: TextMessage | BinaryMessage) -> None:
        for session in self.sessions:
            if session is not sender and send_message(session.conn, event):
                session.flush()


class ServerSession(WebSocketPeer):
    """The server's side of one connection: plain HTTP until a request asks for WebSocket."""

    role = Role.SERVER

    def __init__(self, server: WebSocketServer, policy: ReadPolicy) -> None:
        super().__init__(server.host, config=server.config, policy=policy)
        self.server = server
        self.http = True  # answering plain HTTP requests; False once the engine has the bytes
        self.http_requests: list[HttpRequest] = []
        self._http_buf = bytearray()
        self._http_done = False  # a response said Connection: close; ignore what follows

    def on_bytes(self, data: bytes) -> None:
        if not self.http:
            super().on_bytes(data)
            return
        if self._http_done:
            return
        self._http_buf += data
        self._serve_http()

    def _serve_http(self) -> None:
        buf = self._http_buf
        while self.http and not self._http_done and buf:
            try:
                parsed = parse_request_head(buf)
                if parsed is None:
                    return
                if is_websocket_upgrade(parsed[0]):
                    # RFC 6455 §4.2.1: the engine judges the handshake and answers it.
                    self.http = False
                    rest = bytes(buf[leading_empty_lines(buf) :])
                    buf.clear()
                    super().on_bytes(rest)
                    return
                got = read_request(buf)
            except HttpError as error:
                self.note(f"HTTP {error.status}: {error.reason}")
                self._respond(error_response(error), close=True)
                return
            if got is None:
                return
            request, used = got
            del buf[:used]
            self.http_requests.append(request)
            self.note(request)
            status, headers, body = self.server.site.respond(request)
            close = not request.keep_alive
            wire = build_response(
                status, headers, body, close=close, head_only=request.method == "HEAD"
            )
            self._respond(wire, close=close)

    def _respond(self, wire: bytes, *, close: bool) -> None:
        sock = self.socket
        if sock is None:
            return
        try:
            sock.send(wire)
        except TcpUsageError:
            self.note(f"{len(wire)} bytes not sent: the TCP connection is {sock.state.value}")
        if close:
            # RFC 9112 §9.6: after a response with "close" the server closes the connection.
            self._http_done = True
            self._http_buf.clear()
            self._close_transport()

    def on_end_of_stream(self) -> None:
        if self.http:
            self._close_transport()  # the client is done: no WebSocket ever started
            return
        super().on_end_of_stream()

    def on_reset(self, event: Reset) -> None:
        if self.http:
            self.note(f"TCP connection reset: {event.reason}")
            return
        super().on_reset(event)

    def handle(self, event: Event) -> None:
        if type(event) is Request:
            self.conn.accept()
        elif type(event) in (TextMessage, BinaryMessage):
            assert isinstance(event, TextMessage | BinaryMessage)
            if self.server.mode == "echo":
                echo(self, event)
            elif self.server.mode == "broker":
                self.server.relay(self, event)
        elif type(event) in (HandshakeFailed, ConnectionFailed):
            pass  # the engine queued the answer (an HTTP error or a close frame); flush() sends it
        super().handle(event)


class HttpClient(StreamApp):
    """Plain HTTP requests from a client host, on one kept-alive TCP connection.

    A request goes on the open connection, or on a new one when there is none
    (never opened, or closed by either side). Responses are read in order
    (RFC 9112 §9.3: one per request), each body by its framing, into
    `responses`; each is noted in the network's application log too. After a
    `101 Switching Protocols` the connection no longer carries HTTP: the next
    request opens a new one.
    """

    def __init__(
        self,
        host: Host,
        server: str | ipaddress.IPv4Address,
        port: int = 80,
        *,
        policy: ReadPolicy | None = None,
        tcp: TcpConfig | None = None,
    ) -> None:
        super().__init__(host, policy)
        self.server = ipaddress.IPv4Address(server)
        self.port = port
        self.tcp = tcp
        self.responses: list[HttpResponse] = []
        self.sent: list[bytes] = []  # every request, as written
        self.connections = 0  # TCP connections opened
        self.switched = False  # the current connection answered 101: no more HTTP on it
        self._methods: list[str] = []  # requests awaiting their response, oldest first
        self._queued: list[bytes] = []  # written once the connection is up
        self._buf = bytearray()
        self._eof = False
        self._closing = False  # a response said Connection: close, or we closed

    @property
    def host_header(self) -> str:
        return str(self.server) if self.port == 80 else f"{self.server}:{self.port}"

    @property
    def number(self) -> int:
        return self.socket.number if self.socket is not None else 0

    def note(self, event: HttpResponse | str) -> None:
        self.host.network.apps_log.append(AppNote(self.now, self.host.name, self.number, event))

    @property
    def usable(self) -> bool:
        """Can the next request go on the current connection?"""
        sock = self.socket
        if sock is None or self._eof or self._closing or self.switched:
            return False
        return sock.state in (State.SYN_SENT, State.ESTABLISHED)

    def request(self, data: bytes, method: str = "GET") -> None:
        """Send one request (its bytes as given), opening a connection if needed.
        `method` tells how to read the response (a HEAD response has no body)."""
        if not self.usable:
            self._open()
        sock = self.socket
        assert sock is not None
        self.sent.append(data)
        self._methods.append(method.upper())
        if sock.state is State.ESTABLISHED:
            self._send(data)
        else:
            self._queued.append(data)

    def _open(self) -> None:
        self._buf.clear()
        self._methods.clear()
        self._queued.clear()
        self._eof = self._closing = self.switched = False
        self.connections += 1
        self.attach(self.host.tcp.connect(self.server, self.port, config=self.tcp))

    def _send(self, data: bytes) -> None:
        sock = self.socket
        assert sock is not None
        try:
            sock.send(data)
        except TcpUsageError:
            self.note(f"{len(data)} bytes not sent: the TCP connection is {sock.state.value}")

    def _on_tcp(self, socket: Socket, event: TcpEvent) -> None:
        if socket is self.socket:
            super()._on_tcp(socket, event)
        elif type(event) is EndOfStream and socket.state in _OPEN_FOR_CLOSE:
            socket.close()  # an earlier connection the server closed: close our half too

    def on_connected(self) -> None:
        queued, self._queued = self._queued, []
        for data in queued:
            self._send(data)

    def on_bytes(self, data: bytes) -> None:
        if self.switched:
            return  # WebSocket frames now: not ours to read
        self._buf += data
        self._read_responses()

    def _read_responses(self) -> None:
        buf = self._buf
        while buf and not self.switched:
            method = self._methods[0] if self._methods else "GET"
            try:
                got = read_response(buf, method=method, eof=self._eof)
            except HttpError as error:
                self.note(f"malformed response: {error.reason}")
                buf.clear()
                self._close()
                return
            if got is None:
                return
            response, used = got
            del buf[:used]
            self.note(response)
            if response.status < 200 and response.status != 101:
                continue  # an interim response; the final one follows (RFC 9110 §15.2)
            self.responses.append(response)
            if self._methods:
                self._methods.pop(0)
            if response.status == 101:
                self.switched = True
                buf.clear()
            elif response.closes:
                self._closing = True

    def on_end_of_stream(self) -> None:
        self._eof = True
        if not self.switched:
            self._read_responses()
        if self._methods and not self.switched:
            self.note(f"the server closed the connection; {len(self._methods)} request(s) "
                      "got no response")  # fmt: skip
            self._methods.clear()
        self._close()

    def on_reset(self, event: Reset) -> None:
        self.note(f"TCP connection reset: {event.reason}")
        self._eof = True

    def _close(self) -> None:
        self._closing = True
        sock = self.socket
        if sock is not None and sock.state in _OPEN_FOR_CLOSE:
            sock.close()


__all__ = [
    "AppNote",
    "HttpClient",
    "ReadPolicy",
    "ServerSession",
    "StreamApp",
    "WebSocketClient",
    "WebSocketPeer",
    "WebSocketServer",
    "echo",
]
