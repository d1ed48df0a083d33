"""The scenario API: a topology with WebSocket clients and a server, driven step by step.

    scenario = Scenario(seed=7, routers=3)
    scenario.open()                    # TCP handshake, then the HTTP upgrade
    step = scenario.send_text("hi")    # the frame out, the echo back, the ACKs
    scenario.trace[step.first:step.end]   # exactly the packets that step caused
    scenario.close()
    scenario.http_get("/messages")     # plain HTTP on a connection of its own
    scenario.finish()                  # through TIME-WAIT to CLOSED
    scenario.write_pcap("run.pcap")    # what a capture on the client's link saw

Every action runs the simulation to the next quiet point — nothing in flight,
no timer but the ones that only wait (TIME-WAIT, a stalled persist timer) — or
by `advance=N` events, and returns the `Step` it made: the range of trace
records it added and the virtual time it took. Drops, delays, buffer sizes,
read rates and routes are changed between steps and take effect from then on.

The topology is a line: client(s) ─ r1 ─ … ─ rN ─ server, each link its own
/24 (10.0.0.0/24, 10.0.1.0/24, …), static routes along the line. With several
clients, each gets its own link to the first router (or to the server when
there is none, through a switch-less hub router "hub").
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

from simulator.ip import Route
from simulator.network.apps import (
    HttpClient,
    ReadPolicy,
    ServerSession,
    StreamApp,
    WebSocketClient,
    WebSocketPeer,
    WebSocketServer,
)
from simulator.network.http import Resource, basic_credentials, build_request
from simulator.network.topology import DEFAULT_BANDWIDTH, DEFAULT_DELAY, Host, Link, Network, Router
from simulator.tcp import TcpConfig
from simulator.trace.pcap import write_pcap
from simulator.trace.records import LinkType, Trace, WireRecord
from simulator.ws import Config

Side = Literal["client", "server"]
What = Literal["any", "data", "syn", "fin", "ack", "rst"]

SERVER_PORT = 80


class Step(NamedTuple):
    """What one scenario call did: trace records [first, end) and the time it took."""

    label: str
    first: int
    end: int
    start: float
    stop: float
    events: int

    @property
    def records(self) -> range:
        return range(self.first, self.end)

    def __str__(self) -> str:
        return (
            f"{self.label}: packets {self.first + 1}–{self.end} "
            f"({self.end - self.first}), t={self.start * 1000:.1f}–{self.stop * 1000:.1f} ms"
        )


@dataclass(frozen=True)
class LinkSpec:
    delay: float = DEFAULT_DELAY
    bandwidth: float = DEFAULT_BANDWIDTH
    loss: float = 0.0


def tcp_payload_length(packet: bytes) -> int:
    """The TCP payload length of an IPv4 packet (0 when it is not TCP)."""
    if packet[9] != 6:
        return 0
    header = (packet[0] & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    return total - header - (packet[header + 12] >> 4) * 4


def tcp_flags(packet: bytes) -> int:
    if packet[9] != 6:
        return 0
    return packet[(packet[0] & 0x0F) * 4 + 13]


_MATCHERS: dict[str, Callable[[bytes], bool]] = {
    "any": lambda packet: True,
    "data": lambda packet: tcp_payload_length(packet) > 0,
    "syn": lambda packet: bool(tcp_flags(packet) & 0x02),
    "fin": lambda packet: bool(tcp_flags(packet) & 0x01),
    "rst": lambda packet: bool(tcp_flags(packet) & 0x04),
    "ack": lambda packet: tcp_flags(packet) & 0x17 == 0x10 and tcp_payload_length(packet) == 0,
}


class Scenario:
    """A simulated network with WebSocket clients and one server (see the module)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        routers: int = 0,
        clients: int = 1,
        link: LinkSpec | None = None,
        links: dict[str, LinkSpec] | None = None,
        mode: str = "echo",
        port: int = SERVER_PORT,
        path: str = "/",
        origin: str | None = None,
        client_config: Config | None = None,
        server_config: Config | None = None,
        client_tcp: TcpConfig | None = None,
        server_tcp: TcpConfig | None = None,
        client_policy: ReadPolicy | None = None,
        server_policy: ReadPolicy | None = None,
        resources: Mapping[str, Resource] | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        if clients < 1:
            raise ValueError("a scenario needs at least one client")
        self.network = network = Network(seed)
        spec = link or LinkSpec()
        overrides = links or {}
        self.routers: list[Router] = [network.router(f"r{i}") for i in range(1, routers + 1)]
        self.client_hosts: list[Host] = [
            network.host("client" if clients == 1 else f"client{i}") for i in range(1, clients + 1)
        ]
        self.server_host = network.host("server")

        def join(a: Host | Router, b: Host | Router) -> Link:
            name = f"{a.name}-{b.name}"
            s = overrides.get(name, spec)
            return network.connect(a, b, delay=s.delay, bandwidth=s.bandwidth, loss=s.loss)

        line: list[Host | Router] = [*self.routers, self.server_host]
        if clients > 1 and not self.routers:
            hub = network.router("hub")
            self.routers.append(hub)
            line.insert(0, hub)
        for host in self.client_hosts:
            join(host, line[0])
        for a, b in itertools.pairwise(line):
            join(a, b)
        network.add_static_routes()

        self.server = WebSocketServer(
            self.server_host, port, mode=mode, config=server_config, policy=server_policy,
            tcp=server_tcp, resources=resources, credentials=credentials,
        )  # fmt: skip
        self.clients = [
            WebSocketClient(
                host,
                self.server_host.address,
                port,
                path=path,
                origin=origin,
                config=client_config,
                policy=client_policy,
                tcp=client_tcp,
            )
            for host in self.client_hosts
        ]
        # Plain HTTP from each client host, on connections of their own.
        self.http_clients = [
            HttpClient(host, self.server_host.address, port, tcp=client_tcp)
            for host in self.client_hosts
        ]
        self.steps: list[Step] = []
        self._bare: list[StreamApp] = []  # connections without an application (connect_port)

    # --- what there is ----------------------------------------------------------

    @property
    def trace(self) -> Trace:
        return self.network.trace

    @property
    def now(self) -> float:
        return self.network.sim.now

    @property
    def client(self) -> WebSocketClient:
        return self.clients[0]

    @property
    def client_host(self) -> Host:
        return self.client_hosts[0]

    @property
    def http(self) -> HttpClient:
        """The first client host's plain-HTTP client."""
        return self.http_clients[0]

    def session(self, client: int = 0) -> ServerSession:
        """The server's side of client `client`'s connection."""
        sock = self.clients[client].socket
        if sock is None:
            raise LookupError(f"client {client} has not connected")
        for session in self.server.sessions:
            s = session.socket
            if (
                s is not None
                and s.remote_port == sock.endpoint.local_port
                and s.remote == sock.local
            ):
                return session
        raise LookupError(f"the server has no connection from client {client} yet")

    def peer(self, side: Side, client: int = 0) -> WebSocketPeer:
        return self.clients[client] if side == "client" else self.session(client)

    def host_of(self, side: Side, client: int = 0) -> Host:
        return self.client_hosts[client] if side == "client" else self.server_host

    def node(self, name: str) -> Host | Router:
        node = self.network.nodes.get(name)
        if node is None:
            names = ", ".join(self.network.nodes)
            raise LookupError(f"no router or host named {name!r} (there are {names})")
        assert isinstance(node, Host | Router)
        return node

    # --- running ----------------------------------------------------------------

    def _step(self, label: str, action: Callable[[], object], advance: int | None) -> Step:
        sim = self.network.sim
        first, start = len(self.trace), sim.now
        action()
        ran = sim.run(events=advance) if advance is not None else sim.run()
        step = Step(label, first, len(self.trace), start, sim.now, ran)
        self.steps.append(step)
        return step

    def advance(self, events: int | None = None, *, label: str = "advance") -> Step:
        """Run to the next quiet point, or `events` events."""
        return self._step(label, lambda: None, events)

    def finish(self) -> Step:
        """Run everything still pending, background waits included (TIME-WAIT ends)."""
        sim = self.network.sim
        first, start = len(self.trace), sim.now
        ran = sim.run(until_quiet=False)
        step = Step("finish", first, len(self.trace), start, sim.now, ran)
        self.steps.append(step)
        return step

    def wait(self, seconds: float) -> Step:
        """Let `seconds` of virtual time pass (timers fire, a slow reader reads)."""
        sim = self.network.sim
        first, start = len(self.trace), sim.now
        ran = sim.run(until_quiet=False, until=sim.now + seconds)
        step = Step(f"wait {seconds:g} s", first, len(self.trace), start, sim.now, ran)
        self.steps.append(step)
        return step

    # --- connection actions -------------------------------------------------------

    def connect(self, *, client: int = 0, advance: int | None = None) -> Step:
        """The TCP three-way handshake only."""
        return self._step("connect", lambda: self.clients[client].open(upgrade=False), advance)

    def connect_port(self, port: int, *, client: int = 0, advance: int | None = None) -> Step:
        """A bare TCP connection from the client's host to `port` on the server, with no
        application behind it: where nothing listens, the SYN is answered with an RST
        (RFC 9293 §3.10.7.1)."""
        if not 0 < port < 65536:
            raise ValueError(f"port {port}: 1–65535")
        host = self.client_hosts[client]

        def go() -> None:
            app = StreamApp(host)
            app.attach(
                host.tcp.connect(self.server_host.address, port, config=self.clients[client].tcp)
            )
            self._bare.append(app)

        return self._step(f"connect to port {port}", go, advance)

    def upgrade(self, *, client: int = 0, advance: int | None = None) -> Step:
        """The HTTP upgrade on an open TCP connection (request, 101 response)."""
        return self._step("upgrade", self.clients[client].upgrade, advance)

    def open(self, *, client: int = 0, advance: int | None = None) -> Step:
        """TCP handshake and WebSocket upgrade in one step."""
        return self._step("open", lambda: self.clients[client].open(), advance)

    def send_text(
        self, text: str, *, side: Side = "client", client: int = 0,
        fragment_size: int | None = None, advance: int | None = None,
    ) -> Step:  # fmt: skip
        peer = self.peer(side, client)
        return self._step(
            f"{side} sends text", lambda: peer.send_text(text, fragment_size=fragment_size), advance
        )

    def send_binary(
        self, data: bytes, *, side: Side = "client", client: int = 0,
        fragment_size: int | None = None, advance: int | None = None,
    ) -> Step:  # fmt: skip
        peer = self.peer(side, client)
        return self._step(
            f"{side} sends {len(data)} bytes",
            lambda: peer.send_binary(data, fragment_size=fragment_size),
            advance,
        )

    def ping(
        self, payload: bytes = b"", *, side: Side = "client", client: int = 0,
        advance: int | None = None,
    ) -> Step:  # fmt: skip
        peer = self.peer(side, client)
        return self._step(f"{side} pings", lambda: peer.ping(payload), advance)

    def close(
        self, code: int | None = 1000, reason: str = "", *, side: Side = "client",
        client: int = 0, advance: int | None = None,
    ) -> Step:  # fmt: skip
        peer = self.peer(side, client)
        return self._step(f"{side} closes", lambda: peer.close(code, reason), advance)

    def send_raw(
        self, data: bytes, *, side: Side = "client", client: int = 0, advance: int | None = None
    ) -> Step:
        """Write bytes straight to the TCP connection, past the engine (a hand-made frame:
        the peer's engine judges it)."""
        peer = self.peer(side, client)
        sock = peer.socket
        if sock is None:
            raise LookupError(f"{side} has no connection")
        return self._step(f"{side} sends raw bytes", lambda: sock.send(data), advance)

    # --- plain HTTP ---------------------------------------------------------------

    def http_get(
        self, path: str = "/", headers: Sequence[str] = (), *, method: str = "GET",
        auth: tuple[str, str] | None = None, client: int = 0, advance: int | None = None,
    ) -> Step:  # fmt: skip
        """A request from client `client`'s HTTP client: `Host` and `headers` ("Name:
        value" lines), with `auth` (user, password) as Basic credentials. It goes on that
        client's open HTTP connection, or opens one: calling again polls on the same
        connection."""
        http = self.http_clients[client]
        fields = [_header(line) for line in headers]
        if auth is not None:
            fields.append(("Authorization", basic_credentials(*auth)))
        data = build_request(method, path, http.host_header, fields)
        return self._step(f"{method} {path}", lambda: http.request(data, method), advance)

    def http_request(
        self, lines: Sequence[str], *, body: bytes = b"", client: int = 0,
        advance: int | None = None,
    ) -> Step:  # fmt: skip
        """A hand-written request: `lines` (request line, then header lines) joined by CR LF
        and ended by an empty line, then `body`, exactly as given — nothing is added or
        checked, so the server's answer to a faulty request can be seen."""
        if not lines:
            raise ValueError("a request needs at least its request line")
        http = self.http_clients[client]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        method = lines[0].split(" ", 1)[0]
        return self._step(lines[0], lambda: http.request(data, method), advance)

    def traceroute(self, *, client: int = 0, max_hops: int = 8) -> Step:
        """ICMP echo requests with TTL 1, 2, 3, …: each router on the way answers
        "time exceeded", the server answers the last one."""
        host = self.client_hosts[client]
        target = self.server_host.address

        def probes() -> None:
            hops = len(self.routers) + 1
            for ttl in range(1, min(hops, max_hops) + 1):
                host.ping(target, ttl=ttl, sequence=ttl)

        return self._step("traceroute", probes, None)

    # --- changing the network ---------------------------------------------------

    def _link_of(self, side: Side, client: int) -> Link:
        interface = self.host_of(side, client).interfaces[0]
        assert interface.link is not None
        return interface.link

    def drop_next(
        self, side: Side = "client", *, what: What = "data", count: int = 1, client: int = 0,
        link: str | None = None,
    ) -> None:  # fmt: skip
        """Lose the next `count` packets of kind `what` that `side` sends, on its own
        link or on the named one."""
        self._rule(side, what, count, client, link, None)

    def delay_next(
        self, extra: float, side: Side = "client", *, what: What = "data", count: int = 1,
        client: int = 0, link: str | None = None,
    ) -> None:  # fmt: skip
        """Hold the next `count` matching packets back `extra` seconds (they arrive late,
        possibly out of order)."""
        self._rule(side, what, count, client, link, extra)

    def _rule(
        self, side: Side, what: What, count: int, client: int, link: str | None, extra: float | None
    ) -> None:
        try:
            kind = _MATCHERS[what]
        except KeyError:
            raise ValueError(
                f"unknown packet kind {what!r}: one of {', '.join(_MATCHERS)}"
            ) from None
        source = self.host_of(side, client).interfaces[0].packed
        target = self.network.link(link) if link is not None else self._link_of(side, client)

        def match(packet: bytes) -> bool:
            return packet[12:16] == source and kind(packet)

        if extra is None:
            target.drop_next(count=count, match=match)
        else:
            target.delay_next(extra, count=count, match=match)

    def set_receive_buffer(self, side: Side, size: int, *, client: int = 0) -> None:
        """Change the receive buffer of `side`'s connection, if it has one, and of its
        later connections."""
        if side == "server":
            config = self.server.tcp or TcpConfig()
            self.server.set_tcp(replace(config, receive_buffer=size))  # checks the size
        else:
            config = self.clients[client].tcp or TcpConfig()
            self.clients[client].tcp = replace(config, receive_buffer=size)
        try:
            peer = self.peer(side, client)
        except LookupError:
            return  # not connected yet: the next connection has it
        if peer.socket is not None:
            peer.socket.endpoint.receive_buffer = size
            peer.socket.pump()

    def set_read_rate(
        self, side: Side, rate: float | None, *, chunk: int = 4096, client: int = 0
    ) -> None:
        """`side` reads `chunk` bytes every chunk/rate seconds (None: as fast as data comes)."""
        self._policy(side, ReadPolicy(rate, chunk), client)

    def pause_reading(self, side: Side, *, client: int = 0) -> None:
        self._policy(side, replace(self._reading(side, client), paused=True), client)

    def resume_reading(self, side: Side, *, client: int = 0, advance: int | None = None) -> Step:
        policy = replace(self._reading(side, client), paused=False)
        return self._step(
            f"{side} reads again", lambda: self._policy(side, policy, client), advance
        )

    def _reading(self, side: Side, client: int) -> ReadPolicy:
        """How `side` reads now: its connection's policy, or (a server not yet
        connected) the one its next connection gets."""
        if side == "server":
            try:
                return self.session(client).policy
            except LookupError:
                return self.server.policy
        return self.clients[client].policy

    def _policy(self, side: Side, policy: ReadPolicy, client: int) -> None:
        if not policy.paused:  # reading again, or at a rate: a stalled reader is cured
            peers: list[WebSocketPeer] = [self.clients[client]]
            if side == "server":
                self.server.stalls = False
                peers = list(self.server.sessions)
            for peer in peers:
                peer.stalls = False
        if side == "server":
            try:
                self.session(client).set_policy(policy)
            except LookupError:
                self.server.set_policy(policy)
        else:
            self.clients[client].set_policy(policy)

    def set_route(
        self, router: str, prefix: str, *, via: str | None = None, dev: str | None = None,
        metric: int = 0,
    ) -> Route:  # fmt: skip
        """Add or replace `router`'s row for `prefix`."""
        node = self.node(router)
        network = ipaddress.IPv4Network(prefix)
        hop = ipaddress.IPv4Address(via) if via is not None else None
        if dev is None:
            if hop is None:
                raise ValueError("a route needs a next hop (via) or an interface (dev)")
            dev = next((i.name for i in node.interfaces if hop in i.address.network), None)
            if dev is None:
                raise ValueError(f"{router} has no interface on the same subnet as {hop}")
        route = Route(network, hop, dev, metric)
        if any(row.prefix == network for row in node.routes.rows):
            node.routes.replace(route)
        else:
            node.routes.add(route)
        return route

    def remove_route(self, router: str, prefix: str) -> None:
        self.node(router).routes.remove(ipaddress.IPv4Network(prefix))

    # --- capture ----------------------------------------------------------------

    @property
    def links(self) -> list[Link]:
        return self.network.links

    def capture_link(self, at: str | None = None) -> Link:
        """The link a capture point sits on: by name ("client-r1"), default the client's."""
        return self.network.link(at) if at is not None else self._link_of("client", 0)

    def capture(self, at: str | None = None) -> list[WireRecord]:
        """What a capture on one link saw: each packet once, renumbered from 0."""
        number = self.capture_link(at).index
        seen = [record for record in self.trace if record.interface == number]
        return [replace(record, index=i) for i, record in enumerate(seen)]

    def write_pcap(
        self, path: str | os.PathLike[str], *, at: str | None = None, all_links: bool = False
    ) -> int:
        """Write one link's packets as pcap, or every link's as pcapng with an
        interface per link; atomically. Returns the packet count."""
        if all_links:
            interfaces = [(link.name, int(LinkType.RAW)) for link in self.links]
            return write_pcap(path, list(self.trace), format="pcapng", interfaces=interfaces)
        return write_pcap(path, self.capture(at))


def _header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon or not name.strip() or name != name.strip():
        raise ValueError(f"{line!r} is not a header line (Name: value)")
    return name, value.strip()


__all__ = ["SERVER_PORT", "LinkSpec", "Scenario", "Side", "Step", "What", "tcp_payload_length"]
