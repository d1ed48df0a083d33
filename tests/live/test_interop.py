"""Interoperability with the `websockets` library over loopback, in both directions."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.typing import Subprotocol

from simulator.live import Session, connect, echo
from simulator.ws import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from simulator.ws.frames import parse_frames
from tests.live.support import STEP, TapRecord, after_head, run, serving

MiB = 1 << 20


@dataclass
class Recorder:
    """A server handler that echoes and keeps every event it saw."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, session: Session, event: Event) -> None:
        self.events.append(event)
        echo(session, event)


# --- (a) the websockets client against our server ---------------------------------------


def test_websockets_client_text_and_binary() -> None:
    async def scenario() -> None:
        async with serving() as server, ws_connect(server.url, compression=None) as ws:
            messages: list[str | bytes] = ["hello", "", "héllo wörld ✓", b"\x00\x01\xfe\xff", b""]
            for message in messages:
                await ws.send(message)
                assert await asyncio.wait_for(ws.recv(), STEP) == message

    run(scenario())


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_websockets_client_one_mebibyte_message(kind: str) -> None:
    """Exactly the default limit (1 MiB) passes."""
    message: str | bytes = "é" * (MiB // 2) if kind == "text" else os.urandom(MiB)

    async def scenario() -> None:
        async with serving() as server, ws_connect(server.url, max_size=MiB) as ws:
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), STEP) == message

    run(scenario())


def test_websockets_client_message_over_the_limit_gets_1009() -> None:
    async def scenario() -> None:
        async with serving() as server, ws_connect(server.url, max_size=MiB) as ws:
            await ws.send(b"\x00" * (MiB + 1))
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(ws.recv(), STEP)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1009

    run(scenario())


def test_websockets_client_fragmented_messages() -> None:
    tap = TapRecord()

    async def scenario() -> None:
        async with serving(tap=tap) as server, ws_connect(server.url, compression=None) as ws:
            await ws.send(["frag", "men", "téd"])
            assert await asyncio.wait_for(ws.recv(), STEP) == "fragmentéd"
            await ws.send([b"\x01", b"\x02\x03", b"\x04"])
            assert await asyncio.wait_for(ws.recv(), STEP) == b"\x01\x02\x03\x04"

    run(scenario())
    frames, rest = parse_frames(after_head(tap.joined("in")))
    assert rest == b""
    messages: list[list[tuple[int, bytes]]] = [[]]
    for frame in frames:
        if frame.opcode < 0x8:
            messages[-1].append((frame.opcode, frame.payload))
            if frame.fin:
                messages.append([])
    text, binary = messages[0], messages[1]
    # websockets ends a message from an iterable with an empty final frame.
    assert text[:3] == [(0x1, b"frag"), (0x0, b"men"), (0x0, "téd".encode())]
    assert binary[:3] == [(0x2, b"\x01"), (0x0, b"\x02\x03"), (0x0, b"\x04")]
    assert [opcode for opcode, _ in text[1:] + binary[1:]] == [0] * (len(text) + len(binary) - 2)
    assert all(frame.masked for frame in frames)


def test_websockets_client_ping_gets_our_pong() -> None:
    async def scenario() -> None:
        async with serving() as server, ws_connect(server.url) as ws:
            waiter = await ws.ping(b"are you there")
            await asyncio.wait_for(waiter, STEP)  # resolves only on the matching pong

    run(scenario())


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (4001, "done for today")])
def test_websockets_client_closes_with_a_code(code: int, reason: str) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with serving(handler=recorder) as server, ws_connect(server.url) as ws:
            await ws.send("one")
            assert await asyncio.wait_for(ws.recv(), STEP) == "one"
            await asyncio.wait_for(ws.close(code, reason), STEP)
            assert ws.close_code == code  # our echo (§5.5.1) carries the code back

    run(scenario())
    assert CloseReceived(code, reason) in recorder.events


def test_server_shutdown_closes_websockets_client_with_1001() -> None:
    async def scenario() -> None:
        async with serving() as server, ws_connect(server.url) as ws:
            await asyncio.wait_for(server.shutdown(), STEP)
            with pytest.raises(ConnectionClosedOK) as info:
                await asyncio.wait_for(ws.recv(), STEP)
            assert info.value.rcvd is not None
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (
                1001,
                "server shutting down",
            )

    run(scenario())


def test_websockets_default_settings_negotiate_deflate_and_messages_are_compressed() -> None:
    tap = TapRecord()
    message = "compress me " * 1000

    async def scenario() -> None:
        async with serving(tap=tap) as server, ws_connect(server.url) as ws:
            assert ws.response is not None
            assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), STEP) == message

    run(scenario())
    for direction in ("in", "out"):
        frames, _ = parse_frames(after_head(tap.joined(direction)))
        assert frames[0].rsv1  # compressed both ways
        assert len(frames[0].payload) < len(message) // 20


def test_deflate_turned_off_on_our_side_is_declined() -> None:
    from simulator.ws import Config

    tap = TapRecord()

    async def scenario() -> None:
        async with serving(tap=tap, config=Config()) as server, ws_connect(server.url) as ws:
            assert ws.response is not None
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            message = "compress me " * 1000
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), STEP) == message

    run(scenario())
    request = tap.joined("in").split(b"\r\n\r\n")[0]
    assert b"permessage-deflate" in request  # so the decline above was really tested
    frames, _ = parse_frames(after_head(tap.joined("in")))
    assert not any(frame.rsv1 for frame in frames)


def test_websockets_client_sees_our_subprotocol_choice() -> None:
    from simulator.ws import Config

    async def scenario() -> None:
        config = Config(subprotocols=("chat.v2", "chat.v1"))
        async with (
            serving(config=config) as server,
            ws_connect(
                server.url, subprotocols=[Subprotocol("chat.v1"), Subprotocol("chat.v2")]
            ) as ws,
        ):
            assert ws.subprotocol == "chat.v2"

    run(scenario())


# --- (b) our client against a websockets server -----------------------------------------


@dataclass
class PeerLog:
    """What the websockets server saw: how each connection ended, fragment counts."""

    closes: asyncio.Queue[tuple[int | None, str | None]] = field(default_factory=asyncio.Queue)


@asynccontextmanager
async def websockets_server() -> AsyncIterator[tuple[str, PeerLog]]:
    """A websockets server; the path picks its behaviour. Yields (base URL, log)."""
    log = PeerLog()

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        try:
            if path == "/bye":
                await ws.close(4000, "bye")
            elif path == "/ping":
                waiter = await ws.ping(b"from websockets")
                await asyncio.wait_for(waiter, STEP)
                await ws.send("got your pong")
                await ws.wait_closed()
            elif path == "/big":
                await ws.send(b"\x00" * (MiB + 1))
                await ws.wait_closed()
            elif path == "/fragments":
                while True:
                    parts = [part async for part in ws.recv_streaming()]
                    await ws.send(str(len(parts)))
                    await ws.send(parts)  # echoed fragmented the same way
            else:
                async for message in ws:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            log.closes.put_nowait((ws.close_code, ws.close_reason))

    async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_size=MiB) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}", log


def test_our_client_text_and_binary() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/")
            for text in ["hello", "", "héllo wörld ✓"]:
                client.send_text(text)
                assert await client.recv(STEP) == TextMessage(text)
            for data in [b"\x00\x01\xfe\xff", b""]:
                client.send_binary(data)
                assert await client.recv(STEP) == BinaryMessage(data)
            assert await client.close() == (1000, "")

    run(scenario())


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_our_client_one_mebibyte_message(kind: str) -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/")
            if kind == "text":
                text = "é" * (MiB // 2)
                client.send_text(text)
                assert await client.recv(STEP) == TextMessage(text)
            else:
                data = os.urandom(MiB)
                client.send_binary(data)
                assert await client.recv(STEP) == BinaryMessage(data)
            assert await client.close() == (1000, "")

    run(scenario())


def test_our_client_refuses_a_message_over_its_limit_with_1009() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, log):
            client = await connect(url + "/big")
            event = await client.recv(STEP)
            assert isinstance(event, ConnectionFailed)
            assert event.code == 1009
            await client.close()
            code, _reason = await asyncio.wait_for(log.closes.get(), STEP)
            assert code == 1009

    run(scenario())


def test_our_client_fragmented_messages() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/fragments")
            text = "é" * 50  # 100 bytes; fragments of 7 split characters between frames
            client.send_text(text, fragment_size=7)
            assert await client.recv(STEP) == TextMessage("15")
            assert await client.recv(STEP) == TextMessage(text)
            data = bytes(range(256))
            client.send_binary(data, fragment_size=100)
            assert await client.recv(STEP) == TextMessage("3")
            assert await client.recv(STEP) == BinaryMessage(data)
            await client.close()

    run(scenario())


def test_our_client_ping_gets_a_pong() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/")
            client.ping(b"heartbeat")
            assert await client.recv(STEP) == Pong(b"heartbeat")
            await client.close()

    run(scenario())


def test_our_client_answers_a_websockets_ping() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/ping")
            assert await client.recv(STEP) == Ping(b"from websockets")
            assert await client.recv(STEP) == TextMessage("got your pong")
            await client.close()

    run(scenario())


def test_our_client_closes_with_code_and_reason() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, log):
            client = await connect(url + "/")
            assert await client.close(4002, "ciao") == (4002, "ciao")
            assert await asyncio.wait_for(log.closes.get(), STEP) == (4002, "ciao")

    run(scenario())


def test_websockets_server_closes_with_code_and_reason() -> None:
    async def scenario() -> None:
        async with websockets_server() as (url, _):
            client = await connect(url + "/bye")
            assert await client.recv(STEP) == CloseReceived(4000, "bye")
            assert await client.recv(STEP) is None  # then the server ends TCP (§7.1.1)
            assert await client.close() == (4000, "bye")

    run(scenario())
