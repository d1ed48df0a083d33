"""Buffered reads (`get_buffer`/`buffer_updated`) against `feed`/`receive_data`: the same
frames, payloads and events for any bytes in any chunks, the big-frame path (a payload of
`BIG_PAYLOAD` bytes or more read into a buffer of its own) included; `partial_payload`;
and the connection's strictness about what follows messages and about partial UTF-8."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from simulator.ws import (
    Accepted,
    BinaryMessage,
    Config,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    Opcode,
    Request,
    Role,
    TextMessage,
    Violation,
    frames,
    send_message,
)
from simulator.ws.frames import (
    BIG_PAYLOAD,
    READ_SIZE,
    Frame,
    FrameReader,
    build_frame,
    serialize_frame,
)
from tests.ws.helpers import (
    ENGINE_SETTINGS,
    NONCE,
    RFC_REQUEST,
    RFC_RESPONSE,
    FrameShape,
    close_code_of,
    frames_of,
    open_client,
    open_server,
)

FAST = settings(ENGINE_SETTINGS, max_examples=40)

MAX_SIZE = 1 << 20  # the servers' Config(max_size=...): above every message drawn here
TOP = 300 * 1024  # the largest payload drawn

# Payload sizes: the 7-bit form, the 16-bit form and its edges, the big-frame path's edge
# (64 KiB), the read buffer's (256 KiB), and past both.
small_sizes = st.one_of(st.integers(0, 125), st.sampled_from([126, 127, 300]))
medium_sizes = st.one_of(st.integers(126, 3000), st.sampled_from([65534, 65535]))
big_sizes = st.one_of(
    st.sampled_from(
        [BIG_PAYLOAD, BIG_PAYLOAD + 1, READ_SIZE - 14, READ_SIZE - 10, READ_SIZE, READ_SIZE + 1]
    ),
    st.integers(BIG_PAYLOAD - 2, BIG_PAYLOAD + 9),
    st.integers(BIG_PAYLOAD, TOP),
)
keys = st.none() | st.binary(min_size=4, max_size=4)


class Blob(bytes):
    """Bytes that Hypothesis reports briefly: a failing example stays readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {bytes(self[:8])!r}...>"


def random_bytes(seed: int, n: int) -> bytes:
    return Blob(random.Random(seed).randbytes(n))


FrameTuple = tuple[bool, bool, bool, bool, int, bytes | None, bytes, bytes]


def as_tuple(frame: Frame) -> FrameTuple:
    return (
        frame.fin,
        frame.rsv1,
        frame.rsv2,
        frame.rsv3,
        frame.opcode,
        frame.masking_key,
        bytes(frame.payload),
        frame.header,
    )


@st.composite
def payloads(draw: st.DrawFn, *, big: bool) -> bytes:
    n = draw(st.one_of(small_sizes, medium_sizes, big_sizes) if big else small_sizes)
    if n <= 300:
        return draw(st.binary(min_size=n, max_size=n))
    return random_bytes(draw(st.integers(0, 2**32)), n)


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[FrameShape]:
    """Frames as they may follow each other: whole data messages, fragmented ones with
    control frames between the fragments, control frames, and anything at all (any
    opcode, FIN and RSV bits); masked or not. At most two big payloads."""
    shapes: list[FrameShape] = []
    bigs = 0

    def frame(opcode: int, *, fin: bool, control: bool = False) -> None:
        nonlocal bigs
        payload = draw(payloads(big=not control and bigs < 2))
        bigs += len(payload) >= BIG_PAYLOAD
        rsv = draw(st.lists(st.booleans(), min_size=3, max_size=3))
        shapes.append(
            FrameShape(
                opcode=opcode,
                payload=payload,
                fin=fin,
                rsv1=rsv[0],
                rsv2=rsv[1],
                rsv3=rsv[2],
                masking_key=draw(keys),
            )
        )

    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["message", "fragmented", "control", "any"]))
        if kind == "message":
            frame(draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY])), fin=True)
        elif kind == "fragmented":
            frame(draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY])), fin=False)
            for last in [False] * draw(st.integers(0, 2)) + [True]:
                if draw(st.booleans()):
                    frame(draw(st.sampled_from([Opcode.PING, Opcode.PONG])), fin=True, control=True)
                frame(Opcode.CONTINUATION, fin=last)
        elif kind == "control":
            opcode = draw(st.sampled_from([Opcode.PING, Opcode.PONG, Opcode.CLOSE]))
            frame(opcode, fin=True, control=True)
        else:
            frame(draw(st.integers(0, 15)), fin=draw(st.booleans()))
    return shapes


def header_length(shape: FrameShape) -> int:
    n = len(shape["payload"])
    return (2 if n < 126 else 4 if n < 0x10000 else 10) + (4 if shape["masking_key"] else 0)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (any order, duplicates and ends ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


def draw_cuts(data: st.DataObject, length: int, interesting: list[int]) -> list[int]:
    """Where to cut `length` bytes: anywhere, and around frame and header boundaries."""
    anywhere = st.integers(0, length)
    cuts = data.draw(
        st.one_of(st.lists(anywhere, max_size=12), st.lists(anywhere, max_size=1)), label="cuts"
    )
    near = [p + d for p in interesting for d in (-1, 0, 1) if 0 < p + d < length]
    if near:
        cuts += data.draw(st.lists(st.sampled_from(near), max_size=6), label="near")
    return cuts


class Sink(Protocol):
    def get_buffer(self) -> memoryview: ...

    def buffer_updated(self, nbytes: int) -> None: ...


def recv_into(sink: Sink, chunk: bytes, after: Callable[[int], None]) -> None:
    """Deliver `chunk` the way a socket's recv_into does: as much as the buffer from
    `get_buffer` holds, then `buffer_updated(n)`, then `after(n)`, until all is in.
    A few bytes past `n` are scribbled on: nothing may be read from there."""
    view = memoryview(chunk)
    while view:
        buf = sink.get_buffer()
        assert len(buf) > 0, "get_buffer() returned an empty buffer"
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        junk = min(len(buf), n + 16)
        buf[n:junk] = b"\xaa" * (junk - n)
        del buf
        sink.buffer_updated(n)
        after(n)
        view = view[n:]


# --- 1. FrameReader: feed, buffered reads, both mixed ----------------------------------


@settings(FAST, max_examples=120)
@given(data=st.data())
def test_frame_reader_gives_the_same_frames_fed_or_read_into_its_buffer(
    data: st.DataObject,
) -> None:
    shapes = data.draw(frame_sequences(), label="frames")
    parts = [serialize_frame(**shape) for shape in shapes]
    expected = [as_tuple(build_frame(**shape)) for shape in shapes]
    wire = b"".join(parts)
    starts = [0]
    for part in parts:
        starts.append(starts[-1] + len(part))
    interesting = starts + [s + header_length(sh) for s, sh in zip(starts, shapes, strict=False)]
    # The input may stop anywhere, mid-header or mid-payload of a big frame too.
    stop = data.draw(
        st.one_of(
            st.just(len(wire)),
            st.integers(0, len(wire)),
            st.sampled_from([min(len(wire), p + d) for p in interesting for d in (0, 1, 2)]),
        ),
        label="stop",
    )
    chunks = split(wire[:stop], draw_cuts(data, stop, interesting))
    whole = sum(end <= stop for end in starts[1:])
    # What is left comes back as it came, a big frame's part included.
    tail = wire[starts[whole] : stop] if whole < len(shapes) else b""

    bigs = [len(shape["payload"]) >= BIG_PAYLOAD for shape in shapes]
    event(f"big frames: {sum(bigs)}")
    if whole < len(shapes) and bigs[whole]:
        event("the input stops in a big frame")
    if any(len(chunk) > READ_SIZE for chunk in chunks):
        event("a read longer than the read buffer")

    for way in ("feed", "buffer", "mixed"):
        reader = FrameReader()
        got: list[FrameTuple] = []

        def drain(_n: int = 0, reader: FrameReader = reader, got: list[FrameTuple] = got) -> None:
            while (item := reader.next_item()) is not None:
                frame = reader.frame(item)
                # The raw item and the Frame agree; the payload is the item's, byte for byte.
                assert bytes(item[2]) == frame.payload
                assert item[1] == frame.masking_key and item[4] == len(frame.header)
                got.append(as_tuple(frame))

        for chunk in chunks:
            buffered = way == "buffer" or (way == "mixed" and data.draw(st.booleans()))
            if buffered:
                recv_into(reader, chunk, drain)
            else:
                reader.feed(chunk)
                if way == "mixed" or data.draw(st.booleans(), label="drain now"):
                    drain()
        drain()
        assert got == expected[:whole], way
        assert reader.take_remaining() == tail, way
        assert reader.next_item() is None and reader.buffered == 0
        assert not reader.waiting


@settings(FAST, max_examples=40)
@given(
    shape=st.fixed_dictionaries(
        {
            "opcode": st.sampled_from([Opcode.TEXT, Opcode.BINARY]),
            "payload": payloads(big=True),
            "fin": st.booleans(),
            "rsv1": st.just(False),
            "rsv2": st.just(False),
            "rsv3": st.just(False),
            "masking_key": keys,
        }
    ),
    data=st.data(),
)
def test_buffered_counts_what_take_remaining_returns(
    shape: FrameShape, data: st.DataObject
) -> None:
    """`buffered` is "bytes received but not yet returned as frames": what
    `take_remaining` would hand back, at any point of a frame, the big one included."""
    wire = serialize_frame(**shape)
    stop = data.draw(st.integers(0, len(wire) - 1), label="stop")
    reader = FrameReader()
    for chunk in split(wire[:stop], draw_cuts(data, stop, [header_length(shape)])):
        if data.draw(st.booleans(), label="buffered"):
            recv_into(reader, chunk, lambda _n: None)
        else:
            reader.feed(chunk)
        assert reader.next_item() is None
    buffered = reader.buffered
    assert buffered == stop, (buffered, stop)
    assert len(reader.take_remaining()) == buffered


# --- 2. partial_payload ------------------------------------------------------------


@settings(FAST, max_examples=100)
@given(data=st.data())
def test_partial_payload_gives_each_arrived_byte_once_and_in_time(data: st.DataObject) -> None:
    """For the frame whose payload is arriving, the pieces `partial_payload` returned so
    far are exactly the (unmasked) payload bytes received so far: none twice, none left
    out, none late — whichever way the bytes came, with a whole frame before it and one
    after it in the same input, and whether or not it was asked after every read."""
    target = FrameShape(
        opcode=data.draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION])),
        payload=data.draw(payloads(big=True), label="payload"),
        fin=data.draw(st.booleans()),
        rsv1=data.draw(st.booleans()),
        rsv2=False,
        rsv3=False,
        masking_key=data.draw(keys, label="key"),
    )
    before = data.draw(st.lists(st.binary(max_size=200), max_size=1), label="before")
    after = data.draw(st.lists(st.binary(max_size=200), max_size=1), label="after")
    shapes = [
        FrameShape(
            opcode=Opcode.BINARY,
            payload=p,
            fin=True,
            rsv1=False,
            rsv2=False,
            rsv3=False,
            masking_key=b"\x01\x02\x03\x04",
        )
        for p in before
    ]
    shapes.append(target)
    shapes += [
        FrameShape(
            opcode=Opcode.PONG,
            payload=p[:125],
            fin=True,
            rsv1=False,
            rsv2=False,
            rsv3=False,
            masking_key=None,
        )
        for p in after
    ]
    parts = [serialize_frame(**shape) for shape in shapes]
    wire = b"".join(parts)
    starts = [0]
    for part in parts:
        starts.append(starts[-1] + len(part))
    payload_starts = [s + header_length(sh) for s, sh in zip(starts, shapes, strict=False)]
    chunks = split(wire, draw_cuts(data, len(wire), starts + payload_starts))
    way = data.draw(st.sampled_from(["feed", "buffer", "mixed"]), label="way")

    reader = FrameReader()
    fed = 0
    done: list[bytes] = []  # payloads of whole frames
    pieces: list[bytes] = []  # partial_payload() of the frame still arriving

    def step(n: int) -> None:
        nonlocal fed, pieces
        fed += n
        while (item := reader.next_item()) is not None:
            i = len(done)
            payload = bytes(item[2])
            assert payload == shapes[i]["payload"]
            # What was given before is the start of it (checked below as it came).
            assert b"".join(pieces) == payload[: len(b"".join(pieces))]
            done.append(payload)
            pieces = []
        if not data.draw(st.booleans(), label="ask now"):
            return
        piece = reader.partial_payload()
        if not reader.waiting:
            assert len(piece) == 0
            return
        pieces.append(bytes(piece))
        i = len(done)
        assert starts[i] < fed < starts[i + 1]
        so_far = shapes[i]["payload"][: max(0, fed - payload_starts[i])]
        assert b"".join(pieces) == so_far, (len(b"".join(pieces)), len(so_far))

    for chunk in chunks:
        if way == "buffer" or (way == "mixed" and data.draw(st.booleans())):
            recv_into(reader, chunk, step)
        else:
            reader.feed(chunk)
            step(len(chunk))
    assert done == [shape["payload"] for shape in shapes]
    assert len(reader.partial_payload()) == 0 and not reader.waiting


# --- 3. Connection: receive_data against get_buffer/buffer_updated -----------------

ALPHABET = "aZ0 é€𝄞\u07ff\uffff\U0010ffff"


def random_text(seed: int, nbytes: int) -> str:
    """Text of about `nbytes` bytes of UTF-8, with 1-, 2-, 3- and 4-byte characters."""
    rng = random.Random(seed)
    return "".join(rng.choices(ALPHABET, k=max(0, nbytes // 2)))


Message = tuple[str, str | bytes, int | None]  # kind, data, fragment_size


@st.composite
def messages(draw: st.DrawFn, *, most: int = 4, bigs: int = 2) -> list[Message]:
    out: list[Message] = []
    for _ in range(draw(st.integers(1, most))):
        big = bigs > 0 and draw(st.booleans())
        bigs -= big
        size = draw(big_sizes if big else st.one_of(small_sizes, medium_sizes))
        seed = draw(st.integers(0, 2**32))
        data: str | bytes
        if draw(st.booleans()):
            data = random_text(seed, size)
            n = len(data.encode())
        else:
            data = random_bytes(seed, size)
            n = size
        fragment = None
        if draw(st.booleans()) and n > 1:
            # At most 40 frames a message (the connection limits fragments per message).
            fragment = max(draw(st.integers(1, n)), -(-n // 40))
        out.append(("text" if isinstance(data, str) else "binary", data, fragment))
    return out


def masking_rng(seed: int) -> Callable[[int], bytes]:
    """The RFC's nonce for the handshake, then seeded masking keys."""
    rng = random.Random(seed)
    return lambda n: NONCE if n == 16 else rng.randbytes(n)


def client_wire(msgs: list[Message], seed: int) -> bytes:
    """What a real client puts on the wire for `msgs` (masked frames)."""
    return wire_of(open_client(rng=masking_rng(seed)), msgs)


def wire_of(conn: Connection, msgs: list[Message]) -> bytes:
    """What `conn` puts on the wire for `msgs`."""
    for _kind, data, fragment in msgs:
        if isinstance(data, str):
            conn.send_text(data, fragment_size=fragment)
        else:
            conn.send_binary(data, fragment_size=fragment)
    return conn.data_to_send()


def summary(events: list[Event]) -> list[tuple[str, str | bytes]]:
    out: list[tuple[str, str | bytes]] = []
    for ev in events:
        if isinstance(ev, TextMessage):
            out.append(("text", ev.data))
        elif isinstance(ev, BinaryMessage):
            out.append(("binary", bytes(ev.data)))
        else:
            out.append((type(ev).__name__, repr(ev)))
    return out


def server_frames(msgs: list[Message]) -> bytes:
    """What a server's echo of `msgs` is on the wire: one unmasked frame each."""
    return b"".join(
        serialize_frame(Opcode.TEXT, data.encode())
        if isinstance(data, str)
        else serialize_frame(Opcode.BINARY, data)
        for _kind, data, _fragment in msgs
    )


def config() -> Config:
    return Config(max_size=MAX_SIZE)


@settings(FAST, max_examples=80)
@given(msgs=messages(), seed=st.integers(0, 2**16), data=st.data())
def test_connection_events_and_echo_are_the_same_either_way(
    msgs: list[Message], seed: int, data: st.DataObject
) -> None:
    """An endpoint gets the same messages, and answers them with the same bytes, whether
    it is given its peer's bytes by `receive_data` or reads them into `get_buffer`, or
    both at random, in any chunks; and the messages are what the peer sent. A server
    reads a client's masked frames; a client, a server's unmasked ones."""
    role = data.draw(st.sampled_from([Role.SERVER, Role.CLIENT]), label="receiver")
    if role is Role.SERVER:
        wire = client_wire(msgs, seed)
        handshake, answer = RFC_REQUEST, RFC_RESPONSE
    else:
        wire = wire_of(open_server(rng=masking_rng(seed)), msgs)
        handshake, answer = RFC_RESPONSE, RFC_REQUEST
    # The opening handshake may come in the same reads, the first frames right behind it.
    handshake_too = data.draw(st.booleans(), label="handshake in the same reads")
    stream = handshake + wire if handshake_too else wire
    frame_starts = [len(stream) - len(wire)]
    for frame in frames_of(wire):
        frame_starts.append(frame_starts[-1] + len(frame.raw))
    chunks = split(stream, draw_cuts(data, len(stream), frame_starts))
    flushes = [data.draw(st.booleans(), label="flush") for _ in chunks]
    mixed = [data.draw(st.booleans(), label="buffered") for _ in chunks]
    event(f"{role.value} reads big frames: {sum(f.length_form == 64 for f in frames_of(wire))}")
    if any(len(chunk) > READ_SIZE for chunk in chunks):
        event("a read longer than the read buffer")

    def opened() -> Connection:
        rng = masking_rng(seed + 1)
        if not handshake_too:
            return (
                open_server(config(), rng=rng)
                if role is Role.SERVER
                else open_client(config(), rng=rng)
            )
        conn = Connection(role, config=config(), rng=rng)
        if role is Role.CLIENT:
            conn.connect("server.example.com", "/chat")
            assert conn.data_to_send() == answer
        return conn

    results: list[tuple[list[tuple[str, str | bytes]], bytes]] = []
    for way in ("receive_data", "buffer", "mixed"):
        conn = opened()
        events: list[Event] = []
        out = bytearray()
        for chunk, flush, buffered in zip(chunks, flushes, mixed, strict=True):
            if way == "buffer" or (way == "mixed" and buffered):
                recv_into(conn, chunk, lambda _n: None)
            else:
                conn.receive_data(chunk)
            taken = conn.events()
            if taken and isinstance(taken[0], Request):
                conn.accept()
                assert conn.data_to_send() == answer
                taken = conn.events()  # the frames that waited for accept()
            elif taken and isinstance(taken[0], Accepted):
                taken = taken[1:]
            for message in taken:
                # The application answers as the messages come: a large echo is queued
                # uncopied while the next frames are read.
                assert send_message(conn, message), message
            events += taken
            if flush:
                out += conn.data_to_send()
        out += conn.data_to_send()
        assert conn.state is ConnectionState.OPEN, way
        results.append((summary(events), bytes(out)))

    expected = [(kind, data) for kind, data, _fragment in msgs]
    echo: list[Message] = [(kind, data, None) for kind, data, _fragment in msgs]
    (events_a, out_a), *others = results
    assert events_a == expected
    if role is Role.SERVER:
        assert out_a == server_frames(msgs)
    else:  # masked with the keys the client draws, in order
        assert out_a == client_wire(echo, seed + 1)
    for events_b, out_b in others:
        assert events_b == events_a
        assert out_b == out_a


# --- 4. Strictness ------------------------------------------------------------------


@st.composite
def violations(draw: st.DrawFn) -> tuple[bytes, Violation]:
    """One frame from a client that breaks a rule of RFC 6455 (1002), or a text frame
    whose bytes are not UTF-8 (1007), possibly only its start."""
    key = draw(st.binary(min_size=4, max_size=4))
    payload = draw(st.binary(max_size=200))
    kind = draw(
        st.sampled_from(
            [
                "rsv",
                "opcode",
                "continuation",
                "unmasked",
                "long ping",
                "not utf-8",
                "not utf-8, begun",
            ]
        )
    )
    if kind == "rsv":  # §5.2: RSV bits without an extension that defines them
        bit = draw(st.integers(1, 3))
        frame = serialize_frame(
            draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY])),
            b"fine text",
            rsv1=bit == 1,
            rsv2=bit == 2,
            rsv3=bit == 3,
            masking_key=key,
        )
        return frame, Violation.RSV_WITHOUT_EXTENSION
    if kind == "opcode":  # §5.2: 0x3-0x7 are reserved
        return serialize_frame(0x3, payload, masking_key=key), Violation.RESERVED_OPCODE
    if kind == "continuation":  # §5.4: nothing to continue
        frame = serialize_frame(Opcode.CONTINUATION, payload, masking_key=key)
        return frame, Violation.CONTINUATION_WITHOUT_MESSAGE
    if kind == "unmasked":  # §5.1: a client masks every frame
        frame = serialize_frame(draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY])), b"")
        return frame + payload, Violation.UNMASKED_CLIENT_FRAME
    if kind == "long ping":  # §5.5: a control frame carries at most 125 bytes
        size = draw(st.integers(126, 300))
        frame = serialize_frame(Opcode.PING, bytes(size), masking_key=key)
        return frame, Violation.CONTROL_FRAME_TOO_LONG
    # §8.1: a text frame that cannot be UTF-8 (1007), whole or only begun: the bytes
    # so far already show it.
    text = b"caf\xc3\xa9 \xff" + payload + b"!"
    frame = serialize_frame(Opcode.TEXT, text, masking_key=key)
    if kind == "not utf-8, begun":
        frame = frame[: len(frame) - len(payload) - 1]
    return frame, Violation.TEXT_NOT_UTF8


@settings(FAST, max_examples=80)
@given(
    msgs=messages(most=3, bigs=1),
    bad=violations(),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_messages_before_a_violation_come_first_and_may_be_answered(
    msgs: list[Message], bad: tuple[bytes, Violation], seed: int, data: st.DataObject
) -> None:
    frame, violation = bad
    if data.draw(st.booleans(), label="no message before"):
        msgs = []
    wire = client_wire(msgs, seed) if msgs else b""
    # What follows the violation in the same read counts for nothing.
    after = client_wire([("text", "never delivered", None)], seed + 1)
    after = after[: data.draw(st.integers(0, len(after)), label="after")]
    # The violation comes in the same read as the end of the messages (a read of at most
    # 4 KiB: it fits in the read buffer whatever came before).
    cut = data.draw(st.integers(max(0, len(wire) - 4096), max(0, len(wire) - 1)), label="cut")
    chunks = split(wire[:cut], draw_cuts(data, cut, []))
    chunks.append(wire[cut:] + frame + after)
    way = data.draw(st.sampled_from(["receive_data", "buffer"]), label="way")

    conn = open_server(config())
    for chunk in chunks:
        if way == "buffer":
            recv_into(conn, chunk, lambda _n: None)
        else:
            conn.receive_data(chunk)

    first = conn.events()
    echo = server_frames(msgs)
    if msgs:
        assert summary(first) == [(kind, data) for kind, data, _f in msgs]
        assert conn.state is ConnectionState.OPEN
        for event in first:
            assert send_message(conn, event)
        # Whatever the application does next applies the failure, after its answers.
        then = data.draw(
            st.sampled_from(
                ["data_to_send", "output", "events", "receive_data", "buffer", "receive_eof"]
            ),
            label="then",
        )
        if then == "data_to_send":
            out = conn.data_to_send()
            failed = conn.events()
        elif then == "output":
            out = b"".join(conn.output())
            failed = conn.events()
        else:
            if then == "events":
                failed = conn.events()
            else:
                if then == "receive_data":
                    conn.receive_data(after or b"\x81")
                elif then == "buffer":
                    recv_into(conn, after or b"\x81", lambda _n: None)
                else:
                    conn.receive_eof()
                failed = conn.events()
            out = conn.data_to_send()
    else:
        failed = first  # nothing to answer: it fails at once
        out = conn.data_to_send()

    assert [type(e) for e in failed] == [ConnectionFailed], failed
    assert isinstance(failed[0], ConnectionFailed)  # for mypy
    code = violation.close_code
    assert code == (1007 if violation is Violation.TEXT_NOT_UTF8 else 1002)
    assert failed[0].code == code and failed[0].violation is violation, failed[0]
    assert conn.state is ConnectionState.CLOSED
    assert out[: len(echo)] == echo, "the answers go out first"
    [close] = frames_of(out[len(echo) :])
    assert close_code_of(close) == code
    assert conn.events() == [] and conn.data_to_send() == b""


# (bytes, index of the byte that makes them invalid UTF-8 whatever follows)
BAD_UTF8 = [
    (b"\xff", 0),
    (b"\x80", 0),  # a continuation byte with nothing to continue
    (b"\xc0\x80", 0),  # C0 and C1 only start overlong forms
    (b"\xe0\x80\x80", 1),  # overlong
    (b"\xed\xa0\x80", 1),  # a UTF-16 surrogate, U+D800
    (b"\xed\xbf\xbf", 1),  # U+DFFF
    (b"\xf0\x8f\xbf\xbf", 1),  # overlong
    (b"\xf4\x90\x80\x80", 1),  # past U+10FFFF
    (b"\xe2\x82A", 2),  # a 3-byte character cut short
    (b"\xf0\x9d\x84 ", 3),  # a 4-byte one cut short
]

text_sizes = st.one_of(
    st.integers(0, 40), st.integers(100, 400), st.integers(BIG_PAYLOAD, BIG_PAYLOAD + 5000)
)


@pytest.mark.parametrize("bad", [None, *BAD_UTF8], ids=lambda bad: repr(bad[0]) if bad else "valid")
@settings(FAST, max_examples=20)
@given(
    prefix=text_sizes,
    suffix=st.integers(2, 300),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_invalid_utf8_fails_as_soon_as_its_bytes_arrive(
    prefix: int, suffix: int, bad: tuple[bytes, int] | None, seed: int, data: st.DataObject
) -> None:
    """A text message fails with 1007 in the very read that brings the byte making it
    invalid, before its frame is whole (in a single frame or in a continuation frame,
    the characters cut anywhere, big frames included); valid text cut anywhere arrives
    intact."""
    head = random_text(seed, prefix).encode()
    text = head + (bad[0] if bad else b"") + random_text(seed + 1, suffix).encode()
    detect = len(head) + bad[1] if bad else None  # index in the message
    keys_ = [random_bytes(seed + 2, 4), random_bytes(seed + 3, 4)]
    if data.draw(st.booleans(), label="fragmented"):
        # The first frame ends anywhere before that byte (a character may be cut in two).
        f = data.draw(st.integers(0, len(text) if detect is None else detect), label="first")
        first = serialize_frame(Opcode.TEXT, text[:f], fin=False, masking_key=keys_[0])
        last = serialize_frame(Opcode.CONTINUATION, text[f:], masking_key=keys_[1])
        wire = first + last
        payload_start = len(first) + len(last) - (len(text) - f)
        offset = f
    else:
        wire = serialize_frame(Opcode.TEXT, text, masking_key=keys_[0])
        payload_start = len(wire) - len(text)
        offset = 0
    cuts = draw_cuts(data, len(wire), [payload_start])
    where = None
    if detect is not None:
        where = payload_start + detect - offset  # the offending byte, in `wire`
        assert where < len(wire) - 1
        # The read that brings it ends before the frame does.
        end = st.one_of(st.just(where + 1), st.integers(where + 1, len(wire) - 1))
        cuts.append(data.draw(end, label="end of that read"))
    chunks = split(wire, cuts)
    way = data.draw(st.sampled_from(["receive_data", "buffer", "mixed"]), label="way")

    conn = open_server(config())
    received = 0
    for chunk in chunks:
        if way == "buffer" or (way == "mixed" and data.draw(st.booleans(), label="buffered")):
            recv_into(conn, chunk, lambda _n: None)
        else:
            conn.receive_data(chunk)
        received += len(chunk)
        events = conn.events()
        if where is not None and received > where:
            assert received < len(wire)
            [failed] = events
            assert isinstance(failed, ConnectionFailed), (events, received, where)
            assert failed.code == 1007 and failed.violation is Violation.TEXT_NOT_UTF8
            assert conn.state is ConnectionState.CLOSED
            [close] = frames_of(conn.data_to_send())
            assert close_code_of(close) == 1007
            return
        if received < len(wire):
            assert events == [], (events, received, where)
            assert conn.state is ConnectionState.OPEN
    assert where is None
    assert summary(events) == [("text", text.decode())]
    assert conn.state is ConnectionState.OPEN and conn.data_to_send() == b""


@pytest.mark.parametrize("announced", [BIG_PAYLOAD, 1 << 20, 16 << 20])
@pytest.mark.parametrize("part", [0, 16, 8, 2, 1])  # 1/part of the payload came (1: but a byte)
def test_what_a_reader_holds_follows_what_came_not_what_a_header_claims(
    announced: int, part: int
) -> None:
    """A header alone (14 bytes claiming 16 MiB) must not make the reader allocate the
    payload it announces: a thousand such connections would hold gigabytes. Whatever
    part of the payload came, in whatever way, the reader holds at most eight times it
    (plus a read buffer its thread shares)."""
    import tracemalloc

    wire = serialize_frame(Opcode.BINARY, bytes(announced), masking_key=b"\x01\x02\x03\x04")
    header = len(wire) - announced
    came = min(announced - 1, announced // part) if part else 0
    given = wire[: header + came]
    for way in ("feed", "buffer"):
        reader = FrameReader()
        reader.get_buffer()  # this thread's read buffer, before counting
        tracemalloc.start()
        try:
            if way == "feed":
                for at in range(0, len(given), 4096):
                    reader.feed(given[at : at + 4096])
                    assert reader.next_item() is None
            else:
                at = 0
                while at < len(given):
                    room = reader.get_buffer()
                    n = min(len(room), 4096, len(given) - at)
                    room[:n] = given[at : at + n]
                    reader.buffer_updated(n)
                    at += n
                    assert reader.next_item() is None
            held, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert held <= 8 * len(given) + 64 * 1024, (way, held, len(given))
        assert reader.buffered == len(given)


POISON = 0xEE


def read_in_pieces(way: str, wire: bytes, upto: int, payload: bytes) -> FrameReader:
    """Read `wire[:upto]` in eight pieces; after each, the partial payloads given so far
    must be the payload's start."""
    reader = FrameReader()
    gave = bytearray()
    at = 0
    for step in range(1, 9):
        end = upto * step // 8
        if way == "feed":
            reader.feed(wire[at:end])
        else:
            recv_into(reader, wire[at:end], lambda _n: None)
        at = end
        assert reader.next_item() is None
        gave += reader.partial_payload()
        assert bytes(gave) == payload[: len(gave)]
    return reader


@pytest.mark.parametrize("way", ["feed", "buffer"])
def test_a_large_frame_buffer_gives_out_no_byte_it_did_not_receive(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large payload's buffer is not zeroed when made (`frames._unfilled`): whatever
    the memory held stays there until the reads overwrite it. Made full of poison here,
    what the reader gives out (partial payloads, what it returns unparsed, the payload)
    is only ever the bytes that came."""
    made: list[bytearray] = []

    def poisoned(length: int) -> bytearray:
        made.append(bytearray([POISON]) * length)
        return made[-1]

    monkeypatch.setattr(frames, "_unfilled", poisoned)
    payload = bytes(random.Random(7).choice(b"abc") for _ in range(1 << 20))
    wire = serialize_frame(Opcode.BINARY, payload, masking_key=b"\x01\x02\x03\x04")
    upto = len(wire) - 1000
    reader = read_in_pieces(way, wire, upto, payload)
    assert reader.take_remaining() == wire[:upto]  # masked again, as it came
    reader = read_in_pieces(way, wire, upto, payload)
    if way == "feed":
        reader.feed(wire[upto:])
    else:
        recv_into(reader, wire[upto:], lambda _n: None)
    item = reader.next_item()
    assert item is not None and bytes(item[2]) == payload
    assert len(made) == 2, "the payload was not read into a buffer of its own"


def test_an_unfilled_bytearray_is_a_bytearray_of_its_length() -> None:
    for length in (0, 1, BIG_PAYLOAD, 3 << 20):
        made = frames._unfilled(length)
        assert type(made) is bytearray and len(made) == length
        made[-1:] = b"x"[: min(1, length)]  # writable
