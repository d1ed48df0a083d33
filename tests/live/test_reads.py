"""How the live server reads, on both event loops: small reads as bytes
(`data_received`); from a large frame on, into the engine's buffers (asyncio's
`BufferedProtocol`), the frame's payload into a buffer of its own while it arrives,
until `SMALL_READS` reads in a row bring no large frame; and the echo the same byte for
byte in whatever pieces the bytes came."""

from __future__ import annotations

import asyncio
import gc
import random
import weakref

import pytest

from simulator.live import Server, Session
from simulator.live.server import SMALL_READS
from simulator.ws import Config, serialize_frame
from simulator.ws.frames import BIG_PAYLOAD, read_buffer
from tests.live.support import open_websocket, run, serving
from tests.must_cases import masked

BIG = BIG_PAYLOAD  # frames this big get a buffer of their own
# Sizes either side of the length encodings and of the large-frame threshold.
SIZES = (0, 1, 125, 126, 4096, BIG - 1, BIG, BIG + 1, 200_000, 1 << 20)


def only_session(server: Server) -> Session:
    (session,) = server.sessions
    return session


async def read_in(session: Session, total: int) -> None:
    """Wait (bounded) until the server has read `total` bytes on this connection."""
    for _ in range(400):
        if session.bytes_in >= total:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the server read {session.bytes_in} of {total} bytes")


def reads_bytes(session: Session) -> bool:
    """Whether the transport hands the session bytes (`data_received`), not reads into
    the engine's buffers."""
    assert session.transport is not None
    return session.transport.get_protocol() is session


def reading_large(session: Session) -> bool:
    """Whether the server's next read goes into a large frame's own buffer (not the
    buffer every connection of the thread shares)."""
    return session.conn.get_buffer().obj is not read_buffer().obj


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_any_message_in_any_pieces_echoes_the_same(loop: str) -> None:
    rng = random.Random(6455)
    messages = [(rng.choice((0x1, 0x2)), rng.choice(SIZES)) for _ in range(40)]
    messages += [(0x2, BIG), (0x2, 1 << 20), (0x1, 200_000)]  # each size at least once

    async def scenario() -> None:
        async with serving(config=Config(max_size=2 << 20, extensions=())) as server:
            raw = await open_websocket(server.port)
            await wait_open(server)
            session = only_session(server)
            sent = session.bytes_in
            large_reads = 0
            for opcode, size in messages:
                payload = bytes(rng.choice(b"abcdefgh") for _ in range(min(size, 64))) * (
                    size // 64 + 1
                )
                payload = payload[:size]
                frame = masked(opcode, payload)
                cuts = sorted(rng.sample(range(1, len(frame)), min(len(frame) - 1, 5)))
                for start, end in zip([0, *cuts], [*cuts, len(frame)], strict=True):
                    await raw.send(frame[start:end])
                    sent += end - start
                    await read_in(session, sent)
                    large = reading_large(session)
                    # Only a frame of the threshold's size or more, part of it in; and
                    # the rest of it is read into its buffer, not handed over as bytes.
                    assert not large or (size >= BIG and 0 < end < len(frame)), (size, end)
                    assert not (large and reads_bytes(session)), (size, end)
                    large_reads += large
                echo = serialize_frame(opcode, payload)
                assert await raw.read_exactly(len(echo)) == echo, (opcode, size)
                assert not reading_large(session)
            assert large_reads > 0, "no large frame was ever read into its own buffer"
            assert not reads_bytes(session)  # a large frame came within SMALL_READS reads
            for n in range(SMALL_READS):  # one read each: then bytes again
                await raw.send(masked(0x1, b"%d" % n))
                echo = serialize_frame(0x1, b"%d" % n)
                assert await raw.read_exactly(len(echo)) == echo
            assert reads_bytes(session)
            await raw.close()

    run(scenario(), 60, loop=loop)


async def wait_open(server: Server) -> None:
    for _ in range(200):
        if server.sessions and only_session(server).conn.state.value == "open":
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the server never opened the WebSocket")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_peer_that_leaves_mid_frame_frees_its_session_without_the_collector(loop: str) -> None:
    """A large frame's buffer is the session's: once the connection is gone, nothing
    holds either (no cycle left for the collector)."""

    async def scenario() -> None:
        async with serving(config=Config(max_size=2 << 20, extensions=())) as server:
            raw = await open_websocket(server.port)
            await wait_open(server)
            session = only_session(server)
            frame = masked(0x2, bytes(1 << 20))
            before = session.bytes_in
            await raw.send(frame[: len(frame) // 2])
            await read_in(session, before + len(frame) // 2)
            assert reading_large(session)
            ref = weakref.ref(session)
            del session
            await raw.close()
            for _ in range(200):
                if not server.sessions:
                    break
                await asyncio.sleep(0.005)
            assert not server.sessions
            await asyncio.sleep(0.05)
            assert ref() is None, "the session is still alive"

    gc.disable()
    try:
        run(scenario(), 30, loop=loop)
    finally:
        gc.enable()
