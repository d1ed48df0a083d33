"""Loss: retransmission by timeout and fast retransmit, for data, SYN, SYN-ACK, FIN and its ACK."""

from __future__ import annotations

import itertools

import pytest

from simulator.tcp import (
    ACK,
    FIN,
    SYN,
    Reset,
    Retransmitted,
    Segment,
    State,
    TcpConfig,
)
from tests.tcp.harness import (
    Pair,
    Predicate,
    established_pair,
    is_data,
    is_fin,
    is_pure_ack,
    is_syn,
    is_syn_ack,
)

S = State
DATA = bytes(i % 251 for i in range(8000))


def retransmissions(pair: Pair, side: str) -> list[Retransmitted]:
    return pair.of_type(side, Retransmitted)


def copies(pair: Pair, side: str, seq: int) -> list[tuple[float, Segment]]:
    return [(w.time, w.segment) for w in pair.log if w.side == side and w.segment.seq == seq
            and (w.segment.payload or w.segment.flags & (SYN | FIN))]  # fmt: skip


def data_at(seq: int) -> Predicate:
    """Matches a segment that carries data from sequence number `seq`."""
    return lambda s: s.seq == seq and bool(s.payload)


def transfer(pair: Pair) -> None:
    pair.app["server"].close_on_eof = True
    pair.write("client", DATA, close=True)
    pair.run()
    assert bytes(pair.app["server"].received) == DATA
    assert pair.client.state is pair.server.state is S.CLOSED


def test_fast_retransmit_after_three_duplicate_acks() -> None:
    pair = established_pair(config=TcpConfig(msl=1.0))
    pair.drop_next("client", is_data)
    transfer(pair)
    first = pair.sent("client", is_data)[0]
    again = copies(pair, "client", first.seq)
    assert len(again) == 2
    assert again[1][1] == again[0][1]  # the same bytes, the same boundaries
    assert [r.reason for r in retransmissions(pair, "client")] == ["fast retransmit"]
    dup_acks = [s for s in pair.sent("server", is_pure_ack) if s.ack == first.seq]
    assert len(dup_acks) >= 3


def test_timeout_retransmission_when_no_duplicate_acks_come() -> None:
    pair = established_pair(config=TcpConfig(msl=1.0, fast_retransmit=False))
    pair.drop_next("client", is_data)
    rto = pair.client.rto
    transfer(pair)
    first = pair.sent("client", is_data)[0]
    (t0, seg0), (t1, seg1) = copies(pair, "client", first.seq)
    assert seg1 == seg0
    assert t1 - t0 == pytest.approx(rto)
    assert [r.reason for r in retransmissions(pair, "client")] == ["timeout"]


def test_a_lost_single_segment_is_retransmitted_after_the_rto() -> None:
    pair = established_pair()
    pair.drop_next("client", is_data)
    pair.write("client", b"hello")
    pair.run()
    assert bytes(pair.app["server"].received) == b"hello"
    assert [r.reason for r in retransmissions(pair, "client")] == ["timeout"]


def test_backoff_doubles_the_rto() -> None:
    pair = established_pair(config=TcpConfig(min_rto=0.5))
    for _ in range(3):
        pair.drop_next("client", is_data)
    pair.write("client", b"x" * 100)
    rto = pair.client.rto
    pair.run()
    times = [t for t, _ in copies(pair, "client", pair.client.iss + 1)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([rto, 2 * rto, 4 * rto])
    assert bytes(pair.app["server"].received) == b"x" * 100


def test_several_losses_in_one_window_recover_with_partial_acks() -> None:
    pair = established_pair(config=TcpConfig(msl=1.0))
    drop = {pair.client.iss + 1 + 1460, pair.client.iss + 1 + 4 * 1460}
    for seq in drop:
        pair.drop_next("client", data_at(seq))
    transfer(pair)
    reasons = [r.reason for r in retransmissions(pair, "client")]
    assert reasons == ["fast retransmit", "partial ACK"]
    for seq in drop:
        assert len(copies(pair, "client", seq)) == 2


def test_data_is_delivered_exactly_once_in_order_despite_reordering() -> None:
    pair = established_pair(reorder=0.5, seed=7, config=TcpConfig(msl=1.0))
    transfer(pair)


def test_lost_syn_is_retransmitted() -> None:
    pair = Pair()
    pair.drop_next("client", is_syn)
    pair.connect()
    pair.run()
    syns = pair.sent("client", is_syn)
    assert len(syns) == 2 and syns[0] == syns[1]
    assert [w.time for w in pair.log if w.segment in syns] == [0.0, 1.0]  # initial RTO: 1 s
    assert pair.client.state is pair.server.state is S.ESTABLISHED
    # RFC 6298 §5.7: the SYN was retransmitted, no RTT measured: RTO 3 s for the data.
    assert pair.client.rto == 3.0


def test_lost_syn_ack_is_retransmitted() -> None:
    pair = Pair(server_isn=9000)
    pair.drop_next("server", is_syn_ack)
    pair.connect()
    pair.run()
    syn_acks = pair.sent("server", is_syn_ack)
    assert len(syn_acks) >= 2
    assert {(s.seq, s.ack, s.mss) for s in syn_acks} == {(9000, pair.client.iss + 1, 1460)}
    assert pair.client.state is pair.server.state is S.ESTABLISHED
    assert pair.states["client"] == [S.CLOSED, S.SYN_SENT, S.ESTABLISHED]
    assert pair.states["server"] == [S.CLOSED, S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED]


def test_lost_final_ack_of_the_handshake() -> None:
    pair = Pair()
    pair.drop_next("client", lambda s: s.flags == ACK)
    pair.connect()
    pair.run()
    # The server's SYN-ACK times out, comes again, and the client acknowledges it again.
    assert len(pair.sent("server", is_syn_ack)) == 2
    assert pair.server.state is S.ESTABLISHED


def test_lost_fin_is_retransmitted() -> None:
    pair = established_pair(config=TcpConfig(msl=1.0))
    pair.drop_next("client", is_fin)
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run()
    fins = pair.sent("client", is_fin)
    assert len(fins) == 2 and fins[0] == fins[1]
    assert [r.reason for r in retransmissions(pair, "client")] == ["timeout"]
    assert pair.states["client"][-4:] == [S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED]
    assert pair.states["server"][-3:] == [S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED]


def test_lost_ack_of_fin_is_repeated_from_time_wait() -> None:
    pair = established_pair(config=TcpConfig(msl=10.0))
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run(until=1.08)  # the client's FIN has arrived; the server's FIN is on its way
    pair.drop_next("client", lambda s: s.flags == ACK)  # the ACK of the server's FIN
    pair.run()
    fins = pair.sent("server", is_fin)
    assert len(fins) == 2  # LAST-ACK timed out and sent its FIN again
    acks = [s for s in pair.sent("client") if s.flags == ACK and s.ack == fins[0].seq + 1]
    assert len(acks) == 2  # TIME-WAIT acknowledged it again
    assert pair.states["server"][-2:] == [S.LAST_ACK, S.CLOSED]
    # The second FIN restarted the 2·MSL timer.
    resent = max(w.time for w in pair.log if w.side == "server" and is_fin(w.segment))
    assert pair.entered("client", S.CLOSED) == pytest.approx(resent + pair.delay + 20.0)


def test_total_loss_aborts_the_handshake() -> None:
    pair = Pair(config=TcpConfig(max_retransmissions=4))
    pair.drop_all["client"] = True
    pair.connect()
    pair.run()
    assert pair.client.state is S.CLOSED
    assert len(pair.sent("client", is_syn)) == 5
    (reset,) = pair.of_type("client", Reset)
    assert "too many retransmissions" in reset.reason
    times = [w.time for w in pair.log]
    assert times == pytest.approx([0, 1, 3, 7, 15])
    assert pair.entered("client", S.CLOSED) == pytest.approx(31)


def test_total_loss_aborts_an_established_connection() -> None:
    pair = established_pair()
    pair.drop_all["client"] = True
    pair.write("client", DATA)
    pair.run()
    assert pair.client.state is S.CLOSED
    assert pair.of_type("client", Reset)
    assert pair.client.next_timer() is None
    assert pair.server.state is S.ESTABLISHED  # it never heard anything more


def test_total_loss_while_probing_aborts() -> None:
    pair = established_pair(server_config=TcpConfig(receive_buffer=2000))
    pair.app["server"].read_every = None
    pair.write("client", DATA)
    pair.run(until=5.0)
    assert pair.client.snd_wnd == 0
    pair.drop_all["client"] = True
    pair.run()
    assert pair.client.state is S.CLOSED
    assert pair.of_type("client", Reset)


def test_fast_recovery_halves_the_congestion_window_as_rfc_5681_says() -> None:
    """RFC 5681 §3.2: at the third duplicate ACK, ssthresh = max(FlightSize / 2, 2·SMSS)
    and cwnd = ssthresh + 3·SMSS (one SMSS more per later duplicate); once the loss is
    repaired, cwnd is at most ssthresh (RFC 6582 §3.2 step 6) and grows from there."""
    mss = 1460
    config = TcpConfig(msl=1.0, congestion_control=True, initial_window=10)
    pair = established_pair(client_config=config, server_config=TcpConfig(msl=1.0))
    client = pair.client
    assert (client.cwnd, client.ssthresh) == (10 * mss, None)  # no loss yet
    pair.drop_next("client", is_data)
    pair.write("client", bytes(60_000))
    flight = None
    while not retransmissions(pair, "client"):
        flight = client.in_flight  # the flight the duplicates are about
        pair.run(until=pair.now + 0.00005)
    assert flight == 10 * mss  # the initial window, its first segment lost
    assert client.ssthresh == max(flight // 2, 2 * mss) == 5 * mss
    assert client.cwnd is not None and client.cwnd >= client.ssthresh + 3 * mss
    pair.run()
    assert pair.app["server"].received == bytearray(60_000)
    assert client.ssthresh == 5 * mss  # no second loss
    assert client.cwnd is not None and client.cwnd >= 5 * mss  # congestion avoidance since
