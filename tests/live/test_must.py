"""RFC 6455 MUSTs and handshake refusals, through the asyncio server over real sockets."""

from __future__ import annotations

import asyncio

import pytest

from simulator.live import Session
from simulator.ws import Config
from tests.live.support import (
    Raw,
    close_of,
    open_websocket,
    parse_response,
    request,
    run,
    server_frames,
    serving,
)
from tests.must_cases import CASES, MustCase, close_payload, masked


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_server_fails_the_connection_with_the_rfc_close_code(case: MustCase) -> None:
    notes: list[str] = []

    def note(session: Session, text: str) -> None:
        notes.append(text)

    async def scenario() -> bytes:
        async with serving(notify=note) as server:
            raw = await open_websocket(server.port)
            try:
                await raw.send(case.wire)
                return await raw.read_to_eof()  # the server closes TCP first (§7.1.1)
            finally:
                await raw.close()

    frames = server_frames(run(scenario()))
    assert [frame.opcode for frame in frames] == [0x8], [str(f) for f in frames]
    code, _reason = close_of(frames[0])
    assert code == case.close_code, f"{case.rule}: expected {case.close_code}, got {code}"
    assert f"failed with {case.close_code}: " in " | ".join(notes)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_messages_before_the_violation_are_echoed_then_the_connection_fails(
    case: MustCase,
) -> None:
    """A whole message and a rule-breaking frame in one read: the message was valid when it
    arrived, so it is echoed; then the close frame names the violation."""

    async def scenario() -> bytes:
        async with serving() as server:
            raw = await open_websocket(server.port)
            try:
                await raw.send(masked(0x1, b"before") + masked(0x2, b"\x01\x02") + case.wire)
                return await raw.read_to_eof()
            finally:
                await raw.close()

    frames = server_frames(run(scenario()))
    assert [str(frame) for frame in frames[:2]] == [
        "TEXT 'before' [6 bytes]",
        "BINARY 01 02 [2 bytes]",
    ], case.id
    assert [frame.opcode for frame in frames[2:]] == [0x8], [str(f) for f in frames]
    assert close_of(frames[2])[0] == case.close_code, case.rule


def test_valid_frames_after_the_handshake_echo() -> None:
    """The control for the table above: the same kind of bytes, but legal, get echoes."""

    async def scenario() -> bytes:
        async with serving() as server:
            raw = await open_websocket(server.port)
            try:
                await raw.send(
                    masked(0x1, b"Hel", fin=False)
                    + masked(0x9, b"in between")  # control frames may interleave (§5.4)
                    + masked(0x0, b"lo")
                    + masked(0x2, b"\x00\xff")
                )
                echoes = await raw.read_exactly(12 + 7 + 4)
                await raw.send(masked(0x8, close_payload(1000, b"done")))
                return echoes + await raw.read_to_eof()
            finally:
                await raw.close()

    frames = server_frames(run(scenario()))
    assert [str(frame) for frame in frames[:3]] == [
        "PONG 'in between' [10 bytes]",
        "TEXT 'Hello' [5 bytes]",
        "BINARY 00 ff [2 bytes]",
    ]
    assert close_of(frames[3])[0] == 1000
    assert len(frames) == 4


def test_message_and_close_in_one_segment_get_a_clean_close() -> None:
    """A text frame and a close frame that arrive in one read: the close is still echoed."""

    async def scenario() -> bytes:
        async with serving() as server:
            raw = await open_websocket(server.port)
            try:
                await raw.send(masked(0x1, b"last words") + masked(0x8, close_payload(1000)))
                return await raw.read_to_eof()
            finally:
                await raw.close()

    frames = server_frames(run(scenario()))
    assert frames, "the server dropped the connection without a close frame"
    assert close_of(frames[-1])[0] == 1000


def test_frames_sent_right_behind_the_request_are_not_lost() -> None:
    """Handshake and a first message in one write: the message is answered without more input.

    (§4.1 tells a client to wait for the 101; a server that buffers early frames must still
    deliver them.)
    """

    async def scenario() -> bytes:
        async with serving() as server:
            raw = await Raw.open(server.port)
            try:
                await raw.send(request(server.port) + masked(0x1, b"eager"))
                await raw.read_head()
                return await raw.read_exactly(7)
            finally:
                await raw.close()

    assert run(scenario()) == b"\x81\x05eager"


# --- handshake refusals -----------------------------------------------------------------


def refused(data: bytes, **options: object) -> tuple[int, dict[str, str], bytes]:
    """Send `data` as the opening handshake; return the HTTP error and check TCP is closed."""

    async def scenario() -> bytes:
        async with serving(**options) as server:
            raw = await Raw.open(server.port)
            try:
                await raw.send(data)
                return await raw.read_to_eof()
            finally:
                await raw.close()

    response = parse_response(run(scenario()))
    # "close" always; "upgrade" too when the answer carries Upgrade (426, RFC 9110 §7.8).
    connection = {t.strip() for t in response.headers.get("connection", "").lower().split(",")}
    assert "close" in connection
    assert ("upgrade" in connection) == ("upgrade" in response.headers)
    assert int(response.headers["content-length"]) == len(response.body)
    return response.status, response.headers, response.body


def test_bad_key_is_refused_with_400() -> None:
    status, _, body = refused(request(0, key="not-a-16-byte-key"))
    assert status == 400
    assert b"Sec-WebSocket-Key" in body


def test_short_base64_key_is_refused_with_400() -> None:
    status, _, _ = refused(request(0, key="c2hvcnQ="))  # base64 of 5 bytes
    assert status == 400


def test_version_8_is_refused_with_426_naming_version_13() -> None:
    status, headers, _ = refused(request(0, version="8"))
    assert status == 426
    assert headers["sec-websocket-version"] == "13"


def test_missing_upgrade_is_refused_with_426() -> None:
    status, headers, _ = refused(request(0).replace(b"Upgrade: websocket\r\n", b""))
    assert status == 426
    assert headers["sec-websocket-version"] == "13"


def test_post_is_refused_with_400() -> None:
    status, _, _ = refused(request(0).replace(b"GET ", b"POST ", 1))
    assert status == 400


def test_garbage_is_refused_with_400() -> None:
    status, _, _ = refused(b"hello there\r\n\r\n")
    assert status == 400


def test_other_origin_is_refused_with_403() -> None:
    config = Config(origins=("http://a.example",))
    status, _, _ = refused(request(0, origin="http://b.example"), config=config)
    assert status == 403


def test_missing_origin_is_refused_with_403_when_origins_are_set() -> None:
    status, _, _ = refused(request(0), config=Config(origins=("http://a.example",)))
    assert status == 403


def test_allowed_origin_is_accepted() -> None:
    async def scenario() -> bytes:
        async with serving(config=Config(origins=("http://a.example",))) as server:
            raw = await open_websocket(server.port, origin="http://a.example")
            try:
                await raw.send(masked(0x1, b"ok"))
                return await raw.read_exactly(4)
            finally:
                await raw.close()

    assert run(scenario()) == b"\x81\x02ok"


# --- handshake timeout ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"],
    ids=["nothing", "half-a-request"],
)
def test_a_slow_handshake_is_dropped(sent: bytes) -> None:
    notes: list[str] = []

    def note(session: Session, text: str) -> None:
        notes.append(text)

    async def scenario() -> bytes:
        async with serving(handshake_timeout=0.5, notify=note) as server:
            raw = await Raw.open(server.port)
            try:
                if sent:
                    await raw.send(sent)
                return await raw.read_to_eof(timeout=5.0)
            finally:
                await raw.close()

    assert run(scenario()) == b""
    assert any(text.startswith("dropped: no handshake within 0.5 s") for text in notes), notes


def test_an_open_connection_outlives_the_handshake_timeout() -> None:
    async def scenario() -> bytes:
        async with serving(handshake_timeout=0.2) as server:
            raw = await open_websocket(server.port)
            try:
                await asyncio.sleep(0.5)  # past the handshake timeout
                await raw.send(masked(0x1, b"still here"))
                return await raw.read_exactly(12)
            finally:
                await raw.close()

    assert run(scenario()) == b"\x81\x0astill here"
