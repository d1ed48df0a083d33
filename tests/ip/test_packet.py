"""IPv4 datagrams: built byte for byte like scapy, read back, forwarded (RFC 1624 update)."""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.packet import Raw

from simulator.ip import (
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    address_text,
    build_ipv4,
    decrement_ttl,
    header_checksum_ok,
    header_length,
    internet_checksum,
    pack_address,
    parse_ipv4,
    payload_of,
    update_checksum,
)
from simulator.ip.packet import FLAG_DF, FLAG_MF, header_checksum

FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SRC = pack_address("10.0.0.1")
DST = pack_address("10.0.2.7")

addresses = st.binary(min_size=4, max_size=4)
payloads = st.one_of(st.binary(max_size=64), st.binary(min_size=1400, max_size=1480))


class Fields(NamedTuple):
    """The arguments of one build_ipv4 call."""

    src: bytes
    dst: bytes
    protocol: int
    payload: bytes
    ttl: int
    identification: int
    dont_fragment: bool
    tos: int

    def build(self) -> bytes:
        return build_ipv4(
            self.src,
            self.dst,
            self.protocol,
            self.payload,
            ttl=self.ttl,
            identification=self.identification,
            dont_fragment=self.dont_fragment,
            tos=self.tos,
        )

    def scapy(self) -> bytes:
        """The reference: the same datagram as scapy builds it."""
        return bytes(
            IP(
                src=address_text(self.src),
                dst=address_text(self.dst),
                proto=self.protocol,
                ttl=self.ttl,
                id=self.identification,
                flags="DF" if self.dont_fragment else 0,
                tos=self.tos,
            )
            / Raw(self.payload)
        )


fields = st.builds(
    Fields,
    src=addresses,
    dst=addresses,
    protocol=st.sampled_from([PROTO_ICMP, PROTO_TCP, PROTO_UDP, 0, 255]),
    payload=payloads,
    ttl=st.integers(0, 255),
    identification=st.integers(0, 0xFFFF),
    dont_fragment=st.booleans(),
    tos=st.integers(0, 255),
)


def with_checksum(packet: bytes, checksum: int) -> bytes:
    return packet[:10] + checksum.to_bytes(2, "big") + packet[12:]


def identification_for_zero_checksum(packet: bytes) -> int:
    """The identification that makes `packet`'s correct header checksum 0x0000.

    Identification is one 16-bit word of the sum: choose it so the other words
    plus it sum to 0xFFFF (one's-complement negative zero).
    """
    header = bytearray(packet[:20])
    header[4:6] = b"\0\0"
    header[10:12] = b"\0\0"
    rest = ~internet_checksum(header) & 0xFFFF
    return 0xFFFF - rest


# -- build_ipv4 ---------------------------------------------------------------


@FAST
@given(fields)
def test_build_equals_scapy(case: Fields) -> None:
    assert case.build() == case.scapy()


def test_build_literal_bytes() -> None:
    # 10.0.0.1 → 10.0.2.7, TCP, 4-byte payload, TTL 64, DF; checksum worked by hand:
    # 4500 + 0018 + 0000 + 4000 + 4006 + 0a00 + 0001 + 0a00 + 0207 = 0xdb26, inverted 0x24d9
    packet = build_ipv4(SRC, DST, PROTO_TCP, b"abcd")
    assert packet == bytes.fromhex("45000018 00004000 400624d9 0a000001 0a000207") + b"abcd"


@FAST
@given(
    payload=st.binary(max_size=64),
    more_fragments=st.booleans(),
    fragment_offset=st.integers(0, 0x1FFF),
)
def test_fragment_fields_equal_scapy(
    payload: bytes, more_fragments: bool, fragment_offset: int
) -> None:
    packet = build_ipv4(
        SRC,
        DST,
        PROTO_UDP,
        payload,
        dont_fragment=False,
        more_fragments=more_fragments,
        fragment_offset=fragment_offset,
        identification=7,
    )
    reference = IP(
        src="10.0.0.1",
        dst="10.0.2.7",
        proto=PROTO_UDP,
        ttl=64,
        id=7,
        flags="MF" if more_fragments else 0,
        frag=fragment_offset,
    ) / Raw(payload)
    assert packet == bytes(reference)
    header = parse_ipv4(packet)
    assert header.more_fragments is more_fragments
    assert header.flags == (FLAG_MF if more_fragments else 0)
    assert header.fragment_offset == fragment_offset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"src": b"\x0a\x00\x00"}, "4 bytes"),
        ({"dst": b"\x0a\x00\x00\x00\x01"}, "4 bytes"),
        ({"payload": bytes(65536 - 20)}, "does not fit"),
        ({"ttl": 256}, "out of range"),
        ({"identification": 0x10000}, "out of range"),
        ({"tos": -1}, "out of range"),
        ({"fragment_offset": 0x2000}, "13-bit"),
    ],
)
def test_build_rejects_fields_that_do_not_fit(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"src": SRC, "dst": DST, "protocol": 6, "payload": b""}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_ipv4(**arguments)


def test_checksum_folds_every_carry() -> None:
    # All-ones addresses and fields make the raw word sum carry past 16 bits
    # more than once; sweep every identification so each fold is exercised.
    ones = b"\xff\xff\xff\xff"
    for ident in range(0x10000):
        packet = build_ipv4(ones, ones, 255, b"", ttl=255, tos=255, identification=ident)
        assert header_checksum_ok(packet), ident
    assert build_ipv4(ones, ones, 255, b"", ttl=255, tos=255) == bytes(
        IP(src="255.255.255.255", dst="255.255.255.255", proto=255, ttl=255, tos=255, id=0,
           flags="DF")
    )  # fmt: skip


def test_largest_datagram_builds() -> None:
    packet = build_ipv4(SRC, DST, PROTO_UDP, bytes(65535 - 20))
    assert parse_ipv4(packet).total_length == 65535
    assert header_checksum_ok(packet)


# -- parse_ipv4 and friends ---------------------------------------------------


@FAST
@given(fields)
def test_parse_round_trip(case: Fields) -> None:
    packet = case.build()
    header = parse_ipv4(packet)
    assert header.version == 4
    assert header.ihl == 5
    assert header.header_length == header_length(packet) == 20
    assert header.total_length == len(packet)
    assert header.payload_length == len(case.payload)
    assert header.src == case.src
    assert header.dst == case.dst
    assert header.protocol == case.protocol
    assert header.ttl == case.ttl
    assert header.identification == case.identification
    assert header.tos == case.tos
    assert header.flags == (FLAG_DF if case.dont_fragment else 0)
    assert header.dont_fragment is case.dont_fragment
    assert not header.more_fragments
    assert header.fragment_offset == 0
    assert header.checksum == IP(packet).chksum
    assert payload_of(packet) == case.payload
    assert header_checksum_ok(packet)


def test_parse_reads_a_scapy_packet_with_options() -> None:
    reference = IP(src="192.0.2.1", dst="198.51.100.2", ttl=9, options=[b"\x01\x01\x01\x00"])
    packet = bytes(reference / Raw(b"payload"))
    header = parse_ipv4(packet)
    assert header.ihl == 6
    assert header_length(packet) == 24
    assert payload_of(packet) == b"payload"
    assert address_text(header.src) == "192.0.2.1"
    assert header_checksum_ok(packet)


def test_link_padding_is_not_payload() -> None:
    packet = build_ipv4(SRC, DST, PROTO_UDP, b"xy")
    padded = packet + bytes(24)  # an Ethernet frame pads to 46 bytes of data
    assert parse_ipv4(padded).total_length == 22
    assert payload_of(padded) == b"xy"
    assert header_checksum_ok(padded)


def test_header_str() -> None:
    header = parse_ipv4(build_ipv4(SRC, DST, PROTO_TCP, bytes(10), ttl=3))
    assert str(header) == "IPv4 10.0.0.1 → 10.0.2.7 TCP ttl 3 len 30"


GOOD = build_ipv4(SRC, DST, PROTO_UDP, bytes(8))


@pytest.mark.parametrize("length", [0, 1, 10, 19])
def test_parse_rejects_short_input(length: int) -> None:
    with pytest.raises(ValueError, match="too short"):
        parse_ipv4(GOOD[:length])


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"\x65" + GOOD[1:], "version field is 6"),
        (b"\x44" + GOOD[1:], "IHL is 4"),
        (b"\x4f" + GOOD[1:], "60-byte header"),
        (GOOD[:2] + (29).to_bytes(2, "big") + GOOD[4:], "truncated"),
        (GOOD[:2] + (19).to_bytes(2, "big") + GOOD[4:], "shorter than the 20-byte header"),
        (GOOD[:27], "truncated"),
    ],
)
def test_parse_rejects_malformed_headers(packet: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ipv4(packet)
    with pytest.raises(ValueError):
        payload_of(packet)


@FAST
@given(fields, st.integers(0, 159))
def test_any_single_bit_flip_in_the_header_fails_the_checksum(case: Fields, bit: int) -> None:
    packet = bytearray(case.build())
    packet[bit // 8] ^= 0x80 >> (bit % 8)
    assert not header_checksum_ok(bytes(packet))


def test_checksum_check_on_garbage_is_false() -> None:
    assert not header_checksum_ok(b"")
    assert not header_checksum_ok(b"\x45" + bytes(10))
    assert not header_checksum_ok(b"\x41" + GOOD[1:])  # IHL 1


def test_both_zeros_verify() -> None:
    # One's complement has two zeros: a header whose checksum should be 0x0000
    # also verifies when it carries 0xFFFF.
    base = build_ipv4(SRC, DST, PROTO_TCP, b"")
    ident = identification_for_zero_checksum(base)
    packet = build_ipv4(SRC, DST, PROTO_TCP, b"", identification=ident)
    assert parse_ipv4(packet).checksum == 0x0000
    assert header_checksum_ok(packet)
    assert header_checksum_ok(with_checksum(packet, 0xFFFF))
    assert not header_checksum_ok(with_checksum(packet, 0x0001))


# -- decrement_ttl (RFC 1624) -------------------------------------------------


def assert_forwarded(packet: bytes) -> None:
    """decrement_ttl equals a full recomputation and scapy's own bytes."""
    forwarded = decrement_ttl(packet)
    assert len(forwarded) == len(packet)
    assert forwarded[8] == packet[8] - 1
    assert forwarded[:8] == packet[:8]
    assert forwarded[9:10] == packet[9:10]
    assert forwarded[12:] == packet[12:]
    assert parse_ipv4(forwarded).checksum == header_checksum(forwarded)
    assert header_checksum_ok(forwarded)
    reference = IP(packet)
    reference.ttl -= 1
    del reference.chksum
    assert forwarded == bytes(reference)


@FAST
@given(fields.filter(lambda case: case.ttl > 0))
def test_decrement_ttl_equals_full_recompute(case: Fields) -> None:
    assert_forwarded(case.build())


@pytest.mark.parametrize("ttl", [1, 2, 64, 128, 255])
@pytest.mark.parametrize("protocol", [PROTO_ICMP, PROTO_TCP, 0, 255])
def test_decrement_ttl_when_the_result_checksum_is_zero(ttl: int, protocol: int) -> None:
    # Pick the identification so the *forwarded* header's checksum is 0x0000:
    # the case where RFC 1141's update wrongly gave 0xFFFF.
    target = build_ipv4(SRC, DST, protocol, b"data", ttl=ttl - 1)
    ident = identification_for_zero_checksum(target)
    packet = build_ipv4(SRC, DST, protocol, b"data", ttl=ttl, identification=ident)
    forwarded = decrement_ttl(packet)
    assert forwarded[10:12] == b"\0\0"
    assert_forwarded(packet)


@pytest.mark.parametrize("ttl", [1, 2, 64, 255])
def test_decrement_ttl_from_a_zero_checksum(ttl: int) -> None:
    base = build_ipv4(SRC, DST, PROTO_UDP, b"data", ttl=ttl)
    ident = identification_for_zero_checksum(base)
    packet = build_ipv4(SRC, DST, PROTO_UDP, b"data", ttl=ttl, identification=ident)
    assert packet[10:12] == b"\0\0"
    assert_forwarded(packet)
    # The same datagram carrying the other zero, 0xFFFF, forwards identically.
    assert decrement_ttl(with_checksum(packet, 0xFFFF)) == decrement_ttl(packet)


def test_decrement_ttl_to_zero_and_below() -> None:
    forwarded = decrement_ttl(build_ipv4(SRC, DST, PROTO_UDP, b"", ttl=1))
    assert parse_ipv4(forwarded).ttl == 0
    assert header_checksum_ok(forwarded)
    with pytest.raises(ValueError, match="already 0"):
        decrement_ttl(forwarded)
    with pytest.raises(ValueError, match="too short"):
        decrement_ttl(forwarded[:19])


def test_decrement_ttl_keeps_options_and_padding() -> None:
    reference = IP(src="192.0.2.1", dst="198.51.100.2", ttl=9, options=[b"\x01\x01\x01\x00"])
    packet = bytes(reference / Raw(b"payload")) + bytes(6)
    forwarded = decrement_ttl(packet)
    assert forwarded[24:] == packet[24:]
    assert header_checksum_ok(forwarded)
    assert parse_ipv4(forwarded).ttl == 8


@FAST
@given(
    st.lists(st.integers(0, 0xFFFF), min_size=10, max_size=10),
    st.integers(0, 9),
    st.integers(0, 0xFFFF),
)
def test_update_checksum_equals_recompute(words: list[int], index: int, new: int) -> None:
    words[0] |= 0x4000  # never an all-zero header
    before = struct.pack("!10H", *words)
    after_words = list(words)
    after_words[index] = new
    after = struct.pack("!10H", *after_words)
    if index == 0 and new == 0 and not any(after_words[1:]):
        return  # an all-zero block has no meaningful checksum
    assert update_checksum(internet_checksum(before), words[index], new) == internet_checksum(after)


# -- addresses ------------------------------------------------------------------


@given(addresses)
def test_address_round_trip(address: bytes) -> None:
    assert pack_address(address_text(address)) == address


@pytest.mark.parametrize("text", ["10.1", "256.0.0.1", "10.0.0.1 ", "::1", "", "010.0.0.1"])
def test_pack_address_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        pack_address(text)


def test_address_text_needs_four_bytes() -> None:
    assert address_text(b"\xc0\x00\x02\x01") == "192.0.2.1"
    with pytest.raises(ValueError, match="4 bytes"):
        address_text(b"\x01\x02\x03")
