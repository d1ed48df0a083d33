"""The shared HTTP layer: its head reader, reason phrases, response builder and error."""

from __future__ import annotations

import pytest

from simulator.errors import WirelabError
from simulator.http import (
    MAX_HEAD,
    MAX_HEADERS,
    HttpError,
    build_error_response,
    build_response,
    read_head,
    reason,
)
from simulator.ws.errors import HandshakeError, ProtocolError
from simulator.ws.handshake import check_request
from simulator.ws.handshake import read_head as engine_read_head


def test_a_head_is_read_up_to_the_empty_line() -> None:
    wire = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: x, y\r\nAccept: z\r\n\r\nbody"
    parsed = read_head(wire)
    assert parsed is not None
    head, used = parsed
    assert head.start == ("GET", "/", "HTTP/1.1")
    assert head.get("host") == "a"
    assert head.tokens("Accept") == ["x", "y", "z"]
    assert wire[used:] == b"body"
    assert read_head(wire[:20]) is None  # not complete yet


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: " + b"a" * MAX_HEAD, 431),
        (b"GET / HTTP/1.1\r\n" + b"X: a\r\n" * (MAX_HEADERS + 1) + b"\r\n", 431),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: \xe9\r\n\r\n", 400),
    ],
)
def test_a_bad_head_is_an_http_error_with_the_status_a_server_answers(
    wire: bytes, status: int
) -> None:
    with pytest.raises(HttpError) as caught:
        read_head(wire)
    assert caught.value.status == status
    # The engine reads heads with the same parser, and fails with its own error.
    with pytest.raises(HandshakeError) as engine:
        engine_read_head(wire)
    assert (engine.value.status, engine.value.reason) == (status, caught.value.reason)


def test_a_handshake_error_is_an_http_error_and_a_protocol_error() -> None:
    error = HandshakeError("no", status=426, headers=(("Upgrade", "websocket"),))
    assert isinstance(error, HttpError)
    assert isinstance(error, ProtocolError)
    assert isinstance(error, WirelabError)
    assert (error.reason, error.status, error.headers) == ("no", 426, (("Upgrade", "websocket"),))
    assert issubclass(HttpError, WirelabError)


def test_a_repeated_field_fails_the_engine_s_checks_with_its_own_error() -> None:
    parsed = read_head(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert parsed is not None
    with pytest.raises(HttpError):
        parsed[0].get("Host")
    with pytest.raises(HandshakeError) as caught:
        check_request(parsed[0])
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (200, "OK"),
        (413, "Content Too Large"),
        (431, "Request Header Fields Too Large"),
        (503, "Service Unavailable"),
        # A code without a phrase here is named by its class (RFC 9110 §15).
        (418, "Client Error"),
        (599, "Server Error"),
    ],
)
def test_reason_phrases_are_rfc_9110_s(status: int, phrase: str) -> None:
    assert reason(status) == phrase


def test_a_response_is_its_status_line_the_fields_as_given_and_the_body() -> None:
    wire = build_response(404, [("Content-Length", "3"), ("X-A", "b")], b"abc")
    assert wire == b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc"
    assert build_response(200, [("Content-Length", "3")], b"abc", head_only=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
    )


def test_an_error_response_with_upgrade_lists_it_in_connection() -> None:
    plain = build_error_response(400, "bad")
    assert plain == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 4\r\nConnection: close\r\n\r\nbad\n"
    )
    upgrade = build_error_response(426, "no", (("Upgrade", "websocket"),))
    assert upgrade.startswith(b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n")
    assert b"\r\nConnection: Upgrade, close\r\n\r\n" in upgrade  # RFC 9110 §7.8
