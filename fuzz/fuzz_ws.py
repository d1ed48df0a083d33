"""Fuzz the WebSocket engine: a server `Connection` after a valid opening handshake.

Input: one settings byte, then the bytes the client sends after the handshake.

    bit 0     permessage-deflate negotiated (as `wirelab serve` offers it)
    bit 1     a small message size limit (1 KiB) instead of the default 1 MiB
    bits 2-4  how the bytes arrive: all at once, or in pieces of 1, 2, 3, 7, 64, 500 bytes
    bit 5     the server echoes every message (its sending side, compression included)
    bit 6     the bytes are read into the engine's buffer (`get_buffer`/`buffer_updated`,
              as the live server reads them) instead of `receive_data`

A peer that breaks RFC 6455 must never make `receive_data` raise: the connection
fails itself, reports `ConnectionFailed` and queues a close frame. Every call must
give events only, and the connection must stay usable (`receive_eof`, `events`,
`data_to_send`).
"""

from __future__ import annotations

import random
import typing

import atheris
from harness import MAX_INPUT, fuzz

with atheris.instrument_imports(include=["simulator"]):
    from simulator.ws import (
        Config,
        Connection,
        ConnectionFailed,
        ConnectionState,
        Event,
        Request,
        Role,
        send_message,
    )
    from simulator.ws.deflate import PerMessageDeflate

EVENTS = typing.get_args(Event)
PIECES = (0, 1, 2, 3, 7, 64, 500, 0)  # 0: all at once
SMALL = 1024


def _deflate() -> PerMessageDeflate:
    return PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)


def config(settings: int) -> Config:
    return Config(
        max_size=SMALL if settings & 2 else Config().max_size,
        extensions=(_deflate,) if settings & 1 else (),
    )


def handshake(settings: int) -> bytes:
    """The request a client with these settings sends (the same bytes every time)."""
    client = Connection(Role.CLIENT, config=config(settings), rng=random.Random(0).randbytes)
    client.connect("127.0.0.1:8765", "/echo", origin="http://127.0.0.1:8765")
    return client.data_to_send()


REQUESTS = {settings: handshake(settings) for settings in range(4)}


def events(server: Connection, *, echo: bool) -> list[Event]:
    taken = server.events()
    for event in taken:
        assert isinstance(event, EVENTS), f"not an event: {event!r}"
        if echo:
            send_message(server, event)
    out = server.data_to_send()
    assert isinstance(out, bytes), type(out)
    return taken


def test_one_input(data: bytes) -> None:
    if not data or len(data) > MAX_INPUT:
        return
    settings, rest = data[0], data[1:]
    server = Connection(Role.SERVER, config=config(settings & 3), rng=random.Random(0).randbytes)
    server.receive_data(REQUESTS[settings & 3])
    [request] = server.events()
    assert isinstance(request, Request), request
    server.accept()
    assert server.state is ConnectionState.OPEN, server.state
    if settings & 1:
        assert [e.name for e in server.extensions] == ["permessage-deflate"]
    server.data_to_send()
    echo = bool(settings & 0x20)
    piece = PIECES[(settings >> 2) & 7] or len(rest) or 1
    seen: list[Event] = []
    for start in range(0, len(rest), piece):
        chunk = rest[start : start + piece]
        if settings & 0x40:
            while chunk:
                room = server.get_buffer()
                assert len(room) > 0, "an empty buffer"
                n = min(len(room), len(chunk))
                room[:n] = chunk[:n]
                server.buffer_updated(n)
                chunk = chunk[n:]
        else:
            server.receive_data(chunk)
        seen += events(server, echo=echo)
    failed = server.failure is not None
    server.receive_eof()
    last = server.events()
    assert all(isinstance(event, EVENTS) for event in last), last
    assert server.closed, server.state
    assert server.events() == [] and server.data_to_send() == b""
    # A failure is reported once: after the messages before it, never twice (the
    # transport's end then adds no 1006 of its own).
    failures = [event for event in seen + last if isinstance(event, ConnectionFailed)]
    if failed:
        assert len(failures) == 1, failures
    else:
        assert len(failures) <= 1, failures  # 1006 for the end of the transport


if __name__ == "__main__":
    fuzz(test_one_input)
