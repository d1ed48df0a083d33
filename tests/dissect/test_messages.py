"""Reassembled messages in context: each connection's key, client and permessage-deflate.

`MessageDissector` is fed the PDUs the reassembler cuts from two interleaved
connections; what one connection's handshake said must explain that
connection's later messages, never the other's.
"""

from __future__ import annotations

import zlib

from simulator.dissect.fields import Dissection
from simulator.dissect.messages import MessageDissector, dissect_with_messages, message_json
from simulator.dissect.packet import dissect_record
from simulator.trace import Endpoint, Layer, Pdu, WireRecord, reassemble
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.handshake import accept_key, build_request, build_response
from tests.dissect.helpers import check_tree, field, problem

SERVER = Endpoint("10.0.0.2", 80)
ALICE = Endpoint("10.0.0.1", 50000)  # the client of connection 1
BOB = Endpoint("10.0.0.3", 50001)  # ... and of connection 2
KEY_A = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
KEY_B = "AQIDBAUGBwgJCgsMDQ4PEA=="
MASK = bytes.fromhex("37fa213d")
DEFLATE = "permessage-deflate"


def compressed(text: str) -> bytes:
    """`text` as permessage-deflate sends it: raw DEFLATE without the final 00 00 ff ff."""
    deflater = zlib.compressobj(wbits=-15)
    data = deflater.compress(text.encode()) + deflater.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


Write = tuple[Endpoint, Endpoint, int, bytes]  # (src, dst, connection, data)


def handshake(
    client: Endpoint, key: str, connection: int, *, extensions: str | None = None
) -> list[Write]:
    request = build_request(host="example.com", path="/", key=key)
    return [
        (client, SERVER, connection, request),
        (SERVER, client, connection, build_response(key, extensions=extensions)),
    ]


def pdus(writes: list[Write]) -> list[Pdu]:
    """The messages the reassembler cuts from these socket writes, in stream order."""
    records = [
        WireRecord(i, 1000.0 + i, Layer.STREAM, data, src=src, dst=dst, connection=connection)
        for i, (src, dst, connection, data) in enumerate(writes)
    ]
    found = reassemble(records).pdus
    assert len(found) >= len(writes)
    return found


def dissect_all(found: list[Pdu], messages: MessageDissector | None = None) -> list[Dissection]:
    messages = messages or MessageDissector()
    out = [messages.dissect(pdu) for pdu in found]
    for dissection in out:
        check_tree(dissection)
    return out


def accept_display(dissection: Dissection) -> tuple[str, str | None]:
    (accept,) = [f for f in dissection.find_all("http.header") if f.label == "Sec-WebSocket-Accept"]
    return accept.display, accept.problem


# --- the accept value is checked against the request of the same connection --------------


def test_each_accept_is_checked_against_its_own_connections_key() -> None:
    a, b = handshake(ALICE, KEY_A, 1), handshake(BOB, KEY_B, 2)
    found = pdus([a[0], b[0], b[1], a[1]])  # two requests, then the answers in reverse order
    dissections = dissect_all(found)
    assert [p.src for p in found] == [ALICE, BOB, SERVER, SERVER]
    assert accept_display(dissections[2]) == (f"{accept_key(KEY_B)} (matches the key)", None)
    assert accept_display(dissections[3]) == (f"{accept_key(KEY_A)} (matches the key)", None)
    assert dissections[0].problems == dissections[2].problems == ()


def test_an_accept_for_the_other_connections_key_does_not_match() -> None:
    a, b = handshake(ALICE, KEY_A, 1), handshake(BOB, KEY_B, 2)
    swapped_a = (SERVER, ALICE, 1, b[1][3])  # B's answer on A's connection
    found = pdus([a[0], b[0], swapped_a])
    display, trouble = accept_display(dissect_all(found)[2])
    assert display == f"{accept_key(KEY_B)} (does not match)"
    assert trouble == f"does not match the key (expected {accept_key(KEY_A)})"


def test_an_answer_without_its_request_cannot_be_checked() -> None:
    # The capture began after the request: nothing to check the answer against.
    found = pdus(handshake(ALICE, KEY_A, 1))
    assert accept_display(dissect_all(found[1:])[0]) == (accept_key(KEY_A), None)


# --- permessage-deflate comes from the 101 of the same connection -----------------------


def rsv1_frame(client: Endpoint, connection: int) -> Write:
    """The server's compressed TEXT 'hello': RSV1 set."""
    frame = serialize_frame(Opcode.TEXT, compressed("hello"), rsv1=True)
    return (SERVER, client, connection, frame)


def test_deflate_is_known_per_connection_from_its_101() -> None:
    with_deflate = handshake(ALICE, KEY_A, 1, extensions=DEFLATE)
    without = handshake(BOB, KEY_B, 2)
    found = pdus([*with_deflate, *without, rsv1_frame(ALICE, 1), rsv1_frame(BOB, 2)])
    *_, compressed_frame, refused_frame = dissect_all(found)

    rsv1 = field(compressed_frame, "ws.rsv1")
    assert rsv1.display == "1 (compressed message, permessage-deflate)" and rsv1.problem is None
    assert field(compressed_frame, "ws.inflated").value == "hello"
    assert compressed_frame.problems == ()

    assert problem(refused_frame, "ws.rsv1") == (
        "set, but no extension was negotiated: a protocol error (1002)"
    )
    assert refused_frame.find("ws.inflated") is None


def test_deflate_is_unknown_without_the_101() -> None:
    found = pdus([*handshake(ALICE, KEY_A, 1, extensions=DEFLATE), rsv1_frame(ALICE, 1)])
    (frame,) = dissect_all(found[2:])  # the handshake was not seen
    rsv1 = field(frame, "ws.rsv1")
    assert rsv1.display == "1 (compressed, if permessage-deflate was negotiated)"
    assert rsv1.problem is None
    assert field(frame, "ws.inflated").value == "hello"  # a guess, and a good one


# --- which side is the client comes from the request --------------------------------------


def test_masking_is_checked_once_the_client_is_known() -> None:
    unmasked_from_client = (ALICE, SERVER, 1, serialize_frame(Opcode.TEXT, b"hi"))
    masked_from_server = (SERVER, ALICE, 1, serialize_frame(Opcode.TEXT, b"hi", masking_key=MASK))
    writes = [*handshake(ALICE, KEY_A, 1), unmasked_from_client, masked_from_server]
    found = pdus(writes)
    client_frame, server_frame = dissect_all(found)[2:]
    assert problem(client_frame, "ws.mask").startswith("a client must mask every frame")
    assert problem(server_frame, "ws.mask").startswith("a server must not mask its frames")
    # Without the request, nobody knows who is the client: nothing to say.
    for frame in dissect_all(found[2:]):
        assert problem(frame, "ws.mask") == ""


# --- titles, JSON, and a packet with its messages ---------------------------------------


def test_titles_name_the_direction_the_size_and_the_packets() -> None:
    messages = MessageDissector()
    (request,) = pdus(handshake(ALICE, KEY_A, 1)[:1])
    frame = serialize_frame(Opcode.PING, b"p", masking_key=MASK)
    ping = Pdu("websocket", ALICE, SERVER, request.connection, frame, 154, (3,), 3)
    titles = {
        (0,): "packet 1",
        (3, 4, 5): "packets 4–6",
        (3, 5): "packets 4, 6",
        tuple(range(0, 20, 2)): "packets 1, 3, 5, 7, 9, 11, 13, 15, …",
    }
    for packets, shown in titles.items():
        pdu = Pdu("http", ALICE, SERVER, request.connection, request.data, 0, packets, packets[-1])
        name = messages.dissect(pdu).buffers[0].name
        assert name == f"HTTP message {ALICE} → {SERVER} ({len(request.data)} bytes, {shown})"
    dissection = messages.dissect(ping)
    assert dissection.buffers[0].name == f"WebSocket frame {ALICE} → {SERVER} (7 bytes, packet 4)"
    assert dissection.buffers[1].name == "Unmasked payload"
    assert dissection.summary == "PING 'p' [1 byte, masked]"


def test_message_json() -> None:
    first_piece = serialize_frame(Opcode.TEXT, b"hello", fin=False, masking_key=MASK)
    found = pdus([*handshake(ALICE, KEY_A, 1), (ALICE, SERVER, 1, first_piece)])
    request, response, frame = found
    messages = MessageDissector()
    out = [message_json(pdu, messages.dissect(pdu)) for pdu in found]
    assert {k: out[0][k] for k in ("kind", "packet", "packets", "src", "dst", "length")} == {
        "kind": "http", "packet": 1, "packets": [1], "src": str(ALICE), "dst": str(SERVER),
        "length": len(request.data),
    }  # fmt: skip
    assert out[0]["start_line"] == "GET / HTTP/1.1"
    assert out[1]["start_line"] == "HTTP/1.1 101 Switching Protocols"
    assert (out[1]["src"], out[1]["length"]) == (str(SERVER), len(response.data))
    assert {k: v for k, v in out[2].items() if k not in ("fields", "src", "dst")} == {
        "kind": "websocket", "packet": 3, "packets": [3], "length": len(frame.data),
        "fin": False, "rsv1": False, "rsv2": False, "rsv3": False, "opcode": 1, "mask": True,
        "payload_length": 5, "masking_key": MASK.hex(), "payload": b"hello".hex(),
        "problems": [],
    }  # fmt: skip
    assert "start_line" not in out[2]
    assert [f["name"] for f in out[2]["fields"]] == ["ws"]  # type: ignore[attr-defined]


def test_a_packet_followed_by_the_messages_it_completed() -> None:
    writes = handshake(ALICE, KEY_A, 1)
    found = pdus(writes)
    record = WireRecord(0, 1000.0, Layer.STREAM, writes[0][3], src=ALICE, dst=SERVER, connection=1)
    alone = dissect_record(record)
    together = dissect_with_messages(record, found[:1])
    check_tree(together)
    assert together.fields[: len(alone.fields)] == alone.fields
    assert together.fields[-1].name == "http" and together.protocol == "HTTP"
    assert together.summary == f"{ALICE} → {SERVER} GET / HTTP/1.1"
    assert len(together.buffers) == len(alone.buffers) + 1
