"""Properties over generated input: round-trips, any chunking, hostile bytes never crash."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.ws import (
    Accepted,
    BinaryMessage,
    CloseReceived,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    HandshakeFailed,
    Ping,
    Pong,
    Rejected,
    Request,
    Role,
    TextMessage,
)
from simulator.ws.frames import FrameReader, build_frame, parse_frames, serialize_frame
from simulator.ws.handshake import MAX_HEAD
from simulator.ws.mask import apply_mask, mask_inplace
from tests.ws.helpers import (
    ENGINE_SETTINGS,
    KEY,
    RFC_REQUEST,
    RFC_RESPONSE,
    FrameShape,
    chunked,
    naive_mask,
    open_server,
    rfc_rng,
)

FAST = settings(ENGINE_SETTINGS, max_examples=150)

MAX_HEADER = 14  # 2 + 8 (64-bit length) + 4 (masking key)

chunk_sizes = st.lists(st.integers(1, 64), min_size=1, max_size=8)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Payloads in all three length forms, a few past 65535, cheap to generate."""
    n = draw(
        st.one_of(
            st.integers(0, 125),
            st.integers(126, 300),
            st.sampled_from([65535, 65536, 70001]),
            st.integers(126, 65535),
        )
    )
    if n <= 300:
        return draw(st.binary(min_size=n, max_size=n))
    return random.Random(draw(st.integers(0, 2**32))).randbytes(n)


frame_shapes = st.fixed_dictionaries(
    {
        "opcode": st.integers(0, 15),
        "payload": payloads(),
        "fin": st.booleans(),
        "rsv1": st.booleans(),
        "rsv2": st.booleans(),
        "rsv3": st.booleans(),
        "masking_key": st.none() | st.binary(min_size=4, max_size=4),
    }
)


@FAST
@given(shape=frame_shapes, sizes=chunk_sizes)
def test_serialize_parse_roundtrip(shape: FrameShape, sizes: list[int]) -> None:
    wire = serialize_frame(**shape)
    frame = build_frame(**shape)
    assert frame.raw == wire
    n = len(shape["payload"])
    form = 7 if n < 126 else 16 if n < 65536 else 64
    assert frame.length_form == form  # the shortest form (§5.2: "the minimal number")
    header = {7: 2, 16: 4, 64: 10}[form] + (4 if shape["masking_key"] else 0)
    assert len(wire) == header + n
    if shape["masking_key"] is not None:
        assert wire[header:] == naive_mask(shape["payload"], shape["masking_key"])
    else:
        assert wire[header:] == shape["payload"]

    frames, rest = parse_frames(wire + wire[:1])
    assert frames == [frame] and rest == wire[:1]
    # The incremental reader gives the same frame for any chunking (small frames only:
    # feeding 65 KiB in 1-byte pieces would only make the test slow).
    if n <= 300:
        reader = FrameReader()
        got = []
        for chunk in chunked(wire + wire, sizes):
            reader.feed(chunk)
            while (parsed := reader.next_frame()) is not None:
                got.append(parsed)
        assert got == [frame, frame]
        assert reader.buffered == 0


@FAST
@given(
    data=st.binary(max_size=3000), key=st.binary(min_size=4, max_size=4), start=st.integers(0, 7)
)
def test_masking_matches_the_rfc(data: bytes, key: bytes, start: int) -> None:
    assert apply_mask(data, key) == naive_mask(data, key)
    buf = bytearray(b"\xaa" * start + data + b"\x55")
    mask_inplace(buf, key, start, start + len(data))
    assert buf == b"\xaa" * start + naive_mask(data, key) + b"\x55"


messages = st.lists(
    st.tuples(
        st.one_of(st.text(max_size=200), st.binary(max_size=300)),
        st.none() | st.integers(1, 40),  # fragment size
    ),
    max_size=6,
)


def send(conn: Connection, data: str | bytes, fragment_size: int | None) -> None:
    if isinstance(data, str):
        conn.send_text(data, fragment_size=fragment_size)
    else:
        conn.send_binary(data, fragment_size=fragment_size)


def expected(sent: list[tuple[str | bytes, int | None]]) -> list[object]:
    return [TextMessage(d) if isinstance(d, str) else BinaryMessage(d) for d, _ in sent]


@FAST
@given(
    seed=st.integers(0, 2**16),
    to_server=messages,
    to_client=messages,
    sizes_cs=chunk_sizes,
    sizes_sc=chunk_sizes,
)
def test_pair_delivers_any_messages_over_any_chunking(
    seed: int,
    to_server: list[tuple[str | bytes, int | None]],
    to_client: list[tuple[str | bytes, int | None]],
    sizes_cs: list[int],
    sizes_sc: list[int],
) -> None:
    client = Connection(Role.CLIENT, rng=random.Random(seed).randbytes)
    server = Connection(Role.SERVER)
    client.connect("example.com", "/")

    def move(src: Connection, dst: Connection, sizes: list[int]) -> list[object]:
        for chunk in chunked(src.data_to_send(), sizes):
            dst.receive_data(chunk)
        return list(dst.events())

    [request] = move(client, server, sizes_cs)
    assert isinstance(request, Request)
    server.accept()
    # The server speaks first, in the same flight as its 101.
    for data, size in to_client:
        send(server, data, size)
    got_client = move(server, client, sizes_sc)
    assert isinstance(got_client[0], Accepted)
    assert got_client[1:] == expected(to_client)

    for data, size in to_server:
        send(client, data, size)
    assert move(client, server, sizes_cs) == expected(to_server)

    client.close(1000, "done")
    assert move(client, server, sizes_cs) == [CloseReceived(1000, "done")]
    [closed] = move(server, client, sizes_sc)
    assert isinstance(closed, CloseReceived) and closed.code == 1000
    assert client.state is server.state is ConnectionState.CLOSED


@st.composite
def client_frames(draw: st.DrawFn) -> bytes:
    """A plausible client frame, valid or not, to mix into hostile input."""
    return serialize_frame(
        draw(st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11])),
        draw(st.binary(max_size=40)),
        fin=draw(st.booleans()),
        rsv1=draw(st.integers(0, 9)) == 0,
        masking_key=draw(st.sampled_from([KEY, b"\x00\x00\x00\x00", None])),
    )


long_headers = st.one_of(
    st.integers(0, 2**16 - 1).map(lambda n: b"\x82\xfe" + n.to_bytes(2, "big") + KEY),
    st.integers(0, 2**64 - 1).map(lambda n: b"\x82\xff" + n.to_bytes(8, "big") + KEY),
)

hostile_bytes = st.lists(
    st.one_of(st.binary(max_size=40), client_frames(), long_headers), max_size=12
).map(b"".join)


EVENT_TYPES = (TextMessage, BinaryMessage, Ping, Pong, CloseReceived, ConnectionFailed)


@FAST
@given(data=hostile_bytes, sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8))
def test_open_server_survives_any_bytes_and_bounds_its_buffer(
    data: bytes, sizes: list[int]
) -> None:
    limit = 1024
    server = open_server(Config(max_size=limit))
    ended = False
    for chunk in chunked(data, sizes):
        server.receive_data(chunk)  # never raises
        # White-box: all the reader keeps is the start of one frame within the limit.
        assert server._reader.buffered < MAX_HEADER + limit
        for event in server.events():
            assert isinstance(event, EVENT_TYPES)
            assert not ended, "nothing after the end"
            ended = isinstance(event, CloseReceived | ConnectionFailed)
        server.data_to_send()
    if ended:
        assert server.state is ConnectionState.CLOSED
        assert server._reader.buffered == 0


@FAST
@given(
    prefix=st.sampled_from([b"", RFC_REQUEST[:20], RFC_REQUEST[:-2], RFC_REQUEST]),
    data=st.binary(max_size=2000),
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=8),
)
def test_fresh_server_survives_any_bytes(prefix: bytes, data: bytes, sizes: list[int]) -> None:
    limit = 1024
    server = Connection(Role.SERVER, config=Config(max_size=limit))
    first = None
    out = b""
    for chunk in chunked(prefix + data, sizes):
        server.receive_data(chunk)  # never raises
        for event in server.events():
            if first is None:
                first = event
            if isinstance(event, Request):
                server.accept()
        out += server.data_to_send()
        if server.state is ConnectionState.CONNECTING and first is None:
            assert len(server._head) <= MAX_HEAD + len(chunk)  # white-box, as above
        elif server.state is not ConnectionState.CONNECTING:
            assert server._reader.buffered < MAX_HEADER + limit
    if isinstance(first, HandshakeFailed):
        assert 400 <= first.status < 500
        assert out.startswith(f"HTTP/1.1 {first.status} ".encode())
    elif isinstance(first, Request):
        assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    else:
        assert first is None and out == b""


@FAST
@given(
    prefix=st.sampled_from([b"", RFC_RESPONSE[:20], RFC_RESPONSE, b"HTTP/1.1 400 Bad\r\n"]),
    data=st.binary(max_size=2000),
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=8),
)
def test_client_survives_any_bytes(prefix: bytes, data: bytes, sizes: list[int]) -> None:
    client = Connection(Role.CLIENT, rng=rfc_rng)
    client.connect("server.example.com", "/chat")
    client.data_to_send()
    events = []
    for chunk in chunked(prefix + data, sizes):
        client.receive_data(chunk)  # never raises
        events += client.events()
        client.data_to_send()
    if events:
        assert isinstance(events[0], Accepted | Rejected | HandshakeFailed)
        if not isinstance(events[0], Accepted):
            assert len(events) == 1 and client.state is ConnectionState.CLOSED
