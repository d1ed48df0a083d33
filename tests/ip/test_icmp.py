"""ICMP: errors and echoes built byte for byte like scapy, parsed back, sent only when allowed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.packet import Raw
from scapy.utils import checksum as scapy_checksum

from simulator.ip import (
    DEST_UNREACHABLE,
    ECHO_REPLY,
    ECHO_REQUEST,
    HOST_UNREACHABLE,
    NET_UNREACHABLE,
    PORT_UNREACHABLE,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    PROTOCOL_UNREACHABLE,
    TIME_EXCEEDED,
    TTL_EXCEEDED_IN_TRANSIT,
    IcmpMessage,
    address_text,
    build_ipv4,
    describe,
    destination_unreachable,
    echo_reply,
    echo_reply_to,
    echo_request,
    header_checksum_ok,
    may_send_error,
    pack_address,
    parse_icmp,
    parse_ipv4,
    time_exceeded,
)
from simulator.ip.icmp import (
    FRAGMENTATION_NEEDED,
    MAX_ERROR_LENGTH,
    PRECEDENCE_INTERNETWORK_CONTROL,
    REDIRECT,
    build_icmp,
    quote,
)

FAST = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

HOST = pack_address("10.0.0.1")
SERVER = pack_address("10.0.2.7")
ROUTER = pack_address("10.0.1.1")

# Unicast addresses of single hosts (not 0/8, 127/8, 224/4 or 240/4).
host_addresses = st.builds(
    bytes,
    st.tuples(
        st.integers(1, 223).filter(lambda first: first != 127),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
    ),
)


@st.composite
def originals(draw: st.DrawFn) -> bytes:
    """A datagram a router might have to answer with an error: TCP or UDP, any size."""
    size = draw(st.one_of(st.integers(0, 40), st.integers(500, 600), st.integers(1400, 1480)))
    return build_ipv4(
        draw(host_addresses),
        draw(host_addresses),
        draw(st.sampled_from([PROTO_TCP, PROTO_UDP])),
        draw(st.binary(min_size=size, max_size=size)),
        ttl=draw(st.integers(0, 255)),
        identification=draw(st.integers(0, 0xFFFF)),
        dont_fragment=draw(st.booleans()),
    )


def scapy_error(router: bytes, original: bytes, type: int, code: int, **icmp: Any) -> bytes:
    """The reference error: scapy's IP()/ICMP()/quoted part, checksums left to scapy."""
    part = original[: MAX_ERROR_LENGTH - 28]
    return bytes(
        IP(
            src=address_text(router),
            dst=address_text(original[12:16]),
            ttl=64,
            id=0,
            flags=0,
            tos=PRECEDENCE_INTERNETWORK_CONTROL,
        )
        / ICMP(type=type, code=code, **icmp)
        / Raw(part)
    )


def assert_scapy_reads(packet: bytes, type: int, code: int) -> None:
    """scapy parses `packet` back to the same type and code, and agrees on the checksum."""
    parsed = IP(packet)
    icmp = parsed[ICMP]
    assert (icmp.type, icmp.code) == (type, code)
    # scapy's own checksum function over the ICMP bytes, checksum field zeroed, must agree.
    # (Not a rebuild of the parsed packet: scapy re-encodes the quoted datagram it
    # dissected, which can change bytes of a quote cut short.)
    raw = bytearray(packet[(packet[0] & 0x0F) * 4 :])
    raw[2:4] = b"\0\0"
    assert scapy_checksum(bytes(raw)) == icmp.chksum


# -- error messages -------------------------------------------------------------


@FAST
@given(originals())
def test_time_exceeded_equals_scapy(original: bytes) -> None:
    packet = time_exceeded(ROUTER, original)
    assert packet == scapy_error(ROUTER, original, TIME_EXCEEDED, TTL_EXCEEDED_IN_TRANSIT)
    assert_scapy_reads(packet, TIME_EXCEEDED, TTL_EXCEEDED_IN_TRANSIT)


@FAST
@given(
    originals(),
    st.sampled_from([NET_UNREACHABLE, HOST_UNREACHABLE, PROTOCOL_UNREACHABLE, PORT_UNREACHABLE]),
)
def test_destination_unreachable_equals_scapy(original: bytes, code: int) -> None:
    packet = destination_unreachable(ROUTER, original, code)
    assert packet == scapy_error(ROUTER, original, DEST_UNREACHABLE, code)
    assert_scapy_reads(packet, DEST_UNREACHABLE, code)


def test_fragmentation_needed_carries_the_next_hop_mtu() -> None:
    original = build_ipv4(HOST, SERVER, PROTO_TCP, bytes(1460))
    packet = destination_unreachable(ROUTER, original, FRAGMENTATION_NEEDED, next_hop_mtu=1400)
    assert packet == scapy_error(
        ROUTER, original, DEST_UNREACHABLE, FRAGMENTATION_NEEDED, nexthopmtu=1400
    )
    message = parse_icmp(packet)
    assert message.rest == b"\x00\x00\x05\x78"
    assert describe(message) == (
        "destination unreachable: fragmentation needed and DF set (next-hop MTU 1400)"
    )


@FAST
@given(originals())
def test_error_goes_back_to_the_source_quoting_the_original(original: bytes) -> None:
    packet = time_exceeded(ROUTER, original, ttl=30, identification=99)
    header = parse_ipv4(packet)
    assert header.src == ROUTER
    assert header.dst == original[12:16]
    assert header.protocol == PROTO_ICMP
    assert (header.ttl, header.identification) == (30, 99)
    assert header.tos == 0xC0
    assert not header.dont_fragment
    assert header_checksum_ok(packet)
    assert header.total_length <= MAX_ERROR_LENGTH
    message = parse_icmp(packet)
    assert message.checksum_ok
    assert message.rest == bytes(4)
    # RFC 1812 §4.3.2.3: the original header and as much of its data as fits in 576 bytes.
    assert message.body == original[: min(len(original), MAX_ERROR_LENGTH - 28)]
    assert len(message.body) >= min(len(original), 20 + 8)


def test_quote_rule_at_the_edges() -> None:
    small = build_ipv4(HOST, SERVER, PROTO_UDP, bytes(8))  # header + 8 bytes: all of it
    assert quote(small) == small
    assert len(time_exceeded(ROUTER, small)) == 20 + 8 + 28
    exact = build_ipv4(HOST, SERVER, PROTO_UDP, bytes(MAX_ERROR_LENGTH - 28 - 20))
    assert len(time_exceeded(ROUTER, exact)) == MAX_ERROR_LENGTH
    big = build_ipv4(HOST, SERVER, PROTO_TCP, bytes(1460))
    assert len(time_exceeded(ROUTER, big)) == MAX_ERROR_LENGTH
    assert quote(big) == big[:548]
    padded = small + bytes(18)  # Ethernet padding is not part of the datagram
    assert quote(padded) == small


def test_error_about_a_malformed_datagram_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        time_exceeded(ROUTER, b"\x45\x00")
    with pytest.raises(ValueError, match="version"):
        destination_unreachable(ROUTER, b"\x60" + bytes(39), HOST_UNREACHABLE)


# -- echo -----------------------------------------------------------------------


@FAST
@given(
    identifier=st.integers(0, 0xFFFF),
    sequence=st.integers(0, 0xFFFF),
    data=st.binary(max_size=100),
    ttl=st.integers(1, 255),
)
def test_echo_request_and_reply_equal_scapy(
    identifier: int, sequence: int, data: bytes, ttl: int
) -> None:
    for build, type, src, dst in (
        (echo_request, ECHO_REQUEST, HOST, SERVER),
        (echo_reply, ECHO_REPLY, SERVER, HOST),
    ):
        packet = build(src, dst, identifier, sequence, data, ttl=ttl, identification=3)
        reference = (
            IP(src=address_text(src), dst=address_text(dst), ttl=ttl, id=3, flags=0)
            / ICMP(type=type, id=identifier, seq=sequence)
            / Raw(data)
        )
        assert packet == bytes(reference)
        assert_scapy_reads(packet, type, 0)
        message = parse_icmp(packet)
        assert (message.identifier, message.sequence, message.body) == (
            identifier,
            sequence,
            data,
        )


def test_echo_reply_to_swaps_addresses_and_keeps_the_rest() -> None:
    request = echo_request(HOST, SERVER, 0x1234, 7, b"abcdefgh", identification=5)
    reply = echo_reply_to(request, ttl=63)
    header = parse_ipv4(reply)
    assert (header.src, header.dst, header.ttl) == (SERVER, HOST, 63)
    message = parse_icmp(reply)
    assert (message.type, message.code) == (ECHO_REPLY, 0)
    assert (message.identifier, message.sequence, message.body) == (0x1234, 7, b"abcdefgh")
    assert message.checksum_ok
    assert reply == echo_reply(SERVER, HOST, 0x1234, 7, b"abcdefgh", ttl=63)
    with pytest.raises(ValueError, match="not an echo request"):
        echo_reply_to(reply)


def test_echo_fields_must_fit() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        echo_request(HOST, SERVER, 0x10000, 0)
    with pytest.raises(ValueError, match="4 bytes"):
        build_icmp(ECHO_REQUEST, 0, b"\0\0\0", b"")


# -- parsing and describing ---------------------------------------------------------


def test_parse_icmp_reads_a_scapy_packet() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.2.7") / ICMP(type=8, id=9, seq=10) / b"hi")
    message = parse_icmp(packet)
    assert message == IcmpMessage(8, 0, IP(packet)[ICMP].chksum, b"\x00\x09\x00\x0a", b"hi")
    assert message.checksum_ok
    assert not message.is_error
    corrupt = packet[:-1] + b"j"
    assert not parse_icmp(corrupt).checksum_ok


def test_parse_icmp_rejects_what_is_not_icmp() -> None:
    with pytest.raises(ValueError, match="not ICMP"):
        parse_icmp(build_ipv4(HOST, SERVER, PROTO_UDP, bytes(8)))
    with pytest.raises(ValueError, match="shorter than its 8-byte header"):
        parse_icmp(build_ipv4(HOST, SERVER, PROTO_ICMP, bytes(7)))
    with pytest.raises(ValueError, match="too short"):
        parse_icmp(b"\x45\x00\x00")


@pytest.mark.parametrize(
    ("type", "code", "rest", "text"),
    [
        (11, 0, b"", "time exceeded: TTL expired in transit"),
        (11, 1, b"", "time exceeded: fragment reassembly time exceeded"),
        (3, 0, b"", "destination unreachable: network unreachable"),
        (3, 1, b"", "destination unreachable: host unreachable"),
        (3, 2, b"", "destination unreachable: protocol unreachable"),
        (3, 3, b"", "destination unreachable: port unreachable"),
        (3, 99, b"", "destination unreachable: code 99"),
        (REDIRECT, 1, b"", "redirect: redirect datagrams for the host"),
        (4, 0, b"", "source quench"),
        (8, 0, b"\x00\x01\x00\x02", "echo request id=1 seq=2 (5 bytes of data)"),
        (0, 0, b"\x00\x01\x00\x02", "echo reply id=1 seq=2 (5 bytes of data)"),
        (42, 7, b"", "ICMP type 42 code 7"),
    ],
)
def test_describe(type: int, code: int, rest: bytes, text: str) -> None:
    message_bytes = build_icmp(type, code, rest or bytes(4), b"hello")
    packet = build_ipv4(HOST, SERVER, PROTO_ICMP, message_bytes)
    message = parse_icmp(packet)
    assert describe(message) == text
    assert str(message) == text


# -- when an error may be sent (RFC 1812 §4.3.2.7) ---------------------------------


def datagram(
    src: str = "10.0.0.1",
    dst: str = "10.0.2.7",
    protocol: int = PROTO_UDP,
    payload: bytes = bytes(16),
    **fields: Any,
) -> bytes:
    return build_ipv4(pack_address(src), pack_address(dst), protocol, payload, **fields)


ORIGINAL = datagram()


@pytest.mark.parametrize(
    ("packet", "allowed"),
    [
        pytest.param(ORIGINAL, True, id="plain UDP"),
        pytest.param(datagram(protocol=PROTO_TCP), True, id="plain TCP"),
        pytest.param(echo_request(HOST, SERVER, 1, 1), True, id="echo request"),
        pytest.param(echo_reply(HOST, SERVER, 1, 1), True, id="echo reply"),
        pytest.param(time_exceeded(ROUTER, ORIGINAL), False, id="time exceeded"),
        pytest.param(
            destination_unreachable(ROUTER, ORIGINAL, PORT_UNREACHABLE), False, id="unreachable"
        ),
        pytest.param(
            datagram(protocol=PROTO_ICMP, payload=build_icmp(REDIRECT, 1, bytes(4), b"")),
            False,
            id="redirect",
        ),
        pytest.param(datagram(protocol=PROTO_ICMP, payload=b""), False, id="ICMP without a type"),
        pytest.param(datagram(more_fragments=True, dont_fragment=False), True, id="first fragment"),
        pytest.param(datagram(fragment_offset=185, dont_fragment=False), False, id="last fragment"),
        pytest.param(
            datagram(fragment_offset=1, more_fragments=True, dont_fragment=False),
            False,
            id="middle fragment",
        ),
        pytest.param(datagram(dst="224.0.0.1"), False, id="to multicast 224.0.0.1"),
        pytest.param(datagram(dst="239.255.255.250"), False, id="to multicast 239/8"),
        pytest.param(datagram(dst="255.255.255.255"), False, id="to limited broadcast"),
        pytest.param(datagram(dst="223.255.255.255"), True, id="to the last unicast /8"),
        pytest.param(datagram(src="0.0.0.0"), False, id="from 0.0.0.0"),
        pytest.param(datagram(src="127.0.0.1"), False, id="from loopback"),
        pytest.param(datagram(src="230.1.2.3"), False, id="from multicast"),
        pytest.param(datagram(src="240.0.0.1"), False, id="from class E"),
        pytest.param(ORIGINAL[:19], False, id="malformed"),
    ],
)
def test_may_send_error(packet: bytes, allowed: bool) -> None:
    assert may_send_error(packet) is allowed
