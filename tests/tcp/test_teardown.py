"""Every way a connection ends, with the exact state sequence on both sides."""

from __future__ import annotations

import pytest

from simulator.tcp import (
    ACK,
    FIN,
    RST,
    Closed,
    EndOfStream,
    Endpoint,
    Reset,
    Segment,
    State,
    TcpConfig,
    UsageError,
    reset_for,
)
from tests.tcp.harness import CLIENT_PORT, SERVER_PORT, established_pair, is_fin, state_of

S = State
MSL = 5.0
CONFIG = TcpConfig(msl=MSL)

ACTIVE_CLOSE = [
    S.CLOSED, S.SYN_SENT, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED,
]  # fmt: skip
PASSIVE_CLOSE = [
    S.CLOSED, S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED,
]  # fmt: skip


def test_client_closes_first() -> None:
    pair = established_pair(config=CONFIG)
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run()
    assert pair.states["client"] == ACTIVE_CLOSE
    assert pair.states["server"] == PASSIVE_CLOSE
    # FIN and ACK numbers: each FIN takes one sequence number.
    fin_c = pair.sent("client", is_fin)[0]
    fin_s = pair.sent("server", is_fin)[0]
    assert (fin_c.flags, fin_c.seq) == (FIN | ACK, pair.client.iss + 1)
    assert (fin_s.flags, fin_s.seq, fin_s.ack) == (FIN | ACK, pair.server.iss + 1, fin_c.seq + 1)
    last = pair.sent("client")[-1]
    assert (last.flags, last.seq, last.ack) == (ACK, fin_c.seq + 1, fin_s.seq + 1)
    assert pair.of_type("client", EndOfStream) and pair.of_type("server", EndOfStream)
    assert pair.of_type("client", Closed) == pair.of_type("server", Closed) == [Closed()]


def test_time_wait_lasts_two_msl() -> None:
    pair = established_pair(config=CONFIG)
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run(until=2.0)
    assert pair.client.state is S.TIME_WAIT
    entered = pair.entered("client", S.TIME_WAIT)
    assert pair.client.next_timer() == pytest.approx(entered + 2 * MSL)
    pair.run(until=entered + 2 * MSL - 0.001)
    assert pair.client.state is S.TIME_WAIT
    pair.run()
    assert state_of(pair.client) is S.CLOSED
    assert pair.entered("client", S.CLOSED) == pytest.approx(entered + 2 * MSL)


def test_server_closes_first() -> None:
    pair = established_pair(config=CONFIG)
    pair.app["client"].close_on_eof = True
    pair.at(1.0, lambda: pair.server.close(pair.now))
    pair.run()
    assert pair.states["server"] == [
        S.CLOSED, S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED,
        S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED,
    ]  # fmt: skip
    assert pair.states["client"] == [
        S.CLOSED, S.SYN_SENT, S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED,
    ]  # fmt: skip


def test_simultaneous_close_goes_through_closing() -> None:
    pair = established_pair(config=CONFIG)
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.at(1.0, lambda: pair.server.close(pair.now))
    pair.run()
    tail = [S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSING, S.TIME_WAIT, S.CLOSED]
    assert pair.states["client"] == [S.CLOSED, S.SYN_SENT, *tail]
    assert pair.states["server"] == [S.CLOSED, S.LISTEN, S.SYN_RECEIVED, *tail]
    # Both FINs crossed: each side acknowledged the other's FIN with an ACK.
    for side in ("client", "server"):
        fins = pair.sent(side, is_fin)
        assert len(fins) == 1
        assert pair.entered(side, S.CLOSED) - pair.entered(side, S.TIME_WAIT) == pytest.approx(
            2 * MSL
        )


def test_half_close_lets_the_other_side_keep_sending() -> None:
    pair = established_pair(config=CONFIG)
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run(until=1.5)
    assert (pair.client.state, pair.server.state) == (S.FIN_WAIT_2, S.CLOSE_WAIT)
    data = bytes(range(256)) * 30
    pair.write("server", data, close=True)
    pair.run()
    assert bytes(pair.app["client"].received) == data
    assert pair.states["client"] == ACTIVE_CLOSE
    assert pair.states["server"] == PASSIVE_CLOSE


def test_close_with_data_still_queued_sends_the_fin_after_the_data() -> None:
    config = TcpConfig(msl=MSL, receive_buffer=4096)
    pair = established_pair(config=config)
    app = pair.app["server"]
    app.read_bytes, app.read_every, app.close_on_eof = 2048, 0.5, True
    data = bytes(i % 251 for i in range(20_000))

    def write_and_close() -> None:
        assert pair.client.send(data, pair.now) == len(data)
        pair.client.close(pair.now)
        assert pair.client.state is S.FIN_WAIT_1  # at once, the FIN waits for the data
        assert pair.client.unsent > 0

    pair.at(1.0, write_and_close)
    pair.run()
    fin = pair.sent("client", is_fin)[0]
    assert fin.seq + len(fin.payload) == pair.client.iss + 1 + len(data)
    assert bytes(app.received) == data
    assert pair.states["client"] == ACTIVE_CLOSE
    assert pair.states["server"] == PASSIVE_CLOSE


def test_close_in_listen_and_syn_sent_goes_straight_to_closed() -> None:
    server = Endpoint(SERVER_PORT, isn=1)
    server.listen()
    server.close(0.0)
    assert server.state is S.CLOSED and server.events()[-1] == Closed()
    client = Endpoint(CLIENT_PORT, isn=1)
    client.connect(SERVER_PORT, 0.0)
    client.close(0.1)
    assert client.state is S.CLOSED and client.next_timer() is None


def test_abort_sends_rst_and_resets_the_peer() -> None:
    pair = established_pair(config=CONFIG)
    pair.at(1.0, lambda: pair.client.abort(pair.now))
    pair.run()
    rst = pair.sent("client")[-1]
    assert (rst.flags, rst.seq) == (RST, pair.client.snd_nxt)
    assert pair.states["client"][-2:] == [S.ESTABLISHED, S.CLOSED]
    assert pair.states["server"][-2:] == [S.ESTABLISHED, S.CLOSED]
    assert pair.of_type("server", Reset) == [Reset("connection reset by peer")]
    assert pair.of_type("client", Reset) == [Reset("aborted by the application")]


def test_closed_endpoint_answers_with_reset_for() -> None:
    pair = established_pair(config=CONFIG)
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run()
    assert pair.client.state is S.CLOSED
    stray = Segment(SERVER_PORT, CLIENT_PORT, 12345, 678, ACK, 100, b"late")
    pair.client.receive(stray, pair.now)
    assert pair.client.segments() == [reset_for(stray)]
    pair.client.receive(Segment(SERVER_PORT, CLIENT_PORT, 1, 0, RST, 0), pair.now)
    assert pair.client.segments() == []


def test_rst_needs_an_exact_sequence_number() -> None:
    pair = established_pair(config=CONFIG)
    server = pair.server
    in_window = Segment(CLIENT_PORT, SERVER_PORT, server.rcv_nxt + 10, 0, RST, 0)
    server.receive(in_window, 1.0)
    assert server.state is S.ESTABLISHED
    challenge = server.segments()
    assert [(s.flags, s.ack) for s in challenge] == [(ACK, server.rcv_nxt)]  # RFC 5961 §3
    outside = Segment(CLIENT_PORT, SERVER_PORT, server.rcv_nxt + 100_000, 0, RST, 0)
    server.receive(outside, 1.0)
    assert server.state is S.ESTABLISHED and server.segments() == []
    exact = Segment(CLIENT_PORT, SERVER_PORT, server.rcv_nxt, 0, RST, 0)
    server.receive(exact, 1.0)
    assert state_of(server) is S.CLOSED


def test_send_after_close_is_an_error() -> None:
    pair = established_pair(config=CONFIG)
    pair.client.close(pair.now)
    with pytest.raises(UsageError, match="after close"):
        pair.client.send(b"more", pair.now)
    pair.client.close(pair.now)  # a second close does nothing
    assert pair.client.state is S.FIN_WAIT_1


def test_endpoint_serves_one_connection() -> None:
    ep = Endpoint(CLIENT_PORT, isn=1)
    ep.connect(SERVER_PORT, 0.0)
    with pytest.raises(UsageError):
        ep.connect(SERVER_PORT, 0.0)
    with pytest.raises(UsageError):
        ep.listen()
    with pytest.raises(UsageError, match="CLOSED"):
        Endpoint(1, isn=1).send(b"x", 0.0)


def test_an_rst_in_time_wait_ends_it_without_a_reset_to_the_application() -> None:
    """RFC 9293 §3.10.7.4: in CLOSING, LAST-ACK and TIME-WAIT an acceptable RST deletes
    the TCB and nothing more; the application, which closed already, is not told of a
    reset (seen when a late ACK reached a peer that had already closed: its RST came
    back into TIME-WAIT)."""
    pair = established_pair(config=CONFIG)
    pair.app["server"].close_on_eof = True
    pair.at(1.0, lambda: pair.client.close(pair.now))
    pair.run(until=2.0)
    client = pair.client
    assert client.state is S.TIME_WAIT
    rst = Segment(SERVER_PORT, CLIENT_PORT, client.rcv_nxt, 0, RST, 0)
    client.receive(rst, pair.now)
    assert state_of(client) is S.CLOSED
    # It closed as if TIME-WAIT had run out: the application (and the socket layer, which
    # forgets the connection on it) is told Closed, not Reset. Seen: no event at all,
    # and the socket stayed in its host's table for ever.
    ended = [e for e in client.events() if isinstance(e, Closed | Reset)]
    assert ended == [Closed()]
