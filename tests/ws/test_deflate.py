"""permessage-deflate (RFC 7692): negotiation, RSV1, context takeover, bounded inflation."""

from __future__ import annotations

import functools
import os
import tracemalloc
import zlib

import pytest

from simulator.ws import (
    Accepted,
    BinaryMessage,
    CloseCode,
    Config,
    Connection,
    ConnectionState,
    HandshakeFailed,
    Opcode,
    Request,
    Role,
    TextMessage,
    Violation,
)
from simulator.ws.deflate import TAIL, PerMessageDeflate
from simulator.ws.extensions import Params, parse_extensions
from simulator.ws.frames import serialize_frame
from tests.ws.helpers import ConnectionPair, assert_fails, frames_of, unmask_wire

KEY = b"\x01\x02\x03\x04"


def deflate(**options: object) -> Config:
    return Config(extensions=(functools.partial(PerMessageDeflate, **options),))  # type: ignore[arg-type]


def opened(
    client: Config | None = None, server: Config | None = None, *, seed: int = 0
) -> ConnectionPair:
    pair = ConnectionPair(
        seed=seed,
        client_config=client if client is not None else deflate(),
        server_config=server if server is not None else deflate(),
    )
    pair.handshake()
    return pair


def compress(data: bytes, compressor: zlib._Compress | None = None) -> bytes:
    compressor = compressor or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def server_with_deflate(max_size: int | None = 1 << 20) -> Connection:
    """A server that accepted `permessage-deflate` from a client we write by hand."""
    server = Connection(
        Role.SERVER, config=Config(max_size=max_size, extensions=(PerMessageDeflate,))
    )
    server.receive_data(
        b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    assert [type(e) for e in server.events()] == [Request]
    server.accept()
    response = server.data_to_send()
    assert b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" in response
    return server


# --- negotiation ------------------------------------------------------------------------


def negotiate(offer: str, **server_options: object) -> Params | None:
    [(name, params)] = parse_extensions(offer)
    assert name == "permessage-deflate"
    return PerMessageDeflate(**server_options).accept_offer(params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("offer", "options", "response"),
    [
        ("permessage-deflate", {}, ()),
        ("permessage-deflate; client_max_window_bits", {}, ()),
        ("permessage-deflate; client_max_window_bits=10", {}, (("client_max_window_bits", "10"),)),
        (
            "permessage-deflate; client_max_window_bits",
            {"client_max_window_bits": 11},
            (("client_max_window_bits", "11"),),
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            {"client_max_window_bits": 12},
            (("client_max_window_bits", "10"),),
        ),
        ("permessage-deflate", {"client_max_window_bits": 11}, ()),  # not offered: not limited
        (
            "permessage-deflate; server_no_context_takeover",
            {},
            (("server_no_context_takeover", None),),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            {},
            (("client_no_context_takeover", None),),
        ),
        ("permessage-deflate", {"server_no_context_takeover": True},
         (("server_no_context_takeover", None),)),
        ("permessage-deflate", {"client_no_context_takeover": True},
         (("client_no_context_takeover", None),)),
        ("permessage-deflate; server_max_window_bits=10", {}, (("server_max_window_bits", "10"),)),
        (
            "permessage-deflate; server_max_window_bits=13",
            {"server_max_window_bits": 11},
            (("server_max_window_bits", "11"),),
        ),
        ("permessage-deflate", {"server_max_window_bits": 11}, (("server_max_window_bits", "11"),)),
    ],
)  # fmt: skip
def test_server_accepts_offers(offer: str, options: dict[str, object], response: Params) -> None:
    assert negotiate(offer, **options) == response


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; x_unknown",  # §7.1: unknown parameter
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",  # twice
        "permessage-deflate; server_no_context_takeover=1",  # takes no value
        "permessage-deflate; server_max_window_bits",  # needs a value in an offer
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",  # no leading zero
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=8",  # zlib cannot compress with 2^8
    ],
)
def test_server_declines_offers_it_cannot_honour(offer: str) -> None:
    assert negotiate(offer) is None


def test_server_takes_the_first_offer_it_can_accept() -> None:
    pair = ConnectionPair(server_config=deflate())
    pair.client.data_to_send()
    pair.client = Connection(Role.CLIENT)
    pair.server.receive_data(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, "
        b"permessage-deflate; client_max_window_bits=9\r\n\r\n"
    )
    pair.server.events()
    pair.server.accept()
    response = pair.server.data_to_send()
    assert b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n" in response


def test_a_declined_offer_leaves_the_connection_uncompressed() -> None:
    pair = opened(server=Config())
    assert pair.client.extensions == [] and pair.server.extensions == []
    pair.client.send_text("plain " * 50)
    [frame] = frames_of(pair.client.data_to_send())
    assert not frame.rsv1


def response_fails(offer: Config, response: str) -> str:
    client = Connection(Role.CLIENT, config=offer)
    client.connect("h", "/")
    request = client.data_to_send()
    key = request.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0].decode()
    from simulator.ws.handshake import accept_key

    client.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n".encode()
        + f"Sec-WebSocket-Extensions: {response}\r\n\r\n".encode()
    )
    events = client.events()
    assert client.state is ConnectionState.CLOSED
    [failed] = events
    assert isinstance(failed, HandshakeFailed)
    return failed.reason


@pytest.mark.parametrize(
    ("options", "response", "why"),
    [
        ({}, "permessage-deflate; foo", "unknown"),
        ({}, "permessage-deflate; server_max_window_bits=16", "8 to 15"),
        ({}, "permessage-deflate; client_max_window_bits=8", "256-byte"),
        ({"server_no_context_takeover": True}, "permessage-deflate", "server_no_context_takeover"),
        ({"server_max_window_bits": 10}, "permessage-deflate", "server_max_window_bits"),
        ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=12", "larger"),
        ({}, "permessage-deflate, permessage-deflate", "not offered"),  # accepted twice
        ({}, "x-other", "not offered"),
    ],
)
def test_client_fails_on_a_bad_response(
    options: dict[str, object], response: str, why: str
) -> None:
    assert why in response_fails(deflate(**options), response)


def test_client_without_deflate_fails_when_the_server_forces_it() -> None:
    assert "not offered" in response_fails(Config(), "permessage-deflate")


# --- data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "server"),
    [
        ({}, {}),
        ({"server_no_context_takeover": True, "client_no_context_takeover": True}, {}),
        ({}, {"server_no_context_takeover": True, "client_no_context_takeover": True}),
        ({"server_max_window_bits": 9, "client_max_window_bits": 9}, {}),
        ({}, {"server_max_window_bits": 10, "client_max_window_bits": 10}),
    ],
)
def test_messages_round_trip_both_ways(
    client: dict[str, object], server: dict[str, object]
) -> None:
    pair = opened(deflate(**client), deflate(**server))
    messages: list[str | bytes] = ["hello", "hello", "", "é" * 3000, os.urandom(40000), b"",
                                   bytes(100_000), "hello"]  # fmt: skip
    for message in messages:
        for sender, receive in ((pair.client, pair.to_server), (pair.server, pair.to_client)):
            if isinstance(message, str):
                sender.send_text(message, fragment_size=700)
            else:
                sender.send_binary(message, fragment_size=5000)
            [event] = receive()
            assert isinstance(event, TextMessage | BinaryMessage)
            assert event.data == message


def test_rsv1_only_on_the_first_frame_and_the_tail_is_dropped() -> None:
    pair = opened()
    pair.server.send_text("abc" * 1000, fragment_size=10)
    wire = pair.server.data_to_send()
    frames = frames_of(wire)
    assert frames[0].rsv1 and not any(f.rsv1 for f in frames[1:])
    assert frames[0].opcode == Opcode.TEXT
    assert all(f.opcode == Opcode.CONTINUATION for f in frames[1:])
    payload = b"".join(f.payload for f in frames)
    assert not payload.endswith(TAIL)
    assert zlib.decompressobj(-15).decompress(payload + TAIL) == b"abc" * 1000


def test_context_takeover_makes_a_repeat_tiny_and_no_takeover_does_not() -> None:
    text = "The quick brown fox jumps over the lazy dog, again and again. " * 4
    sizes = {}
    for takeover in (True, False):
        pair = opened(server=deflate(server_no_context_takeover=not takeover))
        lengths = []
        for _ in range(2):
            pair.server.send_text(text)
            [frame] = frames_of(pair.server.data_to_send())
            lengths.append(len(frame.payload))
        sizes[takeover] = lengths
    assert sizes[True][1] < sizes[True][0] // 4  # a back-reference to the first message
    assert sizes[False][1] == sizes[False][0]


def test_incompressible_large_message_goes_uncompressed_and_the_context_stays_in_step() -> None:
    pair = opened()
    noise = os.urandom(50_000)
    pair.server.send_binary(noise)
    [frame] = frames_of(pair.server.data_to_send())
    assert not frame.rsv1 and frame.payload == noise
    pair.server.send_text("after " * 100)
    pair.server.send_text("after " * 100)
    [first, second] = pair.to_client()
    assert first == second == TextMessage("after " * 100)


def test_uncompressed_message_from_the_peer_is_taken_as_it_is() -> None:
    server = server_with_deflate()
    server.receive_data(serialize_frame(Opcode.TEXT, b"plain", masking_key=KEY))
    assert server.events() == [TextMessage("plain")]


def test_empty_compressed_message_is_one_byte() -> None:
    pair = opened()
    pair.client.send_text("")
    [frame] = frames_of(unmask_wire(pair.client.data_to_send()))
    assert frame.rsv1 and frame.payload == b"\x00"


def test_rsv1_on_a_continuation_frame_fails_with_1002() -> None:
    server = server_with_deflate()
    data = compress(b"hello world")
    server.receive_data(
        serialize_frame(Opcode.TEXT, data[:3], masking_key=KEY, fin=False, rsv1=True)
        + serialize_frame(Opcode.CONTINUATION, data[3:], masking_key=KEY, rsv1=True)
    )
    assert_fails(server, server.events(), CloseCode.PROTOCOL_ERROR, Violation.RSV1_ON_CONTINUATION)


def test_rsv1_on_a_control_frame_fails_with_1002() -> None:
    server = server_with_deflate()
    server.receive_data(serialize_frame(Opcode.PING, b"", masking_key=KEY, rsv1=True))
    assert_fails(server, server.events(), CloseCode.PROTOCOL_ERROR, Violation.RSV_ON_CONTROL_FRAME)


def test_rsv1_without_negotiation_fails_with_1002() -> None:
    pair = opened(server=Config())
    pair.server.receive_data(
        serialize_frame(Opcode.TEXT, compress(b"hi"), masking_key=KEY, rsv1=True)
    )
    events = pair.server.events()
    assert_fails(pair.server, events, CloseCode.PROTOCOL_ERROR, Violation.RSV_WITHOUT_EXTENSION)


def test_corrupt_compressed_data_fails_with_1007() -> None:
    server = server_with_deflate()
    server.receive_data(serialize_frame(Opcode.BINARY, b"\xff\xff\xff", masking_key=KEY, rsv1=True))
    assert_fails(
        server, server.events(), CloseCode.INVALID_PAYLOAD, Violation.CORRUPT_COMPRESSED_DATA
    )


def test_compressed_text_that_is_not_utf8_fails_with_1007() -> None:
    server = server_with_deflate()
    server.receive_data(
        serialize_frame(Opcode.TEXT, compress(b"\xc3\x28"), masking_key=KEY, rsv1=True)
    )
    assert_fails(server, server.events(), CloseCode.INVALID_PAYLOAD, Violation.TEXT_NOT_UTF8)


def test_a_message_exactly_at_the_limit_inflates_and_one_byte_more_fails() -> None:
    for size, expected in ((4096, BinaryMessage), (4097, None)):
        server = server_with_deflate(max_size=4096)
        server.receive_data(
            serialize_frame(Opcode.BINARY, compress(bytes(size)), masking_key=KEY, rsv1=True)
        )
        events = server.events()
        if expected is None:
            assert_fails(server, events, CloseCode.MESSAGE_TOO_BIG, Violation.INFLATED_TOO_BIG)
        else:
            assert events == [BinaryMessage(bytes(size))]


def test_a_decompression_bomb_fails_with_1009_without_being_inflated() -> None:
    # 128 MiB of zeros compress to about 128 kB; sent in fragments of 64 KiB they would
    # inflate to 128 MiB. The receiver stops one byte past its 1 MiB limit.
    bomb = _zeros_compressed(128 << 20)
    assert len(bomb) < 140_000
    server = server_with_deflate(max_size=1 << 20)
    tracemalloc.start()
    try:
        chunk = 64 * 1024
        for start in range(0, len(bomb), chunk):
            last = start + chunk >= len(bomb)
            server.receive_data(
                serialize_frame(
                    Opcode.BINARY if start == 0 else Opcode.CONTINUATION,
                    bomb[start : start + chunk],
                    masking_key=KEY,
                    fin=last,
                    rsv1=start == 0,
                )
            )
            if server.state is ConnectionState.CLOSED:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_fails(server, server.events(), CloseCode.MESSAGE_TOO_BIG, Violation.INFLATED_TOO_BIG)
    assert start == 0  # the first 64 KiB fragment already inflated past the limit
    assert peak < 8 << 20  # never more than a few MiB, for a 128 MiB bomb


def _zeros_compressed(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)[:-4]


def test_a_compressed_frame_far_larger_than_the_limit_is_refused_by_its_header() -> None:
    server = server_with_deflate(max_size=1000)
    header_only = serialize_frame(Opcode.BINARY, bytes(5000), masking_key=KEY, rsv1=True)[:8]
    server.receive_data(header_only)
    assert_fails(server, server.events(), CloseCode.MESSAGE_TOO_BIG, Violation.FRAME_TOO_BIG)


def test_client_and_server_report_what_they_agreed() -> None:
    pair = ConnectionPair(
        client_config=deflate(client_max_window_bits=None),
        server_config=deflate(server_no_context_takeover=True, client_max_window_bits=10),
    )
    _, accepted = pair.handshake()
    assert isinstance(accepted, Accepted) and accepted.extensions == ("permessage-deflate",)
    expected = "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
    assert pair.server.extensions[0].describe() == expected
    assert pair.client.extensions[0].describe() == expected


def test_each_side_inflates_within_the_window_the_peer_agreed_to() -> None:
    server = deflate(client_max_window_bits=9, server_max_window_bits=10)
    pair = opened(deflate(client_max_window_bits=None), server)
    agreed = "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"
    assert pair.server.extensions[0].describe() == pair.client.extensions[0].describe() == agreed
    text = ("0123456789abcdef" * 200) + "".join(chr(0x41 + i % 26) for i in range(3000))
    for _ in range(3):  # with context takeover, references into earlier messages too
        pair.client.send_text(text)
        pair.server.send_text(text)
        assert pair.to_server() == [TextMessage(text)]
        assert pair.to_client() == [TextMessage(text)]


def test_prepared_frames_go_only_where_the_same_bytes_are_right() -> None:
    frame = serialize_frame(Opcode.TEXT, b"to everyone")
    plain = opened(Config(), Config())
    assert plain.server.send_prepared(frame)
    assert plain.to_client() == [TextMessage("to everyone")]
    assert not plain.client.send_prepared(frame)  # a client must mask each frame itself
    compressed = opened()
    assert not compressed.server.send_prepared(frame)  # its own compression context
    assert compressed.server.data_to_send() == b""
    plain.server.close()
    assert not plain.server.send_prepared(frame)  # no data after a close frame


def final_block(data: bytes, history: bytes = b"") -> bytes:
    """`data` as one whole DEFLATE stream ending in a BFINAL=1 block (RFC 7692 §7.2.3.3),
    its window primed with `history` (the context a sender takes over)."""
    compressor = (
        zlib.compressobj(6, zlib.DEFLATED, -15, zdict=history)
        if history
        else zlib.compressobj(6, zlib.DEFLATED, -15)
    )
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


@pytest.mark.parametrize("second_final", [False, True])
def test_a_message_ending_in_a_final_block_does_not_lose_the_next_ones(
    second_final: bool,
) -> None:
    """A sender may end a message's DEFLATE stream with BFINAL=1 (RFC 7692 §7.2.3.3); the
    next message is a new stream over the same window (context takeover). Seen: every
    later message inflated to nothing — data lost without an error."""
    server = server_with_deflate()
    texts = [b"first message", b"second message, first message again", b"third"]
    history = b""
    for i, text in enumerate(texts):
        if i == 0 or second_final:
            payload = final_block(text, history)
        else:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=history)
            payload = compress(text, compressor)
        history += text
        server.receive_data(serialize_frame(Opcode.TEXT, payload, masking_key=KEY, rsv1=True))
    got = [e.data for e in server.events() if isinstance(e, TextMessage)]
    assert got == [t.decode() for t in texts]


def test_a_final_block_inside_a_fragmented_message_goes_on_with_a_new_stream() -> None:
    """A fragment may end one stream and the next fragment start another."""
    server = server_with_deflate()
    head = final_block(b"half one, ")
    tail = compress(b"half two", zlib.compressobj(6, zlib.DEFLATED, -15, zdict=b"half one, "))
    server.receive_data(
        serialize_frame(Opcode.TEXT, head, masking_key=KEY, rsv1=True, fin=False)
        + serialize_frame(Opcode.CONTINUATION, tail, masking_key=KEY)
    )
    got = [e.data for e in server.events() if isinstance(e, TextMessage)]
    assert got == ["half one, half two"]
