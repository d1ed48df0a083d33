"""Wire bytes: byte-identical to scapy, checksums verified, bad input named."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.packet import Raw

from simulator.tcp import ACK, PSH, SYN, DecodeError, Segment, decode, encode

SRC, DST = bytes([192, 168, 1, 10]), bytes([10, 0, 0, 2])


def scapy_bytes(
    seg: Segment,
    src: bytes = SRC,
    dst: bytes = DST,
    options: Sequence[tuple[str, object]] | None = None,
) -> bytes:
    """The TCP part of scapy's packet for the same fields, checksummed under IP(src, dst)."""
    if options is None:
        options = [("MSS", seg.mss)] if seg.mss is not None else []
    tcp = TCP(
        sport=seg.src_port,
        dport=seg.dst_port,
        seq=seg.seq,
        ack=seg.ack,
        flags=seg.flags,
        window=seg.window,
        options=options,
    )
    packet = IP(src=".".join(map(str, src)), dst=".".join(map(str, dst))) / tcp
    if seg.payload:
        packet = packet / Raw(seg.payload)
    return bytes(packet)[20:]


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
segments = st.builds(
    Segment,
    src_port=u16,
    dst_port=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 0xFF),
    window=u16,
    payload=st.binary(max_size=1600),
    mss=st.none() | u16,
)
addresses = st.binary(min_size=4, max_size=4)


@settings(max_examples=150, deadline=None)
@given(segments, addresses, addresses)
def test_encode_matches_scapy(seg: Segment, src: bytes, dst: bytes) -> None:
    assert encode(seg, src, dst) == scapy_bytes(seg, src, dst)


@settings(max_examples=150, deadline=None)
@given(segments, addresses, addresses)
def test_decode_inverts_encode_and_verifies(seg: Segment, src: bytes, dst: bytes) -> None:
    wire = encode(seg, src, dst)
    assert decode(wire) == seg
    assert decode(wire, src, dst) == seg


def test_syn_with_mss_has_data_offset_6() -> None:
    wire = encode(Segment(1, 2, 3, 0, SYN, 65535, mss=1460), SRC, DST)
    assert len(wire) == 24
    assert wire[12] >> 4 == 6
    assert wire[20:] == b"\x02\x04\x05\xb4"


def test_decode_reads_mss_and_window_scale_among_other_options() -> None:
    seg = Segment(5000, 80, 77, 0, SYN, 29200)
    options = [("MSS", 1400), ("SAckOK", b""), ("Timestamp", (1, 2)), ("NOP", None), ("WScale", 7)]
    wire = scapy_bytes(seg, options=options)
    assert decode(wire, SRC, DST) == Segment(5000, 80, 77, 0, SYN, 29200, mss=1400, wscale=7)


@pytest.mark.parametrize("shift", [0, 3, 14])
def test_a_syn_with_window_scale_is_scapys_bytes(shift: int) -> None:
    """MSS, NOP, Window Scale (RFC 7323 §2.2): 8 bytes of options, data offset 7."""
    seg = Segment(49152, 80, 1000, 0, SYN, 65535, mss=1460, wscale=shift)
    options = [("MSS", 1460), ("NOP", None), ("WScale", shift)]
    wire = encode(seg, SRC, DST)
    assert wire == scapy_bytes(seg, options=options)
    assert wire[12] >> 4 == 7 and len(wire) == 28
    assert decode(wire, SRC, DST) == seg


def test_a_corrupted_byte_fails_the_checksum() -> None:
    wire = bytearray(encode(Segment(1, 2, 3, 4, ACK | PSH, 5, b"hello"), SRC, DST))
    wire[-1] ^= 0x01
    with pytest.raises(DecodeError, match="bad TCP checksum"):
        decode(bytes(wire), SRC, DST)
    assert decode(bytes(wire)).payload == b"helln"  # without addresses: not checked


def test_the_wrong_addresses_fail_the_checksum() -> None:
    wire = encode(Segment(1, 2, 3, 4, ACK, 5), SRC, DST)
    with pytest.raises(ValueError, match="checksum"):
        decode(wire, DST, SRC[:3] + b"\x09")


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\x00" * 19, "too short: 19 bytes"),
        (bytes(12) + b"\x40" + bytes(7), "data offset 4 is below the minimum"),
        (bytes(12) + b"\x60" + bytes(7), "says the header is 24 bytes, but only 20"),
        (bytes(12) + b"\x60" + bytes(7) + b"\x02\x03\x05\xb4", "MSS option has length 3"),
        (bytes(12) + b"\x60" + bytes(7) + b"\x08\x09\x00\x00", "bad length 9"),
        (bytes(12) + b"\x60" + bytes(7) + b"\x01\x01\x01\x08", "has no length byte"),
    ],
)
def test_decode_errors_name_the_problem(wire: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(wire)


def test_decode_needs_both_addresses() -> None:
    wire = encode(Segment(1, 2, 3, 4, ACK, 5), SRC, DST)
    with pytest.raises(ValueError, match="both"):
        decode(wire, SRC)
