"""The display-filter language (simulator.dissect.filters): what compiles, where errors point,
what matches."""

from __future__ import annotations

import pytest

from simulator.dissect import Buffer, Dissection, Field
from simulator.dissect.filters import FilterError, compile_filter, explain_error

FRAME = bytes(20) + bytes(20) + b"\x81\x85" + bytes(4) + b"hello"


def ws_over_tcp(*, opcode: int = 1, src: str = "127.0.0.1", dport: int = 8765) -> Dissection:
    """IP, TCP and a WebSocket frame: enough fields for every kind of test."""
    ip = Field("ip", "Internet Protocol", 0, 20, children=(
        Field("ip.ttl", "Time to live", 8, 9, 64, "64"),
        Field("ip.src", "Source", 12, 16, src, src),
        Field("ip.dst", "Destination", 16, 20, "10.0.0.2", "10.0.0.2"),
    ))  # fmt: skip
    tcp = Field("tcp", "Transmission Control Protocol", 20, 40, children=(
        Field("tcp.srcport", "Source port", 20, 22, 50312, "50312"),
        Field("tcp.dstport", "Destination port", 22, 24, dport, str(dport)),
        Field("tcp.flags.syn", "SYN", 33, 34, False, "not set", bits=(270, 271)),
    ))  # fmt: skip
    names = {1: "text", 2: "binary", 8: "close"}
    ws = Field("ws", "WebSocket", 40, 51, children=(
        Field("ws.opcode", "Opcode", 40, 41, opcode, f"0x{opcode:x} ({names[opcode]})",
              bits=(324, 328)),
        Field("ws.masking_key", "Masking key", 42, 46, bytes(4), "00 00 00 00"),
        Field("ws.payload", "Payload", 46, 51),
        Field("ws.text", "Text", 46, 51, "hello", "'hello'"),
    ))  # fmt: skip
    return Dissection("WebSocket TEXT", "WebSocket", (ip, tcp, ws), (Buffer("Frame", FRAME),))


def http() -> Dissection:
    top = Field(
        "http", "HTTP", 0, 5, children=(Field("http.request.method", "Method", 0, 3, "GET"),)
    )
    return Dissection("GET /", "HTTP", (top,), (Buffer("Frame", b"GET /"),))


def matches(text: str, dissection: Dissection | None = None) -> bool:
    return compile_filter(text)(dissection if dissection is not None else ws_over_tcp())


# --- what matches -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ws",
        "websocket",
        "WS",
        "tcp",
        "ip",
        "tcp.flags.syn",
        "ws.opcode == 1",
        "ws.opcode eq 0x1",
        "ws.opcode == text",
        "ws.opcode != 2",
        "ws.opcode >= 1 && ws.opcode < 2",
        "ip.ttl > 63",
        "ip.ttl <= 64",
        "tcp.port == 8765",
        "tcp.port == 50312",
        "ip.addr == 127.0.0.1",
        "ip.addr == 10.0.0.2",
        "ip.addr == 127.0.0.0/8",
        "ip.src == 127.0.0.1",
        "ip.addr != 192.168.1.1",
        "tcp.flags.syn == false",
        "tcp.flags.syn == 0",
        'ws.text == "hello"',
        'ws.text contains "ell"',
        'ws contains "hello"',
        "ws.payload contains 68:65:6c",
        "ws.masking_key == 00:00:00:00",
        "websocket.opcode == text",
        "not http",
        "!udp",
        "http or ws",
        "(http or ws) and not (udp or tcp.port == 80)",
        "ws and tcp and ip",
        "tcp.port == 8765 and ws.opcode == text",
    ],
)
def test_matches(text: str) -> None:
    assert matches(text), text


@pytest.mark.parametrize(
    "text",
    [
        "http",
        "udp",
        "ws.opcode == 2",
        "ws.opcode == binary",
        "ws.opcode != 1",
        "ws.opcode > 1",
        "tcp.port == 80",
        "tcp.port != 8765",  # one of the ports is 8765: != means "none of them is"
        "ip.addr == 192.168.1.1",
        "ip.addr == 192.168.0.0/16",
        "ip.addr == ::1",
        'ws.text == "hell"',
        'ws contains "bye"',
        "tcp.flags.syn == true",
        "udp.port != 53",  # no such field: != needs the field to be there
        "not ws",
        "ws and http",
    ],
)
def test_does_not_match(text: str) -> None:
    assert not matches(text), text


def test_protocol_name_matches_the_dissection_protocol_or_a_field_prefix() -> None:
    assert matches("http", http())
    assert matches("http.request.method == GET", http())
    assert matches("http.request.method contains E", http())
    assert not matches("ws", http())


def test_empty_filter_matches_everything() -> None:
    blank = compile_filter("   ")
    assert blank.everything
    assert blank(http()) and blank(ws_over_tcp())
    assert not compile_filter("ws").everything


def test_precedence_and_binds_tighter_than_or() -> None:
    # http or (ws and udp): true because of... nothing; (http or ws) and udp: false either way.
    assert not matches("http or ws and udp")
    assert matches("ws or http and udp")
    assert not matches("(ws or http) and udp")


def test_not_binds_tighter_than_and() -> None:
    assert matches("not http and ws")
    assert not matches("not (http or ws)")


def test_string_escapes() -> None:
    d = Dissection("", "HTTP", (Field("http.request.target", "X", 0, 1, 'a"b\\c\n'),), ())
    assert matches(r'http.request.target == "a\"b\\c\n"', d)
    assert matches(r'http.request.target contains "\x22"', d)


def test_field_without_value_compares_its_bytes() -> None:
    assert matches("ws.payload == 68:65:6c:6c:6f")


# --- errors and where they point --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("ws ==", 6, "expected a value after '=='"),
        ("ws.opcode == ", 14, "expected a value"),
        ("(ws", 1, "never closed"),
        ("ws and (tcp or udp", 8, "never closed"),
        ("ws)", 3, "no matching '('"),
        ("tpc.port == 1", 1, "unknown protocol 'tpc'"),
        ("ws.opcode < text", 13, "compares numbers"),
        ("ip.ttl > true", 10, "compares numbers"),
        ('"abc', 1, "no closing"),
        ('ws.text == "abc', 12, "no closing"),
        ("ws @ 1", 4, "unexpected character '@'"),
        ("ws udp", 4, "expected 'and', 'or' or the end"),
        ("()", 2, "inside '( )'"),
        ("and", 1, "expected a protocol or field name"),
        ("ws and", 7, "after 'and'"),
        ("ws and or tcp", 8, "not 'or'"),
        ("ws contains 1", 13, "contains needs text"),
        ("ip.addr == 10.0.0.0/99", 12, "address range"),
        ("1tcp", 1, "not a protocol or field name"),
        ("ws.opcode == == 1", 14, "expected a value"),
        (r'ws.text == "a\qb"', 14, "unknown escape"),
        (r'ws.text == "\x4"', 13, r"\x needs two hex digits"),
        ("not", 4, "after 'not'"),
        ("ws.nonexistent", 1, "no field is called 'ws.nonexistent'"),
        ("tcp.port == 80 or tcp.flgs.syn", 19, "did you mean tcp.flags.syn"),
    ],
)
def test_errors_name_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    error = caught.value
    assert error.column == column, (text, str(error))
    assert error.offset == column - 1
    assert words in error.message
    assert str(error).startswith(f"column {column}: ")


def test_explain_error_puts_a_caret_under_the_problem() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("ws and (tcp")
    assert list(explain_error("ws and (tcp", caught.value)) == [
        "ws and (tcp",
        "       ^ this '(' is never closed",
    ]


def test_known_protocols_can_be_extended() -> None:
    with pytest.raises(FilterError):
        compile_filter("tls")
    assert compile_filter("tls", protocols={"tls"})(http()) is False
