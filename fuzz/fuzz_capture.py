"""Fuzz the capture reader and the inspector's dissector.

The bytes are written to a file and opened as `wirelab inspect` does: `open_capture`,
the whole file indexed, every packet read and dissected by a `StreamDissector` (packet
layers, TCP reassembly, HTTP and WebSocket messages) and turned into JSON as `wirelab
dissect --json` does, and each connection's conversation built as the inspector shows
it. A file that is not a capture, or damaged, may only raise a `WirelabError`
(`CaptureError`) or be reported in `Capture.problems`; any other exception is a finding.

Most random changes to a capture break its framing, and the reader stops at the first
broken record. So a pcap file is also mutated packet by packet (`mutate`): one
packet's bytes changed (its lengths, and its IP length, kept in step), or packets
duplicated, dropped or swapped, which is what TCP reassembly and the HTTP and
WebSocket dissectors behind it have to cope with.
"""

from __future__ import annotations

import json
import random
import struct

import atheris
from harness import MAX_INPUT, fuzz, scratch

with atheris.instrument_imports(include=["simulator"]):
    from simulator.dissect.conversation import message_conversation
    from simulator.dissect.stream_view import StreamDissector
    from simulator.errors import WirelabError
    from simulator.trace.pcap import Capture, CaptureProblem, open_capture

# pcap magic → (byte order, record header size), as in simulator.trace.pcap.
MAGIC = {
    bytes.fromhex("d4c3b2a1"): ("<", 16),
    bytes.fromhex("a1b2c3d4"): (">", 16),
    bytes.fromhex("4d3cb2a1"): ("<", 16),
    bytes.fromhex("a1b23c4d"): (">", 16),
    bytes.fromhex("34cdb2a1"): ("<", 24),
    bytes.fromhex("a1b2cd34"): (">", 24),
}
LINK_HEADER = {0: 4, 1: 14, 101: 0, 108: 4, 113: 16, 228: 0}  # where the IP packet starts

Pcap = tuple[bytes, str, int, list[tuple[bytes, bytes]]]


def split(data: bytes) -> Pcap | None:
    """A classic pcap file → (file header, byte order, link type, [(record header,
    packet)]); None for anything else, or a file whose framing is broken."""
    if data[:4] not in MAGIC or len(data) < 24:
        return None
    endian, size = MAGIC[data[:4]]
    (link_type,) = struct.unpack_from(endian + "I", data, 20)
    records = []
    at = 24
    while at + size <= len(data):
        (caplen,) = struct.unpack_from(endian + "I", data, at + 8)
        if at + size + caplen > len(data):
            return None
        records.append((data[at : at + size], data[at + size : at + size + caplen]))
        at += size + caplen
    return (data[:24], endian, link_type & 0xFFFF, records) if at == len(data) else None


def join(pcap: Pcap) -> bytes:
    header, endian, _, records = pcap
    out = bytearray(header)
    for record, packet in records:
        head = bytearray(record)
        struct.pack_into(endian + "II", head, 8, len(packet), len(packet))
        out += head + packet
    return bytes(out)


def fix_ip_length(packet: bytes, link_type: int) -> bytes:
    """`packet` with its IPv4 total length (IPv6 payload length) saying its real size."""
    at = LINK_HEADER.get(link_type)
    if at is None or len(packet) < at + 20:
        return packet
    fixed = bytearray(packet)
    if packet[at] >> 4 == 4:
        struct.pack_into("!H", fixed, at + 2, min(len(packet) - at, 0xFFFF))
    elif packet[at] >> 4 == 6 and len(packet) >= at + 40:
        struct.pack_into("!H", fixed, at + 4, min(len(packet) - at - 40, 0xFFFF))
    return bytes(fixed)


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's own mutation, or (for a sound pcap file) one packet at a time."""
    rng = random.Random(seed)
    pcap = split(data)
    if pcap is None or not pcap[3] or rng.random() < 0.25:
        return bytes(atheris.Mutate(data, max_size))
    header, endian, link_type, records = pcap
    records = list(records)
    i = rng.randrange(len(records))
    choice = rng.random()
    if choice < 0.7:
        record, packet = records[i]
        room = max(0, max_size - len(data) + len(packet))
        packet = bytes(atheris.Mutate(packet, min(room, len(packet) + 256)))
        if rng.random() < 0.8:
            packet = fix_ip_length(packet, link_type)
        records[i] = (record, packet)
    elif choice < 0.8 and len(data) + len(records[i][1]) + 24 <= max_size:
        records.insert(rng.randrange(len(records) + 1), records[i])  # a retransmission
    elif choice < 0.9 and len(records) > 1:
        del records[i]  # a lost packet
    elif len(records) > 1:
        j = rng.randrange(len(records))
        records[i], records[j] = records[j], records[i]  # reordered
    out = join((header, endian, link_type, records))
    return out if len(out) <= max_size else bytes(atheris.Mutate(data, max_size))


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    with scratch() as folder:
        path = folder / "input.pcap"
        path.write_bytes(data)
        try:
            capture = open_capture(path)
        except WirelabError:
            return
        with capture:
            try:
                dissect(capture)
            except WirelabError:
                return


def dissect(capture: Capture) -> None:
    """Index all of `capture` and dissect it as the inspector does."""
    capture.index()
    assert capture.done, "index() returned before the end of the file"
    for problem in capture.problems:
        assert isinstance(problem, CaptureProblem), problem
    stream = StreamDissector(capture)
    conversation = message_conversation(stream)
    seen: set[int] = set()
    for index in range(len(capture)):
        record = capture.record(index)
        dissection = stream(record)
        json.dumps(dissection.to_json(), ensure_ascii=False)
        connection = capture.connection_of(index)
        if connection is not None and connection not in seen:
            seen.add(connection)
            conversation(capture, index, stream)


if __name__ == "__main__":
    fuzz(test_one_input, custom_mutator=mutate)
