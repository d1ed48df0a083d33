"""Domain helpers for the engine tests: wire bytes, opened endpoints, a client/server pair."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import TypedDict

from hypothesis import HealthCheck, settings

from simulator.ws import (
    Accepted,
    BinaryMessage,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    Request,
    Role,
    TextMessage,
    Violation,
)
from simulator.ws.frames import Frame, Opcode, parse_frames, serialize_frame

#: The engine's property tests: no deadline (CI machines are shared), no example database
#: on disk, large drawn payloads allowed. Each file sets its own `max_examples` on it.
ENGINE_SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class FrameShape(TypedDict):
    """The arguments of `serialize_frame` / `build_frame` for one frame."""

    opcode: int
    payload: bytes
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    masking_key: bytes | None


KEY = bytes.fromhex("37fa213d")  # RFC 6455 §5.7's masking key
NONCE = b"the sample nonce"  # base64: dGhlIHNhbXBsZSBub25jZQ== (RFC 6455 §1.3)

# RFC 6455 §1.2/§1.3: the sample opening handshake.
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)

MESSAGE_EVENTS = (TextMessage, BinaryMessage)


def rfc_rng(n: int) -> bytes:
    """A random source that replays the RFC's examples: the §1.3 nonce, the §5.7 key."""
    if n == 16:
        return NONCE
    if n == 4:
        return KEY
    raise AssertionError(f"unexpected request for {n} random bytes")


def seeded(seed: int) -> Callable[[int], bytes]:
    """A reproducible random source."""
    return random.Random(seed).randbytes


def masked(opcode: int, payload: bytes = b"", **flags: bool) -> bytes:
    """A frame as a client sends it (masked with the §5.7 key)."""
    return serialize_frame(opcode, payload, masking_key=KEY, **flags)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def byte_at_a_time(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def chunked(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """Split `data` into chunks of the given sizes, cycling through them (sizes >= 1)."""
    sizes = list(sizes) or [len(data) or 1]
    pos = i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        yield data[pos : pos + size]
        pos += size
        i += 1


def feed(conn: Connection, chunks: Iterable[bytes]) -> list[Event]:
    """Give every chunk to `conn`; return the events it produced."""
    for chunk in chunks:
        conn.receive_data(chunk)
    return conn.events()


def frames_of(wire: bytes) -> list[Frame]:
    """The whole frames in `wire`; fails if bytes are left over."""
    frames, rest = parse_frames(wire)
    assert rest == b"", f"{len(rest)} bytes after the last whole frame"
    return frames


def close_code_of(frame: Frame) -> int | None:
    assert frame.opcode == Opcode.CLOSE, f"expected a close frame, got {frame}"
    return int.from_bytes(frame.payload[:2], "big") if frame.payload else None


def unmask_wire(wire: bytes) -> bytes:
    """The same frames as a server would send them: MASK bit cleared, keys dropped.

    Works on incomplete frames too (e.g. a lone header announcing a huge payload).
    """
    out = bytearray()
    pos = 0
    while pos + 2 <= len(wire):
        b0, b1 = wire[pos], wire[pos + 1]
        hlen = {126: 4, 127: 10}.get(b1 & 0x7F, 2)
        length = b1 & 0x7F if hlen == 2 else int.from_bytes(wire[pos + 2 : pos + hlen], "big")
        out += bytes((b0, b1 & 0x7F)) + wire[pos + 2 : pos + hlen]
        pos += hlen
        key = None
        if b1 & 0x80:
            key = wire[pos : pos + 4]
            pos += 4
        payload = wire[pos : pos + length]
        pos += len(payload)
        out += payload if key is None else naive_mask(payload, key)
    return bytes(out + wire[pos:])


def naive_mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3 read literally: octet i XOR masking-key octet i mod 4."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def open_server(
    config: Config | None = None, *, rng: Callable[[int], bytes] = rfc_rng
) -> Connection:
    """A server that has accepted the RFC's sample handshake; its output is drained."""
    server = Connection(Role.SERVER, config=config, rng=rng)
    server.receive_data(RFC_REQUEST)
    assert [type(e) for e in server.events()] == [Request]
    server.accept()
    assert server.data_to_send() == RFC_RESPONSE
    assert server.state is ConnectionState.OPEN
    return server


def open_client(
    config: Config | None = None, *, rng: Callable[[int], bytes] = rfc_rng
) -> Connection:
    """A client that sent the RFC's sample request and got the sample 101; output drained."""
    client = Connection(Role.CLIENT, config=config, rng=rng)
    client.connect("server.example.com", "/chat")
    assert client.data_to_send() == RFC_REQUEST
    client.receive_data(RFC_RESPONSE)
    assert [type(e) for e in client.events()] == [Accepted]
    assert client.state is ConnectionState.OPEN
    return client


def assert_fails(
    conn: Connection, events: list[Event], code: int, violation: Violation | None = None
) -> None:
    """`conn` failed the connection with `code`: one event, one close frame, CLOSED, no message.

    The failure names the rule broken, a `Violation` whose close code is `code` (and
    which is `violation`, when given).
    """
    assert not [e for e in events if isinstance(e, MESSAGE_EVENTS)], events
    failures = [e for e in events if isinstance(e, ConnectionFailed)]
    assert [f.code for f in failures] == [code], events
    named = failures[0].violation
    assert named is not None, f"a failure with no rule named: {failures[0]}"
    assert named.close_code == code, (named, code)
    if violation is not None:
        assert named is violation, (named, violation)
    assert events[-1] == failures[0], "nothing is reported after the failure"
    assert conn.state is ConnectionState.CLOSED
    sent = frames_of(conn.data_to_send())
    assert sent, "a close frame is queued"
    assert close_code_of(sent[-1]) == code
    assert all(f.opcode != Opcode.CLOSE for f in sent[:-1])


def assert_roundtrip(frame: Frame, wire: bytes) -> None:
    """`frame` serializes to exactly `wire`, and `wire` parses back to `frame`."""
    flags = {"fin": frame.fin, "rsv1": frame.rsv1, "rsv2": frame.rsv2, "rsv3": frame.rsv3}
    assert (
        serialize_frame(frame.opcode, frame.payload, masking_key=frame.masking_key, **flags) == wire
    )
    assert frame.raw == wire
    assert frames_of(wire) == [frame]


class ConnectionPair:
    """A client and a server joined by an in-memory link, with seeded random sources.

    `to_server()` / `to_client()` move everything one side has queued to the
    other, optionally cut into chunks, and return the receiver's events.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        client_config: Config | None = None,
        server_config: Config | None = None,
        host: str = "example.com",
        path: str = "/chat",
        origin: str | None = None,
    ) -> None:
        self.client = Connection(Role.CLIENT, config=client_config, rng=seeded(seed))
        self.server = Connection(Role.SERVER, config=server_config, rng=seeded(seed + 1))
        self.client.connect(host, path, origin=origin)
        self.wire: list[tuple[str, bytes]] = []  # every chunk that crossed, for replay checks

    def _move(
        self, src: Connection, dst: Connection, label: str, sizes: Iterable[int] | None
    ) -> list[Event]:
        data = src.data_to_send()
        self.wire.append((label, data))
        for chunk in chunked(data, sizes or ()):
            dst.receive_data(chunk)
        return dst.events()

    def to_server(self, sizes: Iterable[int] | None = None) -> list[Event]:
        return self._move(self.client, self.server, "c→s", sizes)

    def to_client(self, sizes: Iterable[int] | None = None) -> list[Event]:
        return self._move(self.server, self.client, "s→c", sizes)

    def handshake(self, *, subprotocol: str | None = None) -> tuple[Event, Event]:
        """Run the opening handshake; return the server's Request and the client's Accepted."""
        [request] = self.to_server()
        self.server.accept(subprotocol=subprotocol)
        [accepted] = self.to_client()
        assert self.client.state is self.server.state is ConnectionState.OPEN
        return request, accepted


def opened_pair(
    *,
    seed: int = 0,
    client_config: Config | None = None,
    server_config: Config | None = None,
) -> ConnectionPair:
    """A pair past the opening handshake, both sides OPEN and their queues empty."""
    pair = ConnectionPair(seed=seed, client_config=client_config, server_config=server_config)
    pair.handshake()
    return pair
