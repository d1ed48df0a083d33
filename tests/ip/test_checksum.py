"""The Internet checksum against a word-by-word reference (RFC 1071 §4.1's loop)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.ip.checksum import internet_checksum, ones_complement_sum, pseudo_header_sum


def reference(data: bytes, start: int = 0) -> int:
    if len(data) % 2:
        data += b"\0"
    total = start
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)  # end-around carry
    return total


@given(st.binary(max_size=1600), st.integers(0, 0xFFFF))
def test_sum_matches_the_word_by_word_loop(data: bytes, start: int) -> None:
    assert ones_complement_sum(data, start) == reference(data, start)
    assert internet_checksum(data, start) == ~reference(data, start) & 0xFFFF


def test_the_two_zeros() -> None:
    # All-zero words sum to +0; words that cancel out sum to -0 (0xFFFF).
    assert ones_complement_sum(b"\0" * 8) == 0
    assert ones_complement_sum(b"\xff\xff") == 0xFFFF
    assert ones_complement_sum(b"\x80\x00\x80\x00") == 0x0001
    assert internet_checksum(b"") == 0xFFFF


def test_rfc_1071_example() -> None:
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_complement_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0x220D


def test_a_header_with_its_checksum_sums_to_minus_zero() -> None:
    header = bytearray(bytes.fromhex("450000730000400040110000c0a80001c0a800c7"))
    header[10:12] = internet_checksum(header).to_bytes(2, "big")
    assert header[10:12] == bytes.fromhex("b861")  # the well-known example header
    assert ones_complement_sum(header) == 0xFFFF


def test_pseudo_header() -> None:
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 2, 2])
    words = src + dst + bytes([0, 6]) + (40).to_bytes(2, "big")
    assert pseudo_header_sum(src, dst, 6, 40) == reference(words)
