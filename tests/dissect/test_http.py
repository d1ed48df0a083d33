"""HTTP/1.1 messages and the WebSocket opening handshake (RFC 6455 §1.2-§1.3, §4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.http import dissect_http, http_dissection, looks_like_http
from tests.dissect.helpers import FAST, check_tree, field, names_at

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# RFC 6455 §1.2, the client's and the server's handshake.
REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)


def http(data: bytes, key: str | None = None) -> Dissection:
    d = http_dissection(data, title="Message", key=key)
    check_tree(d)
    return d


def header(d: Dissection, name: str) -> Field:
    return next(f for f in d.find_all("http.header") if f.label == name)


def test_request_line() -> None:
    d = http(REQUEST)
    assert d.summary == "GET /chat HTTP/1.1" and d.protocol == "HTTP"
    assert d.problems == ()
    line = field(d, "http.request_line")
    assert (line.start, line.end, line.value) == (0, 20, "GET /chat HTTP/1.1")
    spans = {n: (field(d, n).start, field(d, n).end, field(d, n).value)
             for n in ("http.request.method", "http.request.target",
                       "http.request.version")}  # fmt: skip
    assert spans == {
        "http.request.method": (0, 3, "GET"),
        "http.request.target": (4, 9, "/chat"),
        "http.request.version": (10, 18, "HTTP/1.1"),
    }
    assert "RFC 6455" in field(d, "http.request.method").explanation


def test_each_header_line_is_a_child() -> None:
    d = http(REQUEST)
    headers = d.find_all("http.header")
    assert [h.label for h in headers] == [
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Origin",
        "Sec-WebSocket-Protocol", "Sec-WebSocket-Version",
    ]  # fmt: skip
    host = headers[0]
    assert (host.start, host.end, host.value) == (20, 46, "server.example.com")
    name, value = host.children
    assert (name.name, name.start, name.end, name.value) == ("http.header.name", 20, 24, "Host")
    assert (value.name, value.start, value.end) == ("http.header.value", 26, 44)
    assert str(host) == "Host: server.example.com"
    assert len({h.explanation for h in headers}) == len(headers)  # each its own
    blank = field(d, "http.blank_line")
    assert (blank.start, blank.end) == (len(REQUEST) - 2, len(REQUEST))
    assert None not in names_at(d)


def test_key_shows_the_expected_accept() -> None:
    key = header(http(REQUEST), "Sec-WebSocket-Key")
    assert ACCEPT in key.display
    assert "not a secret" in key.explanation


def test_response_accept_matches_the_key() -> None:
    d = http(RESPONSE, key=KEY)
    assert d.summary == "HTTP/1.1 101 Switching Protocols"
    assert d.problems == ()
    code = field(d, "http.response.code")
    assert (code.start, code.end, code.value) == (9, 12, 101)
    assert "Switching Protocols" in code.explanation
    assert field(d, "http.response.phrase").value == "Switching Protocols"
    accept = header(d, "Sec-WebSocket-Accept")
    assert accept.display == f"{ACCEPT} (matches the key)"
    assert "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in accept.explanation


def test_response_accept_mismatch() -> None:
    other = "AQIDBAUGBwgJCgsMDQ4PEA=="
    accept = header(http(RESPONSE, key=other), "Sec-WebSocket-Accept")
    assert accept.problem is not None and accept.problem.startswith("does not match the key")


def test_frames_after_a_101_are_not_body() -> None:
    d = http(RESPONSE + b"\x81\x02hi")
    assert field(d, "http").end == len(RESPONSE)
    assert d.find("http.body") is None
    rest = field(d, "data")
    assert (rest.start, rest.end) == (len(RESPONSE), len(RESPONSE) + 4)


@pytest.mark.parametrize("status", [101, 200, 400, 401, 403, 404, 426])
def test_status_codes_are_explained(status: int) -> None:
    d = http(f"HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n".encode())
    explanation = field(d, "http.response.code").explanation
    assert len(explanation) > 30 and explanation != field(d, "http.response.phrase").explanation


def test_invalid_handshake_is_reported() -> None:
    request = REQUEST.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8")
    d = http(request)
    assert any("426" in p for p in d.problems)
    assert header(d, "Sec-WebSocket-Version").problem == "the only version is 13"
    no_key = http(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
    assert any("400" in p for p in no_key.problems)


def test_101_without_accept() -> None:
    d = http(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert any("Connection: Upgrade" in p for p in d.problems)
    assert any("Sec-WebSocket-Accept" in p for p in d.problems)


def test_body_by_content_length() -> None:
    d = http(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope\r\nEXTRA")
    body = field(d, "http.body")
    assert (body.value, body.display) == (b"nope\r\n", repr("nope\r\n"))
    assert field(d, "data").value == b"EXTRA"
    short = http(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert field(short, "http.body").problem == "incomplete: 3 of 10 bytes"


def test_chunked_body() -> None:
    d = http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    body = field(d, "http.body")
    assert body.label == "Body, chunked (5 bytes of data)"
    chunks = d.find_all("http.chunk")
    assert [(c.start, c.end) for c in chunks] == [(47, 57), (57, 62)]
    assert field(d, "http.chunk.data").value == b"hello"
    assert d.problems == ()


def test_incomplete_and_malformed_heads() -> None:
    d = http(b"GET /chat HTTP/1.1\r\nHost: exa")
    assert any("incomplete" in p for p in d.problems)
    d = http(b"GET / HTTP/1.1\r\nNoColonHere\r\n folded\r\n\r\n")
    problems = " ".join(d.problems)
    assert "no colon" in problems and "obsolete line folding" in problems
    d = http(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
    assert "whitespace before the colon" in " ".join(d.problems)


def test_bare_lf_lines() -> None:
    d = http(b"GET / HTTP/1.1\nHost: x\n\n")
    assert field(d, "http.header").value == "x"
    assert field(d, "http.blank_line").display == "LF"


def test_offset_and_buffer() -> None:
    top = dissect_http(REQUEST, buffer=3, offset=100)
    assert (top.start, top.end, top.buffer) == (100, 100 + len(REQUEST), 3)
    assert all(f.buffer == 3 and f.start >= 100 for _, f in top.walk())


def test_looks_like_http() -> None:
    assert looks_like_http(REQUEST) and looks_like_http(RESPONSE)
    assert looks_like_http(b"POST /x")  # no line end yet: the start is enough
    assert not looks_like_http(b"\x81\x85\x37\xfa")
    assert not looks_like_http(b"GET something that is not HTTP\r\n")
    assert not looks_like_http(b"")


@given(st.binary(max_size=300))
@FAST
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    http(data)
    http(b"HTTP/1.1 200 OK\r\n" + data)
    http(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + data)
