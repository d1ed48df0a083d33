"""Routing tables and longest-prefix match, with every decision explained (RFC 1812, RFC 4632).

Theory of operation
-------------------
A router forwards each datagram by looking up its destination address in a
routing table. Each row names a *prefix* (a network such as 10.0.2.0/24: the
first 24 bits fixed, the rest free), where to send matching datagrams (a
next-hop router, or nowhere special if the network is directly connected to
the interface) and a metric (a cost; lower is preferred).

Several rows may contain the same destination: 10.0.2.7 lies in 10.0.0.0/8, in
10.0.2.0/24 and in the default route 0.0.0.0/0, which contains everything.
The rule is *longest prefix match* (RFC 1812 §5.2.4.3, RFC 4632 §5.1): the row
with the most fixed bits is the most specific and wins. Rows with the very
same prefix (the only way two matching rows can have equal length) are told
apart by the lower metric, then by the earlier row, so the outcome never
depends on anything hidden. When no row matches — which only happens without
a default route — the destination is unreachable and the router answers with
ICMP Destination Unreachable.

:meth:`RoutingTable.lookup` returns a :class:`Decision`: the chosen row, every
row that matched, and a sentence saying why, so a lesson can highlight the row
and explain the choice. Decisions are cached per destination and the cache is
dropped on every change to the table, so forwarding a stream of packets to the
same host costs one dictionary lookup each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import NamedTuple

#: Cached decisions kept at most; the cache starts afresh when it is full.
CACHE_LIMIT = 1 << 16


@dataclass(frozen=True, slots=True)
class Route:
    """One row of a routing table.

    `next_hop` is the router to hand matching datagrams to, or None when the
    prefix is directly connected and the destination itself is reached on
    `interface`. Lower `metric` is preferred between rows of the same prefix.
    """

    prefix: IPv4Network
    next_hop: IPv4Address | None
    interface: str
    metric: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, IPv4Network):
            raise TypeError(f"prefix must be an IPv4Network, not {type(self.prefix).__name__}")
        if self.next_hop is not None and not isinstance(self.next_hop, IPv4Address):
            raise TypeError(
                f"next_hop must be an IPv4Address or None, not {type(self.next_hop).__name__}"
            )
        if not self.interface:
            raise ValueError(f"route {self.prefix} needs an outgoing interface")
        if self.metric < 0:
            raise ValueError(f"route {self.prefix}: metric {self.metric} is negative")

    @classmethod
    def parse(cls, prefix: str, *, via: str | None = None, dev: str, metric: int = 0) -> Route:
        """A route from text, in the words of ``ip route``.

        ``Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth1")``;
        ``Route.parse("default", via="192.168.1.1", dev="eth0")``. A prefix
        with host bits set (``10.0.2.7/24``) is a `ValueError`, as in ``ip route``.
        """
        next_hop = None if via is None else IPv4Address(via)
        return cls(_network(prefix), next_hop, dev, metric)

    @property
    def is_default(self) -> bool:
        """Whether this is a default route (0.0.0.0/0), which matches every destination."""
        return self.prefix.prefixlen == 0

    def gateway(self, *, compact: bool = False) -> str:
        """The next hop's address, or "directly connected" when there is none."""
        if self.next_hop is None:
            return "connected" if compact else "directly connected"
        return str(self.next_hop)

    @property
    def covers(self) -> str:
        """The addresses the prefix contains: "10.0.2.0 – 10.0.2.255", "every address"."""
        prefix = self.prefix
        if prefix.prefixlen == 0:
            return "every address"
        if prefix.num_addresses == 1:
            return f"{prefix.network_address} only"
        return f"{prefix.network_address} – {prefix.broadcast_address}"

    @property
    def is_connected(self) -> bool:
        """Whether the prefix is directly connected (no next-hop router)."""
        return self.next_hop is None

    @property
    def gateway_text(self) -> str:
        """``via 10.0.1.2 dev eth1`` or ``dev eth1 (connected)``."""
        if self.next_hop is None:
            return f"dev {self.interface} (connected)"
        return f"via {self.next_hop} dev {self.interface}"

    def __str__(self) -> str:
        """``10.0.2.0/24 via 10.0.1.2 dev eth1 metric 0``, ``10.0.1.0/24 dev eth1 (connected)``."""
        if self.next_hop is None:
            metric = f" metric {self.metric}" if self.metric else ""
            return f"{self.prefix} dev {self.interface}{metric} (connected)"
        return f"{self.prefix} via {self.next_hop} dev {self.interface} metric {self.metric}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one lookup, and why.

    `row` is the index in `RoutingTable.rows` of the chosen route (None when
    no row matches); `candidates` are the indices of every row whose prefix
    contains the destination, in table order; `reason` is one sentence for a
    learner.
    """

    destination: IPv4Address
    route: Route | None
    row: int | None
    candidates: tuple[int, ...]
    reason: str

    @property
    def reachable(self) -> bool:
        """Whether some row matched."""
        return self.route is not None

    def __str__(self) -> str:
        return self.reason


def next_hop_for(decision: Decision) -> IPv4Address:
    """Where to send the datagram: the route's next hop, or the destination itself
    when the route is directly connected.

    Raises `ValueError` (with the decision's reason) when there was no route.
    """
    if decision.route is None:
        raise ValueError(decision.reason)
    next_hop = decision.route.next_hop
    return decision.destination if next_hop is None else next_hop


Destination = IPv4Address | str | bytes


class RoutingTable:
    """Routes in display order (insertion order), with longest-prefix-match lookup.

    Several rows may share a prefix (say, a backup path with a higher
    metric); an exact duplicate row is refused.
    """

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._routes: list[Route] = []
        self._rows: tuple[Route, ...] = ()
        # Per row, in order: what matching and explaining need, precomputed.
        self._keys: tuple[_Key, ...] = ()
        self._cache: dict[Destination, Decision] = {}
        for route in routes:
            if route in self._routes:
                raise ValueError(f"route already in the table: {route}")
            self._routes.append(route)
        self._changed()

    @property
    def rows(self) -> tuple[Route, ...]:
        """The routes, in display order."""
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._rows)

    def __str__(self) -> str:
        return "\n".join(table_lines(self))

    def __repr__(self) -> str:
        return f"RoutingTable({list(self._rows)!r})"

    def add(self, route: Route) -> None:
        """Append `route` as the last row; `ValueError` if the very same row is present."""
        if route in self._routes:
            raise ValueError(f"route already in the table: {route}")
        self._routes.append(route)
        self._changed()

    def remove(self, prefix: IPv4Network | str) -> tuple[Route, ...]:
        """Delete every row for `prefix` and return them; `KeyError` if there is none."""
        network = _network(prefix)
        removed = tuple(route for route in self._routes if route.prefix == network)
        if not removed:
            raise KeyError(f"no route for {network}")
        self._routes = [route for route in self._routes if route.prefix != network]
        self._changed()
        return removed

    def replace(self, route: Route) -> None:
        """Put `route` in place of the rows for its prefix, where the first of them stood.

        Like ``ip route replace``: when there is no row for the prefix,
        `route` is appended.
        """
        positions = [i for i, old in enumerate(self._routes) if old.prefix == route.prefix]
        if not positions:
            self._routes.append(route)
        else:
            self._routes[positions[0]] = route
            for i in reversed(positions[1:]):
                del self._routes[i]
        self._changed()

    def lookup(self, destination: Destination) -> Decision:
        """The route for `destination` by longest prefix match, with its explanation.

        `destination` is an `IPv4Address`, dotted-quad text or 4 packed bytes
        (``packet[16:20]``). Decisions are cached under the value given, so a
        repeated lookup costs one dictionary access; bytes and text hash
        fastest, an `IPv4Address` hashes in Python and costs a few times more.
        """
        try:
            return self._cache[destination]
        except KeyError:
            pass
        decision = self._decide(_address(destination))
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[destination] = decision
        return decision

    def _changed(self) -> None:
        self._rows = tuple(self._routes)
        self._keys = tuple(
            _Key(
                int(route.prefix.network_address),
                int(route.prefix.netmask),
                route.prefix.prefixlen,
                route.metric,
                str(route.prefix),
            )
            for route in self._rows
        )
        self._cache.clear()

    def _decide(self, destination: IPv4Address) -> Decision:
        value = int(destination)
        keys = self._keys
        candidates = tuple(i for i, key in enumerate(keys) if value & key.mask == key.network)
        if not candidates:
            # RFC 1812 §5.2.7.1: no route → ICMP Destination Unreachable.
            return Decision(
                destination,
                None,
                None,
                (),
                f"no row matches {destination} and there is no default route: "
                "destination unreachable",
            )
        # RFC 1812 §5.2.4.3 / RFC 4632 §5.1: the longest matching prefix wins;
        # among rows for that same prefix, the lowest metric, then the earliest row.
        best = min(candidates, key=lambda i: (-keys[i].length, keys[i].metric, i))
        route, winner = self._rows[best], keys[best]
        lengths = {keys[i].text: keys[i].length for i in candidates}  # distinct prefixes
        if len(lengths) == 1:
            if route.is_default:
                reason = f"only the default route {winner.text} matches {destination}"
            else:
                reason = f"{destination} matches only {winner.text}"
        else:
            reason = (
                f"{destination} matches {_join(sorted(lengths, key=lengths.__getitem__))}; "
                f"the longest prefix, /{winner.length}, wins"
            )
        same_prefix = [keys[i].metric for i in candidates if keys[i].text == winner.text]
        if len(same_prefix) > 1:
            reason += "; " + _tie_reason(same_prefix, route)
        return Decision(destination, route, best, candidates, reason)


class _Key(NamedTuple):
    """A row's prefix and metric, precomputed for matching and explaining."""

    network: int
    mask: int
    length: int
    metric: int
    text: str


def _tie_reason(metrics: list[int], winner: Route) -> str:
    """Why `winner` beats the other rows of its prefix, whose metrics (its own too) are given."""
    lowest = [metric for metric in metrics if metric == winner.metric]
    count = f"{len(metrics)} rows have that prefix"
    if len(lowest) == 1:
        return f"{count} and the lowest metric, {winner.metric}, wins: {winner.gateway_text}"
    if len(lowest) == len(metrics):
        return (
            f"{count}, all with metric {winner.metric}, so the earlier row wins: "
            f"{winner.gateway_text}"
        )
    return (
        f"{count}; {len(lowest)} tie on the lowest metric, {winner.metric}, "
        f"so the earlier row wins: {winner.gateway_text}"
    )


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _address(destination: Destination) -> IPv4Address:
    if isinstance(destination, IPv4Address):
        return destination
    if isinstance(destination, bytes):
        if len(destination) != 4:
            raise ValueError(f"an IPv4 address is 4 bytes, got {len(destination)}")
        return IPv4Address(destination)
    return IPv4Address(destination)


def _network(prefix: IPv4Network | str) -> IPv4Network:
    if isinstance(prefix, IPv4Network):
        return prefix
    return IPv4Network("0.0.0.0/0" if prefix == "default" else prefix, strict=True)


def table_lines(table: RoutingTable, *, highlight: int | None = None) -> list[str]:
    """The table as aligned plain-text lines: a header, then one line per row.

    Line ``i + 1`` shows ``table.rows[i]``. With `highlight`, every line gets
    a two-character gutter and that row is marked ``>``.
    """
    header = ("Destination", "Gateway", "Interface", "Metric")
    cells = [
        (
            str(route.prefix),
            "connected" if route.next_hop is None else str(route.next_hop),
            route.interface,
            str(route.metric),
        )
        for route in table.rows
    ]
    widths = [max(len(row[c]) for row in [header, *cells]) for c in range(4)]
    lines = []
    for index, row in enumerate([header, *cells]):
        text = "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=False)),
             row[3].rjust(widths[3])]
        )  # fmt: skip
        if highlight is not None:
            text = ("> " if index - 1 == highlight else "  ") + text
        lines.append(text.rstrip())
    return lines


__all__ = ["CACHE_LIMIT", "Decision", "Route", "RoutingTable", "next_hop_for", "table_lines"]
