"""Frames for the break-it sandbox's invariant tests: every opcode, FIN, MASK, good and bad.

Shared by the verdict tests (`judge` alone) and the screen tests (the verdict as shown).
"""

from __future__ import annotations

from simulator.sandbox import presets
from simulator.ws.frames import Opcode, serialize_frame
from tests.must_cases import CASES, KEY, close_payload

CLIENT_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 §5.7, masked "Hello"
SERVER_HELLO = bytes.fromhex("810548656c6c6f")

Case = tuple[str, bytes, bool]  # (id, bytes, sent by the client)


def frame(opcode: int, payload: bytes = b"", *, masked: bool, fin: bool = True) -> bytes:
    return serialize_frame(opcode, payload, masking_key=KEY if masked else None, fin=fin)


def long_header(length: int, *, masked: bool) -> bytes:
    """A BINARY frame's header announcing `length` in the 64-bit form (no payload follows)."""
    second = 0xFF if masked else 0x7F
    return bytes([0x82, second]) + length.to_bytes(8, "big") + (KEY if masked else b"")


def payload_for(opcode: int) -> list[bytes]:
    if opcode == Opcode.CLOSE:
        return [b"", close_payload(1000, b"bye"), b"\x03", close_payload(1005)]
    if opcode == Opcode.TEXT:
        return [b"", b"h", b"caf\xc3\xa9", b"\xff"]
    return [b"", b"x", bytes(range(20))]


def varied_frames() -> list[Case]:
    """Each opcode × FIN × MASK × a few payloads, from both sides; then broken bytes."""
    cases: list[Case] = []
    for from_client in (True, False):
        side = "client" if from_client else "server"
        for opcode in range(16):
            for fin in (True, False):
                for masked in (True, False):
                    for payload in payload_for(opcode):
                        wire = frame(opcode, payload, masked=masked, fin=fin)
                        name = f"{side} op={opcode:#x} fin={int(fin)} mask={int(masked)}"
                        cases.append((f"{name} {payload.hex()}", wire, from_client))
        mask = from_client
        first = frame(Opcode.TEXT, b"Hel", masked=mask, fin=False)
        middle = frame(Opcode.CONTINUATION, b"l", masked=mask, fin=False)
        last = frame(Opcode.CONTINUATION, b"o", masked=mask)
        ping = frame(Opcode.PING, b"?", masked=mask)
        whole = frame(Opcode.BINARY, b"\x00\x01", masked=mask)
        cases += [
            (f"{side} two fragments open", first + middle, from_client),
            (f"{side} a whole fragmented message", first + middle + last, from_client),
            (f"{side} a ping between fragments", first + ping, from_client),
            (f"{side} two messages", whole + whole, from_client),
            (f"{side} a message and half a frame", whole + whole[:3], from_client),
            (
                f"{side} a message after a close",
                frame(Opcode.CLOSE, b"", masked=mask) + whole,
                from_client,
            ),
            (f"{side} nothing", b"", from_client),
            (f"{side} one byte", whole[:1], from_client),
            (f"{side} a 16-bit length cut", bytes([0x82, 0xFE, 0x01]), from_client),
            (
                f"{side} a 64-bit length with its top bit",
                long_header(1 << 63 | 2, masked=mask) + b"ab",
                from_client,
            ),
            (f"{side} more than the limit", long_header(2 << 20, masked=mask), from_client),
        ]
        for cut in range(len(whole)):
            cases.append((f"{side} a frame cut after {cut} bytes", whole[:cut], from_client))
    for code in (999, 1004, 1005, 1006, 1015, 2000, 5000):
        cases.append(
            (f"close code {code}", frame(Opcode.CLOSE, close_payload(code), masked=True), True)
        )
    cases += [(f"must {case.id}", case.wire, True) for case in CASES]
    for name, wire, from_client in [
        ("client-text", CLIENT_HELLO, True),
        ("client-ping", frame(Opcode.PING, b"are you there?", masked=True), True),
        ("client-close", frame(Opcode.CLOSE, close_payload(1000, b"bye"), masked=True), True),
        ("server-text", SERVER_HELLO, False),
        ("server-pong", frame(Opcode.PONG, b"ok", masked=False), False),
        ("server-fragment", frame(Opcode.BINARY, b"12", masked=False, fin=False), False),
    ]:
        cases.append((name, wire, from_client))
        for preset in presets(wire, from_client):
            cases.append((f"{name} preset {preset.name}", preset.apply(wire), from_client))
    return cases
