"""Hosts, routers and the point-to-point links between them.

    client ──link── r1 ──link── r2 ──link── r3 ──link── server
     eth0        eth0  eth1   eth0  eth1  eth0  eth1       eth0

Every link is a point-to-point IPv4 subnet with a one-way propagation delay, a
bandwidth (a packet occupies the link for its length × 8 / bandwidth seconds,
packets queue behind each other per direction), a loss probability and
scripted drops. Every packet put on a link is appended to the network's trace
as a raw IPv4 packet, once, at the moment the sending node hands it to the link
(where a capture on that node's interface would see it): a packet dropped on
the link was still sent, so it is still in the trace, and `Network.drops` says
which records never arrived. The trace's records carry the link's number as
their capture interface, so a capture point is a filter on it.

Routers forward by longest-prefix match (`simulator.ip.RoutingTable`),
decrement the TTL (RFC 791, RFC 1812 §5.3.1) and answer with ICMP time exceeded
or destination unreachable. Each decision is logged in `Network.forwarding`
with the trace record it concerns, so a view can show which row matched and why.
Hosts run the TCP model (`simulator.tcp`) under sockets (`simulator.network.sockets`).

No ARP and no Ethernet: links are point-to-point, so the next hop is simply the
node at the other end of the route's interface.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from simulator.ip import (
    PROTO_ICMP,
    PROTO_TCP,
    Decision,
    Route,
    RoutingTable,
    decrement_ttl,
    icmp,
)
from simulator.network.sim import Simulator
from simulator.trace.records import Layer, LinkType, Trace

if TYPE_CHECKING:
    from simulator.network.apps import AppNote
    from simulator.network.sockets import TcpStack

DEFAULT_DELAY = 0.005  # 5 ms one way
DEFAULT_BANDWIDTH = 100e6  # 100 Mbit/s
TTL = 64

_N = TypeVar("_N", bound="Node")

Match = Callable[[bytes], bool]
"""Chooses packets (whole IPv4 packets) for a scripted drop or delay."""


class Forwarding(NamedTuple):
    """One router's decision about one packet."""

    time: float
    router: str
    record: int  # the trace record of the packet as it arrived
    decision: Decision | None  # None when the TTL ran out before the lookup
    action: str  # what the router did, in words


class Drop(NamedTuple):
    time: float
    link: str
    record: int
    reason: str  # "scripted" or "random loss"


class Interface:
    """A node's attachment to a link, with its address and subnet."""

    def __init__(self, node: Node, name: str, address: ipaddress.IPv4Interface) -> None:
        self.node = node
        self.name = name
        self.address = address
        self.packed = address.ip.packed
        self.link: Link | None = None

    @property
    def ip(self) -> ipaddress.IPv4Address:
        return self.address.ip

    def __repr__(self) -> str:
        return f"<Interface {self.node.name}/{self.name} {self.address}>"


@dataclass
class _Rule:
    sender: Node | None
    match: Match | None
    count: int
    delay: float | None  # None: drop


@dataclass
class Link:
    """A point-to-point link: `a` and `b` are the two interfaces."""

    network: Network
    index: int
    a: Interface
    b: Interface
    delay: float = DEFAULT_DELAY
    bandwidth: float = DEFAULT_BANDWIDTH
    loss: float = 0.0
    _busy: list[float] = field(default_factory=lambda: [0.0, 0.0])
    _rules: list[_Rule] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.a.node.name}-{self.b.node.name}"

    def other(self, interface: Interface) -> Interface:
        return self.b if interface is self.a else self.a

    def drop_next(
        self, sender: Node | None = None, *, count: int = 1, match: Match | None = None
    ) -> None:
        """Drop the next `count` packets `sender` (or either end) puts on this link
        that `match` accepts (default: any)."""
        self._rules.append(_Rule(sender, match, count, None))

    def delay_next(
        self,
        extra: float,
        sender: Node | None = None,
        *,
        count: int = 1,
        match: Match | None = None,
    ) -> None:
        """Hold the next `count` matching packets back for `extra` seconds more."""
        self._rules.append(_Rule(sender, match, count, extra))

    def transmit(self, packet: bytes, sender: Interface) -> int:
        """Put `packet` on the link from `sender`'s end; returns its trace record index."""
        network = self.network
        sim = network.sim
        now = sim.now
        record = network.trace.append(
            now, Layer.LINK, packet, link_type=LinkType.RAW, interface=self.index
        ).index
        network.senders.append(sender.node.name)
        direction = 0 if sender is self.a else 1
        busy = self._busy[direction]
        done = (busy if busy > now else now) + len(packet) * 8 / self.bandwidth
        self._busy[direction] = done
        extra = 0.0
        if self._rules:
            for rule in self._rules:
                if (rule.sender is None or rule.sender is sender.node) and (
                    rule.match is None or rule.match(packet)
                ):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    if rule.delay is None:
                        network.drops.append(Drop(now, self.name, record, "scripted"))
                        return record
                    extra = rule.delay
                    break
        if self.loss and network.loss_rng.random() < self.loss:
            network.drops.append(Drop(now, self.name, record, "random loss"))
            return record
        to = self.b if direction == 0 else self.a
        sim.post(done + self.delay + extra, partial(to.node.receive, packet, to, record))
        return record


class Node:
    """Something with interfaces and a routing table."""

    def __init__(self, network: Network, name: str) -> None:
        self.network = network
        self.name = name
        self.interfaces: list[Interface] = []
        self.routes = RoutingTable()
        self._ip_id = 0
        self._addresses: set[bytes] = set()
        self._by_name: dict[str, Interface] = {}

    def attach(self, interface: Interface) -> None:
        self.interfaces.append(interface)
        self._addresses.add(interface.packed)
        self._by_name[interface.name] = interface

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def interface(self, name: str) -> Interface:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no interface {name}") from None

    @property
    def address(self) -> ipaddress.IPv4Address:
        """The first interface's address (a host's address)."""
        return self.interfaces[0].ip

    def owns(self, packed: bytes) -> bool:
        return packed in self._addresses

    def next_id(self) -> int:
        """The next IPv4 Identification value this node sends (RFC 6864: unique per source)."""
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def route(self, packet: bytes) -> tuple[Decision, Interface | None]:
        decision = self.routes.lookup(packet[16:20])
        if decision.route is None:
            return decision, None
        return decision, self._by_name.get(decision.route.interface)

    def send(self, packet: bytes) -> int | None:
        """Route and transmit a packet this node originates; the record index, or None
        when there is no route (the caller decides what that means)."""
        _, interface = self.route(packet)
        if interface is None or interface.link is None:
            return None
        return interface.link.transmit(packet, interface)

    def receive(self, packet: bytes, interface: Interface, record: int) -> None:
        raise NotImplementedError

    def icmp_error(self, original: bytes, build: Callable[..., bytes], *args: int) -> None:
        """Answer `original` with an ICMP error from this node, where the rules allow one."""
        if not icmp.may_send_error(original):
            return
        source = self._source_for(original[12:16])
        self.send(build(source, original, *args, ttl=TTL, identification=self.next_id()))

    def _source_for(self, destination: bytes) -> bytes:
        """The address a reply to `destination` leaves from: its outgoing interface's."""
        decision = self.routes.lookup(destination)
        if decision.route is not None:
            return self.interface(decision.route.interface).packed
        return self.interfaces[0].packed


class Router(Node):
    """Forwards packets between its interfaces (RFC 1812)."""

    def __init__(self, network: Network, name: str) -> None:
        super().__init__(network, name)
        self._actions: dict[Route, str] = {}

    def receive(self, packet: bytes, interface: Interface, record: int) -> None:
        network = self.network
        if self.owns(packet[16:20]):
            self._local(packet, record)
            return
        if packet[8] <= 1:  # RFC 1812 §5.3.1: TTL would reach 0: discard, tell the source
            network.forwarding.append(
                Forwarding(network.sim.now, self.name, record, None,
                           "TTL expired: discarded, ICMP time exceeded sent to the source")
            )  # fmt: skip
            self.icmp_error(packet, icmp.time_exceeded)
            return
        decision, out = self.route(packet)
        if out is None or out.link is None:
            network.forwarding.append(
                Forwarding(network.sim.now, self.name, record, decision,
                           "no route: discarded, ICMP destination unreachable sent to the source")
            )  # fmt: skip
            self.icmp_error(packet, icmp.destination_unreachable, icmp.NET_UNREACHABLE)
            return
        network.forwarding.append(
            Forwarding(network.sim.now, self.name, record, decision, self._forwarded(decision))
        )
        out.link.transmit(decrement_ttl(packet), out)

    def _forwarded(self, decision: Decision) -> str:
        """What forwarding by `decision`'s row means, in words (made once per row)."""
        route = decision.route
        assert route is not None
        text = self._actions.get(route)
        if text is None:
            hop = "directly" if route.next_hop is None else f"to {route.next_hop}"
            text = self._actions[route] = f"forwarded on {route.interface} {hop}"
        return text

    def _local(self, packet: bytes, record: int) -> None:
        """A packet for the router itself: answer pings, nothing else."""
        if packet[9] == PROTO_ICMP:
            message = icmp.parse_icmp(packet)
            if message.type == icmp.ECHO_REQUEST:
                self.send(icmp.echo_reply_to(packet, ttl=TTL, identification=self.next_id()))


class Host(Node):
    """An end system: one interface, a default route, a TCP stack and applications."""

    def __init__(self, network: Network, name: str) -> None:
        super().__init__(network, name)
        from simulator.network.sockets import TcpStack

        self.tcp: TcpStack = TcpStack(self)
        self.icmp_received: list[tuple[float, int, icmp.IcmpMessage]] = []

    def receive(self, packet: bytes, interface: Interface, record: int) -> None:
        if not self.owns(packet[16:20]):
            return  # not ours; hosts do not forward (RFC 1122 §3.3.1.5 lets them; ours don't)
        protocol = packet[9]
        if protocol == PROTO_TCP:
            self.tcp.receive(packet, record)
        elif protocol == PROTO_ICMP:
            message = icmp.parse_icmp(packet)
            self.icmp_received.append((self.network.sim.now, record, message))
            if message.type == icmp.ECHO_REQUEST:
                self.send(icmp.echo_reply_to(packet, ttl=TTL, identification=self.next_id()))
        else:  # RFC 1122 §3.2.2.1: protocol unreachable
            self.icmp_error(packet, icmp.destination_unreachable, icmp.PROTOCOL_UNREACHABLE)

    def ping(
        self, destination: str | ipaddress.IPv4Address, *, ttl: int = TTL, sequence: int = 1
    ) -> int | None:
        """Send one ICMP echo request with the given TTL (traceroute sends these with
        TTL 1, 2, 3, … and listens for the time-exceeded answers)."""
        dst = ipaddress.IPv4Address(destination).packed
        packet = icmp.echo_request(
            self._source_for(dst), dst, identifier=0x7770, sequence=sequence,
            data=b"wirelab traceroute", ttl=ttl, identification=self.next_id(),
        )  # fmt: skip
        return self.send(packet)


class Network:
    """A simulated network: nodes, links, the clock and the trace every link writes to."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.sim = Simulator(seed)
        # Separate random streams, so drawing one kind of number never shifts another.
        self.isn_rng = random.Random(f"wirelab:{seed}:isn")
        self.ws_rng = random.Random(f"wirelab:{seed}:websocket")
        self.loss_rng = random.Random(f"wirelab:{seed}:loss")
        self.trace = Trace()
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.forwarding: list[Forwarding] = []
        self.drops: list[Drop] = []
        self.connections = 0  # TCP sockets made so far (their numbers)
        self.senders: list[str] = []  # for each trace record, the node that put it on its link
        self.apps_log: list[AppNote] = []

    # --- building ---------------------------------------------------------------

    def host(self, name: str) -> Host:
        return self._add(Host(self, name))

    def router(self, name: str) -> Router:
        return self._add(Router(self, name))

    def _add(self, node: _N) -> _N:
        if node.name in self.nodes:
            raise ValueError(f"there is already a node named {node.name}")
        self.nodes[node.name] = node
        return node

    def connect(
        self,
        a: Node,
        b: Node,
        subnet: str | None = None,
        *,
        delay: float = DEFAULT_DELAY,
        bandwidth: float = DEFAULT_BANDWIDTH,
        loss: float = 0.0,
    ) -> Link:
        """Join `a` and `b` with a link on `subnet` (default 10.0.N.0/24 for the Nth link):
        `a` gets the subnet's first address, `b` the second. Adds the connected routes."""
        network = ipaddress.IPv4Network(subnet or f"10.0.{len(self.links)}.0/24")
        hosts = network.hosts()
        ends = []
        for node in (a, b):
            name = f"eth{len(node.interfaces)}"
            interface = Interface(
                node, name, ipaddress.IPv4Interface(f"{next(hosts)}/{network.prefixlen}")
            )
            node.attach(interface)
            node.routes.add(Route(network, None, name))
            ends.append(interface)
        link = Link(self, len(self.links), ends[0], ends[1], delay, bandwidth, loss)
        for end in ends:
            end.link = link
        self.links.append(link)
        return link

    def add_static_routes(self) -> None:
        """Give every node a route to every subnet it is not on, along a shortest path
        (hosts: one default route via their neighbour instead)."""
        subnets = [link.a.address.network for link in self.links]
        for node in self.nodes.values():
            if isinstance(node, Host):
                if node.interfaces and not any(r.is_default for r in node.routes.rows):
                    interface = node.interfaces[0]
                    assert interface.link is not None
                    gateway = interface.link.other(interface)
                    node.routes.add(
                        Route(ipaddress.IPv4Network("0.0.0.0/0"), gateway.ip, interface.name)
                    )
                continue
            first_hops = self._first_hops(node)
            for subnet in subnets:
                if any(r.prefix == subnet for r in node.routes.rows):
                    continue
                hop = first_hops.get(subnet)
                if hop is not None:
                    out, via, metric = hop
                    node.routes.add(Route(subnet, via.ip, out.name, metric))

    def _first_hops(
        self, start: Node
    ) -> dict[ipaddress.IPv4Network, tuple[Interface, Interface, int]]:
        """Breadth first from `start` through routers: for each subnet, the interface to
        leave by, the neighbour to send to, and the hop count."""
        found: dict[ipaddress.IPv4Network, tuple[Interface, Interface, int]] = {}
        seen = {start.name}
        frontier: list[tuple[Node, Interface, Interface, int]] = []
        for interface in start.interfaces:
            if interface.link is not None:
                neighbour = interface.link.other(interface)
                frontier.append((neighbour.node, interface, neighbour, 1))
        while frontier:
            following = []
            for node, out, via, hops in frontier:
                if node.name in seen:
                    continue
                seen.add(node.name)
                for interface in node.interfaces:
                    found.setdefault(interface.address.network, (out, via, hops))
                    if isinstance(node, Router) and interface.link is not None:
                        neighbour = interface.link.other(interface)
                        following.append((neighbour.node, out, via, hops + 1))
            frontier = following
        return found

    def link(self, name: str) -> Link:
        for link in self.links:
            if link.name == name or str(link.index) == name:
                return link
        names = ", ".join(link.name for link in self.links)
        raise KeyError(f"no link named {name!r} (links: {names})")

    def link_between(self, a: str, b: str) -> Link:
        for link in self.links:
            if {link.a.node.name, link.b.node.name} == {a, b}:
                return link
        raise KeyError(f"no link between {a} and {b}")


__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_DELAY",
    "Drop",
    "Forwarding",
    "Host",
    "Interface",
    "Link",
    "Network",
    "Node",
    "Router",
]
