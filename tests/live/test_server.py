"""The asyncio server on its own: many clients, the tap, shutdown, limits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket

import pytest

from simulator.live import ClientError, Server, WebSocketClient, connect
from simulator.ws import BinaryMessage, CloseCode, CloseReceived, Config, Event, Pong, TextMessage
from tests.live.support import (
    STEP,
    Raw,
    TapRecord,
    after_head,
    close_of,
    open_websocket,
    request,
    run,
    server_frames,
    serving,
)
from tests.must_cases import close_payload, masked


async def sessions_gone(server: Server) -> None:
    """Wait (bounded) until the server has forgotten every connection."""
    for _ in range(100):
        if not server.sessions:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(server.sessions)} sessions still open")


def test_many_concurrent_clients_echo() -> None:
    count = 200

    async def one(url: str, i: int) -> None:
        client = await connect(f"{url}client/{i}")
        client.send_text(f"message {i}")
        client.send_binary(i.to_bytes(2, "big"))
        assert await client.recv(STEP) == TextMessage(f"message {i}")
        assert await client.recv(STEP) == BinaryMessage(i.to_bytes(2, "big"))
        assert await client.close() == (1000, "")

    async def scenario() -> None:
        async with serving() as server:
            await asyncio.gather(*(one(server.url, i) for i in range(count)))
            await sessions_gone(server)

    run(scenario(), timeout=60)


def test_tap_sees_exactly_the_bytes_on_the_wire() -> None:
    tap = TapRecord()

    async def scenario() -> Raw:
        async with serving(tap=tap) as server:
            raw = await open_websocket(server.port, path="/tap?x=1")
            try:
                await raw.send(masked(0x1, b"hello"))
                await raw.send(masked(0x9, b"ping!"))
                await raw.send(masked(0x2, b"\x00" * 300))  # a 16-bit length
                await raw.read_exactly(7 + 7 + 304)
                await raw.send(masked(0x8, close_payload(1000, b"bye")))
                await raw.read_to_eof()
                return raw
            finally:
                await raw.close()

    raw = run(scenario())
    ids = {info.id for info, *_ in tap.chunks}
    assert len(ids) == 1
    assert tap.joined("in") == bytes(raw.sent)
    out = tap.joined("out")
    assert out == bytes(raw.received)
    frames = server_frames(after_head(out))
    assert [str(f) for f in frames[:3]] == [
        "TEXT 'hello' [5 bytes]",
        "PONG 'ping!' [5 bytes]",
        "BINARY 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 … [300 bytes]",
    ]
    assert close_of(frames[3])[0] == 1000
    assert len(frames) == 4
    stamps = [when for *_, when in tap.chunks]
    assert stamps == sorted(stamps)
    assert all(direction in ("in", "out") for _, direction, _, _ in tap.chunks)


def test_tap_agrees_with_the_client_tap() -> None:
    """Our client taps too: what one side wrote is what the other side read, byte for byte."""
    server_tap, client_tap = TapRecord(), TapRecord()

    async def scenario() -> None:
        async with serving(tap=server_tap) as server:
            client = await connect(server.url + "echo", tap=client_tap)
            client.send_text("héllo", fragment_size=2)
            client.ping(b"p")
            events = {await client.recv(STEP), await client.recv(STEP)}
            assert events == {TextMessage("héllo"), Pong(b"p")}
            answer = await client.close(4000, "later")
            assert answer is not None
            assert answer[0] == 4000

    run(scenario())
    assert server_tap.joined("in") == client_tap.joined("out")
    assert server_tap.joined("out") == client_tap.joined("in")
    assert server_tap.joined("in").startswith(b"GET /echo HTTP/1.1\r\n")
    assert server_tap.joined("out").startswith(b"HTTP/1.1 101 Switching Protocols\r\n")


def test_shutdown_closes_open_connections_with_1001() -> None:
    async def scenario() -> tuple[list[Event | None], bytes, bytes]:
        server = Server(port=0)
        await server.start()
        clients: list[WebSocketClient] = [await connect(server.url) for _ in range(3)]
        raw = await open_websocket(server.port)  # answers the close by hand below
        pending = await Raw.open(server.port)  # still in its opening handshake
        await pending.send(b"GET / HTTP/1.1\r\n")
        shutdown = asyncio.create_task(server.shutdown())
        head = await raw.read_exactly(4)
        length = head[1]
        payload = await raw.read_exactly(length - 2)
        await raw.send(masked(0x8, close_payload(1001)))
        raw_bytes = head + payload + await raw.read_to_eof()
        pending_bytes = await pending.read_to_eof()
        await asyncio.wait_for(shutdown, STEP)
        events = [await client.recv(STEP) for client in clients]
        for client in clients:
            await client.close()
        for stream in (raw, pending):
            await stream.close()
        with pytest.raises(ClientError):
            await connect(server.url)  # no longer listening
        return events, raw_bytes, pending_bytes

    events, raw_bytes, pending_bytes = run(scenario())
    assert events == [CloseReceived(1001, "server shutting down")] * 3
    (frame,) = server_frames(raw_bytes)
    assert close_of(frame) == (1001, "server shutting down")
    assert pending_bytes == b""  # a half-open handshake is simply dropped


def test_shutdown_does_not_wait_forever_for_a_silent_peer() -> None:
    async def scenario() -> bytes:
        server = Server(port=0)
        await server.start()
        raw = await open_websocket(server.port)  # never answers the close
        await asyncio.wait_for(server.shutdown(), STEP)
        try:
            return await raw.read_to_eof()
        finally:
            await raw.close()

    (frame,) = server_frames(run(scenario()))
    assert close_of(frame)[0] == 1001


def test_connection_limit_answers_503() -> None:
    async def scenario() -> None:
        async with serving(max_connections=2) as server:
            first = await connect(server.url)
            second = await connect(server.url)
            with pytest.raises(ClientError, match="503"):
                await connect(server.url)
            await first.close()
            await second.close()
            await sessions_gone(server)
            third = await connect(server.url)  # room again
            third.send_text("ok")
            assert await third.recv(STEP) == TextMessage("ok")
            await third.close()

    run(scenario())


def test_client_that_vanishes_is_forgotten() -> None:
    async def scenario() -> None:
        async with serving() as server:
            raw = await open_websocket(server.port)
            await raw.send(masked(0x1, b"x"))
            await raw.read_exactly(3)
            raw.writer.transport.abort()  # no close frame: the server sees 1006
            await sessions_gone(server)

    run(scenario())


# --- our client's failure paths -----------------------------------------------------------


def test_client_reports_a_server_that_hangs_up_during_the_handshake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(ClientError, match="closed the connection during the handshake"):
                await connect(f"ws://127.0.0.1:{port}/")

    run(scenario())
    gc.collect()
    assert "never retrieved" not in caplog.text


def test_client_gives_up_on_a_silent_server(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        with socket.socket() as listener:  # accepts (in the kernel) and never answers
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            with pytest.raises(ClientError, match=r"no handshake response .* within 0\.3 s"):
                await connect(f"ws://127.0.0.1:{port}/", timeout=0.3)
            await asyncio.sleep(0.05)  # let the aborted transport report its loss

    run(scenario())
    gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.parametrize(
    "request_head",
    [
        # Two keys and no Upgrade: the routing step raised, and asyncio logged a
        # "Fatal error" traceback per request with no answer at all.
        b"GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n",
        # Bare LF line endings: no answer until the 10 s handshake timeout.
        b"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n\n",
    ],
)
def test_a_bad_request_head_is_answered_at_once(
    request_head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with serving() as server:
            raw = await Raw.open(server.port)
            await raw.send(request_head)
            answer = await raw.read_to_eof(timeout=STEP)  # long before the 10 s timeout
            # 400, or 426 for a request that asks for no upgrade: an HTTP answer, at once.
            assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 426 ")), answer[:80]

    run(scenario())
    assert "Fatal error" not in caplog.text and "Traceback" not in caplog.text


async def small_window_websocket(port: int) -> tuple[socket.socket, bytes]:
    """A raw WebSocket whose socket takes in 4 KiB at a time: what the server writes
    waits on its side. Returns the socket and the bytes that came after the 101."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, request(port))
        head = b""
        while b"\r\n\r\n" not in head:
            head += await asyncio.wait_for(loop.sock_recv(sock, 4096), STEP)
        assert head.startswith(b"HTTP/1.1 101")
    except BaseException:
        sock.close()
        raise
    return sock, head[head.index(b"\r\n\r\n") + 4 :]


def test_a_client_that_stops_reading_is_dropped_with_1013() -> None:
    """Seen: 300 clients that each sent 4 × 1 MiB without reading held the server at
    371 MB for ever: reading pauses at the 64 KB high-water mark, so the 1 MiB send
    limit was never reached. A peer that leaves our writes unread for the stall
    timeout is dropped (1013 behind what is queued, then cut)."""

    async def scenario() -> None:
        notes: list[str] = []
        async with serving(stall_timeout=0.5, notify=lambda _s, text: notes.append(text)) as server:
            loop = asyncio.get_running_loop()
            sock, _ = await small_window_websocket(server.port)  # fills fast
            try:
                frame = masked(0x2, bytes(256 * 1024))
                with contextlib.suppress(TimeoutError, OSError):
                    for _ in range(16):  # 4 MiB to echo, none of it read
                        await asyncio.wait_for(loop.sock_sendall(sock, frame), 1.0)
                await asyncio.wait_for(sessions_gone(server), 0.5 + 2.0 + STEP)
            finally:
                sock.close()
        assert any("1013" in note for note in notes), notes

    run(scenario())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_client_that_reads_is_never_dropped_for_messages_as_big_as_the_limit(loop: str) -> None:
    """Seen: with 1 MiB messages four in flight, a client that read all the time (slowly)
    was dropped with 1013: a few KiB were still unsent when the next echo came, and the
    two together passed the 1 MiB limit. The limit is on what already waits."""
    limit = 64 * 1024
    frame = masked(0x2, bytes(limit))  # a message as big as the limit, 12 of them
    echo = 4 + limit  # its echo: a 4-byte header (16-bit length), then the payload

    async def scenario() -> None:
        notes: list[str] = []
        async with serving(send_buffer_limit=limit, notify=lambda _s, text: notes.append(text),
                           config=Config(max_size=1 << 20, extensions=())) as server:  # fmt: skip
            loop = asyncio.get_running_loop()
            sock, rest = await small_window_websocket(server.port)  # the echoes queue up
            got = len(rest)

            async def read_until(total: float) -> None:
                nonlocal got
                while got < total:
                    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), STEP)
                    assert data, f"closed by the server: {notes}"
                    got += len(data)

            try:
                for session in server.sessions:  # the kernel takes little: the rest waits
                    assert session.transport is not None
                    theirs = session.transport.get_extra_info("socket")
                    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                for sent in range(1, 13):
                    # The next message goes while part of the last echo is still unsent.
                    await loop.sock_sendall(sock, frame)
                    await read_until((sent - 0.5) * echo)
                await read_until(12 * echo)
            finally:
                sock.close()
        assert not any("1013" in note for note in notes), notes

    run(scenario(), 30, loop=loop)


def test_one_address_cannot_take_every_connection() -> None:
    """Seen: 1,023 idle WebSockets from one host made every new client get 503. One
    address gets at most `max_per_address` connections; the next gets 503 saying so."""

    async def scenario() -> None:
        async with serving(max_per_address=2, max_connections=100) as server:
            first = await connect(server.url)
            second = await connect(server.url)
            with pytest.raises(ClientError, match="503"):
                await connect(server.url)
            await first.close()
            await sessions_gone_but(server, 1)
            third = await connect(server.url)  # room again for this address
            third.send_text("ok")
            assert await third.recv(STEP) == TextMessage("ok")
            await second.close()
            await third.close()
            await sessions_gone(server)
            assert server.per_address == {}  # nothing kept once they are gone

    run(scenario())


async def sessions_gone_but(server: Server, left: int) -> None:
    for _ in range(100):
        if len(server.sessions) <= left:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(server.sessions)} sessions still open")


def test_a_client_stops_reading_while_its_events_wait_unread() -> None:
    """Seen: a teacher sending 1.37 M steps in 20 s took a follower to 444 MB; a client
    keeps what it has not `recv()`ed. Past QUEUE_HIGH events it stops reading the
    socket (TCP then holds the server back) and reads on as they are taken; nothing
    is lost."""
    from simulator.live.client import QUEUE_HIGH

    count = 20_000

    def flood(session, event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, TextMessage):
            for i in range(count):
                session.send_text(str(i))

    async def scenario() -> None:
        async with serving(handler=flood) as server:
            client = await connect(server.url)
            client.send_text("go")
            for _ in range(100):
                await asyncio.sleep(0.02)
                if client._full:
                    break
            await asyncio.sleep(0.2)  # it stays stopped while nobody reads
            assert client._full and client.transport is not None
            assert not client.transport.is_reading()
            waiting = client._events.qsize()
            assert QUEUE_HIGH < waiting < count  # bounded: not the whole flood
            got = [await client.recv(STEP) for _ in range(count)]
            assert got == [TextMessage(str(i)) for i in range(count)]  # nothing lost
            await client.close()

    run(scenario())


async def _half_heads(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """`count` connections that send part of a request head and then nothing (slowloris)."""
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        opened.append((reader, writer))
    return opened


def test_handshakes_in_progress_have_slots_of_their_own() -> None:
    """Seen: 1,100 reconnecting slowloris connections made every new client get 503.
    Handshakes in progress hold slots apart from open WebSockets: filling them gets the
    next handshake a 503 at once, while open WebSockets go on and count on their own."""

    async def scenario() -> None:
        async with serving(max_pending=3, max_connections=2) as server:
            first = await connect(server.url)
            slow = await _half_heads(server.port, 3)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            answer = await asyncio.wait_for(reader.read(), STEP)  # at once, not after 10 s
            assert answer.startswith(b"HTTP/1.1 503 ") and b"handshakes in progress" in answer
            writer.close()
            first.send_text("still here")
            assert await first.recv(STEP) == TextMessage("still here")
            for _, half in slow:
                half.close()
            await sessions_gone_but(server, 1)
            # Pending handshakes never counted against the open ones: room for one more.
            second = await connect(server.url)
            with pytest.raises(ClientError, match="503"):
                await connect(server.url)
            await first.close()
            await second.close()
            await sessions_gone(server)
            assert server.pending == 0 and server.established == 0

    run(scenario())


def test_a_websocket_that_never_sends_a_message_is_closed_with_1008() -> None:
    async def scenario() -> None:
        async with serving(idle_timeout=0.3) as server:
            idle = await connect(server.url)
            talker = await connect(server.url)
            talker.send_text("hi")
            assert await talker.recv(STEP) == TextMessage("hi")
            event = await idle.recv(STEP)
            assert isinstance(event, CloseReceived)
            assert event.code == 1008 and event.reason == "idle: no message within 0.3 s"
            await asyncio.sleep(0.5)  # one message was enough: it stays open
            talker.send_text("still")
            assert await talker.recv(STEP) == TextMessage("still")
            await talker.close()
            await idle.close()

    run(scenario())


def test_past_its_limit_an_address_takes_no_handshake_slot() -> None:
    """Seen: connections past an address's limit still took handshake slots until their
    request came or timed out, so one host's slowloris got every new handshake, from
    any address, a 503. Past the limit it is answered at once and holds no slot."""

    async def scenario() -> None:
        async with serving(max_per_address=2, max_pending=4) as server:
            silent = await _half_heads(server.port, 2)
            extra = []
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                answer = await asyncio.wait_for(reader.read(), STEP)
                assert answer.startswith(b"HTTP/1.1 503 ") and b"your address" in answer
                extra.append(writer)
            assert server.pending == 2 < server.max_pending  # room for other addresses
            for writer in extra:
                writer.close()
            for _, writer in silent:
                writer.close()
            await sessions_gone(server)
            assert server.pending == 0 and server.per_address == {}

    run(scenario())


def test_a_failed_connection_is_freed_without_the_garbage_collector() -> None:
    """Seen: a connection failed for a protocol error kept its error's traceback, which
    held the session, its buffers and the last read in a cycle: 60 attackers grew the
    server by 450 MB until a collection ran. The failure is kept without it."""
    import weakref

    async def scenario() -> None:
        async with serving(config=Config(max_size=1024)) as server:
            raw = await open_websocket(server.port)
            await asyncio.sleep(0.05)
            (session,) = server.sessions
            ref = weakref.ref(session)
            del session
            await raw.send(masked(0x1, b"x", fin=False) + masked(0x0, b"", fin=False) * 200)
            frames = server_frames(await raw.read_to_eof())
            assert close_of(frames[-1])[0] == CloseCode.MESSAGE_TOO_BIG
            await raw.close()
            await sessions_gone(server)
            await asyncio.sleep(0.05)
            assert ref() is None, "the failed session is still alive"

    gc.disable()
    try:
        run(scenario())
    finally:
        gc.enable()
