"""WebSocket frames: the RFC 6455 §5.7 examples, close frames, unmasking, RSV1, bad frames."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.dissect.fields import Dissection
from simulator.dissect.websocket import dissect_ws_frame, websocket_dissection
from simulator.ws.frames import Opcode, serialize_frame
from simulator.ws.violations import Violation
from tests.dissect.helpers import FAST, check_tree, field, names_at, problem

KEY = bytes.fromhex("37fa213d")  # RFC 6455 §5.7's masking key
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")


def ws(data: bytes, **kw: bool | None) -> Dissection:
    d = websocket_dissection(data, title="Frame", **kw)  # type: ignore[arg-type]
    check_tree(d)
    return d


def test_masked_hello_header_fields() -> None:
    d = ws(MASKED_HELLO)
    expected = {
        "ws.fin": (0, 1, (0, 1), True),
        "ws.rsv1": (0, 1, (1, 2), False),
        "ws.rsv2": (0, 1, (2, 3), False),
        "ws.rsv3": (0, 1, (3, 4), False),
        "ws.opcode": (0, 1, (4, 8), 1),
        "ws.mask": (1, 2, (8, 9), True),
        "ws.payload_length": (1, 2, (9, 16), 5),
        "ws.masking_key": (2, 6, None, KEY),
        "ws.payload": (6, 11, None, b"Hello"),
    }
    for name, (start, end, bits, value) in expected.items():
        got = field(d, name)
        assert (got.start, got.end, got.bits, got.value, got.buffer) == (
            start, end, bits, value, 0,
        ), name  # fmt: skip
        assert got.explanation, name
    assert field(d, "ws.opcode").display == "0x1 (text)"
    assert field(d, "ws.masking_key").display == "37 fa 21 3d"
    assert d.summary == "TEXT 'Hello' [5 bytes, masked]"
    assert d.protocol == "WebSocket" and d.problems == ()


def test_masked_hello_unmasking() -> None:
    d = ws(MASKED_HELLO)
    assert [b.data for b in d.buffers] == [MASKED_HELLO, b"Hello"]
    unmasking = field(d, "ws.unmasking")
    assert (unmasking.start, unmasking.end, unmasking.buffer) == (0, 5, 1)
    steps = unmasking.children
    assert [str(s) for s in steps] == [
        "payload[0]: 0x7f ⊕ 0x37 = 0x48 'H'",
        "payload[1]: 0x9f ⊕ 0xfa = 0x65 'e'",
        "payload[2]: 0x4d ⊕ 0x21 = 0x6c 'l'",
        "payload[3]: 0x51 ⊕ 0x3d = 0x6c 'l'",
        "payload[4]: 0x58 ⊕ 0x37 = 0x6f 'o'",
    ]
    assert [(s.buffer, s.start, s.end) for s in steps] == [(1, i, i + 1) for i in range(5)]
    text = field(d, "ws.text")
    assert (text.value, text.buffer, text.start, text.end) == ("Hello", 1, 0, 5)
    assert names_at(d, 1) == ["ws.unmasking.byte"] * 5
    assert names_at(d, 0)[6:] == ["ws.payload"] * 5


def test_masked_without_an_unmasked_buffer_points_at_the_frame() -> None:
    top = dissect_ws_frame(MASKED_HELLO, buffer=2, offset=40)
    steps = next(f for _, f in top.walk() if f.name == "ws.unmasking").children
    assert [(s.buffer, s.start) for s in steps] == [(2, 46 + i) for i in range(5)]
    fin = next(f for _, f in top.walk() if f.name == "ws.fin")
    assert (fin.start, fin.bits) == (40, (320, 321))


def test_unmasked_hello_and_fragments() -> None:
    d = ws(HELLO)
    assert field(d, "ws.text").value == "Hello"
    assert field(d, "ws.text").buffer == 0 and len(d.buffers) == 1
    first = ws(bytes.fromhex("01 03 48 65 6c"))
    assert field(first, "ws.fin").display == "0 (more frames follow)"
    assert field(first, "ws.text").value == "Hel"
    last = ws(bytes.fromhex("80 02 6c 6f"))
    assert field(last, "ws.opcode").display == "0x0 (continuation)"
    assert last.find("ws.text") is None


@pytest.mark.parametrize(
    ("frame", "name"),
    [(bytes.fromhex("89 05 48 65 6c 6c 6f"), "ping"),
     (bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), "pong")],
)  # fmt: skip
def test_control_frames_are_named(frame: bytes, name: str) -> None:
    d = ws(frame)
    assert field(d, "ws.opcode").display.endswith(f"({name})")
    assert d.summary.startswith(name.upper())
    assert field(d, "ws.payload").value == b"Hello"


def test_close_with_code_and_reason() -> None:
    frame = serialize_frame(Opcode.CLOSE, (1000).to_bytes(2) + b"bye", masking_key=KEY)
    d = ws(frame)
    code, reason = field(d, "ws.close.code"), field(d, "ws.close.reason")
    assert (code.value, code.display, code.buffer, code.start, code.end) == (
        1000, "1000 (normal closure)", 1, 0, 2,
    )  # fmt: skip
    assert "purpose of the connection has been fulfilled" in code.explanation
    assert (reason.value, reason.start, reason.end) == ("bye", 2, 5)
    assert d.summary == "CLOSE 1000 (normal closure) 'bye' [5 bytes, masked]"


def test_close_problems() -> None:
    assert "must not be sent" in (field(ws(b"\x88\x02\x03\xed"), "ws.close.code").problem or "")
    assert "1-byte" in (field(ws(b"\x88\x01\x03"), "ws.close.code").problem or "")
    bad_reason = field(ws(b"\x88\x04\x03\xe8\xff\xfe"), "ws.close.reason")
    assert bad_reason.problem is not None and "UTF-8" in bad_reason.problem
    assert ws(b"\x88\x00").find("ws.close.code") is None


def test_rsv1_depends_on_permessage_deflate() -> None:
    compressed = zlib.compressobj(wbits=-15)
    payload = (compressed.compress(b"Hello") + compressed.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = serialize_frame(Opcode.TEXT, payload, rsv1=True)
    negotiated = ws(frame, deflate=True)
    assert "compressed message" in field(negotiated, "ws.rsv1").display
    inflated = field(negotiated, "ws.inflated")
    assert inflated.value == "Hello" and negotiated.problems == ()
    assert negotiated.summary == "TEXT 'Hello' [7 bytes compressed from 5]"
    assert negotiated.find("ws.text") is None
    refused = field(ws(frame, deflate=False), "ws.rsv1")
    assert refused.problem is not None and "1002" in refused.problem
    unknown = field(ws(frame), "ws.rsv1")
    assert unknown.problem is None and "permessage-deflate" in unknown.explanation
    ping = field(ws(serialize_frame(Opcode.PING, b"", rsv1=True), deflate=True), "ws.rsv1")
    assert ping.problem is not None and "RFC 7692" in ping.problem


def test_protocol_violations() -> None:
    assert "reserved opcode" in problem(ws(b"\x83\x00"), "ws.opcode")
    assert "fragmented" in problem(ws(b"\x09\x00"), "ws.fin")
    big_ping = ws(b"\x89\x7e\x00\x7e" + bytes(126))
    assert "at most 125" in problem(big_ping, "ws.extended_payload_length")
    long_form = ws(b"\x82\x7e\x00\x05" + bytes(5))
    assert "shortest" in problem(long_form, "ws.extended_payload_length")
    assert "RSV2" not in "".join(ws(b"\x82\x00").problems)
    assert field(ws(b"\xa2\x00"), "ws.rsv2").problem is not None
    assert field(ws(HELLO, from_client=True), "ws.mask").problem is not None
    assert field(ws(MASKED_HELLO, from_client=False), "ws.mask").problem is not None
    assert field(ws(MASKED_HELLO, from_client=True), "ws.mask").problem is None
    invalid = field(ws(b"\x81\x02\xc3\x28"), "ws.text")
    assert invalid.problem is not None and "UTF-8" in invalid.problem
    # A text fragment may end inside a character; the next frame completes it.
    assert field(ws(b"\x01\x01\xc3"), "ws.text").problem is None


def test_extended_lengths() -> None:
    d = ws(serialize_frame(Opcode.BINARY, bytes(256)))
    ext = field(d, "ws.extended_payload_length")
    assert (ext.start, ext.end, ext.value) == (2, 4, 256)
    assert field(d, "ws.payload").start == 4
    d = ws(serialize_frame(Opcode.BINARY, bytes(70000), masking_key=KEY))
    ext = field(d, "ws.extended_payload_length")
    assert (ext.start, ext.end, ext.value) == (2, 10, 70000)
    assert field(d, "ws.masking_key").start == 10
    steps = field(d, "ws.unmasking").children
    assert len(steps) == 65
    rest = steps[-1]
    assert (rest.name, rest.start, rest.end, rest.buffer) == ("ws.unmasking.rest", 64, 70000, 1)


@pytest.mark.parametrize("cut", range(0, len(MASKED_HELLO)))
def test_truncated_frames(cut: int) -> None:
    d = ws(MASKED_HELLO[:cut])
    assert any("truncated" in p for p in d.problems)
    assert field(d, "ws").end == cut


def test_refused_64_bit_length() -> None:
    d = ws(bytes.fromhex("82 7f 80 00 00 00 00 00 00 00 01"))
    assert "most significant bit" in (field(d, "ws.extended_payload_length").problem or "")
    # The rule comes from the engine's violation, not from the words of its reason.
    rule = Violation.LENGTH_TOP_BIT
    assert f"the engine refuses this frame: {rule.rule} ({rule.section})" in d.problems[0]
    assert "fails the connection with 1002 (protocol error)" in d.problems[0]


def test_bytes_after_the_frame() -> None:
    d = ws(HELLO + b"\x81")
    assert field(d, "ws").end == len(HELLO)
    assert field(d, "data").start == len(HELLO)


@given(st.binary(max_size=200), st.sampled_from([None, True, False]))
@FAST
def test_arbitrary_bytes_never_raise(data: bytes, flag: bool | None) -> None:
    ws(data, deflate=flag, from_client=flag)
