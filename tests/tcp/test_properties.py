"""Property tests: whatever the sizes, rates, losses, reordering: bytes arrive once, in order.

The harness checks flow control at every transmission (see `harness.py`);
these tests add that every run ends, with both sides CLOSED.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.tcp import Reset, State, TcpConfig
from tests.tcp.harness import Pair


@dataclass(frozen=True)
class Side:
    mss: int
    buffer: int
    read_bytes: int | None
    read_every: float
    delayed_ack: float | None
    nagle: bool
    congestion_control: bool
    fast_retransmit: bool
    data: int


sides = st.builds(
    Side,
    mss=st.integers(64, 1460),
    buffer=st.integers(256, 65535),
    read_bytes=st.none() | st.integers(200, 8000),
    read_every=st.sampled_from([0.0, 0.01, 0.05, 0.2]),
    delayed_ack=st.none() | st.sampled_from([0.04, 0.2]),
    nagle=st.booleans(),
    congestion_control=st.booleans(),
    fast_retransmit=st.booleans(),
    data=st.integers(0, 2000) | st.integers(2000, 60_000),
)


def config(side: Side, lossy: bool) -> TcpConfig:
    return TcpConfig(
        mss=side.mss,
        receive_buffer=side.buffer,
        delayed_ack=side.delayed_ack,
        nagle=side.nagle,
        congestion_control=side.congestion_control,
        fast_retransmit=side.fast_retransmit,
        msl=30.0,
        max_rto=4.0,
        max_retransmissions=40 if lossy else 8,
    )


def payload(n: int, salt: int) -> bytes:
    return bytes((i * 7 + salt) % 256 for i in range(n))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    client=sides,
    server=sides,
    isns=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    delay=st.sampled_from([0.001, 0.02, 0.1]),
    loss=st.sampled_from([0.0, 0.0, 0.05, 0.15]),
    reorder=st.sampled_from([0.0, 0.1, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_bytes_arrive_once_in_order_and_both_sides_close(
    client: Side,
    server: Side,
    isns: tuple[int, int],
    delay: float,
    loss: float,
    reorder: float,
    seed: int,
) -> None:
    lossy = loss > 0 or reorder > 0
    pair = Pair(
        client_isn=isns[0],
        server_isn=isns[1],
        client_config=config(client, lossy),
        server_config=config(server, lossy),
        delay=delay,
        loss=loss,
        reorder=reorder,
        seed=seed,
        max_events=60_000,
    )
    up, down = payload(client.data, 1), payload(server.data, 2)
    for name, side in (("client", client), ("server", server)):
        app = pair.app[name]
        app.read_bytes, app.read_every = side.read_bytes, side.read_every
    pair.write("client", up, close=True)
    pair.write("server", down, close=True)
    pair.connect()
    pair.run()
    assert bytes(pair.app["server"].received) == up
    assert bytes(pair.app["client"].received) == down
    assert pair.client.state is State.CLOSED, pair.states["client"]
    assert pair.server.state is State.CLOSED, pair.states["server"]
    assert not pair.of_type("client", Reset) and not pair.of_type("server", Reset)


@settings(max_examples=15, deadline=None)
@given(
    side=sides,
    when=st.floats(0.0, 3.0),
    direction=st.sampled_from(["client", "server", "both"]),
    seed=st.integers(0, 100),
)
def test_total_loss_always_ends_in_an_abort(
    side: Side, when: float, direction: str, seed: int
) -> None:
    pair = Pair(config=config(side, lossy=False), seed=seed)
    pair.write("client", payload(side.data + 1, 3), close=True)
    pair.write("server", payload(side.data // 2, 4))
    pair.connect()

    def cut() -> None:
        for name in ("client", "server") if direction == "both" else (direction,):
            pair.drop_all[name] = True

    pair.at(when, cut)
    pair.run()  # must end: fails if it needs more than max_events steps
    assert pair.client.next_timer() is None and pair.server.next_timer() is None
    # Whoever still had something unacknowledged gave up with a Reset.
    for name in ("client", "server"):
        ep = pair.ep[name]
        assert ep.state in (State.CLOSED, State.LISTEN, State.ESTABLISHED,
                            State.CLOSE_WAIT, State.FIN_WAIT_2), ep.state  # fmt: skip
        if ep.state is State.CLOSED and pair.of_type(name, Reset):
            assert "too many retransmissions" in str(pair.of_type(name, Reset)[-1])
