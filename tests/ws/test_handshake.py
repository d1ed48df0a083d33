"""The opening handshake (RFC 6455 §4): request format, server checks, client checks."""

from __future__ import annotations

import base64
import random

import pytest

from simulator.ws import (
    Accepted,
    Config,
    Connection,
    ConnectionState,
    HandshakeFailed,
    Ping,
    Rejected,
    Request,
    Role,
    TextMessage,
    UsageError,
    accept_key,
    accept_steps,
)
from simulator.ws.handshake import MAX_HEAD
from tests.ws.helpers import (
    RFC_REQUEST,
    RFC_RESPONSE,
    ConnectionPair,
    byte_at_a_time,
    feed,
    masked,
    rfc_rng,
    seeded,
)

HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")


def head_lines(wire: bytes) -> list[str]:
    head, sep, body = wire.partition(b"\r\n\r\n")
    assert sep and body == b"", "one head, nothing after it"
    return head.decode("ascii").split("\r\n")


def header_map(lines: list[str]) -> dict[str, str]:
    fields = [line.split(": ", 1) for line in lines[1:]]
    names = [name.lower() for name, _ in fields]
    assert len(names) == len(set(names)), "no header twice"
    return {name.lower(): value for name, value in fields}


# --- Sec-WebSocket-Accept ------------------------------------------------------------


def test_accept_key_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_accept_steps_rfc_example() -> None:
    steps = accept_steps("dGhlIHNhbXBsZSBub25jZQ==")
    assert steps.concatenated == "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    # RFC 6455 §1.3 lists the SHA-1 digest byte by byte.
    assert steps.sha1 == bytes.fromhex(
        "b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea"
    )
    assert steps.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


# --- the client's request --------------------------------------------------------------


def test_client_request_is_the_rfc_example() -> None:
    client = Connection(Role.CLIENT, rng=rfc_rng)
    client.connect("server.example.com", "/chat")
    assert client.data_to_send() == RFC_REQUEST
    assert client.state is ConnectionState.CONNECTING


def test_client_key_is_16_random_bytes_from_the_injected_source() -> None:
    client = Connection(Role.CLIENT, rng=seeded(7))
    client.connect("example.com")
    lines = head_lines(client.data_to_send())
    assert lines[0] == "GET / HTTP/1.1"
    headers = header_map(lines)
    assert base64.b64decode(headers["sec-websocket-key"], validate=True) == (
        random.Random(7).randbytes(16)
    )
    assert headers == {
        "host": "example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": headers["sec-websocket-key"],
        "sec-websocket-version": "13",
    }


def test_client_keys_differ_between_connections() -> None:
    rng = seeded(1)
    keys = set()
    for _ in range(3):
        client = Connection(Role.CLIENT, rng=rng)
        client.connect("example.com")
        keys.add(header_map(head_lines(client.data_to_send()))["sec-websocket-key"])
    assert len(keys) == 3


def test_client_request_with_options() -> None:
    config = Config(subprotocols=("chat", "superchat"))
    client = Connection(Role.CLIENT, config=config, rng=rfc_rng)
    client.connect(
        "server.example.com:8080",
        "/chat?room=1",
        origin="http://example.com",
        extra_headers=(("User-Agent", "wirelab-test"),),
    )
    lines = head_lines(client.data_to_send())
    assert lines[0] == "GET /chat?room=1 HTTP/1.1"
    headers = header_map(lines)
    assert headers["host"] == "server.example.com:8080"
    assert headers["origin"] == "http://example.com"
    assert headers["sec-websocket-protocol"] == "chat, superchat"
    assert headers["user-agent"] == "wirelab-test"
    assert "sec-websocket-extensions" not in headers


def test_connect_twice_is_a_usage_error() -> None:
    client = Connection(Role.CLIENT, rng=rfc_rng)
    client.connect("example.com")
    with pytest.raises(UsageError):
        client.connect("example.com")
    with pytest.raises(UsageError):
        Connection(Role.SERVER).connect("example.com")


# --- the server's checks ---------------------------------------------------------------


def request(
    *,
    start: str = "GET /chat HTTP/1.1",
    drop: tuple[str, ...] = (),
    replace: dict[str, str] | None = None,
    add: tuple[str, ...] = (),
) -> bytes:
    """The RFC's sample request, edited."""
    fields = {
        "Host": "server.example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    fields.update(replace or {})
    lines = [start, *(f"{k}: {v}" for k, v in fields.items() if k not in drop), *add]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_server_accepts_the_rfc_request() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(RFC_REQUEST)
    [event] = server.events()
    assert isinstance(event, Request)
    assert (event.path, event.host) == ("/chat", "server.example.com")
    assert (event.subprotocols, event.extensions, event.origin) == ((), (), None)
    assert ("Sec-WebSocket-Version", "13") in event.headers
    assert server.data_to_send() == b"", "nothing is sent before accept()"
    server.accept()
    assert server.data_to_send() == RFC_RESPONSE
    assert server.state is ConnectionState.OPEN


def test_server_accepts_header_names_in_any_case_and_token_lists() -> None:
    wire = request(
        replace={"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"},
        add=("sec-websocket-protocol: a, b", "Sec-WebSocket-Protocol: c"),
    ).replace(b"Sec-WebSocket-Key", b"sec-websocket-key")
    server = Connection(Role.SERVER)
    [event] = feed(server, [wire])
    assert isinstance(event, Request)
    assert event.subprotocols == ("a", "b", "c")


BAD_REQUESTS = [
    pytest.param(b"hello\r\n\r\n", 400, id="not-http"),
    pytest.param(request(start="GET /chat"), 400, id="short-start-line"),
    pytest.param(request(add=("no colon here",)), 400, id="header-without-colon"),
    pytest.param(request(add=("Bad Name: x",)), 400, id="space-in-header-name"),
    pytest.param(request(add=("X-Ctl: a\x01b",)), 400, id="control-character"),
    pytest.param(request(add=("X-Name: caf\xe9",)), 400, id="non-ascii"),
    pytest.param(request(start="POST /chat HTTP/1.1"), 400, id="post"),
    pytest.param(request(start="GET /chat HTTP/1.0"), 400, id="http-1.0"),
    pytest.param(request(start="GET chat HTTP/1.1"), 400, id="target-not-a-path"),
    pytest.param(request(drop=("Host",)), 400, id="missing-host"),
    pytest.param(request(add=("Host: other.example.com",)), 400, id="two-hosts"),
    pytest.param(request(add=("  folded-continuation",)), 400, id="obs-fold"),
    pytest.param(request(drop=("Sec-WebSocket-Key",)), 400, id="missing-key"),
    pytest.param(
        request(replace={"Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="}), 400, id="key-of-10-bytes"
    ),
    pytest.param(
        request(replace={"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ!!"}), 400, id="key-not-base64"
    ),
    pytest.param(
        request(replace={"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ"}), 400, id="key-unpadded"
    ),
    pytest.param(request(add=("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",)), 400, id="two-keys"),
    pytest.param(request(drop=("Sec-WebSocket-Version",)), 400, id="missing-version"),
    pytest.param(request(drop=("Upgrade",)), 426, id="missing-upgrade"),
    pytest.param(request(replace={"Upgrade": "h2c"}), 426, id="upgrade-to-something-else"),
    pytest.param(request(drop=("Connection",)), 426, id="missing-connection"),
    pytest.param(request(replace={"Sec-WebSocket-Version": "8"}), 426, id="version-8"),
    pytest.param(request(add=("Sec-WebSocket-Version: 8",)), 426, id="versions-13-and-8"),
]


@pytest.mark.parametrize(("wire", "status"), BAD_REQUESTS)
def test_server_refuses_a_bad_request(wire: bytes, status: int) -> None:
    server = Connection(Role.SERVER)
    server.receive_data(wire)
    [event] = server.events()
    assert isinstance(event, HandshakeFailed)
    assert event.status == status
    assert server.state is ConnectionState.CLOSED
    response = server.data_to_send()
    assert response.startswith(f"HTTP/1.1 {status} ".encode())
    head, _, body = response.partition(b"\r\n\r\n")
    headers = header_map(head.decode("ascii").split("\r\n"))
    assert int(headers["content-length"]) == len(body) > 0
    if status == 426:
        # RFC 6455 §4.2.2 names the version we speak; RFC 9110 §15.5.22 and §7.8
        # want Upgrade, and "upgrade" listed in Connection.
        assert headers["sec-websocket-version"] == "13"
        assert headers["upgrade"] == "websocket"
        assert headers["connection"] == "Upgrade, close"
    else:
        assert headers["connection"] == "close"
    # Nothing more is read or sent.
    server.receive_data(RFC_REQUEST + MASKED_HELLO)
    assert server.events() == []
    assert server.data_to_send() == b""
    with pytest.raises(UsageError):
        server.accept()


def test_server_refuses_a_head_too_large() -> None:
    server = Connection(Role.SERVER)
    wire = request(add=(f"X-Padding: {'a' * MAX_HEAD}",))
    events = feed(server, [wire[i : i + 4096] for i in range(0, len(wire), 4096)])
    assert [type(e) for e in events] == [HandshakeFailed]
    assert isinstance(events[0], HandshakeFailed)
    assert events[0].status == 431
    assert server.data_to_send().startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    ("origin", "status"),
    [("https://good.example", None), ("https://evil.example", 403), (None, 403)],
)
def test_server_origin_allow_list(origin: str | None, status: int | None) -> None:
    server = Connection(Role.SERVER, config=Config(origins=("https://good.example",)))
    add = (f"Origin: {origin}",) if origin else ()
    [event] = feed(server, [request(add=add)])
    if status is None:
        assert isinstance(event, Request)
        assert event.origin == origin
    else:
        assert isinstance(event, HandshakeFailed)
        assert event.status == status
        assert server.data_to_send().startswith(b"HTTP/1.1 403 Forbidden\r\n")


def test_server_without_allow_list_reports_the_origin() -> None:
    [event] = feed(Connection(Role.SERVER), [request(add=("Origin: https://any.example",))])
    assert isinstance(event, Request)
    assert event.origin == "https://any.example"


@pytest.mark.parametrize(
    ("offered", "supported", "chosen"),
    [
        (("chat", "superchat"), ("superchat", "chat"), "superchat"),  # the server's preference
        (("chat", "superchat"), ("chat", "superchat"), "chat"),
        (("chat",), ("superchat", "chat"), "chat"),
        (("chat", "superchat"), ("mqtt",), None),  # no overlap: no subprotocol
        ((), ("chat",), None),
        (("chat",), (), None),
    ],
)
def test_subprotocol_selection(
    offered: tuple[str, ...], supported: tuple[str, ...], chosen: str | None
) -> None:
    pair = ConnectionPair(
        client_config=Config(subprotocols=offered), server_config=Config(subprotocols=supported)
    )
    [req] = pair.to_server()
    assert isinstance(req, Request)
    assert req.subprotocols == offered
    pair.server.accept()
    response = pair.server.data_to_send()
    headers = header_map(head_lines(response))
    assert headers.get("sec-websocket-protocol") == chosen
    pair.client.receive_data(response)
    [accepted] = pair.client.events()
    assert isinstance(accepted, Accepted)
    assert accepted.subprotocol == pair.client.subprotocol == pair.server.subprotocol == chosen


def test_server_may_pick_an_offered_subprotocol_explicitly() -> None:
    pair = ConnectionPair(
        client_config=Config(subprotocols=("chat", "superchat")),
        server_config=Config(subprotocols=("chat",)),
    )
    pair.to_server()
    with pytest.raises(UsageError):
        pair.server.accept(subprotocol="mqtt")  # not offered
    assert pair.server.state is ConnectionState.CONNECTING
    pair.server.accept(subprotocol="superchat")
    [accepted] = pair.to_client()
    assert isinstance(accepted, Accepted)
    assert accepted.subprotocol == "superchat"


def test_server_reject() -> None:
    pair = ConnectionPair()
    pair.to_server()
    pair.server.reject(404, "no such room")
    assert pair.server.state is ConnectionState.CLOSED
    [event] = pair.to_client()
    assert isinstance(event, Rejected)
    assert event == Rejected(404, "Not Found", event.headers, b"no such room\n")
    assert pair.client.state is ConnectionState.CLOSED


def test_accept_needs_a_request() -> None:
    server = Connection(Role.SERVER)
    with pytest.raises(UsageError):
        server.accept()
    server.receive_data(RFC_REQUEST[:-2])  # not complete yet
    assert server.events() == []
    with pytest.raises(UsageError):
        server.accept()
    with pytest.raises(UsageError):
        Connection(Role.CLIENT).accept()


def test_accept_twice_is_a_usage_error() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(RFC_REQUEST)
    server.accept()
    with pytest.raises(UsageError):
        server.accept()
    with pytest.raises(UsageError):
        server.reject(400, "too late")


# --- the client's checks ---------------------------------------------------------------


def response(
    *,
    status: str = "101 Switching Protocols",
    drop: tuple[str, ...] = (),
    replace: dict[str, str] | None = None,
    add: tuple[str, ...] = (),
) -> bytes:
    fields = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    }
    fields.update(replace or {})
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in fields.items() if k not in drop), *add]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def connecting_client(config: Config | None = None) -> Connection:
    client = Connection(Role.CLIENT, config=config, rng=rfc_rng)
    client.connect("server.example.com", "/chat")
    client.data_to_send()
    return client


def test_client_accepts_the_rfc_response() -> None:
    client = connecting_client()
    [event] = feed(client, [RFC_RESPONSE])
    assert isinstance(event, Accepted)
    assert event == Accepted(None, (), event.headers)
    assert ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in event.headers
    assert client.state is ConnectionState.OPEN


def test_client_reports_a_refusal_with_its_body() -> None:
    body = b"Sec-WebSocket-Version: 8 is not supported\n"
    wire = response(
        status="426 Upgrade Required",
        drop=("Sec-WebSocket-Accept",),
        add=(f"Content-Length: {len(body)}", "Sec-WebSocket-Version: 13"),
    )
    client = connecting_client()
    # The body arrives later than the head: the event waits for it.
    assert feed(client, [wire, body[:10]]) == []
    [event] = feed(client, [body[10:]])
    assert isinstance(event, Rejected)
    assert (event.status, event.reason, event.body) == (426, "Upgrade Required", body)
    assert ("Sec-WebSocket-Version", "13") in event.headers
    assert client.state is ConnectionState.CLOSED
    assert client.data_to_send() == b""


def test_client_reports_a_refusal_without_body() -> None:
    client = connecting_client()
    [event] = feed(client, [b"HTTP/1.1 403 Forbidden\r\n\r\n"])
    assert event == Rejected(403, "Forbidden", (), b"")


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(
            response(replace={"Sec-WebSocket-Accept": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
            id="wrong-accept",
        ),
        pytest.param(response(drop=("Sec-WebSocket-Accept",)), id="missing-accept"),
        pytest.param(
            response(add=("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",)), id="two-accepts"
        ),
        pytest.param(response(drop=("Upgrade",)), id="missing-upgrade"),
        pytest.param(response(replace={"Upgrade": "h2c"}), id="wrong-upgrade"),
        pytest.param(response(drop=("Connection",)), id="missing-connection"),
        pytest.param(response(replace={"Connection": "close"}), id="wrong-connection"),
        pytest.param(response(add=("Sec-WebSocket-Protocol: chat",)), id="unoffered-subprotocol"),
        pytest.param(response(add=("Sec-WebSocket-Extensions: x-foo",)), id="unoffered-extension"),
        pytest.param(response(add=("Bad header",)), id="malformed-header"),
        pytest.param(response().replace(b"HTTP/1.1", b"HTTP/2.0"), id="http-2"),
    ],
)
def test_client_fails_an_invalid_101(wire: bytes) -> None:
    client = connecting_client()
    [event] = feed(client, [wire + HELLO])
    assert isinstance(event, HandshakeFailed)
    assert event.status == 0
    assert client.state is ConnectionState.CLOSED
    assert client.data_to_send() == b"", "a client sends no HTTP error"
    with pytest.raises(UsageError):
        client.send_text("still there?")


def test_client_fails_a_subprotocol_it_did_not_offer_among_several() -> None:
    client = connecting_client(Config(subprotocols=("chat", "superchat")))
    wire = response(add=("Sec-WebSocket-Protocol: mqtt",))
    [event] = feed(client, [wire])
    assert isinstance(event, HandshakeFailed)
    client = connecting_client(Config(subprotocols=("chat", "superchat")))
    [event] = feed(client, [response(add=("Sec-WebSocket-Protocol: chat, superchat",))])
    assert isinstance(event, HandshakeFailed), "the server picks one"
    client = connecting_client(Config(subprotocols=("chat", "superchat")))
    [event] = feed(client, [response(add=("Sec-WebSocket-Protocol: superchat",))])
    assert isinstance(event, Accepted)
    assert event == Accepted("superchat", (), event.headers)


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"HTTP/1.1 " + b"4" * 5000 + b" Bad\r\n\r\n", id="status-of-5000-digits"),
        pytest.param(b"HTTP/1.1 4x0 Bad\r\n\r\n", id="status-not-a-number"),
        pytest.param(b"HTTP/1.1 4000 Bad\r\n\r\n", id="status-of-4-digits"),
        pytest.param(b"foo bar baz\r\n\r\n", id="not-http"),
    ],
)
def test_client_fails_a_malformed_status_line(wire: bytes) -> None:
    client = connecting_client()
    client.receive_data(wire)  # must not raise
    [event] = client.events()
    assert isinstance(event, HandshakeFailed)
    assert "malformed status line" in event.reason
    assert client.state is ConnectionState.CLOSED


def test_client_reads_a_zero_padded_content_length() -> None:
    client = connecting_client()
    client.receive_data(b"HTTP/1.1 400 Bad\r\nContent-Length: 00\r\n\r\n")
    [event] = client.events()
    assert isinstance(event, Rejected)
    assert (event.status, event.body) == (400, b"")
    assert client.state is ConnectionState.CLOSED


def test_client_keeps_at_most_64_kib_of_an_absurdly_long_error_body() -> None:
    client = connecting_client()
    client.receive_data(b"HTTP/1.1 400 Bad\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n")
    assert client.events() == []  # the body is on its way
    client.receive_data(b"x" * 70_000)
    [event] = client.events()
    assert isinstance(event, Rejected)
    assert (event.status, event.body) == (400, b"x" * 65536)


# --- reads of any size -------------------------------------------------------------------


def test_request_one_byte_at_a_time() -> None:
    server = Connection(Role.SERVER)
    for i, byte in enumerate(byte_at_a_time(RFC_REQUEST)):
        server.receive_data(byte)
        events = server.events()
        if i < len(RFC_REQUEST) - 1:
            assert events == [], f"an event after byte {i}"
    assert [type(e) for e in events] == [Request]
    server.accept()
    assert server.data_to_send() == RFC_RESPONSE


def test_response_one_byte_at_a_time() -> None:
    client = connecting_client()
    for i, byte in enumerate(byte_at_a_time(RFC_RESPONSE)):
        client.receive_data(byte)
        events = client.events()
        if i < len(RFC_RESPONSE) - 1:
            assert events == [], f"an event after byte {i}"
    assert [type(e) for e in events] == [Accepted]


@pytest.mark.parametrize("one_byte_at_a_time", [False, True])
def test_frames_after_the_request_are_not_lost(one_byte_at_a_time: bool) -> None:
    wire = RFC_REQUEST + MASKED_HELLO + masked(0x9, b"?")
    server = Connection(Role.SERVER)
    chunks = byte_at_a_time(wire) if one_byte_at_a_time else [wire]
    [event] = feed(server, chunks)
    assert isinstance(event, Request)
    server.accept()
    assert server.events() == [TextMessage("Hello"), Ping(b"?")]
    assert server.data_to_send() == RFC_RESPONSE + bytes.fromhex("8a 01") + b"?"


@pytest.mark.parametrize("one_byte_at_a_time", [False, True])
def test_frames_after_the_response_are_not_lost(one_byte_at_a_time: bool) -> None:
    wire = RFC_RESPONSE + HELLO + bytes.fromhex("89 01") + b"?"
    client = connecting_client()
    chunks = byte_at_a_time(wire) if one_byte_at_a_time else [wire]
    events = feed(client, chunks)
    assert isinstance(events[0], Accepted)
    assert events == [Accepted(None, (), events[0].headers), TextMessage("Hello"), Ping(b"?")]
    # The pong is masked with the injected key.
    assert client.data_to_send() == bytes.fromhex("8a 81 37 fa 21 3d") + bytes([ord("?") ^ 0x37])


def test_pair_handshake_with_seeded_keys() -> None:
    pair = ConnectionPair(seed=3, origin="https://example.com")
    req, accepted = pair.handshake()
    assert isinstance(req, Request)
    assert req.origin == "https://example.com"
    assert isinstance(accepted, Accepted)
    key = dict(req.headers)["Sec-WebSocket-Key"]
    assert dict(accepted.headers)["Sec-WebSocket-Accept"] == accept_key(key)
