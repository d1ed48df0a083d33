"""The connection state machine (RFC 6455 §5-§8): every MUST, closing, pings, fragmentation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator.ws import (
    BinaryMessage,
    CloseCode,
    CloseReceived,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Opcode,
    Ping,
    Pong,
    Role,
    TextMessage,
    UsageError,
    Violation,
)
from simulator.ws.connection import max_fragments
from simulator.ws.frames import build_frame
from tests.must_cases import CASES, LIMIT, MustCase
from tests.ws.helpers import (
    KEY,
    RFC_REQUEST,
    ConnectionPair,
    assert_fails,
    byte_at_a_time,
    close_code_of,
    close_payload,
    feed,
    frames_of,
    masked,
    open_client,
    open_server,
    opened_pair,
    unmask_wire,
)

MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")


# --- one test per MUST ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_server_fails_must_violation(case: MustCase) -> None:
    server = open_server()
    events = feed(server, [case.wire])
    assert_fails(server, events, case.close_code, case.violation)
    # Whatever follows is ignored.
    assert feed(server, [MASKED_HELLO]) == []
    assert server.data_to_send() == b""


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_server_fails_must_violation_one_byte_at_a_time(case: MustCase) -> None:
    server = open_server()
    events = feed(server, byte_at_a_time(case.wire))
    assert_fails(server, events, case.close_code, case.violation)


CLIENT_CASES = [c for c in CASES if c.id != "unmasked-client-frame"]


@pytest.mark.parametrize("case", CLIENT_CASES, ids=[c.id for c in CLIENT_CASES])
def test_client_fails_must_violation(case: MustCase) -> None:
    # The same faults, sent by a server (unmasked, as a server must).
    client = open_client()
    events = feed(client, [unmask_wire(case.wire)])
    assert_fails(client, events, case.close_code, case.violation)


@pytest.mark.parametrize("wire", [MASKED_HELLO, masked(0x9, b"ping"), masked(0x8)])
def test_client_fails_a_masked_frame_from_the_server(wire: bytes) -> None:
    # RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
    client = open_client()
    events = feed(client, [wire])
    assert_fails(client, events, CloseCode.PROTOCOL_ERROR, Violation.MASKED_SERVER_FRAME)


def test_failure_close_frame_is_masked_by_a_client() -> None:
    client = open_client()
    client.receive_data(MASKED_HELLO)
    wire = client.data_to_send()
    assert wire[1] & 0x80 and wire[2:6] == KEY
    [frame] = frames_of(wire)
    assert close_code_of(frame) == 1002
    assert frame.payload[2:].decode() == "server frame is masked"


# --- size limits ------------------------------------------------------------------------


def test_message_over_limit_is_decided_from_the_header() -> None:
    server = open_server(Config(max_size=1000))
    events = feed(server, [bytes([0x82, 0xFE]) + (1001).to_bytes(2, "big") + KEY])
    assert_fails(server, events, CloseCode.MESSAGE_TOO_BIG, Violation.MESSAGE_TOO_BIG)


def test_message_at_the_limit_is_accepted() -> None:
    server = open_server(Config(max_size=1000))
    wire = masked(0x2, b"\x07" * 1000)
    assert feed(server, [wire[:8]]) == []  # the header alone: fine so far
    assert feed(server, [wire[8:]]) == [BinaryMessage(b"\x07" * 1000)]


def test_fragmented_message_over_limit_fails_at_the_header_of_the_excess() -> None:
    server = open_server(Config(max_size=1000))
    assert feed(server, [masked(0x1, b"a" * 600, fin=False)]) == []
    events = feed(server, [bytes([0x80, 0xFE]) + (401).to_bytes(2, "big") + KEY])
    assert_fails(server, events, CloseCode.MESSAGE_TOO_BIG, Violation.MESSAGE_TOO_BIG)


def test_fragmented_message_at_the_limit_is_accepted() -> None:
    server = open_server(Config(max_size=1000))
    wire = masked(0x1, b"a" * 600, fin=False) + masked(0x0, b"b" * 400)
    assert feed(server, [wire]) == [TextMessage("a" * 600 + "b" * 400)]


@pytest.mark.parametrize(("opcode", "piece"), [(0x2, b""), (0x2, b"ab"), (0x1, b""), (0x1, b"ab")])
def test_endless_fragments_end_with_1009(opcode: int, piece: bytes) -> None:
    """Seen: after a FIN=0 frame, endless empty continuation frames grew the server
    from 25 to 193 MB in a minute, never closed; 2-byte fragments cost 27 MB a
    connection. Every frame costs something: past max_fragments, 1009."""
    limit = 1 << 20
    server = open_server(Config(max_size=limit))
    most = max_fragments(limit)
    assert most == limit // 1024 + 64
    continuation = masked(0x0, piece, fin=False)
    assert feed(server, [masked(opcode, piece, fin=False) + continuation * (most - 1)]) == []
    events = feed(server, [continuation])
    assert_fails(server, events, CloseCode.MESSAGE_TOO_BIG, Violation.TOO_MANY_FRAGMENTS)


def test_a_message_in_as_many_fragments_as_allowed_arrives() -> None:
    server = open_server(Config(max_size=1000))
    most = max_fragments(1000)
    wire = masked(0x2, b"x", fin=False) + masked(0x0, b"", fin=False) * (most - 2)
    assert feed(server, [wire + masked(0x0, b"y")]) == [BinaryMessage(b"xy")]


def test_control_frames_do_not_count_towards_the_limit() -> None:
    server = open_server(Config(max_size=10))
    wire = masked(0x1, b"a" * 5, fin=False) + masked(0x9, b"p" * 100) + masked(0x0, b"b" * 5)
    assert feed(server, [wire]) == [Ping(b"p" * 100), TextMessage("aaaaabbbbb")]


@pytest.mark.parametrize("max_size", [0, 1, 10])
def test_custom_max_size(max_size: int) -> None:
    server = open_server(Config(max_size=max_size))
    assert feed(server, [masked(0x2, b"x" * max_size)]) == [BinaryMessage(b"x" * max_size)]
    events = feed(server, [masked(0x2, b"x" * (max_size + 1))])
    assert_fails(server, events, CloseCode.MESSAGE_TOO_BIG, Violation.MESSAGE_TOO_BIG)


def test_default_limit_and_no_limit() -> None:
    server = open_server()
    assert feed(server, [masked(0x2, bytes(LIMIT))]) == [BinaryMessage(bytes(LIMIT))]
    server = open_server(Config(max_size=None))
    assert feed(server, [masked(0x2, bytes(LIMIT + 1))]) == [BinaryMessage(bytes(LIMIT + 1))]


def test_client_enforces_its_limit_too() -> None:
    client = open_client(Config(max_size=4))
    events = feed(client, [b"\x81\x05Hello"])
    assert_fails(client, events, CloseCode.MESSAGE_TOO_BIG, Violation.MESSAGE_TOO_BIG)


# --- UTF-8 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "bad"),
    [
        pytest.param(b"caf", b"\xff", id="never-valid-byte"),
        pytest.param(b"caf\xc3", b"\x28", id="broken-sequence-across-fragments"),
        pytest.param(b"", b"\xc0\xaf", id="overlong"),
        pytest.param(b"\xce\xba", b"\xf4\x90\x80\x80", id="above-U+10FFFF"),
        pytest.param(b"a", b"\xed\xa0\x80", id="surrogate"),
        pytest.param(b"a", b"\xed\xa0", id="surrogate-prefix"),
        pytest.param(b"a", b"\xf4\x90", id="prefix-above-U+10FFFF"),
        pytest.param(b"a", b"\xe0\x80", id="overlong-prefix"),
    ],
)
def test_invalid_utf8_fails_before_the_final_fragment(first: bytes, bad: bytes) -> None:
    server = open_server()
    assert feed(server, [masked(0x1, first, fin=False)]) == []
    events = feed(server, [masked(0x0, bad, fin=False)])  # no FIN: more could follow
    assert_fails(server, events, CloseCode.INVALID_PAYLOAD, Violation.TEXT_NOT_UTF8)


@pytest.mark.parametrize("text", ["κόσμε", "€uro", "clef 𝄞", "aé€𝄞z"])
def test_valid_utf8_split_anywhere_across_fragments(text: str) -> None:
    data = text.encode()
    for cut in range(len(data) + 1):
        server = open_server()
        wire = masked(0x1, data[:cut], fin=False) + masked(0x0, data[cut:])
        assert feed(server, [wire]) == [TextMessage(text)], cut
    server = open_server()
    wire = b"".join(
        masked(0x1 if i == 0 else 0x0, data[i : i + 1], fin=i == len(data) - 1)
        for i in range(len(data))
    )
    assert feed(server, [wire]) == [TextMessage(text)]


def test_text_split_mid_codepoint_is_still_incomplete_at_the_end() -> None:
    server = open_server()
    events = feed(server, [masked(0x1, b"caf\xc3", fin=False) + masked(0x0, b"")])
    assert_fails(server, events, CloseCode.INVALID_PAYLOAD, Violation.TEXT_NOT_UTF8)


def test_binary_messages_are_not_utf8() -> None:
    server = open_server()
    wire = masked(0x2, b"\xff\xfe", fin=False) + masked(0x0, b"\xed\xa0")
    assert feed(server, [wire]) == [BinaryMessage(b"\xff\xfe\xed\xa0")]


# --- closing ----------------------------------------------------------------------------


def test_client_closes_with_code_and_reason() -> None:
    pair = opened_pair()
    pair.client.close(1000, "bye")
    assert pair.client.state is ConnectionState.CLOSING
    wire = pair.client.data_to_send()
    [frame] = frames_of(wire)
    assert frame.masked and frame.payload == close_payload(1000, b"bye")
    pair.server.receive_data(wire)
    assert pair.server.events() == [CloseReceived(1000, "bye")]
    assert pair.server.state is ConnectionState.CLOSED
    echo = pair.server.data_to_send()
    [frame] = frames_of(echo)
    assert not frame.masked
    assert close_code_of(frame) == 1000  # §5.5.1: echo the code
    pair.client.receive_data(echo)
    [event] = pair.client.events()
    assert isinstance(event, CloseReceived) and event.code == 1000
    state: ConnectionState = pair.client.state  # read afresh: mypy still holds CLOSING
    assert state is ConnectionState.CLOSED
    assert pair.client.data_to_send() == b"", "no second close frame"
    assert pair.client.close_sent == (1000, "bye")
    assert pair.server.close_received == (1000, "bye")


def test_server_closes_with_code_and_reason() -> None:
    pair = opened_pair()
    pair.server.close(4000, "done ✓")
    assert pair.server.state is ConnectionState.CLOSING
    assert pair.to_client() == [CloseReceived(4000, "done ✓")]
    assert pair.client.state is ConnectionState.CLOSED
    [event] = pair.to_server()
    assert isinstance(event, CloseReceived) and event.code == 4000
    state: ConnectionState = pair.server.state  # read afresh: mypy still holds CLOSING
    assert state is ConnectionState.CLOSED
    assert pair.to_client() == []


def test_close_without_code_reports_1005_and_echoes_an_empty_close() -> None:
    pair = opened_pair()
    pair.client.close(None)
    wire = pair.client.data_to_send()
    [frame] = frames_of(wire)
    assert (frame.opcode, frame.payload) == (Opcode.CLOSE, b"")
    pair.server.receive_data(wire)
    assert pair.server.events() == [CloseReceived(CloseCode.NO_STATUS_RCVD, "")]
    echo = pair.server.data_to_send()
    assert echo == b"\x88\x00", "1005 is never sent: the echo carries no code"
    pair.client.receive_data(echo)
    assert pair.client.events() == [CloseReceived(CloseCode.NO_STATUS_RCVD, "")]
    assert pair.client.state is pair.server.state is ConnectionState.CLOSED


def test_data_frames_after_a_close_frame_are_not_delivered() -> None:
    wire = masked(0x8, close_payload(1000)) + MASKED_HELLO + masked(0x9, b"late")
    for chunks in ([wire], byte_at_a_time(wire)):
        server = open_server()
        assert feed(server, chunks) == [CloseReceived(1000, "")]
        assert server.data_to_send() == b"\x88\x02\x03\xe8", "the echo only, no pong"
        assert feed(server, [MASKED_HELLO]) == []


def test_peer_may_still_send_data_after_we_sent_close() -> None:
    # §7.1.2: we sent close; until the peer's close arrives its data still counts.
    server = open_server()
    server.close(1001)
    assert server.data_to_send() == b"\x88\x02\x03\xe9"
    assert feed(server, [MASKED_HELLO]) == [TextMessage("Hello")]
    assert feed(server, [masked(0x8, close_payload(1001))]) == [CloseReceived(1001, "")]
    assert server.state is ConnectionState.CLOSED
    assert server.data_to_send() == b"", "no echo: our close was already sent"


def test_close_frame_in_the_middle_of_a_fragmented_message() -> None:
    server = open_server()
    wire = masked(0x1, b"Hel", fin=False) + masked(0x8, close_payload(1000)) + masked(0x0, b"lo")
    assert feed(server, [wire]) == [CloseReceived(1000, "")]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1005, ""),  # reserved for reporting
        (1006, ""),
        (999, ""),
        (5000, ""),
        (None, "a reason needs a code"),
        (1000, "x" * 124),  # 2 + 124 > 125
        (1000, "é" * 62),  # 124 bytes of UTF-8
    ],
)
def test_close_usage_errors(code: int | None, reason: str) -> None:
    server = open_server()
    with pytest.raises(UsageError):
        server.close(code, reason)
    assert server.state is ConnectionState.OPEN
    assert server.data_to_send() == b""


def test_close_reason_of_123_bytes_fits() -> None:
    server = open_server()
    server.close(1000, "é" * 61 + "x")
    [frame] = frames_of(server.data_to_send())
    assert len(frame.payload) == 125


def test_eof_without_close_is_abnormal() -> None:
    server = open_server()
    server.receive_eof()
    [event] = server.events()
    assert isinstance(event, ConnectionFailed) and event.code == CloseCode.ABNORMAL_CLOSURE
    assert server.state is ConnectionState.CLOSED
    assert server.data_to_send() == b"", "1006 is never sent"


def test_eof_after_the_close_handshake_is_normal() -> None:
    pair = opened_pair()
    pair.client.close()
    pair.to_server()
    pair.to_client()
    pair.client.receive_eof()
    pair.server.receive_eof()
    assert pair.client.events() == pair.server.events() == []


# --- ping and pong ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"hi", bytes(range(125))])
def test_ping_is_answered_with_a_pong_of_the_same_payload(payload: bytes) -> None:
    server = open_server()
    assert feed(server, [masked(0x9, payload)]) == [Ping(payload)]
    assert frames_of(server.data_to_send()) == [build_frame(Opcode.PONG, payload)]
    assert server.state is ConnectionState.OPEN


def test_unsolicited_pong_is_accepted() -> None:
    server = open_server()
    assert feed(server, [masked(0xA, b"heartbeat")]) == [Pong(b"heartbeat")]
    assert server.data_to_send() == b""
    assert server.state is ConnectionState.OPEN


def test_ping_pong_across_a_pair() -> None:
    pair = opened_pair()
    pair.client.ping(b"123")
    assert pair.to_server() == [Ping(b"123")]
    assert pair.to_client() == [Pong(b"123")]
    pair.server.pong(b"beat")  # one-way heartbeat
    assert pair.to_client() == [Pong(b"beat")]
    assert pair.to_server() == [], "nobody answers a pong"


def test_control_frames_interleaved_in_a_fragmented_message() -> None:
    wire = (
        masked(0x1, b"Hel", fin=False)
        + masked(0x9, b"1")
        + masked(0x0, b"l", fin=False)
        + masked(0xA, b"2")
        + masked(0x0, b"o")
    )
    for chunks in ([wire], byte_at_a_time(wire)):
        server = open_server()
        assert feed(server, chunks) == [Ping(b"1"), Pong(b"2"), TextMessage("Hello")]
        assert server.data_to_send() == b"\x8a\x011"


# --- sending ----------------------------------------------------------------------------


def test_send_text_in_fragments() -> None:
    server = open_server()
    server.send_text("Hello, world", fragment_size=5)
    assert frames_of(server.data_to_send()) == [
        build_frame(Opcode.TEXT, b"Hello", fin=False),
        build_frame(Opcode.CONTINUATION, b", wor", fin=False),
        build_frame(Opcode.CONTINUATION, b"ld"),
    ]
    server.send_binary(b"abcd", fragment_size=4)
    assert frames_of(server.data_to_send()) == [build_frame(Opcode.BINARY, b"abcd")]
    server.send_binary(b"", fragment_size=1)
    assert frames_of(server.data_to_send()) == [build_frame(Opcode.BINARY, b"")]


def test_fragments_may_split_a_codepoint_and_still_arrive_whole() -> None:
    pair = opened_pair()
    pair.client.send_text("€€", fragment_size=2)
    wire = pair.client.data_to_send()
    assert [len(f.payload) for f in frames_of(wire)] == [2, 2, 2]
    pair.server.receive_data(wire)
    assert pair.server.events() == [TextMessage("€€")]


def test_send_frame_by_hand() -> None:
    pair = opened_pair()
    server = pair.server
    server.send_frame(Opcode.TEXT, b"Hel", fin=False)
    server.send_frame(Opcode.PING, b"!")  # control frames may go in between
    server.send_frame(Opcode.CONTINUATION, b"l", fin=False)
    server.send_frame(Opcode.CONTINUATION, b"o")
    assert server.data_to_send() == (b"\x01\x03Hel" + b"\x89\x01!" + b"\x00\x01l" + b"\x80\x01o")
    server.send_frame(Opcode.TEXT, b"Hel", fin=False)
    server.send_frame(Opcode.CONTINUATION, b"lo")
    assert pair.to_client() == [TextMessage("Hello")]
    server.send_text("next")  # the fragmented message is finished
    assert pair.to_client() == [TextMessage("next")]


def test_send_frame_misuse() -> None:
    server = open_server()
    with pytest.raises(UsageError):
        server.send_frame(Opcode.CONTINUATION, b"lo")  # no message to continue
    with pytest.raises(UsageError):
        server.send_frame(Opcode.PING, b"p" * 126)
    with pytest.raises(UsageError):
        server.send_frame(Opcode.PONG, b"p", fin=False)
    with pytest.raises(UsageError):
        server.send_frame(Opcode.CLOSE)  # close() does that
    with pytest.raises((UsageError, ValueError)):
        server.send_frame(0x3)  # type: ignore[arg-type]  # a reserved opcode
    assert server.data_to_send() == b""
    server.send_frame(Opcode.BINARY, b"a", fin=False)
    with pytest.raises(UsageError):
        server.send_frame(Opcode.TEXT, b"b")  # a new message inside the open one
    with pytest.raises(UsageError):
        server.send_text("b")
    with pytest.raises(UsageError):
        server.send_binary(b"b")
    assert server.data_to_send() == b"\x02\x01a"
    server.send_frame(Opcode.CONTINUATION, b"b")
    assert server.data_to_send() == b"\x80\x01b"
    with pytest.raises(UsageError):
        server.send_frame(Opcode.CONTINUATION, b"c")  # that message is finished


def test_fragment_size_must_be_positive() -> None:
    server = open_server()
    with pytest.raises(UsageError):
        server.send_text("Hello", fragment_size=0)
    assert server.data_to_send() == b""


SENDERS = [
    pytest.param(lambda c: c.send_text("x"), id="send_text"),
    pytest.param(lambda c: c.send_binary(b"x"), id="send_binary"),
    pytest.param(lambda c: c.send_frame(Opcode.TEXT, b"x"), id="send_frame"),
    pytest.param(lambda c: c.ping(), id="ping"),
    pytest.param(lambda c: c.pong(), id="pong"),
    pytest.param(lambda c: c.close(), id="close"),
]


@pytest.mark.parametrize("send", SENDERS)
@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_sending_before_the_handshake_is_a_usage_error(
    send: Callable[[Connection], None], role: Role
) -> None:
    conn = Connection(role, rng=lambda n: bytes(n))
    if role is Role.CLIENT:
        conn.connect("example.com")
    else:
        conn.receive_data(RFC_REQUEST)  # a Request, not yet accepted
    conn.data_to_send()
    with pytest.raises(UsageError):
        send(conn)
    assert conn.data_to_send() == b""
    assert conn.state is ConnectionState.CONNECTING


@pytest.mark.parametrize("send", SENDERS)
def test_sending_after_close_is_a_usage_error(send: Callable[[Connection], None]) -> None:
    pair = opened_pair()
    pair.client.close()
    assert pair.client.state is ConnectionState.CLOSING
    with pytest.raises(UsageError):
        send(pair.client)
    pair.to_server()
    pair.to_client()
    state: ConnectionState = pair.client.state  # read afresh: mypy still holds CLOSING
    assert state is pair.server.state is ConnectionState.CLOSED
    for conn in (pair.client, pair.server):
        with pytest.raises(UsageError):
            send(conn)
        assert conn.data_to_send() == b""


@pytest.mark.parametrize("send", SENDERS)
def test_sending_after_a_failure_is_a_usage_error(send: Callable[[Connection], None]) -> None:
    server = open_server()
    server.receive_data(b"\x81\x00")  # unmasked: fails
    server.data_to_send()
    with pytest.raises(UsageError):
        send(server)
    assert server.data_to_send() == b""


# --- observing, reproducing -------------------------------------------------------------


def test_on_frame_sees_every_frame_with_its_wire_bytes() -> None:
    seen = []
    server = Connection(Role.SERVER, on_frame=lambda d, f: seen.append((d, f)))
    server.receive_data(RFC_REQUEST)
    server.accept()
    server.data_to_send()
    wire_in = MASKED_HELLO + masked(0x9, b"?")
    server.receive_data(wire_in)
    server.send_binary(bytes(300))
    wire_out = server.data_to_send()
    assert [d for d, _ in seen] == ["received", "received", "sent", "sent"]
    assert b"".join(f.raw for d, f in seen if d == "received") == wire_in
    assert b"".join(f.raw for d, f in seen if d == "sent") == wire_out
    assert seen[0][1] == build_frame(Opcode.TEXT, b"Hello", masking_key=KEY)


def test_client_on_frame_sees_its_masked_bytes() -> None:
    seen = []
    client = open_client()
    client.on_frame = lambda d, f: seen.append(f)
    client.send_text("Hello")
    assert [f.raw for f in seen] == [client.data_to_send()] == [MASKED_HELLO]


def script(pair: ConnectionPair) -> list[tuple[str, bytes]]:
    pair.handshake()
    pair.client.send_text("hello " * 50, fragment_size=64)
    pair.to_server()
    pair.server.send_binary(bytes(range(200)))
    pair.to_client()
    pair.client.ping(b"x")
    pair.to_server()
    pair.to_client()
    pair.client.close(1000, "done")
    pair.to_server()
    pair.to_client()
    return pair.wire


def test_same_seed_same_bytes() -> None:
    assert script(ConnectionPair(seed=42)) == script(ConnectionPair(seed=42))
    assert script(ConnectionPair(seed=42)) != script(ConnectionPair(seed=43))


def test_a_whole_conversation_through_the_pair() -> None:
    pair = opened_pair(seed=5)
    pair.client.send_text("hi")
    pair.client.send_binary(b"\x00\xff")
    assert pair.to_server([1]) == [TextMessage("hi"), BinaryMessage(b"\x00\xff")]
    pair.server.send_text("hello back", fragment_size=3)
    assert pair.to_client([2, 5]) == [TextMessage("hello back")]
    pair.server.close(1001, "restarting")
    assert pair.to_client() == [CloseReceived(1001, "restarting")]
    [event] = pair.to_server()
    assert isinstance(event, CloseReceived)
    assert (pair.client.state, pair.server.state) == (ConnectionState.CLOSED,) * 2


def test_events_read_as_lines() -> None:
    assert str(TextMessage("hi")) == "TEXT 'hi' [2 chars]"
    assert str(BinaryMessage(b"\x00\xff")) == "BINARY 00 ff [2 bytes]"
    assert str(CloseReceived(1000, "bye")).startswith("CLOSE 1000 (normal closure")
    assert str(ConnectionFailed(1002, "client frame is not masked")) == (
        "FAILED 1002 (protocol error: the peer broke a rule of RFC 6455): "
        "client frame is not masked"
    )


def test_output_hands_over_large_payloads_without_copying_and_joins_small_pieces() -> None:
    server = open_server()
    big = bytes(100_000)
    server.send_text("a")
    server.send_binary(big)
    server.send_text("b")
    server.ping(b"p")
    pieces = server.output()
    assert len(pieces) == 3
    assert pieces[0] == b"\x81\x01a" + b"\x82\x7f" + (100_000).to_bytes(8, "big")
    assert pieces[1] is big, "the payload object itself, not a copy"
    assert pieces[2] == b"\x81\x01b\x89\x01p"
    assert server.output() == []
    assert server.data_to_send() == b""


def test_output_and_data_to_send_carry_the_same_bytes() -> None:
    first, second = open_server(), open_server()
    for server in (first, second):
        server.send_binary(bytes(70_000), fragment_size=65_536)
        server.send_text("x" * 300)
    assert b"".join(first.output()) == second.data_to_send()


@pytest.mark.parametrize(
    "request_bytes",
    [
        RFC_REQUEST,
        RFC_REQUEST + masked(0x1, b"right behind the request"),
        RFC_REQUEST.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"),
        RFC_REQUEST.replace(b"Upgrade: websocket\r\n", b""),
        RFC_REQUEST.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Key: x\r\n\r\n"),
    ],
    ids=["plain", "with-a-frame", "version-8", "no-upgrade", "two-keys"],
)
def test_a_request_parsed_by_the_caller_is_read_as_receive_data_reads_it(
    request_bytes: bytes,
) -> None:
    """`receive_request` (the live server parsed the head to route it) and `receive_data`
    give the same events and the same answer, accepted or refused."""
    from simulator.http import read_head

    parsed = read_head(request_bytes)
    assert parsed is not None
    results = []
    for given_head in (False, True):
        server = Connection(Role.SERVER)
        if given_head:
            server.receive_request(parsed[0], request_bytes)
        else:
            server.receive_data(request_bytes)
        events = server.events()
        if server.state is ConnectionState.CONNECTING:
            server.accept()
            events += server.events()
        results.append((events, server.data_to_send(), server.state))
    assert results[0] == results[1]
    with pytest.raises(UsageError):
        server.receive_request(parsed[0], request_bytes)  # not a server's first bytes
