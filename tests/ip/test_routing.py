"""Routing tables: longest prefix match, tie-breaks, explanations, and a cache that never lies."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.ip import Decision, Route, RoutingTable, next_hop_for, table_lines

FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def overlapping_table() -> RoutingTable:
    """Nested prefixes around 10.0.2.7, a host route for it, and a default route."""
    return RoutingTable(
        [
            Route.parse("0.0.0.0/0", via="192.168.1.1", dev="eth0"),
            Route.parse("10.0.0.0/8", via="10.255.0.1", dev="eth1"),
            Route.parse("10.0.0.0/16", via="10.0.255.1", dev="eth1"),
            Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth2"),
            Route.parse("10.0.2.7/32", via="10.0.1.3", dev="eth2"),
            Route.parse("10.0.1.0/24", dev="eth2"),
        ]
    )


# -- Route ----------------------------------------------------------------------


def test_route_parse_and_str() -> None:
    gateway = Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth1")
    assert gateway == Route(IPv4Network("10.0.2.0/24"), IPv4Address("10.0.1.2"), "eth1", 0)
    assert str(gateway) == "10.0.2.0/24 via 10.0.1.2 dev eth1 metric 0"
    assert not gateway.is_default
    assert not gateway.is_connected
    connected = Route.parse("10.0.1.0/24", dev="eth1")
    assert str(connected) == "10.0.1.0/24 dev eth1 (connected)"
    assert connected.is_connected
    assert str(Route.parse("10.0.1.0/24", dev="eth1", metric=5)) == (
        "10.0.1.0/24 dev eth1 metric 5 (connected)"
    )
    default = Route.parse("default", via="192.168.1.1", dev="eth0", metric=100)
    assert default.prefix == IPv4Network("0.0.0.0/0")
    assert default.is_default
    assert str(default) == "0.0.0.0/0 via 192.168.1.1 dev eth0 metric 100"


@pytest.mark.parametrize(
    ("prefix", "via", "dev", "metric"),
    [
        ("10.0.2.7/24", None, "eth0", 0),  # host bits set: a typo, as `ip route` says
        ("10.0.2.0/33", None, "eth0", 0),
        ("10.0.2.0/24", "10.0.1", "eth0", 0),
        ("10.0.2.0/24", None, "", 0),
        ("10.0.2.0/24", None, "eth0", -1),
    ],
)
def test_route_parse_rejects_nonsense(prefix: str, via: str | None, dev: str, metric: int) -> None:
    with pytest.raises(ValueError):
        Route.parse(prefix, via=via, dev=dev, metric=metric)


def test_route_wants_ipaddress_objects() -> None:
    with pytest.raises(TypeError, match="IPv4Network"):
        Route("10.0.0.0/8", None, "eth0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="IPv4Address"):
        Route(IPv4Network("10.0.0.0/8"), "10.0.0.1", "eth0")  # type: ignore[arg-type]


# -- longest prefix match ---------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "row", "candidates"),
    [
        ("10.0.2.7", 4, (0, 1, 2, 3, 4)),  # the /32 host route beats everything
        ("10.0.2.8", 3, (0, 1, 2, 3)),
        ("10.0.1.9", 5, (0, 1, 2, 5)),
        ("10.0.3.1", 2, (0, 1, 2)),
        ("10.1.0.1", 1, (0, 1)),
        ("11.0.0.1", 0, (0,)),
        ("255.255.255.255", 0, (0,)),
    ],
)
def test_longest_prefix_wins(destination: str, row: int, candidates: tuple[int, ...]) -> None:
    table = overlapping_table()
    decision = table.lookup(destination)
    assert decision.row == row
    assert decision.route is table.rows[row]
    assert decision.candidates == candidates
    assert decision.destination == IPv4Address(destination)
    assert decision.reachable


def test_reasons_name_the_matching_prefixes() -> None:
    table = overlapping_table()
    assert table.lookup("10.0.2.8").reason == (
        "10.0.2.8 matches 0.0.0.0/0, 10.0.0.0/8, 10.0.0.0/16 and 10.0.2.0/24; "
        "the longest prefix, /24, wins"
    )
    assert table.lookup("10.0.2.7").reason.endswith("the longest prefix, /32, wins")
    assert table.lookup("11.0.0.1").reason == "only the default route 0.0.0.0/0 matches 11.0.0.1"
    two = RoutingTable(
        [Route.parse("10.0.0.0/8", dev="eth1"), Route.parse("10.0.2.0/24", dev="eth2")]
    )
    assert two.lookup("10.0.2.7").reason == (
        "10.0.2.7 matches 10.0.0.0/8 and 10.0.2.0/24; the longest prefix, /24, wins"
    )
    assert two.lookup("10.9.9.9").reason == "10.9.9.9 matches only 10.0.0.0/8"


def test_default_route_only() -> None:
    table = RoutingTable([Route.parse("default", via="192.168.1.1", dev="eth0")])
    for destination in ("8.8.8.8", "10.0.2.7", "0.0.0.0"):
        decision = table.lookup(destination)
        assert (decision.row, decision.candidates) == (0, (0,))
        assert decision.reason.startswith("only the default route 0.0.0.0/0 matches")
        assert next_hop_for(decision) == IPv4Address("192.168.1.1")


def test_no_route_is_unreachable() -> None:
    table = RoutingTable([Route.parse("10.0.0.0/8", dev="eth1")])
    decision = table.lookup("192.0.2.9")
    assert decision == Decision(
        IPv4Address("192.0.2.9"),
        None,
        None,
        (),
        "no row matches 192.0.2.9 and there is no default route: destination unreachable",
    )
    assert not decision.reachable
    assert "unreachable" in str(decision)
    with pytest.raises(ValueError, match="unreachable"):
        next_hop_for(decision)
    assert RoutingTable().lookup("10.0.0.1").route is None


def test_next_hop_of_a_connected_route_is_the_destination() -> None:
    table = overlapping_table()
    assert next_hop_for(table.lookup("10.0.1.9")) == IPv4Address("10.0.1.9")
    assert next_hop_for(table.lookup("10.0.2.8")) == IPv4Address("10.0.1.2")


def test_metric_breaks_a_tie_between_rows_of_one_prefix() -> None:
    table = RoutingTable(
        [
            Route.parse("10.0.0.0/8", via="10.255.0.1", dev="eth0"),
            Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth1", metric=20),
            Route.parse("10.0.2.0/24", via="10.0.1.3", dev="eth2", metric=10),
            Route.parse("10.0.2.0/24", via="10.0.1.4", dev="eth3", metric=30),
        ]
    )
    decision = table.lookup("10.0.2.7")
    assert decision.row == 2
    assert decision.candidates == (0, 1, 2, 3)
    assert decision.reason == (
        "10.0.2.7 matches 10.0.0.0/8 and 10.0.2.0/24; the longest prefix, /24, wins; "
        "3 rows have that prefix and the lowest metric, 10, wins: via 10.0.1.3 dev eth2"
    )


def test_earlier_row_breaks_a_tie_on_metric() -> None:
    table = RoutingTable(
        [
            Route.parse("0.0.0.0/0", via="192.168.1.1", dev="eth0", metric=5),
            Route.parse("0.0.0.0/0", via="192.168.2.1", dev="eth1", metric=5),
        ]
    )
    decision = table.lookup("8.8.8.8")
    assert (decision.row, decision.candidates) == (0, (0, 1))
    assert decision.reason == (
        "only the default route 0.0.0.0/0 matches 8.8.8.8; 2 rows have that prefix, "
        "all with metric 5, so the earlier row wins: via 192.168.1.1 dev eth0"
    )
    table.add(Route.parse("0.0.0.0/0", via="192.168.3.1", dev="eth2", metric=9))
    decision = table.lookup("8.8.8.8")
    assert decision.row == 0
    assert "3 rows have that prefix; 2 tie on the lowest metric, 5" in decision.reason
    assert decision.reason.endswith("so the earlier row wins: via 192.168.1.1 dev eth0")


def test_every_form_of_address_gives_the_same_decision() -> None:
    table = overlapping_table()
    by_text = table.lookup("10.0.2.8")
    assert table.lookup(IPv4Address("10.0.2.8")) == by_text
    assert table.lookup(b"\x0a\x00\x02\x08") == by_text
    with pytest.raises(ValueError):
        table.lookup(b"\x0a\x00\x02")
    with pytest.raises(ValueError):
        table.lookup("10.0.2")


# -- changes and the cache ------------------------------------------------------------


def test_cached_lookup_returns_the_same_decision() -> None:
    table = overlapping_table()
    assert table.lookup("10.0.2.8") is table.lookup("10.0.2.8")


def test_replace_changes_the_answer_in_place() -> None:
    table = overlapping_table()
    before = table.lookup("10.0.2.8")
    assert before.route is not None and str(before.route.next_hop) == "10.0.1.2"
    table.replace(Route.parse("10.0.2.0/24", via="10.0.1.99", dev="eth3"))
    after = table.lookup("10.0.2.8")
    assert after.row == 3  # same position
    assert next_hop_for(after) == IPv4Address("10.0.1.99")
    assert len(table) == 6


def test_replace_collapses_rows_of_one_prefix_and_appends_a_new_one() -> None:
    table = RoutingTable(
        [
            Route.parse("10.0.0.0/8", via="10.0.0.1", dev="eth0"),
            Route.parse("10.0.0.0/8", via="10.0.0.2", dev="eth0", metric=1),
            Route.parse("default", via="10.0.0.3", dev="eth0"),
        ]
    )
    table.replace(Route.parse("10.0.0.0/8", via="10.0.0.9", dev="eth1"))
    assert [str(route) for route in table.rows] == [
        "10.0.0.0/8 via 10.0.0.9 dev eth1 metric 0",
        "0.0.0.0/0 via 10.0.0.3 dev eth0 metric 0",
    ]
    table.replace(Route.parse("192.0.2.0/24", dev="eth2"))
    assert str(table.rows[-1]) == "192.0.2.0/24 dev eth2 (connected)"
    assert table.lookup("192.0.2.1").row == 2


def test_remove_falls_back_to_a_shorter_prefix() -> None:
    table = overlapping_table()
    assert table.lookup("10.0.2.7").row == 4
    removed = table.remove("10.0.2.7/32")
    assert [str(route) for route in removed] == ["10.0.2.7/32 via 10.0.1.3 dev eth2 metric 0"]
    decision = table.lookup("10.0.2.7")
    assert decision.route == Route.parse("10.0.2.0/24", via="10.0.1.2", dev="eth2")
    assert decision.candidates == (0, 1, 2, 3)
    table.remove(IPv4Network("0.0.0.0/0"))
    assert table.lookup("11.0.0.1").route is None
    with pytest.raises(KeyError, match=r"no route for 172\.16\.0\.0/12"):
        table.remove("172.16.0.0/12")


def test_add_invalidates_the_cache() -> None:
    table = RoutingTable([Route.parse("default", via="192.168.1.1", dev="eth0")])
    assert table.lookup("10.0.2.7").row == 0
    table.add(Route.parse("10.0.2.0/24", dev="eth1"))
    assert table.lookup("10.0.2.7").row == 1
    with pytest.raises(ValueError, match="already in the table"):
        table.add(Route.parse("10.0.2.0/24", dev="eth1"))


def test_rows_keep_insertion_order() -> None:
    routes = [
        Route.parse("10.0.2.0/24", dev="eth1"),
        Route.parse("default", via="10.0.2.1", dev="eth1"),
        Route.parse("10.0.0.0/8", via="10.0.2.254", dev="eth1"),
    ]
    table = RoutingTable(routes)
    assert table.rows == tuple(routes)
    assert list(table) == routes


# -- rendering ----------------------------------------------------------------------


def test_table_lines_are_aligned() -> None:
    table = overlapping_table()
    lines = table_lines(table)
    assert lines == [
        "Destination  Gateway      Interface  Metric",
        "0.0.0.0/0    192.168.1.1  eth0            0",
        "10.0.0.0/8   10.255.0.1   eth1            0",
        "10.0.0.0/16  10.0.255.1   eth1            0",
        "10.0.2.0/24  10.0.1.2     eth2            0",
        "10.0.2.7/32  10.0.1.3     eth2            0",
        "10.0.1.0/24  connected    eth2            0",
    ]
    assert str(table) == "\n".join(lines)


def test_table_lines_highlight_the_chosen_row() -> None:
    table = overlapping_table()
    decision = table.lookup("10.0.2.8")
    lines = table_lines(table, highlight=decision.row)
    assert lines[0].startswith("  Destination")
    marked = [i for i, line in enumerate(lines) if line.startswith("> ")]
    assert marked == [4]
    assert lines[4] == "> 10.0.2.0/24  10.0.1.2     eth2            0"
    assert table_lines(RoutingTable()) == ["Destination  Gateway  Interface  Metric"]


# -- against a brute-force reference ---------------------------------------------------

# A small address space (10.0.0.0/22 and the default) so random prefixes overlap often.
prefixes = st.builds(
    lambda address, length: IPv4Network((address, length), strict=False),
    st.integers(0x0A000000, 0x0A0003FF),
    st.integers(0, 32).filter(lambda n: n == 0 or n >= 20),
)
routes = st.builds(
    Route,
    prefix=prefixes,
    next_hop=st.sampled_from([None, IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")]),
    interface=st.sampled_from(["eth0", "eth1"]),
    metric=st.integers(0, 2),
)
destinations = st.integers(0x09FFFFF0, 0x0A000410).map(IPv4Address)


def reference_lookup(
    rows: tuple[Route, ...], destination: IPv4Address
) -> tuple[int | None, tuple[int, ...]]:
    """Longest prefix match by the book: scan every row, sort the matches."""
    matches = tuple(i for i, route in enumerate(rows) if destination in route.prefix)
    if not matches:
        return None, ()
    ranked = sorted(matches, key=lambda i: (-rows[i].prefix.prefixlen, rows[i].metric, i))
    return ranked[0], matches


def assert_agrees(table: RoutingTable, destination: IPv4Address) -> None:
    decision = table.lookup(destination)
    row, candidates = reference_lookup(table.rows, destination)
    assert (decision.row, decision.candidates) == (row, candidates)
    assert decision.route == (None if row is None else table.rows[row])
    assert ("unreachable" in decision.reason) is (row is None)


@FAST
@given(
    st.lists(routes, max_size=12, unique=True),
    st.lists(destinations, min_size=1, max_size=8),
    st.lists(st.tuples(st.booleans(), routes), max_size=3),
)
def test_lookup_agrees_with_brute_force(
    rows: list[Route],
    probes: list[IPv4Address],
    changes: list[tuple[bool, Route]],
) -> None:
    table = RoutingTable(rows)
    for destination in probes:
        assert_agrees(table, destination)
    for is_removal, route in changes:
        # Between changes, every probe is already cached: a stale cache would show.
        if is_removal and table.rows:
            table.remove(table.rows[route.metric % len(table.rows)].prefix)
        else:
            table.replace(route)
        for destination in probes:
            assert_agrees(table, destination)
