"""The built-in scenarios `wirelab simulate` runs (and tests and lessons reuse).

Each is a short, scripted story on the scenario API, the same for the same seed
to the byte; a different seed changes only what is random on purpose: the TCP
initial sequence numbers, the WebSocket handshake nonce and the masking keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.network.apps import ReadPolicy
from simulator.network.scenario import LinkSpec, Scenario
from simulator.tcp import TcpConfig
from simulator.ws import Config


@dataclass(frozen=True)
class BuiltIn:
    name: str
    summary: str
    run: Callable[[int], Scenario]


def handshake_and_echo(seed: int) -> Scenario:
    """Client and server on one link: TCP handshake, upgrade, a text message and its
    echo, a ping, the closing handshake, TCP teardown."""
    scenario = Scenario(seed=seed)
    scenario.open()
    scenario.send_text("Hello, wirelab!")
    scenario.ping(b"are you there?")
    scenario.close(1000, "done")
    scenario.finish()
    return scenario


def routed_three_hops(seed: int) -> Scenario:
    """Three routers between client and server: a traceroute (TTL 1, 2, 3, 4), then a
    WebSocket echo whose packets each router forwards by its routing table."""
    scenario = Scenario(seed=seed, routers=3)
    scenario.traceroute()
    scenario.open()
    scenario.send_text("Across three routers")
    scenario.close(1000, "done")
    scenario.finish()
    return scenario


def flow_control_slow_reader(seed: int) -> Scenario:
    """A server with a 4 KiB receive buffer that reads 1 KiB every 100 ms, and stops
    reading for a second in the middle: a 20 KiB binary message fills the window to
    zero, the client probes it, window updates reopen it. Both sides use a 1024-byte
    MSS, so four segments fill the buffer exactly."""
    tcp = TcpConfig(mss=1024, receive_buffer=4096)
    scenario = Scenario(
        seed=seed,
        mode="discard",
        client_tcp=TcpConfig(mss=1024),
        server_tcp=tcp,
        server_policy=ReadPolicy(rate=10_240, chunk=1024),
    )
    scenario.open()
    scenario.pause_reading("server")
    scenario.send_binary(bytes(range(256)) * 80)
    scenario.wait(1.0)
    scenario.resume_reading("server")
    scenario.close(1000, "done")
    scenario.finish()
    return scenario


def lost_segment(seed: int) -> Scenario:
    """The segment carrying a message is lost on the client's link; the retransmission
    timer fires and the same bytes are sent again."""
    scenario = Scenario(seed=seed, routers=1)
    scenario.open()
    scenario.drop_next("client", what="data")
    scenario.send_text("This segment is lost once, then sent again.")
    scenario.close(1000, "done")
    scenario.finish()
    return scenario


def bulk_transfer(
    seed: int, size: int = 10 << 20, *, routers: int = 3, loss: float = 0.01
) -> Scenario:
    """`size` bytes in one binary message over `routers` routers with `loss` end to end
    (spread evenly over the links, both directions), to a server that discards it.

    Both sides delay their ACKs as real stacks do (RFC 9293 §3.8.6.3: one ACK for
    every second full-sized segment, or after 40 ms, Linux's shortest delay)."""
    links = routers + 1
    per_link = 1 - (1 - loss) ** (1 / links)
    tcp = TcpConfig(delayed_ack=0.04)
    scenario = Scenario(
        seed=seed,
        routers=routers,
        mode="discard",
        link=LinkSpec(loss=per_link),
        server_config=Config(max_size=None),
        client_tcp=tcp,
        server_tcp=tcp,
    )
    scenario.open()
    scenario.send_binary(bytes(size))
    scenario.close(1000, "done")
    scenario.finish()
    return scenario


BUILT_IN: dict[str, BuiltIn] = {
    item.name: item
    for item in (
        BuiltIn(
            "handshake-and-echo", "TCP handshake, upgrade, echo, ping, close", handshake_and_echo
        ),
        BuiltIn(
            "routed-three-hops", "traceroute and an echo across three routers", routed_three_hops
        ),
        BuiltIn(
            "flow-control-slow-reader",
            "a slow reader's window shrinks to zero and opens again",
            flow_control_slow_reader,
        ),
        BuiltIn("lost-segment", "a lost data segment and its retransmission", lost_segment),
    )
}


def run_built_in(name: str, seed: int = 0) -> Scenario:
    try:
        item = BUILT_IN[name]
    except KeyError:
        names = ", ".join(BUILT_IN)
        raise KeyError(f"no scenario named {name!r} (built in: {names})") from None
    return item.run(seed)


__all__ = ["BUILT_IN", "BuiltIn", "bulk_transfer", "run_built_in"]
