"""The extension hook (RFC 6455 §9): negotiation, RSV bits, payload transforms."""

from __future__ import annotations

import pytest

from simulator.ws import (
    Accepted,
    CloseCode,
    Config,
    Connection,
    ConnectionState,
    HandshakeError,
    HandshakeFailed,
    Request,
    Role,
    TextMessage,
    Violation,
)
from simulator.ws.events import BinaryMessage
from simulator.ws.extensions import Extension, Params, format_extension, parse_extensions
from simulator.ws.frames import RSV1
from tests.ws.helpers import (
    RFC_REQUEST,
    ConnectionPair,
    assert_fails,
    feed,
    frames_of,
    masked,
    rfc_rng,
)


class Reverse(Extension):
    """A toy extension: RSV1 on a message's first frame means its bytes are reversed."""

    name = "x-reverse"
    rsv_mask = RSV1

    def __init__(self) -> None:
        self._parts: list[bytes | bytearray] = []

    def offer(self) -> Params:
        return ()

    def accept_offer(self, params: Params) -> Params | None:
        return None if params else ()  # it knows no parameters: decline offers with some

    def accept_response(self, params: Params) -> None:
        if params:
            raise HandshakeError(f"x-reverse takes no parameters, got {params}")

    def encode(self, opcode: int, payload: bytes | bytearray) -> tuple[bytes | bytearray, int]:
        return payload[::-1], RSV1

    def decode(
        self, rsv: int, payload: bytes | bytearray, *, fin: bool, max_size: int | None
    ) -> bytes | bytearray:
        if not rsv & RSV1:
            return payload
        self._parts.append(payload)  # a reversed message is whole only at its end
        if not fin:
            return b""
        whole, self._parts = b"".join(self._parts), []
        return whole[::-1]


def reverse_pair() -> ConnectionPair:
    config = Config(extensions=(Reverse,))
    return ConnectionPair(client_config=config, server_config=config)


def test_negotiation() -> None:
    pair = reverse_pair()
    request_wire = pair.client.data_to_send()
    assert b"\r\nSec-WebSocket-Extensions: x-reverse\r\n" in request_wire
    pair.server.receive_data(request_wire)
    [request] = pair.server.events()
    assert isinstance(request, Request)
    assert request.extensions == ("x-reverse",)
    pair.server.accept()
    response_wire = pair.server.data_to_send()
    assert b"\r\nSec-WebSocket-Extensions: x-reverse\r\n" in response_wire
    pair.client.receive_data(response_wire)
    [accepted] = pair.client.events()
    assert isinstance(accepted, Accepted)
    assert accepted.extensions == ("x-reverse",)
    assert [e.name for e in pair.client.extensions] == ["x-reverse"]
    assert [e.name for e in pair.server.extensions] == ["x-reverse"]


def test_negotiated_extension_sets_rsv1_and_transforms_payloads() -> None:
    pair = reverse_pair()
    pair.handshake()
    pair.client.send_text("Hello")
    wire = pair.client.data_to_send()
    [frame] = frames_of(wire)
    assert (frame.rsv1, frame.rsv2, frame.rsv3) == (True, False, False)
    assert frame.payload == b"olleH"
    pair.server.receive_data(wire)
    assert pair.server.events() == [TextMessage("Hello")]

    pair.server.send_binary(b"\x01\x02\x03")
    wire = pair.server.data_to_send()
    [frame] = frames_of(wire)
    assert frame.rsv1 and frame.payload == b"\x03\x02\x01"
    assert feed(pair.client, [wire]) == [BinaryMessage(b"\x01\x02\x03")]


def test_negotiated_extension_with_fragments() -> None:
    pair = reverse_pair()
    pair.handshake()
    pair.client.send_text("Hello, world", fragment_size=5)
    wire = pair.client.data_to_send()
    frames = frames_of(wire)
    assert [f.rsv1 for f in frames] == [True, False, False]  # RSV1 on the first frame only
    assert b"".join(f.payload for f in frames) == b"dlrow ,olleH"
    pair.server.receive_data(wire)
    assert pair.server.events() == [TextMessage("Hello, world")]


def test_rsv1_is_accepted_only_once_negotiated() -> None:
    pair = reverse_pair()
    pair.handshake()
    pair.client.data_to_send()
    server = pair.server
    wire = masked(0x1, b"olleH", rsv1=True) + masked(0x1, b"plain")
    assert feed(server, [wire]) == [TextMessage("Hello"), TextMessage("plain")]
    # The extension owns RSV1 only: RSV2 still fails, and so does RSV1 on a control frame.
    events = feed(server, [masked(0x1, b"x", rsv2=True)])
    assert_fails(server, events, CloseCode.PROTOCOL_ERROR, Violation.RSV_WITHOUT_EXTENSION)

    pair = reverse_pair()
    pair.handshake()
    events = feed(pair.server, [masked(0x9, b"x", rsv1=True)])
    assert_fails(pair.server, events, CloseCode.PROTOCOL_ERROR, Violation.RSV_ON_CONTROL_FRAME)


def test_server_without_the_extension_declines_it() -> None:
    pair = ConnectionPair(client_config=Config(extensions=(Reverse,)))
    [request] = pair.to_server()
    assert isinstance(request, Request)
    assert request.extensions == ("x-reverse",)
    pair.server.accept()
    response_wire = pair.server.data_to_send()
    assert b"Sec-WebSocket-Extensions" not in response_wire
    pair.client.receive_data(response_wire)
    [accepted] = pair.client.events()
    assert isinstance(accepted, Accepted)
    assert accepted.extensions == ()
    pair.client.send_text("Hello")
    wire = pair.client.data_to_send()
    [frame] = frames_of(wire)
    assert not frame.rsv1 and frame.payload == b"Hello"
    assert feed(pair.server, [wire]) == [TextMessage("Hello")]
    events = feed(pair.server, [masked(0x1, b"olleH", rsv1=True)])
    assert_fails(pair.server, events, CloseCode.PROTOCOL_ERROR, Violation.RSV_WITHOUT_EXTENSION)


def test_server_declines_an_offer_it_cannot_take() -> None:
    server = Connection(Role.SERVER, config=Config(extensions=(Reverse,)))
    wire = RFC_REQUEST.replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x-reverse; speed=9\r\n\r\n"
    )
    server.receive_data(wire)
    server.events()
    server.accept()
    assert b"Sec-WebSocket-Extensions" not in server.data_to_send()
    assert server.extensions == []


def test_server_fails_a_malformed_offer() -> None:
    server = Connection(Role.SERVER, config=Config(extensions=(Reverse,)))
    wire = RFC_REQUEST.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x-reverse; =\r\n\r\n")
    server.receive_data(wire)
    server.events()
    server.accept()
    [event] = server.events()
    assert isinstance(event, HandshakeFailed) and event.status == 400
    assert server.data_to_send().startswith(b"HTTP/1.1 400 ")
    assert server.state is ConnectionState.CLOSED


RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
)


@pytest.mark.parametrize(
    "extensions",
    [
        pytest.param(b"x-reverse; speed=9", id="parameter-the-client-refuses"),
        pytest.param(b"x-reverse, x-reverse", id="accepted-twice"),
        pytest.param(b"x-other", id="not-offered"),
        pytest.param(b'x-reverse; "', id="malformed"),
    ],
)
def test_client_fails_a_bad_extension_answer(extensions: bytes) -> None:
    client = Connection(Role.CLIENT, config=Config(extensions=(Reverse,)), rng=rfc_rng)
    client.connect("server.example.com", "/chat")
    client.data_to_send()
    wire = RESPONSE + b"Sec-WebSocket-Extensions: " + extensions + b"\r\n\r\n"
    [event] = feed(client, [wire])
    assert isinstance(event, HandshakeFailed)
    assert client.state is ConnectionState.CLOSED


# --- the header syntax (RFC 6455 §9.1) ----------------------------------------------------


def test_parse_extensions() -> None:
    value = 'permessage-deflate; client_max_window_bits, x-foo; a=1; b="2", x-bar'
    assert parse_extensions(value) == [
        ("permessage-deflate", (("client_max_window_bits", None),)),
        ("x-foo", (("a", "1"), ("b", "2"))),
        ("x-bar", ()),
    ]
    assert parse_extensions("") == []


@pytest.mark.parametrize(
    "value", ["x foo", "x-foo; a b", "x-foo; a=", 'x-foo; a="1', "x-foo; a=1 2", "; a"]
)
def test_parse_extensions_rejects_bad_syntax(value: str) -> None:
    with pytest.raises(HandshakeError):
        parse_extensions(value)


def test_format_extension_inverts_parse() -> None:
    params = (("server_no_context_takeover", None), ("client_max_window_bits", "10"))
    text = format_extension("permessage-deflate", params)
    assert text == "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
    assert parse_extensions(text) == [("permessage-deflate", params)]
