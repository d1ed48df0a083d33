"""SourceModel: rows from dissections, caching, dissector failures, conversations, indexing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli import _model
from simulator.dissect import Buffer, Dissection, Field
from simulator.trace import Endpoint, Layer, LinkType, Trace, WireRecord
from simulator.trace.pcap import open_capture
from simulator.views.inspector import SourceModel, raw_dissection
from tests.tui.fakes import CLIENT, SERVER, fake_dissect, fake_model, fake_trace
from tests.tui.sessions import TEXT_PACKET, session_pcap, session_trace


def test_rows_come_from_the_record_and_its_dissection() -> None:
    model = fake_model()
    assert len(model) == 9
    row = model.row(2)
    assert row.number == 3
    assert row.time == 0.5  # since the first record
    assert (row.src, row.dst) == (str(CLIENT), str(SERVER))
    assert row.protocol == "WebSocket"
    assert row.length == 11
    assert row.info == "WebSocket TEXT [FIN] [MASKED] 5 bytes"
    assert not row.problem
    assert model.row(6).problem  # RSV1 set


def test_link_records_take_their_addresses_from_ip_fields() -> None:
    def dissect(record: WireRecord) -> Dissection:
        ip = Field("ip", "IPv4", 0, 20, children=(
            Field("ip.src", "Source", 12, 16, "10.0.0.1", "10.0.0.1"),
            Field("ip.dst", "Destination", 16, 20, "10.0.0.2", "10.0.0.2"),
        ))  # fmt: skip
        return Dissection("IPv4", "IPv4", (ip,), (Buffer("Frame", record.data),))

    trace = Trace()
    trace.append(5.0, Layer.LINK, bytes(20), link_type=LinkType.RAW, original_length=60)
    row = SourceModel(trace, dissect).row(0)
    assert (row.src, row.dst, row.length, row.time) == ("10.0.0.1", "10.0.0.2", 60, 0.0)


def test_info_leaves_out_the_addresses_that_source_and_destination_show(tmp_path: Path) -> None:
    capture = open_capture(session_pcap(tmp_path / "session.pcap"))
    try:
        model = _model(capture)
        syn, text = model.row(0), model.row(TEXT_PACKET)
    finally:
        capture.close()
    assert (syn.src, syn.dst) == ("127.0.0.1", "127.0.0.1")
    assert syn.info.startswith("50000 → 8765 [SYN] Seq=")  # "127.0.0.1:50000 → 127.0.0.1:8765 …"
    assert text.info == "50000 → 8765 TEXT 'hello, wirelab' [14 bytes, masked]"


@pytest.mark.parametrize(
    ("family", "src", "dst", "summary", "info"),
    [
        ("ip", "10.0.0.1", "10.0.0.2", "10.0.0.1:5000 → 10.0.0.2:80 [SYN]", "5000 → 80 [SYN]"),
        ("ipv6", "2001:db8::1", "2001:db8::2", "[2001:db8::1]:5000 → [2001:db8::2]:80 [ACK]",
         "5000 → 80 [ACK]"),
        # no ports to keep, other addresses than the columns', or no addresses: as it was
        ("ip", "10.0.0.1", "10.0.0.2", "10.0.0.1 → 10.0.0.2 ICMP", "10.0.0.1 → 10.0.0.2 ICMP"),
        ("ip", "10.0.0.1", "10.0.0.2", "10.0.0.1:5000 → 10.0.0.3:80 [SYN]",
         "10.0.0.1:5000 → 10.0.0.3:80 [SYN]"),
        ("ip", "10.0.0.1", "10.0.0.2", "10.0.0.10:5000 → 10.0.0.2:80 [SYN]",
         "10.0.0.10:5000 → 10.0.0.2:80 [SYN]"),
        ("ip", "10.0.0.1", "10.0.0.2", "IPv4 (truncated)", "IPv4 (truncated)"),
    ],
)  # fmt: skip
def test_info_of_a_captured_packet(
    family: str, src: str, dst: str, summary: str, info: str
) -> None:
    def dissect(record: WireRecord) -> Dissection:
        ip = Field(family, "IP", 0, 20, children=(
            Field(f"{family}.src", "Source", 12, 16, src, src),
            Field(f"{family}.dst", "Destination", 16, 20, dst, dst),
        ))  # fmt: skip
        return Dissection(summary, "TCP", (ip,), (Buffer("Frame", record.data),))

    trace = Trace()
    trace.append(0.0, Layer.LINK, bytes(20), link_type=LinkType.RAW)
    row = SourceModel(trace, dissect).row(0)
    assert (row.src, row.dst, row.info) == (src, dst, info)


def test_info_of_a_tapped_chunk_keeps_the_ports_once() -> None:
    model = _model(session_trace())  # what `wirelab serve` shows: socket-level records
    row = model.row(2)
    assert (row.src, row.dst) == ("127.0.0.1:50000", "127.0.0.1:8765")
    assert row.info == "50000 → 8765 TEXT 'hello, wirelab' [14 bytes, masked]"


def test_dissections_are_cached() -> None:
    calls: list[int] = []

    def counting(record: WireRecord) -> Dissection:
        calls.append(record.index)
        return fake_dissect(record)

    model = SourceModel(fake_trace(), counting, cache_size=2)
    first = model.dissect(0)
    assert model.dissect(0) is first
    model.row(0)
    assert calls == [0]
    model.dissect(1)
    model.dissect(2)  # pushes 0 out of a cache of two
    model.dissect(0)
    assert calls == [0, 1, 2, 0]


def test_a_failing_dissector_gives_a_dissection_naming_the_error() -> None:
    def broken(record: WireRecord) -> Dissection:
        raise ValueError("boom")

    model = SourceModel(fake_trace(), broken)
    dissection = model.dissect(0)
    assert dissection.problems == ("dissector error: ValueError('boom')",)
    assert dissection.buffers[0].data == model.record(0).data
    assert model.row(0).problem


def test_raw_dissection_spans_the_record_without_reading_it() -> None:
    record = fake_trace().record(0)
    dissection = raw_dissection(record)
    assert dissection.protocol == "TCP"
    assert dissection.summary == "connection #1, 157 bytes (not dissected)"
    assert dissection.field_at(100) is not None
    assert dissection.field_at(100).name == "data"  # type: ignore[union-attr]
    assert dissection.buffers[0].data == record.data


def test_the_model_grows_with_a_live_trace() -> None:
    trace = fake_trace()
    model = fake_model(trace)
    trace.append(9.0, Layer.STREAM, b"\x81\x00", src=SERVER, dst=CLIENT, connection=1)
    assert len(model) == 10
    assert model.row(9).number == 10


def test_stream_conversation_groups_a_connections_records() -> None:
    trace = fake_trace()
    trace.append(9.0, Layer.STREAM, b"GET / HTTP/1.1\r\n\r\n",
                 src=Endpoint("127.0.0.1", 6000), dst=SERVER, connection=2)  # fmt: skip
    model = fake_model(trace)
    turns = model.conversation(3)
    assert len(turns) == 9
    assert [turn.direction for turn in turns[:3]] == ["client", "server", "client"]
    assert turns[0].text.startswith("GET /chat HTTP/1.1\nHost: 127.0.0.1:8765\n")
    assert turns[0].label == f"packet 1 · {CLIENT} → {SERVER} · 157 bytes"
    assert [turn.label.split(" · ")[0] for turn in model.conversation(9)] == ["packet 10"]


class Indexing:
    """A RecordSource that indexes itself in steps, as a pcap Capture will."""

    def __init__(self, records: int) -> None:
        self.trace = fake_trace()
        self.records = records
        self.visible = 0
        self.size = 1000
        self.bytes_indexed = 0
        self.done = False
        self.problems = ["truncated at byte 990"]

    def __len__(self) -> int:
        return self.visible

    def record(self, index: int) -> WireRecord:
        if index >= self.visible:
            raise IndexError(index)
        return self.trace.record(index % len(self.trace))

    def index_steps(self, batch: int) -> Iterator[int]:
        while self.visible < self.records:
            self.visible = min(self.records, self.visible + batch)
            self.bytes_indexed = self.size * self.visible // self.records
            yield self.visible
        self.done = True


def test_progress_and_indexing_steps() -> None:
    source = Indexing(9)
    model = SourceModel(source, fake_dissect, index_batch=4)
    assert model.progress == 0.0
    steps = model.indexing()
    next(steps)
    assert len(model) == 4
    assert 0.4 < (model.progress or 0) < 0.5
    assert len(list(steps)) == 2  # 8, then 9
    assert len(model) == 9
    progress: float | None = model.progress  # read afresh: mypy still holds the 0.0 above
    assert progress is None
    assert model.problems == ["truncated at byte 990"]


def test_a_trace_needs_no_indexing() -> None:
    model = fake_model()
    assert model.progress is None
    assert list(model.indexing()) == []
    assert model.problems == []
