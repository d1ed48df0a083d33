"""Segment values, their one-line form, and the RST a closed port answers with."""

from __future__ import annotations

import pytest

from simulator.tcp import ACK, FIN, PSH, RST, SYN, Segment, reset_for, seq_add, seq_diff, seq_lt


def test_seq_len_counts_syn_and_fin() -> None:
    assert Segment(1, 2, 100, 0, SYN, 65535, mss=1460).seq_len == 1
    assert Segment(1, 2, 100, 7, FIN | ACK, 100).seq_len == 1
    assert Segment(1, 2, 100, 7, ACK | PSH, 100, b"hello").seq_len == 5
    assert Segment(1, 2, 100, 7, FIN | ACK, 100, b"hello").seq_len == 6
    assert Segment(1, 2, 100, 7, ACK, 100).seq_len == 0


def test_seq_end_wraps() -> None:
    assert Segment(1, 2, 2**32 - 2, 0, ACK, 0, b"abcd").seq_end == 2


@pytest.mark.parametrize(
    ("segment", "text"),
    [
        (Segment(1, 2, 100, 0, SYN, 65535, mss=1460), "SYN seq=100 win=65535 MSS=1460"),
        (
            Segment(2, 1, 300, 101, SYN | ACK, 65535, mss=1460),
            "SYN, ACK seq=300 ack=101 win=65535 MSS=1460",
        ),
        (Segment(1, 2, 101, 301, ACK, 4096, bytes(1460)), "ACK seq=101 ack=301 win=4096 len=1460"),
        (
            Segment(1, 2, 101, 301, PSH | ACK, 4096, b"hi"),
            "PSH, ACK seq=101 ack=301 win=4096 len=2",
        ),
        (Segment(1, 2, 7, 0, RST, 0), "RST seq=7 win=0"),
        (Segment(1, 2, 7, 0, 0, 0), "<no flags> seq=7 win=0"),
    ],
)
def test_str_is_one_readable_line(segment: Segment, text: str) -> None:
    assert str(segment) == text


def test_flag_names_in_header_order() -> None:
    assert Segment(1, 2, 0, 0, ACK | FIN | PSH, 0).flag_names() == "FIN, PSH, ACK"
    assert Segment(1, 2, 0, 0, 0xFF, 0).flag_names() == "FIN, SYN, RST, PSH, ACK, URG, ECE, CWR"


def test_reset_for_an_ack_takes_its_sequence_number_from_the_ack() -> None:
    # RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST>
    seg = Segment(40000, 80, 1000, 5555, ACK | PSH, 512, b"data")
    assert reset_for(seg) == Segment(80, 40000, 5555, 0, RST, 0)


def test_reset_for_a_syn_acknowledges_it() -> None:
    # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts one.
    seg = Segment(40000, 81, 2**32 - 1, 0, SYN, 65535, mss=1460)
    assert reset_for(seg) == Segment(81, 40000, 0, 0, RST | ACK, 0)
    seg = Segment(40000, 81, 10, 0, FIN, 0, b"abc")
    assert reset_for(seg) == Segment(81, 40000, 0, 14, RST | ACK, 0)


def test_an_rst_is_never_answered() -> None:
    assert reset_for(Segment(1, 2, 3, 0, RST, 0)) is None
    assert reset_for(Segment(1, 2, 3, 4, RST | ACK, 0)) is None


def test_sequence_arithmetic_wraps() -> None:
    assert seq_add(2**32 - 1, 2) == 1
    assert seq_diff(1, 2**32 - 1) == 2
    assert seq_diff(2**32 - 1, 1) == -2
    assert seq_lt(2**32 - 10, 5)
    assert not seq_lt(5, 2**32 - 10)
