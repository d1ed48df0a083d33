"""Frames (RFC 6455 §5): the §5.7 examples byte for byte, field spans, the incremental reader."""

from __future__ import annotations

from typing import cast

import pytest

from simulator.ws import (
    BinaryMessage,
    CloseCode,
    Opcode,
    Ping,
    ProtocolError,
    TextMessage,
)
from simulator.ws.frames import Frame, FrameReader, build_frame, parse_frames, serialize_frame
from tests.ws.helpers import KEY, assert_roundtrip, frames_of, open_client, open_server

# RFC 6455 §5.7, "Examples".
HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
HEL = bytes.fromhex("01 03 48 65 6c")
LO = bytes.fromhex("80 02 6c 6f")
PING_HELLO = bytes.fromhex("89 05 48 65 6c 6c 6f")
MASKED_PONG_HELLO = bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
HEADER_256 = bytes.fromhex("82 7e 01 00")
HEADER_65536 = bytes.fromhex("82 7f 00 00 00 00 00 01 00 00")

BODY_256 = bytes(range(256))
BODY_65536 = bytes(range(256)) * 256

RFC_FRAMES = [
    pytest.param(build_frame(Opcode.TEXT, b"Hello"), HELLO, id="unmasked-text"),
    pytest.param(build_frame(Opcode.TEXT, b"Hello", masking_key=KEY), MASKED_HELLO, id="masked"),
    pytest.param(build_frame(Opcode.TEXT, b"Hel", fin=False), HEL, id="fragment-1"),
    pytest.param(build_frame(Opcode.CONTINUATION, b"lo"), LO, id="fragment-2"),
    pytest.param(build_frame(Opcode.PING, b"Hello"), PING_HELLO, id="ping"),
    pytest.param(
        build_frame(Opcode.PONG, b"Hello", masking_key=KEY), MASKED_PONG_HELLO, id="masked-pong"
    ),
    pytest.param(build_frame(Opcode.BINARY, BODY_256), HEADER_256 + BODY_256, id="binary-256"),
    pytest.param(
        build_frame(Opcode.BINARY, BODY_65536), HEADER_65536 + BODY_65536, id="binary-65536"
    ),
]


@pytest.mark.parametrize(("frame", "wire"), RFC_FRAMES)
def test_rfc_example_roundtrips(frame: Frame, wire: bytes) -> None:
    assert_roundtrip(frame, wire)


@pytest.mark.parametrize(("frame", "wire"), RFC_FRAMES)
def test_rfc_example_parses_in_any_feed_pattern(frame: Frame, wire: bytes) -> None:
    # Half a frame first, then the rest; then one byte at a time.
    reader = FrameReader()
    reader.feed(wire[: len(wire) // 2])
    assert reader.next_frame() is None
    reader.feed(wire[len(wire) // 2 :])
    assert reader.next_frame() == frame
    assert reader.next_frame() is None
    assert reader.buffered == 0

    if len(wire) < 1000:
        reader = FrameReader()
        got = []
        for i in range(len(wire)):
            reader.feed(wire[i : i + 1])
            if (parsed := reader.next_frame()) is not None:
                got.append((i, parsed))
        assert got == [(len(wire) - 1, frame)]


def test_rfc_examples_concatenated_parse_in_order() -> None:
    wire = b"".join(cast(bytes, p.values[1]) for p in RFC_FRAMES)
    assert frames_of(wire) == [p.values[0] for p in RFC_FRAMES]


def test_parse_frames_returns_the_incomplete_tail() -> None:
    frames, rest = parse_frames(HELLO + MASKED_HELLO[:7])
    assert frames == [build_frame(Opcode.TEXT, b"Hello")]
    assert rest == MASKED_HELLO[:7]


# --- the same examples through a Connection ------------------------------------------


def test_server_receives_the_masked_hello() -> None:
    server = open_server()
    server.receive_data(MASKED_HELLO)
    assert server.events() == [TextMessage("Hello")]
    assert server.data_to_send() == b""


def test_client_masks_hello_with_the_injected_key() -> None:
    client = open_client()  # its random source returns the §5.7 key
    client.send_text("Hello")
    assert client.data_to_send() == MASKED_HELLO


def test_client_answers_the_rfc_ping_with_the_rfc_masked_pong() -> None:
    client = open_client()
    client.receive_data(PING_HELLO)
    assert client.events() == [Ping(b"Hello")]
    assert client.data_to_send() == MASKED_PONG_HELLO


def test_client_receives_the_unmasked_examples() -> None:
    client = open_client()
    client.receive_data(HELLO + HEL + LO)
    assert client.events() == [TextMessage("Hello"), TextMessage("Hello")]
    client.receive_data(HEADER_256 + BODY_256 + HEADER_65536 + BODY_65536)
    assert client.events() == [BinaryMessage(BODY_256), BinaryMessage(BODY_65536)]


def test_server_sends_the_unmasked_examples() -> None:
    server = open_server()
    server.send_text("Hello")
    assert server.data_to_send() == HELLO
    server.send_frame(Opcode.TEXT, b"Hel", fin=False)
    server.send_frame(Opcode.CONTINUATION, b"lo")
    assert server.data_to_send() == HEL + LO
    server.ping(b"Hello")
    assert server.data_to_send() == PING_HELLO
    server.send_binary(BODY_256)
    assert server.data_to_send() == HEADER_256 + BODY_256
    server.send_binary(BODY_65536)
    assert server.data_to_send() == HEADER_65536 + BODY_65536


def test_client_sends_long_frames_masked() -> None:
    client = open_client()
    client.send_binary(BODY_65536)
    wire = client.data_to_send()
    assert wire[:10] == bytes.fromhex("82 ff 00 00 00 00 00 01 00 00")
    assert wire[10:14] == KEY
    assert frames_of(wire) == [build_frame(Opcode.BINARY, BODY_65536, masking_key=KEY)]


# --- field spans ----------------------------------------------------------------------

COMMON = [
    ("fin", 0, 1, (0, 1)),
    ("rsv1", 0, 1, (1, 2)),
    ("rsv2", 0, 1, (2, 3)),
    ("rsv3", 0, 1, (3, 4)),
    ("opcode", 0, 1, (4, 8)),
    ("mask", 1, 2, (8, 9)),
    ("payload_length", 1, 2, (9, 16)),
]


@pytest.mark.parametrize(
    ("length", "key", "tail"),
    [
        (5, None, [("payload", 2, 7, None)]),
        (5, KEY, [("masking_key", 2, 6, None), ("payload", 6, 11, None)]),
        (0, KEY, [("masking_key", 2, 6, None), ("payload", 6, 6, None)]),
        (125, None, [("payload", 2, 127, None)]),
        (126, None, [("extended_payload_length", 2, 4, None), ("payload", 4, 130, None)]),
        (
            256,
            KEY,
            [
                ("extended_payload_length", 2, 4, None),
                ("masking_key", 4, 8, None),
                ("payload", 8, 264, None),
            ],
        ),
        (
            65536,
            None,
            [("extended_payload_length", 2, 10, None), ("payload", 10, 65546, None)],
        ),
        (
            65536,
            KEY,
            [
                ("extended_payload_length", 2, 10, None),
                ("masking_key", 10, 14, None),
                ("payload", 14, 65550, None),
            ],
        ),
    ],
    ids=[
        "7-bit",
        "7-bit-masked",
        "empty-masked",
        "125",
        "16-bit",
        "16-bit-masked",
        "64-bit",
        "64-bit-masked",
    ],
)
def test_field_spans(
    length: int, key: bytes | None, tail: list[tuple[str, int, int, None]]
) -> None:
    payload = bytes(i % 251 for i in range(length))
    wire = serialize_frame(Opcode.BINARY, payload, masking_key=key)
    [frame] = frames_of(wire)
    assert frame.raw == wire
    fields = frame.fields()
    assert [(f.name, f.start, f.end, f.bits) for f in fields] == COMMON + tail
    assert fields[-1].end == len(wire), "the fields cover the frame"

    def bits(span: tuple[int, int]) -> int:
        whole = int.from_bytes(wire[:2], "big")
        return (whole >> (16 - span[1])) & ((1 << (span[1] - span[0])) - 1)

    by_name = {f.name: f for f in fields}
    # Every bit field's value is what its bits say on the wire.
    for f in fields:
        if f.bits is not None:
            assert bits(f.bits) == int(f.value), f.name  # type: ignore[arg-type]
    assert by_name["fin"].value is True
    assert by_name["opcode"].value == Opcode.BINARY
    assert by_name["mask"].value is (key is not None)
    marker = length if length < 126 else 126 if length < 65536 else 127
    assert by_name["payload_length"].value == marker
    if "extended_payload_length" in by_name:
        ext = by_name["extended_payload_length"]
        assert ext.value == length == int.from_bytes(wire[ext.start : ext.end], "big")
    if key is not None:
        mk = by_name["masking_key"]
        assert mk.value == key == wire[mk.start : mk.end]
    assert by_name["payload"].value == payload  # unmasked, though the wire is masked


def test_field_spans_of_header_bits() -> None:
    frame = build_frame(0x9, b"", fin=False, rsv1=True, rsv3=True)
    values = {f.name: f.value for f in frame.fields()}
    assert frame.raw == bytes([0x59, 0x00])
    assert values == {
        "fin": False,
        "rsv1": True,
        "rsv2": False,
        "rsv3": True,
        "opcode": 9,
        "mask": False,
        "payload_length": 0,
        "payload": b"",
    }


def test_raw_keeps_the_wire_bytes_of_a_non_minimal_length() -> None:
    # 5 bytes announced in the 16-bit form: parsing keeps the header as it was.
    wire = bytes.fromhex("81 7e 00 05") + b"Hello"
    [frame] = frames_of(wire)
    assert frame.payload == b"Hello"
    assert frame.raw == wire
    assert frame.length_form == 16


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        (HELLO, "TEXT 'Hello' [5 bytes]"),
        (MASKED_HELLO, "TEXT 'Hello' [5 bytes, masked]"),
        (HEL, "TEXT 'Hel' [3 bytes, FIN=0]"),
        (LO, "CONTINUATION 6c 6f [2 bytes]"),
        (PING_HELLO, "PING 'Hello' [5 bytes]"),
        (MASKED_PONG_HELLO, "PONG 'Hello' [5 bytes, masked]"),
        (bytes.fromhex("88 05 03 e8") + b"bye", "CLOSE 1000 (normal closure) 'bye' [5 bytes]"),
        (bytes.fromhex("88 00"), "CLOSE [0 bytes]"),
        (bytes.fromhex("c2 01 ff"), "BINARY ff [1 byte, RSV=100]"),
        (bytes.fromhex("83 00"), "OPCODE 0x3 [0 bytes]"),
    ],
)
def test_frame_str_is_readable(wire: bytes, text: str) -> None:
    [frame] = frames_of(wire)
    assert str(frame) == text


def test_frame_str_shortens_long_payloads() -> None:
    [frame] = frames_of(HEADER_256 + BODY_256)
    assert str(frame) == "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … [256 bytes]"


# --- the reader's own rules -------------------------------------------------------------


def test_reader_rejects_the_64_bit_length_high_bit() -> None:
    reader = FrameReader()
    reader.feed(bytes.fromhex("82 7f 80 00 00 00 00 00 00 05") + b"hello")
    with pytest.raises(ProtocolError) as info:
        reader.next_frame()
    assert info.value.close_code == CloseCode.PROTOCOL_ERROR


def test_reader_limit_is_decided_from_the_header() -> None:
    reader = FrameReader(max_payload=4)
    reader.feed(bytes.fromhex("82 05"))  # no payload byte yet
    with pytest.raises(ProtocolError) as info:
        reader.next_frame()
    assert info.value.close_code == CloseCode.MESSAGE_TOO_BIG


def test_reader_limit_error_is_not_forgotten() -> None:
    # Asking again, even once the payload is there, must not hand out the frame.
    reader = FrameReader(max_payload=4)
    reader.feed(bytes.fromhex("82 05"))
    with pytest.raises(ProtocolError):
        reader.next_frame()
    reader.feed(b"hello")
    with pytest.raises(ProtocolError):
        reader.next_frame()


def test_reader_checks_each_header_once_before_its_payload() -> None:
    seen = []
    reader = FrameReader(check_header=lambda b0, masked, n: seen.append((b0, masked, n)))
    wire = MASKED_HELLO + HEADER_256 + BODY_256
    for i in range(len(wire)):
        reader.feed(wire[i : i + 1])
        reader.next_frame()
        if i == len(MASKED_HELLO) + 3:  # the second header just completed
            assert seen == [(0x81, True, 5), (0x82, False, 256)]
    assert seen == [(0x81, True, 5), (0x82, False, 256)]


def test_reader_check_header_error_is_not_forgotten() -> None:
    def refuse(b0: int, masked: bool, n: int) -> None:
        raise ProtocolError("no")

    reader = FrameReader(check_header=refuse)
    reader.feed(HELLO[:2])
    with pytest.raises(ProtocolError):
        reader.next_frame()
    reader.feed(HELLO[2:])
    with pytest.raises(ProtocolError):
        reader.next_frame()


def test_reader_take_remaining() -> None:
    reader = FrameReader()
    reader.feed(HELLO + LO[:3])
    assert reader.next_frame() == build_frame(Opcode.TEXT, b"Hello")
    assert reader.buffered == 3
    assert reader.take_remaining() == LO[:3]
    assert reader.buffered == 0
    reader.feed(HEL)
    assert reader.next_frame() == build_frame(Opcode.TEXT, b"Hel", fin=False)
