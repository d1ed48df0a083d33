"""Fuzz the HTTP head reader and the WebSocket opening handshake built on it.

`simulator.http.read_head` may only return a head, None (incomplete), or raise
`HttpError`. A head it returns is then checked as a server checks a handshake request
(`check_request`, `HandshakeError` is an `HttpError`), and the same bytes are fed to a
server `Connection` (offering permessage-deflate) and, as a response, to a client
`Connection`: those may only report events, never raise.
"""

from __future__ import annotations

import contextlib
import random
import typing

import atheris
from harness import MAX_INPUT, fuzz

with atheris.instrument_imports(include=["simulator"]):
    from simulator.http import MAX_HEAD, HttpError, read_head
    from simulator.ws import Config, Connection, Event, Request, Role
    from simulator.ws import handshake as hs
    from simulator.ws.deflate import PerMessageDeflate
    from simulator.ws.extensions import parse_extensions

EVENTS = typing.get_args(Event)


def _deflate() -> PerMessageDeflate:
    return PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)


CONFIG = Config(extensions=(_deflate,), subprotocols=("chat", "wirelab"))


def read(data: bytes) -> None:
    try:
        parsed = read_head(data)
    except HttpError as error:
        assert error.status in (400, 431), error.status
        return
    end = data.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if parsed is None:
        assert end < 0, "a complete head was not read"
        return
    head, used = parsed
    assert used == end + 4, (used, end)
    assert read_head(data[:used]) == parsed, "the head alone reads differently"
    for name, _ in head.headers:
        with contextlib.suppress(HttpError):  # a field given twice
            head.get(name)
        head.tokens(name)
    try:
        request = hs.check_request(head)
        parse_extensions(", ".join(request.extensions))
    except HttpError:
        return
    hs.build_response(request.key)


def server(data: bytes) -> None:
    conn = Connection(Role.SERVER, config=CONFIG, rng=random.Random(0).randbytes)
    conn.receive_data(data)
    events = conn.events()
    assert all(isinstance(event, EVENTS) for event in events), events
    if events and isinstance(events[-1], Request):
        conn.accept()
        conn.events()
    conn.data_to_send()


def client(data: bytes) -> None:
    conn = Connection(Role.CLIENT, config=CONFIG, rng=random.Random(0).randbytes)
    conn.connect("127.0.0.1:8765", "/echo")
    conn.data_to_send()
    conn.receive_data(data)
    events = conn.events()
    assert all(isinstance(event, EVENTS) for event in events), events


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    read(data)
    server(data)
    client(data)


if __name__ == "__main__":
    fuzz(test_one_input)
