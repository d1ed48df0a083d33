"""The three-way handshake: numbers, MSS options, states after every segment."""

from __future__ import annotations

import pytest

from simulator.tcp import (
    ACK,
    RST,
    SYN,
    Connected,
    Endpoint,
    Reset,
    Segment,
    State,
    TcpConfig,
    seq_add,
)
from tests.tcp.harness import CLIENT_PORT, SERVER_PORT, Pair, state_of


def only(segments: list[Segment]) -> Segment:
    assert len(segments) == 1, segments
    return segments[0]


@pytest.mark.parametrize(("isn_c", "isn_s"), [(100, 300), (2**32 - 1, 2**32 - 2), (0, 2**31)])
def test_handshake_numbers_and_states(isn_c: int, isn_s: int) -> None:
    client = Endpoint(CLIENT_PORT, isn=isn_c, config=TcpConfig(mss=1460, receive_buffer=65535))
    server = Endpoint(SERVER_PORT, isn=isn_s, config=TcpConfig(mss=1400, receive_buffer=8192))
    server.listen()
    assert server.state is State.LISTEN

    client.connect(SERVER_PORT, 0.0)
    assert client.state is State.SYN_SENT
    syn = only(client.segments())
    assert (syn.flags, syn.seq, syn.mss, syn.window) == (SYN, isn_c, 1460, 65535)
    assert (syn.src_port, syn.dst_port) == (CLIENT_PORT, SERVER_PORT)
    assert str(syn) == f"SYN seq={isn_c} win=65535 MSS=1460"

    server.receive(syn, 0.05)
    assert state_of(server) is State.SYN_RECEIVED
    syn_ack = only(server.segments())
    assert syn_ack.flags == SYN | ACK
    assert syn_ack.seq == isn_s
    assert syn_ack.ack == seq_add(isn_c, 1)
    assert (syn_ack.mss, syn_ack.window) == (1400, 8192)
    assert (syn_ack.src_port, syn_ack.dst_port) == (SERVER_PORT, CLIENT_PORT)

    client.receive(syn_ack, 0.1)
    assert state_of(client) is State.ESTABLISHED
    ack = only(client.segments())
    assert ack.flags == ACK
    assert ack.seq == seq_add(isn_c, 1)
    assert ack.ack == seq_add(isn_s, 1)
    assert ack.mss is None and not ack.payload

    server.receive(ack, 0.15)
    assert state_of(server) is State.ESTABLISHED
    assert server.segments() == []

    # The effective send MSS is the smaller of the two announcements (§3.7.1).
    assert client.send_mss == server.send_mss == 1400
    assert client.peer_mss == 1400 and server.peer_mss == 1460
    assert client.snd_wnd == 8192 and server.snd_wnd == 65535
    assert client.irs == isn_s and server.irs == isn_c
    for ep in (client, server):
        assert ep.in_flight == 0
        assert ep.snd_una == ep.snd_nxt == seq_add(ep.iss, 1)
        assert ep.rcv_nxt == seq_add(ep.irs or 0, 1)
        assert any(isinstance(e, Connected) for e in ep.events())


def test_peer_without_mss_option_means_536() -> None:
    client = Endpoint(CLIENT_PORT, isn=1, config=TcpConfig(mss=1460))
    client.connect(SERVER_PORT, 0.0)
    client.segments()
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 9, 2, SYN | ACK, 1000), 0.1)
    assert client.state is State.ESTABLISHED
    assert client.send_mss == 536


def test_data_crosses_sequence_wraparound() -> None:
    pair = Pair(client_isn=2**32 - 3, server_isn=2**32 - 1)
    pair.connect()
    data = bytes(range(256)) * 40
    pair.write("client", data, close=True)
    pair.write("server", data[::-1], close=True)
    pair.run()
    assert bytes(pair.app["server"].received) == data
    assert bytes(pair.app["client"].received) == data[::-1]
    assert pair.client.state is pair.server.state is State.CLOSED


def test_simultaneous_open() -> None:
    # RFC 9293 Figure 7: both sides send a SYN; each answers with a SYN-ACK.
    a = Endpoint(1111, isn=100)
    b = Endpoint(2222, isn=300)
    a.connect(2222, 0.0)
    b.connect(1111, 0.0)
    syn_a, syn_b = only(a.segments()), only(b.segments())
    a.receive(syn_b, 0.1)
    b.receive(syn_a, 0.1)
    assert a.state is b.state is State.SYN_RECEIVED
    syn_ack_a, syn_ack_b = only(a.segments()), only(b.segments())
    assert (syn_ack_a.flags, syn_ack_a.seq, syn_ack_a.ack) == (SYN | ACK, 100, 301)
    assert (syn_ack_b.flags, syn_ack_b.seq, syn_ack_b.ack) == (SYN | ACK, 300, 101)
    a.receive(syn_ack_b, 0.2)
    b.receive(syn_ack_a, 0.2)
    assert state_of(a) is state_of(b) is State.ESTABLISHED


def test_connection_refused() -> None:
    pair = Pair(listen=False)  # nobody listens: the server port is closed
    pair.connect()
    pair.run()
    rst = pair.sent("server")
    assert [str(s) for s in rst] == ["RST, ACK seq=0 ack=1001 win=0"]
    assert pair.states["client"] == [State.CLOSED, State.SYN_SENT, State.CLOSED]
    assert pair.of_type("client", Reset) == [Reset("connection refused")]
    assert pair.client.next_timer() is None


def test_rst_without_acceptable_ack_is_ignored_in_syn_sent() -> None:
    client = Endpoint(CLIENT_PORT, isn=1000)
    client.connect(SERVER_PORT, 0.0)
    client.segments()
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 0, 5, RST | ACK, 0), 0.1)
    assert client.state is State.SYN_SENT
    assert client.segments() == []


def test_bad_ack_in_syn_sent_gets_a_reset() -> None:
    client = Endpoint(CLIENT_PORT, isn=1000)
    client.connect(SERVER_PORT, 0.0)
    client.segments()
    client.receive(Segment(SERVER_PORT, CLIENT_PORT, 77, 999, SYN | ACK, 100), 0.1)
    assert client.state is State.SYN_SENT
    assert client.segments() == [Segment(CLIENT_PORT, SERVER_PORT, 999, 0, RST, 0)]


def test_listen_answers_an_ack_with_rst_and_ignores_rst() -> None:
    server = Endpoint(SERVER_PORT, isn=1)
    server.listen()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 5, 42, ACK, 100), 0.0)
    assert server.segments() == [Segment(SERVER_PORT, CLIENT_PORT, 42, 0, RST, 0)]
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 5, 0, RST, 0), 0.0)
    assert server.segments() == []
    assert server.state is State.LISTEN


def test_rst_in_syn_received_returns_to_listen() -> None:
    server = Endpoint(SERVER_PORT, isn=500)
    server.listen()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 100, 0, SYN, 1000, mss=1000), 0.0)
    server.segments()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 101, 0, RST, 0), 0.1)
    assert server.state is State.LISTEN
    assert server.remote_port is None and server.next_timer() is None
    assert [e for e in server.events() if isinstance(e, Reset)] == [
        Reset("RST received: back to LISTEN (the handshake was abandoned)")
    ]
    # It can take the next SYN.
    server.receive(Segment(CLIENT_PORT + 1, SERVER_PORT, 900, 0, SYN, 1000), 0.2)
    assert state_of(server) is State.SYN_RECEIVED
    assert only(server.segments()).ack == 901


def test_duplicate_syn_in_syn_received_resends_the_syn_ack() -> None:
    server = Endpoint(SERVER_PORT, isn=500)
    server.listen()
    syn = Segment(CLIENT_PORT, SERVER_PORT, 100, 0, SYN, 1000, mss=1000)
    server.receive(syn, 0.0)
    first = only(server.segments())
    server.receive(syn, 1.0)
    assert only(server.segments()) == first


def test_bad_ack_in_syn_received_gets_a_reset() -> None:
    server = Endpoint(SERVER_PORT, isn=500)
    server.listen()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 100, 0, SYN, 1000), 0.0)
    server.segments()
    server.receive(Segment(CLIENT_PORT, SERVER_PORT, 101, 777, ACK, 1000), 0.1)
    assert server.state is State.SYN_RECEIVED
    assert server.segments() == [Segment(SERVER_PORT, CLIENT_PORT, 777, 0, RST, 0)]
