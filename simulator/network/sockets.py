"""A host's TCP stack: sockets over the sans-IO TCP model, on the simulated clock.

The TCP model (`simulator.tcp.Endpoint`) decides every segment, timer and state;
this module only carries things between it and the network:

- segments it produces become IPv4 packets (`simulator.tcp.wire.encode`, then
  `simulator.ip.build_ipv4`) routed out of the host;
- packets that arrive are demultiplexed by (local port, remote address, remote
  port) to their endpoint, or to a listener (a SYN makes a new endpoint), or are
  answered with a RST (RFC 9293 §3.10.7.1: a segment for a closed port);
- the endpoint's next timer becomes one simulator event, moved whenever it moves;
- its events go to the socket's application and into `TcpStack.log`.

Timers that only wait — TIME-WAIT's 2·MSL, and the persist timer of a sender
whose reader has stopped reading — are background events: they do not keep a
lesson step running (see `simulator.network.sim`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from simulator.ip import PROTO_TCP, build_ipv4
from simulator.network.sim import Event
from simulator.tcp import Closed, Endpoint, Reset, Segment, State, TcpConfig, reset_for, wire
from simulator.tcp import Event as TcpEvent

if TYPE_CHECKING:
    from simulator.network.topology import Host

EPHEMERAL_PORTS = 49152  # RFC 6335 §6: the dynamic port range starts here
TTL = 64

Handler = Callable[["Socket", TcpEvent], None]


class TcpNote(NamedTuple):
    """One TCP event, where and when it happened."""

    time: float
    host: str
    connection: int  # the socket's number in the network, from 1
    event: TcpEvent


class Socket:
    """One TCP connection on a host: the endpoint plus its addresses."""

    def __init__(
        self, stack: TcpStack, endpoint: Endpoint, remote: bytes, remote_port: int, number: int
    ) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.local = stack.host.interfaces[0].packed
        self.remote = remote
        self.remote_port = remote_port
        self.number = number
        self.handler: Handler | None = None
        self._timer: Event | None = None
        self._timer_key: tuple[float, bool] | None = None
        self._pending: list[TcpEvent] = []
        self._dispatching = False

    def __repr__(self) -> str:
        return (
            f"<Socket #{self.number} {self.stack.host.name}:{self.endpoint.local_port} → "
            f"{ipaddress.IPv4Address(self.remote)}:{self.remote_port} {self.endpoint.state.value}>"
        )

    @property
    def key(self) -> tuple[int, bytes, int]:
        return (self.endpoint.local_port, self.remote, self.remote_port)

    @property
    def state(self) -> State:
        return self.endpoint.state

    # --- the application's calls ------------------------------------------------

    def send(self, data: bytes) -> int:
        accepted = self.endpoint.send(data, self.stack.now)
        self.pump()
        return accepted

    def read(self, max_bytes: int | None = None) -> bytes:
        data = self.endpoint.read(max_bytes, self.stack.now)
        self.pump()
        return data

    @property
    def readable(self) -> int:
        return self.endpoint.readable

    def close(self) -> None:
        self.endpoint.close(self.stack.now)
        self.pump()

    def abort(self) -> None:
        self.endpoint.abort(self.stack.now)
        self.pump()

    # --- the glue ---------------------------------------------------------------

    def pump(self) -> None:
        """Transmit what the endpoint produced, deliver its events, move its timer."""
        stack = self.stack
        endpoint = self.endpoint
        segments = endpoint.segments()
        if segments:
            host = stack.host
            local, remote = self.local, self.remote
            for segment in segments:
                packet = build_ipv4(
                    local, remote, PROTO_TCP, wire.encode(segment, local, remote),
                    ttl=TTL, identification=host.next_id(),
                )  # fmt: skip
                host.send(packet)
        events = endpoint.events()
        if events:
            self._pending.extend(events)
            if not self._dispatching:
                self._dispatch()
        self._schedule()

    def _dispatch(self) -> None:
        """Log and hand over events in the order they happened, even when a handler's
        call (close() on end of stream) makes new ones before the last are handed over."""
        stack = self.stack
        pending = self._pending
        self._dispatching = True
        try:
            while pending:
                event = pending.pop(0)
                stack.log.append(TcpNote(stack.now, stack.host.name, self.number, event))
                if type(event) is Closed or type(event) is Reset:
                    stack.sockets.pop(self.key, None)
                if self.handler is not None:
                    self.handler(self, event)
        finally:
            self._dispatching = False

    def _schedule(self) -> None:
        endpoint = self.endpoint
        due = endpoint.next_timer()
        key = None if due is None else (due, self._waiting())
        if key == self._timer_key:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_key = key
        if key is not None:
            self._timer = self.stack.host.network.sim.at(key[0], self._fire, background=key[1])

    def _waiting(self) -> bool:
        """True when the pending timer only waits: TIME-WAIT, or probing a zero window."""
        endpoint = self.endpoint
        if endpoint.state is State.TIME_WAIT:
            return True
        return endpoint.snd_wnd == 0 and endpoint.in_flight <= 1 and endpoint.unsent > 0

    def _fire(self) -> None:
        self._timer = None
        self._timer_key = None
        self.endpoint.on_timer(self.stack.now)
        self.pump()


Accept = Callable[[Socket], None]


class _Listener(NamedTuple):
    accept: Accept
    config: TcpConfig | None


class TcpStack:
    """A host's TCP: its sockets, listeners and log."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.config = TcpConfig()
        self.sockets: dict[tuple[int, bytes, int], Socket] = {}
        self.listeners: dict[int, _Listener] = {}
        self.log: list[TcpNote] = []
        self.bad_checksums = 0
        self._next_port = EPHEMERAL_PORTS

    @property
    def now(self) -> float:
        return self.host.network.sim.now

    def _isn(self) -> int:
        return self.host.network.isn_rng.getrandbits(32)  # RFC 9293 §3.4.1: unpredictable ISNs

    def _number(self) -> int:
        network = self.host.network
        network.connections += 1
        return network.connections

    def connect(
        self,
        remote: str | ipaddress.IPv4Address,
        port: int,
        *,
        config: TcpConfig | None = None,
        local_port: int | None = None,
        handler: Handler | None = None,
    ) -> Socket:
        """Active open: a socket in SYN-SENT, its SYN on the way."""
        if local_port is None:
            local_port = self._next_port
            self._next_port += 1
        endpoint = Endpoint(local_port, isn=self._isn(), config=config or self.config)
        sock = Socket(self, endpoint, ipaddress.IPv4Address(remote).packed, port, self._number())
        sock.handler = handler
        self.sockets[sock.key] = sock
        endpoint.connect(port, self.now)
        sock.pump()
        return sock

    def listen(self, port: int, accept: Accept, *, config: TcpConfig | None = None) -> None:
        """Passive open: every SYN to `port` makes a new socket, handed to `accept`
        before the SYN is processed (so the application sees every event)."""
        self.listeners[port] = _Listener(accept, config)

    def receive(self, packet: bytes, record: int) -> None:
        header = (packet[0] & 0x0F) * 4
        total = int.from_bytes(packet[2:4], "big")
        remote = packet[12:16]
        try:
            segment = wire.decode(packet[header:total], remote, packet[16:20])
        except ValueError:
            self.bad_checksums += 1  # RFC 9293 §3.1: a segment with a bad checksum is dropped
            return
        sock = self.sockets.get((segment.dst_port, remote, segment.src_port))
        if sock is None:
            listener = self.listeners.get(segment.dst_port)
            if listener is not None and segment.flags & 0x17 == 0x02:  # SYN only (no ACK/RST/FIN)
                config = listener.config or self.config
                endpoint = Endpoint(segment.dst_port, isn=self._isn(), config=config)
                endpoint.listen()
                sock = Socket(self, endpoint, remote, segment.src_port, self._number())
                self.sockets[sock.key] = sock
                listener.accept(sock)
            else:
                self._refuse(segment, remote)
                return
        sock.endpoint.receive(segment, self.now)
        sock.pump()

    def _refuse(self, segment: Segment, remote: bytes) -> None:
        """RFC 9293 §3.10.7.1: no connection: answer with a RST (never to a RST)."""
        reply = reset_for(segment)
        if reply is None:
            return
        local = self.host.interfaces[0].packed
        packet = build_ipv4(
            local, remote, PROTO_TCP, wire.encode(reply, local, remote),
            ttl=TTL, identification=self.host.next_id(),
        )  # fmt: skip
        self.host.send(packet)


__all__ = ["EPHEMERAL_PORTS", "Socket", "TcpNote", "TcpStack"]
