"""Endpoint details: delayed ACKs, Nagle, congestion control, timers, robustness, states."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.tcp import (
    ACK,
    PSH,
    TRANSITIONS,
    Cause,
    Endpoint,
    Segment,
    State,
    StateChanged,
    TcpConfig,
    TransitionError,
    next_state,
)
from tests.tcp.harness import CLIENT_PORT, SERVER_PORT, Pair, established_pair, is_data


def test_every_state_has_a_docstring_and_the_rfc_spelling() -> None:
    assert State.SYN_SENT.value == "SYN-SENT"
    assert str(State.TIME_WAIT) == "TIME-WAIT"
    assert len(State) == 11


def test_missing_transition_names_state_and_cause() -> None:
    with pytest.raises(TransitionError, match="no transition from TIME-WAIT on 'SYN received'"):
        next_state(State.TIME_WAIT, Cause.SYN)
    assert TRANSITIONS[State.CLOSING, Cause.ACK_OF_FIN] is State.TIME_WAIT


def test_state_changed_reads_as_a_line() -> None:
    event = StateChanged(State.FIN_WAIT_1, State.CLOSING, Cause.FIN.value)
    assert str(event) == "FIN-WAIT-1 → CLOSING (FIN received)"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mss": 0},
        {"receive_buffer": 65536},
        {"send_buffer": 0},
        {"min_rto": 2.0, "max_rto": 1.0},
        {"delayed_ack": 0.5},
        {"max_retransmissions": -1},
        {"persist_min": 0},
    ],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TcpConfig(**kwargs)  # type: ignore[arg-type]


def test_isn_and_ports_are_validated() -> None:
    with pytest.raises(ValueError):
        Endpoint(1, isn=2**32)
    with pytest.raises(ValueError):
        Endpoint(70_000, isn=0)


def test_segmentation_by_mss_with_psh_on_the_last_segment() -> None:
    pair = established_pair(server_config=TcpConfig(mss=500))
    assert pair.client.send(bytes(1200), pair.now) == 1200
    segs = pair.client.segments()
    assert [(len(s.payload), s.flags) for s in segs] == [(500, ACK), (500, ACK), (200, ACK | PSH)]
    assert [s.seq for s in segs] == [pair.client.iss + 1 + i for i in (0, 500, 1000)]
    assert pair.client.in_flight == 1200 and pair.client.unsent == 0


def test_bounded_send_buffer_accepts_less() -> None:
    pair = established_pair(client_config=TcpConfig(send_buffer=3000))
    assert pair.client.send(bytes(5000), pair.now) == 3000
    assert pair.client.send(b"more", pair.now) == 0
    pair.run()
    assert pair.client.send(bytes(5000), pair.now) == 3000  # acknowledged: room again


def test_delayed_ack_waits_then_acks() -> None:
    pair = established_pair(server_config=TcpConfig(delayed_ack=0.2))
    pair.write("client", b"small")
    pair.run()
    sent = pair.log[-2:]
    assert sent[0].segment.payload == b"small"
    assert sent[1].side == "server" and sent[1].segment.flags == ACK
    assert sent[1].time - sent[0].time == pytest.approx(pair.delay + 0.2)


def test_delayed_ack_acks_every_second_full_segment() -> None:
    pair = established_pair(server_config=TcpConfig(delayed_ack=0.2))
    pair.app["server"].read_every = None  # no window updates to hide the ACK pattern
    pair.write("client", bytes(4 * 1460))
    pair.run()
    acks = [w for w in pair.log if w.side == "server" and w.segment.flags == ACK]
    assert [w.segment.ack - pair.client.iss - 1 for w in acks] == [2920, 5840]
    assert all(w.time == pytest.approx(acks[0].time) for w in acks)  # no delay


def test_nagle_holds_small_segments_while_data_is_unacknowledged() -> None:
    pair = established_pair(client_config=TcpConfig(nagle=True))
    for _ in range(5):
        pair.client.send(b"ab", pair.now)
    assert [s.payload for s in pair.client.segments()] == [b"ab"]
    pair.run()
    assert bytes(pair.app["server"].received) == b"ab" * 5
    assert [s.payload for s in pair.sent("client", is_data)] == [b"ab", b"abababab"]


def test_congestion_control_starts_slow_and_drops_to_one_segment_on_timeout() -> None:
    pair = established_pair(client_config=TcpConfig(congestion_control=True))
    assert pair.client.cwnd == 3 * 1460  # RFC 5681 §3.1, SMSS 1460
    start = pair.now
    pair.write("client", bytes(100_000))
    pair.run(until=start + 0.05)
    assert len(pair.sent("client", is_data)) == 3  # the initial window
    pair.run(until=start + 0.101)  # one round trip: each ACK opened one more segment
    assert pair.client.cwnd == 6 * 1460
    assert len(pair.sent("client", is_data)) == 3 + 6
    pair.drop_all["client"] = True
    pair.run(until=pair.now + 5)
    assert pair.client.cwnd == 1460
    assert Endpoint(1, isn=0).cwnd is None


def test_receive_never_raises_on_nonsense() -> None:
    pair = established_pair()
    server = pair.server
    for seg in [
        Segment(CLIENT_PORT, SERVER_PORT, 0, 0, 0, 0),
        Segment(CLIENT_PORT, SERVER_PORT, 1, 2**32 - 1, 0xFF, 65535, b"x" * 3000),
        Segment(CLIENT_PORT, SERVER_PORT + 1, 1, 2, ACK, 0),
        Segment(CLIENT_PORT + 1, SERVER_PORT, 1, 2, ACK, 0),
    ]:
        server.receive(seg, 1.0)
    assert server.state in (State.ESTABLISHED, State.CLOSED)


segments = st.builds(
    Segment,
    src_port=st.just(CLIENT_PORT),
    dst_port=st.just(SERVER_PORT),
    seq=st.integers(0, 2**32 - 1),
    ack=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 0xFF),
    window=st.integers(0, 65535),
    payload=st.binary(max_size=64),
    mss=st.none() | st.integers(0, 65535),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(segments, max_size=6), st.sampled_from(["listen", "established", "closing"]))
def test_random_segments_never_raise(segs: list[Segment], where: str) -> None:
    if where == "listen":
        ep = Endpoint(SERVER_PORT, isn=7)
        ep.listen()
    else:
        pair = established_pair()
        ep = pair.server
        if where == "closing":
            ep.close(pair.now)
    now = 1.0
    for seg in segs:
        ep.receive(seg, now)
        ep.segments()
        while (t := ep.next_timer()) is not None and t <= now + 0.5:
            ep.on_timer(t)
        now += 0.5
    assert ep.in_flight >= 0


def test_on_timer_before_due_does_nothing() -> None:
    ep = Endpoint(CLIENT_PORT, isn=1)
    ep.connect(SERVER_PORT, 0.0)
    ep.segments()
    assert ep.next_timer() == 1.0
    ep.on_timer(0.5)
    assert ep.segments() == [] and ep.next_timer() == 1.0
    ep.on_timer(1.0)
    assert len(ep.segments()) == 1 and ep.next_timer() == 3.0  # backed off: 2 s


def test_pair_harness_fails_when_it_cannot_finish() -> None:
    pair = Pair(max_events=5)
    pair.write("client", bytes(10_000))
    pair.connect()
    with pytest.raises(AssertionError, match="did not finish within 5 events"):
        pair.run()
