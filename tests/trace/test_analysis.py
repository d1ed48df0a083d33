"""Wireshark's TCP analysis flags, one rule at a time, on hand-built segments.

(tests/wireshark/test_tcp_analysis.py checks that the same rules give tshark's flags on
whole captures.)"""

from __future__ import annotations

import pytest

from simulator.ip.packet import build_ipv4, pack_address
from simulator.tcp.segment import Segment as TcpSegment
from simulator.tcp.wire import encode
from simulator.trace import Endpoint, Layer, LinkType, WireRecord
from simulator.trace.analysis import (
    EXPLANATIONS,
    FLAGS,
    LABELS,
    Analysis,
    ConnectionAnalyzer,
    analyse,
    info_marks,
)
from simulator.trace.segments import ACK, FIN, PSH, RST, SYN, Segment

C = Endpoint("10.0.0.1", 50000)
S = Endpoint("10.0.0.2", 80)
M = 0xFFFFFFFF


class Talk:
    """A conversation fed segment by segment to one analyzer; packets numbered from 1,
    1 ms apart unless told otherwise."""

    def __init__(self, start: float = 1000.0) -> None:
        self.analyzer = ConnectionAnalyzer()
        self.number = 0
        self.now = start
        self.last: Analysis | None = None

    def send(
        self, src: Endpoint, seq: int, ack: int = 0, flags: int = ACK, *, window: int = 1000,
        data: int = 0, wscale: int | None = None, after: float = 0.001,
    ) -> set[str]:  # fmt: skip
        """Feed one segment; the flags of its analysis."""
        self.number += 1
        self.now += after
        dst = S if src == C else C
        segment = Segment(src, dst, seq & M, ack & M, flags, window, b"d" * data, data, wscale)
        self.last = self.analyzer.feed(self.number, self.now, segment)
        return set(self.last.flags) if self.last else set()

    def handshake(
        self, c_isn: int = 1000, s_isn: int = 5000, *, c_scale: int | None = None,
        s_scale: int | None = None, window: int = 1000, rtt: float = 0.010,
    ) -> tuple[int, int]:  # fmt: skip
        """SYN, SYN-ACK, ACK; the next sequence number of each side."""
        assert self.send(C, c_isn, 0, SYN, window=65535, wscale=c_scale) == set()
        assert self.send(S, s_isn, c_isn + 1, SYN | ACK, window=65535, wscale=s_scale) == set()
        assert self.send(C, c_isn + 1, s_isn + 1, window=window, after=rtt) == set()
        return c_isn + 1, s_isn + 1


# --- every flag, and what it must not be confused with -------------------------------------------


def test_an_ordinary_exchange_raises_no_flag() -> None:
    talk = Talk()
    c, s = talk.handshake()
    assert talk.send(C, c, s, ACK | PSH, data=100) == set()
    assert talk.send(S, s, c + 100, ACK | PSH, data=50) == set()
    assert talk.send(C, c + 100, s + 50) == set()
    assert talk.send(C, c + 100, s + 50, FIN | ACK) == set()
    assert talk.send(S, s + 50, c + 101, FIN | ACK) == set()
    assert talk.send(C, c + 101, s + 51) == set()


def test_a_segment_resent_after_a_timeout_is_a_retransmission() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    assert talk.send(C, c, s, data=100, after=0.3) == {"retransmission"}
    assert talk.last is not None
    assert info_marks(talk.last, talk.number) == ["[TCP Retransmission]"]
    # Part of it resent is a retransmission too.
    assert talk.send(C, c + 50, s, data=50, after=0.3) == {"retransmission"}


def test_a_resend_two_duplicate_acks_asked_for_is_a_fast_retransmission() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(C, c + 100, s, data=100)  # lost on the way
    talk.send(C, c + 200, s, data=100)
    talk.send(S, s, c + 100)
    assert talk.send(S, s, c + 100) == {"duplicate_ack"}
    assert talk.send(S, s, c + 100) == {"duplicate_ack"}
    # As in Wireshark's display filter, "retransmission" comes along; the Info column
    # names the fast kind only.
    assert talk.send(C, c + 100, s, data=100) == {"fast_retransmission", "retransmission"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Fast Retransmission]"]


def test_a_fast_retransmission_needs_two_duplicate_acks_within_20_ms() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(C, c + 100, s, data=100)
    talk.send(S, s, c + 100)
    talk.send(S, s, c + 100)  # one duplicate only
    assert talk.send(C, c + 100, s, data=100, after=0.005) == {"retransmission"}
    talk.send(S, s, c + 100)
    talk.send(S, s, c + 100)
    assert talk.send(C, c + 100, s, data=100, after=0.021) == {"retransmission"}  # too late


def test_resending_data_already_acknowledged_is_a_spurious_retransmission() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(S, s, c + 100)
    flags = talk.send(C, c, s, data=100, after=0.3)
    assert flags == {"spurious_retransmission", "retransmission"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Spurious Retransmission]"]


def test_duplicate_acks_are_counted_from_the_last_ack_that_moved() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(S, s, c + 100)  # packet 5
    numbers = []
    for _ in range(3):
        assert talk.send(S, s, c + 100) == {"duplicate_ack"}
        assert talk.last is not None
        numbers.append((talk.last.duplicate_ack_num, talk.last.duplicate_ack_frame))
        assert info_marks(talk.last) == [f"[TCP Dup ACK 5#{numbers[-1][0]}]"]
    assert numbers == [(1, 5), (2, 5), (3, 5)]
    # The ACK moves: counting starts again from that packet.
    talk.send(C, c + 100, s, data=100)
    assert talk.send(S, s, c + 200) == set()  # packet 10
    assert talk.send(S, s, c + 200) == {"duplicate_ack"}
    assert talk.last is not None
    assert (talk.last.duplicate_ack_num, talk.last.duplicate_ack_frame) == (1, 10)


def test_no_duplicate_ack_with_data_a_new_window_or_a_zero_window() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(S, s, c, window=1000)
    assert talk.send(S, s, c, data=10) == set()  # data
    assert talk.send(S, s + 10, c, window=2000) == {"window_update"}  # a new window
    assert talk.send(S, s + 10, c, window=0) == {"zero_window"}
    assert talk.send(S, s + 10, c, window=0) == {"zero_window"}


def test_a_segment_beyond_the_next_expected_one_means_a_segment_not_captured() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    assert talk.send(C, c + 200, s, data=100) == {"lost_segment"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Previous segment not captured]"]
    # The missing one, arriving soon after (2 ms, less than the handshake's 11 ms), is
    # out of order.
    assert talk.send(C, c + 100, s, data=100, after=0.002) == {"out_of_order"}


def test_an_ack_for_data_never_seen_is_an_acked_unseen_segment() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    assert talk.send(S, s, c + 300) == {"ack_lost_segment"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP ACKed unseen segment]"]
    # Said once: repeated, the ACK is only a duplicate.
    assert talk.send(S, s, c + 300) == {"duplicate_ack"}


def test_an_ack_past_a_gap_is_an_acked_unseen_segment_whatever_came_before() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(S, s, c, data=10)
    talk.send(C, c, s + 10)
    assert talk.send(C, c, s + 10) == {"duplicate_ack"}
    talk.send(C, c, s + 10, data=10)
    assert talk.send(C, c + 20, s + 10, data=10) == {"lost_segment"}
    assert talk.send(S, s + 10, c + 30) == {"ack_lost_segment"}


def test_after_an_ack_beyond_all_it_sent_one_duplicate_ack_makes_a_resend_fast() -> None:
    # Wireshark marks the side whose data was ACKed beyond by setting its duplicate-ACK
    # count to -1, which its test for "at least 2 duplicate ACKs" (unsigned) then passes.
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=10)
    talk.send(C, c + 10, s, data=10)
    talk.send(S, s, c + 10)
    assert talk.send(S, s, c + 10) == {"duplicate_ack"}
    assert talk.send(C, c + 20, s + 1) == set()  # ACKs a byte the server never sent
    assert talk.send(C, c + 10, s, data=10, after=0.012) == {"fast_retransmission",
                                                             "retransmission"}  # fmt: skip


def test_out_of_order_is_decided_by_the_handshake_round_trip_time() -> None:
    talk = Talk()
    c, s = talk.handshake(rtt=0.010)  # SYN to its ACK: 11 ms
    talk.send(C, c, s, data=100)
    talk.send(C, c + 200, s, data=100)  # 100-199 missing
    assert talk.send(C, c + 100, s, data=100, after=0.008) == {"out_of_order"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Out-Of-Order]"]
    talk.send(C, c + 400, s, data=100)  # 300-399 missing
    assert talk.send(C, c + 300, s, data=100, after=0.012) == {"retransmission"}


def test_without_a_handshake_out_of_order_means_within_3_ms() -> None:
    talk = Talk()
    talk.send(C, 100, 900, data=100)
    talk.send(C, 300, 900, data=100)
    assert talk.send(C, 200, 900, data=100, after=0.0029) == {"out_of_order"}
    talk.send(C, 500, 900, data=100)
    assert talk.send(C, 400, 900, data=100, after=0.003) == {"retransmission"}


def test_a_resend_ending_exactly_at_the_next_sequence_number_is_not_out_of_order() -> None:
    talk = Talk()
    talk.send(C, 100, 900, data=100)
    assert talk.send(C, 100, 900, data=100, after=0.001) == {"retransmission"}


def test_zero_window_probe_and_its_ack() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=1000)
    assert talk.send(S, s, c + 1000, window=0) == {"zero_window"}
    assert talk.send(C, c + 1000, s, data=1, after=0.2) == {"zero_window_probe"}
    flags = talk.send(S, s, c + 1000, window=0)
    assert flags == {"zero_window_probe_ack", "zero_window"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP ZeroWindowProbeAck]", "[TCP ZeroWindow]"]
    # The probe's byte does not move the next sequence number: probing again is a probe
    # again, not a retransmission.
    assert talk.send(C, c + 1000, s, data=1, after=0.4) == {"zero_window_probe"}
    # The window opens; the real data starts at the probed byte, and is new data.
    assert talk.send(S, s, c + 1000, window=1000, after=0.1) == {"window_update"}
    assert talk.send(C, c + 1000, s, data=500) == set()


def test_a_probe_needs_exactly_one_byte_and_a_zero_window() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(S, s, c, window=0)
    assert talk.send(C, c, s, data=2) == set()
    talk.send(S, s, c + 2, window=1000)
    assert talk.send(C, c + 2, s, data=1) == set()


def test_a_window_update_needs_no_data_the_same_numbers_and_a_new_non_zero_window() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(S, s, c, window=1000)
    assert talk.send(S, s, c, window=3000) == {"window_update"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Window Update]"]
    assert talk.send(S, s, c + 0, window=0) == {"zero_window"}  # zero: no update
    talk.send(C, c, s, data=10)
    assert talk.send(S, s, c + 10, window=2000) == set()  # its ACK moved: no update
    assert talk.send(S, s, c + 10, window=4000, data=5) == set()  # data: no update


def test_window_full_uses_the_scale_both_syns_announced() -> None:
    talk = Talk()
    c, s = talk.handshake(c_scale=2, s_scale=3)
    talk.send(S, s, c, window=125)  # 125 << 3 = 1000 bytes
    assert talk.send(C, c, s, data=600) == set()
    assert talk.send(C, c + 600, s, data=400) == {"window_full"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Window Full]"]


def test_window_full_unscaled_when_a_syn_lacks_the_option() -> None:
    talk = Talk()
    c, s = talk.handshake(c_scale=7, s_scale=None)  # only one side: no scaling at all
    talk.send(S, s, c, window=500)
    assert talk.send(C, c, s, data=500) == {"window_full"}


def test_window_full_unscaled_when_only_the_syn_ack_has_the_option() -> None:
    talk = Talk()
    c, s = talk.handshake(c_scale=None, s_scale=7)
    talk.send(S, s, c, window=500)
    assert talk.send(C, c, s, data=500) == {"window_full"}


def test_window_full_is_unknown_without_the_handshake() -> None:
    talk = Talk()
    talk.send(S, 5000, 1000, window=1)
    assert talk.send(C, 1000, 5000, data=1) == set()  # the scale is unknown
    talk = Talk()
    talk.handshake(c_scale=2, s_scale=2)
    talk.send(S, 5001, 1001, window=1)
    assert talk.send(C, 1001, 5001, data=1) == set()  # 1 << 2 = 4 bytes


def test_until_its_first_ack_a_side_s_syn_window_is_not_scaled() -> None:
    talk = Talk()
    talk.send(C, 10, 0, SYN, window=65535, wscale=7)
    talk.send(S, 20, 11, SYN | ACK, window=100, wscale=7)
    talk.send(C, 11, 21, window=100)
    assert talk.send(C, 11, 21, data=100) == {"window_full"}


def test_a_shift_count_above_14_means_14() -> None:
    talk = Talk()
    c, s = talk.handshake(c_scale=15, s_scale=15)
    talk.send(S, s, c, window=1)
    assert talk.send(C, c, s, data=1 << 14) == {"window_full"}


def test_keep_alive_and_its_ack() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(S, s, c + 100)
    assert talk.send(C, c + 99, s, after=60.0) == {"keep_alive"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Keep-Alive]"]
    assert talk.send(S, s, c + 100) == {"keep_alive_ack"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Keep-Alive ACK]"]
    # With one garbage byte, still a keep-alive, and never a retransmission.
    assert talk.send(C, c + 99, s, data=1, after=60.0) == {"keep_alive"}


def test_syn_and_fin_each_count_one_sequence_number() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, FIN | ACK, data=10)  # 10 bytes and the FIN: next is c + 11
    assert talk.send(S, s, c + 11) == set()  # ACKs the FIN
    assert talk.send(S, s, c + 12) == {"ack_lost_segment"}  # one beyond
    assert talk.send(C, c + 11, s + 0, data=5) == set()
    assert talk.send(C, c + 17, s + 0, data=5) == {"lost_segment"}
    # Resent, a SYN or a FIN is a retransmission.
    talk = Talk()
    assert talk.send(C, 1000, 0, SYN, window=65535) == set()
    assert talk.send(C, 1000, 0, SYN, window=65535, after=1.0) == {"retransmission"}
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, FIN | ACK)
    assert talk.send(C, c, s, FIN | ACK, after=0.3) == {"retransmission"}


def test_a_reset_is_never_a_zero_window_nor_a_gap() -> None:
    talk = Talk()
    c, s = talk.handshake()
    assert talk.send(C, c + 500, s, RST, window=0) == set()
    assert talk.send(C, c + 900, s, RST | ACK, window=0) == set()


def test_a_syn_with_a_new_isn_starts_afresh_on_the_same_ports() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    talk.send(C, c + 100, s, FIN | ACK)
    assert talk.send(C, 777_000, 0, SYN, window=65535, after=1.0) == {"reused_ports"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP Port numbers reused]"]
    # Nothing of the old connection is left: no gap, no unseen segment.
    assert talk.send(S, 9000, 777_001, SYN | ACK, window=65535) == set()
    assert talk.send(C, 777_001, 9001) == set()
    assert talk.send(C, 777_001, 9001, data=10) == set()


def test_a_syn_ack_with_a_new_isn_is_a_reuse_of_the_ports() -> None:
    talk = Talk()
    c, s = talk.handshake()
    # (Unlike a SYN's, this does not start the analysis afresh: Wireshark only notes it.)
    flags = talk.send(S, 3000, c, SYN | ACK, window=65535, after=0.3)
    assert flags == {"reused_ports", "retransmission"}
    assert talk.send(S, s - 1, c, SYN | ACK, window=65535, after=0.3) == {
        "reused_ports",
        "retransmission",
    }


def test_a_syn_resent_forgets_what_a_reset_had_skipped() -> None:
    talk = Talk()
    talk.send(C, 100, 0, SYN, window=65535)
    assert talk.send(C, 5000, 0, RST, window=0) == set()  # far ahead: no gap on a reset
    assert talk.send(C, 100, 0, SYN, window=65535, after=1.0) == {"retransmission"}
    talk.send(S, 900, 101, SYN | ACK, window=65535)
    talk.send(C, 101, 901)
    # The next expected sequence number is back to 101: this is new data.
    assert talk.send(C, 101, 901, data=10) == set()


def test_new_data_starting_at_a_lone_byte_just_sent_is_not_a_resend() -> None:
    talk = Talk()
    c, s = talk.handshake()
    assert talk.send(C, c, s, data=1) == set()
    assert talk.send(C, c, s, data=100, after=0.3) == set()
    assert talk.send(C, c, s, data=1, after=0.3) == {"retransmission"}


@pytest.mark.parametrize("acked", [False, True])
def test_past_10000_unacknowledged_segments_a_fin_is_not_counted(acked: bool) -> None:
    talk = Talk()
    seq = 1001
    talk.send(C, 1000, 0, SYN, window=65535)  # the first of 10,000 segments remembered
    for _ in range(9999):
        talk.send(C, seq, 5, data=10, after=0.0001)
        seq += 10
        if acked and seq == 1001 + 5000 * 10:
            talk.send(S, 5, seq)  # half of them ACKed: forgotten
    talk.send(C, seq, 5, FIN | ACK)  # the 10,001st: its FIN is not counted, unless
    assert talk.send(C, seq + 1, 5, data=5) == (set() if acked else {"lost_segment"})


def test_sequence_numbers_wrap_around() -> None:
    talk = Talk()
    c, s = talk.handshake(c_isn=M - 50, s_isn=M - 5)
    assert talk.send(C, c, s, data=100) == set()  # crosses 2**32
    assert talk.send(C, c + 100, s, data=100) == set()
    assert talk.send(S, s, c + 200) == set()
    assert talk.send(C, c + 100, s, data=100, after=0.3) == {"spurious_retransmission",
                                                               "retransmission"}  # fmt: skip
    assert talk.send(C, c + 400, s, data=100) == {"lost_segment"}


def test_several_flags_at_once_in_tshark_s_order() -> None:
    talk = Talk()
    c, s = talk.handshake()
    talk.send(C, c, s, data=100)
    flags = talk.send(S, s, c + 300, window=0)
    assert flags == {"ack_lost_segment", "zero_window"}
    assert talk.last is not None
    assert info_marks(talk.last) == ["[TCP ZeroWindow]", "[TCP ACKed unseen segment]"]


# --- a capture: every connection on its own -----------------------------------------------------


def frame(src: Endpoint, dst: Endpoint, seq: int, ack: int, flags: int, data: int = 0) -> bytes:
    segment = TcpSegment(src.port, dst.port, seq, ack, flags, 1000, b"d" * data)
    source, destination = pack_address(src.host), pack_address(dst.host)
    return build_ipv4(source, destination, 6, encode(segment, source, destination))


def test_analyse_keys_flagged_packets_by_record_index_one_connection_at_a_time() -> None:
    other = Endpoint("10.0.0.1", 50001)
    frames = [
        frame(C, S, 100, 900, ACK, 10),
        frame(other, S, 100, 900, ACK, 10),  # another connection: the same numbers are fine
        frame(C, S, 100, 900, ACK, 10),  # resent
        frame(S, other, 900, 110, ACK),
        frame(S, other, 900, 110, ACK),  # duplicate ACK in the second connection
    ]
    records = [
        WireRecord(i, 1.0 + i, Layer.LINK, data, LinkType.RAW) for i, data in enumerate(frames)
    ]
    records.insert(1, WireRecord(1, 1.5, Layer.STREAM, b"not a packet", src=C, dst=S))
    records = [WireRecord(i, r.time, r.layer, r.data, r.link_type, r.src, r.dst)
               for i, r in enumerate(records)]  # fmt: skip
    found = analyse(records)
    assert sorted(found) == [3, 5]
    assert found[3].flags == {"retransmission"}
    assert found[5].flags == {"duplicate_ack"}
    assert (found[5].duplicate_ack_num, found[5].duplicate_ack_frame) == (1, 5)


# --- the words ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLAGS)
def test_every_flag_has_a_label_and_an_explanation(name: str) -> None:
    assert LABELS[name].startswith("TCP ")
    explanation = EXPLANATIONS[name]
    assert explanation.endswith(".") and explanation[0].isupper()
    assert explanation.count(". ") == 0, "one sentence"


def test_the_words_cover_exactly_the_flags() -> None:
    assert set(LABELS) == set(EXPLANATIONS) == set(FLAGS)
    assert len(FLAGS) == 15
