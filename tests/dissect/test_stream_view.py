"""StreamDissector: records with the messages they completed, over a live trace and a capture.

Over a capture, reassembly is lazy and per connection: asking for packet N reads
only N's connection, only up to N. The conversation the inspector's follow view
shows is built from the same messages (tests/dissect/test_conversation.py).
"""

from __future__ import annotations

import functools
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from simulator.dissect.fields import Dissection
from simulator.dissect.messages import MessageDissector
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.stream_view import StreamDissector, as_wireshark_shows, in_context
from simulator.network.scenarios import run_built_in
from simulator.trace import Trace, WireRecord, reassemble
from simulator.trace.analysis import Analysis, analyse, info_marks
from simulator.trace.pcap import Capture, open_capture
from simulator.trace.streams import Reassembler
from simulator.ws.frames import Opcode, parse_frames
from tests.dissect.connections import (
    ALICE,
    BLOB,
    BOB,
    REQUEST_LENGTH,
    SERVER,
    UDP_AT,
    live_trace,
    two_connections_pcap,
)
from tests.dissect.helpers import check_tree


def reference(source: Any) -> dict[int, list[Dissection]]:
    """What each record completed, from an eager reassembly of the whole source."""
    reassembler = reassemble(source)
    messages = MessageDissector()
    done: dict[int, list[Dissection]] = {}
    for pdu in reassembler.pdus:
        done.setdefault(pdu.completed_in, []).append(messages.dissect(pdu))
    return done


@functools.cache
def eager(capture: Capture) -> tuple[Reassembler, dict[int, Analysis]]:
    """The whole capture reassembled and analysed at once, as a reference."""
    return reassemble(capture), analyse(capture)


def expected(
    record: WireRecord, done: dict[int, list[Dissection]], capture: Capture | None = None
) -> dict[str, Any]:
    alone = dissect_record(record)
    if capture is not None:  # what only the whole capture knows
        reassembler, analysis = eager(capture)
        alone = as_wireshark_shows(alone, record, reassembler, analysis.get(record.index),
                                   relative=False)  # fmt: skip
        since = record.time - capture.record(0).time
        alone = in_context(alone, since, capture.connection_of(record.index))
    return combine(alone, done.get(record.index, [])).to_json()


# --- a live trace -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Trace:
    return live_trace()


def test_live_records_come_with_the_messages_they_completed(live: Trace) -> None:
    stream = StreamDissector(live)
    done = reference(live)
    for record in live:
        dissection = stream(record)
        check_tree(dissection)
        assert dissection.to_json() == expected(record, done)
    first_request = min(i for i, found in done.items() if found[0].protocol == "HTTP")
    assert stream(live[first_request]).summary.endswith(" GET / HTTP/1.1")


CLOSE_1000 = (1000).to_bytes(2, "big")
CLOSE_4000 = (4000).to_bytes(2, "big") + b"bye"
LIVE_FRAMES = {  # connection: (sent by the client, opcode, payload) after the handshake
    1: [(True, Opcode.TEXT, b"one"), (False, Opcode.TEXT, b"one"),
        (True, Opcode.BINARY, BLOB), (False, Opcode.BINARY, BLOB),
        (True, Opcode.CLOSE, CLOSE_1000), (False, Opcode.CLOSE, CLOSE_1000)],
    2: [(True, Opcode.TEXT, b"t"), (True, Opcode.CONTINUATION, b"w"),
        (True, Opcode.CONTINUATION, b"o"), (False, Opcode.TEXT, b"two"),
        (True, Opcode.CLOSE, CLOSE_4000), (False, Opcode.CLOSE, CLOSE_4000)],
}  # fmt: skip


def test_live_messages_are_those_of_the_records_connection(live: Trace) -> None:
    stream = StreamDissector(live)
    for connection, frames in LIVE_FRAMES.items():
        index = next(r.index for r in live if r.connection == connection)
        messages = stream.messages(index)
        assert {pdu.connection.id for pdu in messages} == {connection}
        request, response, *rest = messages
        assert request.data.startswith(b"GET / HTTP/1.1\r\n") and request.kind == "http"
        assert response.data.startswith(b"HTTP/1.1 101 ") and response.kind == "http"
        client = request.src
        seen = [(pdu.src == client, frame.opcode, frame.payload)
                for pdu in rest for frame in parse_frames(pdu.data)[0]]  # fmt: skip
        assert seen == frames
        completed = [pdu.completed_in for pdu in messages]
        assert completed == sorted(completed)
        assert all(live[i].connection == connection for i in completed)


def test_a_growing_trace_is_dissected_as_it_grows(live: Trace) -> None:
    trace = Trace()
    stream = StreamDissector(trace)
    done = reference(live)
    for record in live:
        new = trace.append(record.time, record.layer, record.data, src=record.src,
                           dst=record.dst, connection=record.connection)  # fmt: skip
        assert stream(new).to_json() == expected(record, done)
        seen = sum(len(done.get(i, [])) for i in range(new.index + 1) if live[i].connection == 1)
        mine = next((r.index for r in trace if r.connection == 1), None)
        if mine is not None:
            assert len(stream.messages(mine)) == seen


# --- a capture: two connections, interleaved ----------------------------------------------


class Spy(Capture):
    """A capture that notes which packets are read."""

    def __init__(self, path: Path) -> None:
        self.read: list[int] = []
        super().__init__(path)

    def record(self, index: int) -> WireRecord:
        self.read.append(index)
        return super().record(index)

    def fresh(self, index: int) -> WireRecord:
        """Packet `index`, forgetting every read before (this one included)."""
        record = self.record(index)
        self.read.clear()
        return record


@pytest.fixture
def capture(tmp_path: Path) -> Spy:
    spy = Spy(two_connections_pcap(tmp_path / "two.pcap"))
    spy.index()
    return spy


def test_a_packet_feeds_only_its_connection_up_to_itself(capture: Spy) -> None:
    alice = capture.same_connection(0)
    bob = capture.same_connection(1)
    assert alice and bob and not set(alice) & set(bob)
    stream = StreamDissector(capture)
    middle = alice[len(alice) // 2]
    stream(capture.fresh(middle))
    *fed, first = capture.read  # and the capture's first packet, once, for the time since it
    assert first == 0 and fed == [i for i in alice if i <= middle]
    stream(capture.fresh(alice[2]))  # earlier: already fed
    assert capture.read == []
    stream(capture.fresh(alice[-1]))
    assert capture.read == [i for i in alice if i > middle]
    stream(capture.fresh(bob[5]))
    assert capture.read == bob[:6]


def test_messages_are_those_of_the_packets_connection_in_order(capture: Spy) -> None:
    alice, bob = capture.same_connection(0), capture.same_connection(1)
    stream = StreamDissector(capture)
    stream(capture.fresh(bob[3]))
    capture.read.clear()
    messages = stream.messages(bob[0])
    assert capture.read == bob[4:]  # the rest of that connection, and only that
    assert {pdu.src for pdu in messages} == {BOB, SERVER}
    assert [str(pdu).split(" ", 4)[-1] for pdu in messages] == [
        f"GET / HTTP/1.1 [{REQUEST_LENGTH} bytes]",
        "HTTP/1.1 101 Switching Protocols [129 bytes]",
        "TEXT 'bob' [3 bytes, masked]",
        "TEXT 'bob' [3 bytes]",
        "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … [200 bytes]",
        "TEXT 'frag' [4 bytes, masked, FIN=0]",
        "CONTINUATION 6d 65 6e 74 [4 bytes, masked]",
        "CLOSE 1000 (normal closure) 'done' [6 bytes, masked]",
        "CLOSE 1000 (normal closure) 'done' [6 bytes]",
    ]
    assert all(pdu.connection == messages[0].connection for pdu in messages)
    assert [pdu.src for pdu in stream.messages(alice[-1])][:2] == [ALICE, SERVER]


def test_lazy_per_connection_equals_the_whole_capture_at_once(capture: Spy) -> None:
    done = reference(capture)
    stream = StreamDissector(capture)
    order = list(range(len(capture)))
    random.Random(5).shuffle(order)
    for index in order:
        record = capture.record(index)
        assert stream(record).to_json() == expected(record, done, capture)


def test_many_threads_see_what_one_sees(capture: Spy) -> None:
    done = reference(capture)
    order = list(range(len(capture))) * 3
    random.Random(6).shuffle(order)
    stream = StreamDissector(capture)

    def look(index: int) -> bool:
        record = capture.record(index)
        return stream(record).to_json() == expected(record, done, capture)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(look, order))


def test_a_packet_of_no_tcp_connection_has_no_messages(capture: Spy) -> None:
    stream = StreamDissector(capture)
    assert capture.connection_of(UDP_AT) is None
    first_time = capture.record(0).time
    record = capture.fresh(UDP_AT)
    assert stream(record) == in_context(dissect_record(record), record.time - first_time, None)
    assert stream.messages(UDP_AT) == []
    assert capture.read == [0]  # the first packet's time, and nothing else


@pytest.mark.parametrize("scenario", ["lost-segment", "flow-control-slow-reader"])
def test_kernel_packets_of_a_live_trace_are_analysed_as_they_come(
    scenario: str, tmp_path: Path
) -> None:
    """`serve` appends the kernel's packets to a live trace one by one: each is marked as
    Wireshark's TCP analysis marks it, when it is shown as it arrives."""
    path = tmp_path / f"{scenario}.pcap"
    run_built_in(scenario, 0).write_pcap(path)
    capture = open_capture(path)
    capture.index()
    expected_marks = {
        index + 1: " ".join(info_marks(found)) for index, found in analyse(capture).items()
    }
    trace = Trace()
    stream = StreamDissector(trace, relative=True)
    seen = {}
    for record in capture:
        new = trace.append(record.time, record.layer, record.data, link_type=record.link_type)
        summary = stream(new).summary
        if summary.startswith("["):
            seen[new.number] = summary[: summary.rindex("] ", 0, summary.index(" → ")) + 1]
    assert expected_marks and seen == expected_marks
