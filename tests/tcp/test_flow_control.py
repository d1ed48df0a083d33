"""Flow control: windows filling and draining, zero-window probes, SWS avoidance, reassembly."""

from __future__ import annotations

import itertools

import pytest

from simulator.tcp import (
    ACK,
    DataReceived,
    Discarded,
    Endpoint,
    Segment,
    State,
    TcpConfig,
    WindowProbe,
    seq_diff,
)
from tests.tcp.harness import CLIENT_PORT, SERVER_PORT, Pair, established_pair, is_data


def slow_reader_pair(buffer: int = 4096) -> Pair:
    """A client writing 20 000 bytes to a server that does not read until t=20."""
    pair = Pair(
        server_config=TcpConfig(receive_buffer=buffer, msl=1.0),
        client_config=TcpConfig(msl=1.0),
    )
    pair.connect()
    app = pair.app["server"]
    app.read_every = None
    app.close_on_eof = True
    pair.write("client", bytes(i % 256 for i in range(20_000)), close=True)

    def start_reading() -> None:
        app.read_every = 0.0
        app.received += pair.server.read(None, pair.now)

    pair.at(20.0, start_reading)
    return pair


def test_window_shrinks_to_zero_and_the_sender_stops() -> None:
    pair = slow_reader_pair()
    pair.run(until=19.0)
    windows = [s.window for s in pair.sent("server") if s.flags == ACK]
    # 4096 bytes of buffer: 1460 and 1460 arrive, then the last 1176, then it is full.
    assert windows[:3] == [2636, 1176, 0]
    assert pair.server.readable == 4096 and pair.server.rcv_wnd == 0
    client = pair.client
    assert client.snd_wnd == 0
    assert client.in_flight == 1  # only the probe byte
    data_sent = sum(len(s.payload) for s in pair.sent("client", is_data) if len(s.payload) > 1)
    assert data_sent == 4096


def test_persist_probes_back_off() -> None:
    pair = slow_reader_pair()
    pair.run(until=19.0)
    probes = [w for w in pair.log if w.side == "client" and len(w.segment.payload) == 1]
    assert len(probes) >= 5
    assert {w.segment.seq for w in probes} == {pair.client.iss + 1 + 4096}  # the same byte
    gaps = [b.time - a.time for a, b in itertools.pairwise(probes)]
    for earlier, later in itertools.pairwise(gaps):
        assert later == pytest.approx(2 * earlier)
    attempts = [e.attempt for e in pair.of_type("client", WindowProbe)]
    assert attempts == list(range(1, len(probes) + 1))
    # Each probe is answered with the unchanged zero window: the receiver drops it.
    assert pair.of_type("server", Discarded)


def test_reading_opens_the_window_and_the_transfer_completes() -> None:
    pair = slow_reader_pair()
    pair.run()
    update = next(w for w in pair.log if w.side == "server" and w.time == 20.0)
    assert update.segment.flags == ACK and update.segment.window == 4096
    assert bytes(pair.app["server"].received) == bytes(i % 256 for i in range(20_000))
    assert pair.client.state is pair.server.state is State.CLOSED


def test_persist_max_caps_the_backoff() -> None:
    pair = Pair(
        server_config=TcpConfig(receive_buffer=2000),
        client_config=TcpConfig(persist_max=2.0, max_retransmissions=3),
    )
    pair.connect()
    pair.app["server"].read_every = None
    pair.write("client", bytes(10_000))
    pair.run(until=60.0)
    probes = [w.time for w in pair.log if w.side == "client" and len(w.segment.payload) == 1]
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert max(gaps) == pytest.approx(2.0)
    # Answered probes never abort the connection, however many there are.
    assert len(probes) > 3 and pair.client.state is State.ESTABLISHED


def test_receiver_moves_its_window_edge_in_big_steps() -> None:
    # A reader taking 100 bytes every 0.1 s: the window must not open 100 bytes at a time.
    pair = Pair(server_config=TcpConfig(receive_buffer=4096, mss=1000), seed=3)
    pair.connect()
    app = pair.app["server"]
    app.read_bytes, app.read_every = 100, 0.1
    pair.write("client", bytes(12_000))
    pair.run()
    assert len(app.received) == 12_000
    edges = [(s.ack + s.window) % 2**32 for s in pair.sent("server") if s.flags & ACK]
    steps = [seq_diff(b, a) for a, b in itertools.pairwise(edges)]
    assert all(step == 0 or step >= 1000 for step in steps), steps  # min(4096/2, MSS)
    # Whenever the window reopens, a full segment goes out (the probe's byte at its start).
    full = [s for s in pair.sent("client", is_data) if len(s.payload) == 1000]
    assert len(full) >= 8


def test_a_bigger_receive_buffer_is_announced_at_once() -> None:
    pair = slow_reader_pair(buffer=4096)
    pair.run(until=5.0)
    assert pair.server.rcv_wnd == 0
    pair.server.receive_buffer = 16_384
    update = pair.server.segments()
    assert [(s.flags, s.window) for s in update] == [(ACK, 16_384 - 4096)]


def test_a_smaller_receive_buffer_never_shrinks_the_window() -> None:
    pair = Pair(server_config=TcpConfig(receive_buffer=20_000, msl=1.0))
    pair.connect()
    app = pair.app["server"]
    app.read_bytes, app.read_every, app.close_on_eof = 500, 0.2, True
    pair.write("client", bytes(30_000), close=True)
    pair.at(0.3, lambda: setattr(pair.server, "receive_buffer", 2000))
    pair.run()  # the harness asserts that the right edge never moves back
    assert len(app.received) == 30_000
    assert max(s.window for s in pair.sent("server") if pair.log) <= 20_000


def test_receive_buffer_must_fit_the_window_field() -> None:
    with pytest.raises(ValueError, match="without window scaling"):
        TcpConfig(receive_buffer=70_000)
    ep = Endpoint(1, isn=0)
    with pytest.raises(ValueError):
        ep.receive_buffer = 0


# --- reassembly, fed by hand ------------------------------------------------------------


def data(ep: Endpoint, offset: int, payload: bytes, *, window: int = 65535) -> Segment:
    """A data segment from the client at stream offset `offset` of `ep`'s receive stream."""
    assert ep.irs is not None
    return Segment(CLIENT_PORT, SERVER_PORT, ep.irs + 1 + offset, ep.snd_nxt, ACK, window, payload)


def test_out_of_order_data_is_delivered_once_in_order() -> None:
    pair = established_pair()
    server = pair.server
    assert server.irs is not None
    server.events()
    stream = bytes(range(100))
    server.receive(data(server, 60, stream[60:100]), 1.0)
    server.receive(data(server, 20, stream[20:50]), 1.0)
    server.receive(data(server, 30, stream[30:70]), 1.0)  # overlaps both
    assert server.readable == 0
    acks = server.segments()
    assert [s.ack for s in acks] == [server.irs + 1] * 3  # duplicate ACKs, at once
    server.receive(data(server, 0, stream[0:25]), 1.0)
    assert [s.ack for s in server.segments()] == [server.irs + 101]
    assert server.read(None, 1.0) == stream
    received = [e for e in server.events() if isinstance(e, DataReceived)]
    assert received == [DataReceived(100, 100)]
    # A duplicate is acknowledged and dropped.
    server.receive(data(server, 10, stream[10:40]), 1.0)
    assert server.readable == 0
    assert [s.ack for s in server.segments()] == [server.irs + 101]


def test_data_beyond_the_window_is_dropped_with_an_ack() -> None:
    pair = established_pair(server_config=TcpConfig(receive_buffer=1000))
    server = pair.server
    assert server.irs is not None
    server.receive(data(server, 0, bytes(1500)), 1.0)
    assert server.readable == 1000
    (ack,) = server.segments()
    assert (ack.ack, ack.window) == (server.irs + 1001, 0)
    server.receive(data(server, 2000, b"far away"), 1.0)
    assert server.readable == 1000
    assert [s.ack for s in server.segments()] == [server.irs + 1001]


def test_sender_never_exceeds_the_window() -> None:
    pair = established_pair(server_config=TcpConfig(receive_buffer=3000))
    pair.app["server"].read_every = None
    pair.client.send(bytes(10_000), pair.now)
    sent = pair.client.segments()
    # Two full segments; the last 80 bytes of window wait (sender SWS avoidance, §3.8.6.2.1).
    assert [len(s.payload) for s in sent] == [1460, 1460]
    assert pair.client.in_flight == 2920 <= pair.client.snd_wnd == 3000
    assert pair.client.next_timer() is not None
