"""Window scaling (RFC 7323 §2): the option on the SYNs, and windows scaled after them.

The numbers are the RFC's: the shift is the smallest that lets the 16-bit field
cover the receive buffer (§2.3, at most 14); scaling is in force only when both
SYNs carried the option (§2.2, a SYN-ACK carries it only if the SYN did); a
SYN's own Window field is never scaled; every later Window field is the window
shifted right by the sender's count, and the receiver shifts it left (§2.3).
"""

from __future__ import annotations

import pytest

from simulator.tcp import Segment, TcpConfig
from simulator.tcp.endpoint import MAX_WINDOW, shift_for
from tests.tcp.harness import Pair, is_data, is_syn, is_syn_ack

BIG = 262_144  # 2**18: needs a shift of 3 (262144 >> 2 = 65536 does not fit)


@pytest.mark.parametrize(
    ("size", "shift"),
    [(1, 0), (65_535, 0), (65_536, 1), (131_071, 1), (131_072, 2), (BIG, 3), (65_535 << 14, 14)],
)
def test_the_shift_is_the_smallest_that_covers_the_buffer(size: int, shift: int) -> None:
    assert shift_for(size) == shift
    assert size >> shift <= MAX_WINDOW
    assert shift == 0 or size >> (shift - 1) > MAX_WINDOW


def test_a_buffer_above_65535_needs_window_scaling() -> None:
    with pytest.raises(ValueError, match="without window scaling"):
        TcpConfig(receive_buffer=BIG)
    TcpConfig(receive_buffer=BIG, window_scale=True)
    with pytest.raises(ValueError, match="with window scaling"):
        TcpConfig(receive_buffer=MAX_WINDOW << 14 + 1, window_scale=True)


def transfer(client: TcpConfig, server: TcpConfig, size: int = 300_000) -> Pair:
    pair = Pair(client_config=client, server_config=server)
    pair.connect()
    pair.write("client", bytes(size), close=True)
    pair.app["server"].close_on_eof = True
    pair.run()
    assert bytes(pair.app["server"].received) == bytes(size)
    return pair


def sent(pair: Pair, side: str) -> list[Segment]:
    return [w.segment for w in pair.log if w.side == side]


def test_both_sides_offer_it_and_the_server_advertises_its_big_buffer_scaled() -> None:
    scaled = TcpConfig(receive_buffer=BIG, window_scale=True)
    pair = transfer(TcpConfig(window_scale=True), scaled)
    syn = next(s for s in sent(pair, "client") if is_syn(s))
    syn_ack = next(s for s in sent(pair, "server") if is_syn_ack(s))
    assert syn.wscale == 0  # a 65535-byte buffer needs no shift, but the option says "I scale"
    assert syn_ack.wscale == 3
    # A SYN's Window field is never scaled: the SYN-ACK offers what 16 bits can carry.
    assert syn_ack.window == MAX_WINDOW
    later = [s for s in sent(pair, "server") if not s.flags & 0x02]
    assert later and all(s.wscale is None for s in later)  # only on SYNs
    # After the handshake the server's Window fields are its window >> 3 ...
    assert max(s.window for s in later) == BIG >> 3
    # ... and the client sends more than 65535 bytes before an acknowledgement.
    assert max_in_flight(pair) > MAX_WINDOW


def max_in_flight(pair: Pair) -> int:
    """The most data the client had sent beyond the server's last acknowledgement."""
    acked = None
    most = 0
    for wire in pair.log:
        seg = wire.segment
        if wire.side == "server" and seg.flags & 0x10:
            acked = seg.ack
        elif wire.side == "client" and is_data(seg) and acked is not None:
            most = max(most, (seg.seq + len(seg.payload) - acked) % 2**32)
    return most


def test_without_the_option_on_the_syn_the_syn_ack_does_not_carry_it() -> None:
    """§2.2: a SYN-ACK carries Window Scale only if the SYN did; then nothing is scaled
    and the window is capped at 65535, whatever the buffer."""
    pair = transfer(TcpConfig(), TcpConfig(receive_buffer=BIG, window_scale=True))
    syn_ack = next(s for s in sent(pair, "server") if is_syn_ack(s))
    assert syn_ack.wscale is None
    assert max(s.window for s in sent(pair, "server")) == MAX_WINDOW
    assert max_in_flight(pair) <= MAX_WINDOW


def test_an_offer_the_server_does_not_answer_leaves_windows_unscaled() -> None:
    """The client offers, the server does not (it has no option to send): the client
    must not scale what the server advertises."""
    pair = transfer(TcpConfig(receive_buffer=BIG // 4, window_scale=True), TcpConfig())
    syn = next(s for s in sent(pair, "client") if is_syn(s))
    syn_ack = next(s for s in sent(pair, "server") if is_syn_ack(s))
    assert syn.wscale == 1 and syn_ack.wscale is None
    assert pair.client.snd_wnd <= MAX_WINDOW
    assert max_in_flight(pair) <= MAX_WINDOW


def test_the_receiver_reads_the_field_shifted_left() -> None:
    scaled = TcpConfig(receive_buffer=BIG, window_scale=True)
    pair = Pair(client_config=TcpConfig(window_scale=True), server_config=scaled)
    pair.connect()
    pair.write("client", b"x" * 1000)
    pair.run()
    last = [s for s in sent(pair, "server") if not s.flags & 0x02][-1]
    assert pair.client.snd_wnd == last.window << 3 == pair.server.rcv_wnd
