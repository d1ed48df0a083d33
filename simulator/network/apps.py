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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

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
    Request,
    Role,
    TextMessage,
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
    event: Event | str


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

    @property
    def number(self) -> int:
        return self.socket.number if self.socket is not None else 0

    def note(self, event: Event | str) -> None:
        self.host.network.apps_log.append(AppNote(self.now, self.host.name, self.number, event))

    def flush(self) -> None:
        """Write what the engine produced; close TCP when the engine is done."""
        sock = self.socket
        if sock is None:
            return
        for piece in self.conn.output():
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

    def on_bytes(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        while events := conn.events():
            for event in events:
                self.events.append(event)
                self.note(event)
                self.handle(event)
        self.flush()

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


def echo(peer: WebSocketPeer, event: Event) -> None:
    """Send every message back to whoever sent it."""
    if peer.conn.state is not ConnectionState.OPEN:
        return
    if type(event) is TextMessage:
        peer.conn.send_text(event.data)
    elif type(event) is BinaryMessage:
        peer.conn.send_binary(event.data)


class WebSocketServer:
    """Listens on a port; every connection gets a server-side engine.

    mode "echo" sends each message back; "broker" sends it to every *other*
    open connection (a chat server: why WebSocket servers relay); "discard"
    keeps what it receives to itself.
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
    ) -> None:
        if mode not in ("echo", "broker", "discard"):
            raise ValueError(f"unknown server mode {mode!r}: echo, broker or discard")
        self.host = host
        self.port = port
        self.mode = mode
        self.config = config
        self.policy = policy or ReadPolicy()
        self.tcp = tcp
        self.sessions: list[ServerSession] = []
        host.tcp.listen(port, self._accept, config=tcp)

    def _accept(self, sock: Socket) -> None:
        policy = ReadPolicy(self.policy.rate, self.policy.chunk, self.policy.paused)
        session = ServerSession(self, policy)
        session.attach(sock)
        self.sessions.append(session)

    def set_policy(self, policy: ReadPolicy) -> None:
        self.policy = policy
        for session in self.sessions:
            session.set_policy(ReadPolicy(policy.rate, policy.chunk, policy.paused))

    def relay(self, sender: ServerSession, event: TextMessage | BinaryMessage) -> None:
        for session in self.sessions:
            if session is sender or session.conn.state is not ConnectionState.OPEN:
                continue
            if isinstance(event, TextMessage):
                session.conn.send_text(event.data)
            else:
                session.conn.send_binary(event.data)
            session.flush()


class ServerSession(WebSocketPeer):
    """The server's side of one connection."""

    role = Role.SERVER

    def __init__(self, server: WebSocketServer, policy: ReadPolicy) -> None:
        super().__init__(server.host, config=server.config, policy=policy)
        self.server = server

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


__all__ = [
    "AppNote",
    "ReadPolicy",
    "ServerSession",
    "StreamApp",
    "WebSocketClient",
    "WebSocketPeer",
    "WebSocketServer",
    "echo",
]
