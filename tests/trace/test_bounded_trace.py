"""The live trace `serve`'s TUI keeps is a ring: past its limits the oldest bytes (then
records) go, numbers stay, what went is counted, and the messages of what is left are
still read right (they were reassembled before their bytes went)."""

from __future__ import annotations

import psutil

from simulator.dissect.stream_view import StreamDissector
from simulator.live import connect, trace_tap
from simulator.trace import Endpoint, Layer, Trace
from simulator.trace.records import forgotten
from simulator.views.inspector import SourceModel
from simulator.ws import Config, TextMessage
from tests.live.support import STEP, run, serving

A, B = Endpoint("127.0.0.1", 40000), Endpoint("127.0.0.1", 8765)


def test_a_bounded_trace_forgets_the_oldest_bytes_then_records_numbers_stay() -> None:
    told: list[int] = []
    trace = Trace(limit_bytes=1000, limit_records=40)
    trace.on_forget(told.append)
    for n in range(100):
        trace.append(float(n), Layer.STREAM, bytes([n]) * 100, src=A, dst=B, connection=1)
        kept = sum(len(trace.record(i).data) for i in range(len(trace)))
        assert kept <= 1000
    assert len(trace) == 100
    assert trace.forgotten_bytes + kept == 100 * 100
    assert told == sorted(told) and told[-1] <= 100
    for index in range(100):
        record = trace.record(index)
        assert record.index == index and trace[index] == record
        if record.data:
            assert record.data == bytes([index]) * 100 and not forgotten(record)
        else:
            assert forgotten(record) and record.original_length in (0, 100)
    assert trace.record(99).data  # the newest is always whole
    assert trace.forgotten_records > 0 and trace.record(0).original_length == 0
    assert next(iter(trace)).index == trace.forgotten_records  # iteration: what is kept
    assert "bytes no longer kept (the live trace keeps the last" in str(trace.forgetting)
    unbounded = Trace()
    unbounded.append(0.0, Layer.STREAM, b"x", src=A, dst=B, connection=1)
    assert unbounded.forgetting is None


def test_a_long_live_session_stays_bounded_and_its_latest_messages_read_right() -> None:
    """Seen: serve's TUI kept 784 MB after 150 MB echoed. Through a ring of 2 MiB, 40 MiB
    of echoes: the inspector's model (rows of the newest records dissected as the TUI's
    tail does) keeps the process bounded, and the last message is still read right."""
    size, count = 256 * 1024, 80
    trace = Trace(limit_bytes=2 << 20, limit_records=10_000)
    model = SourceModel(trace, StreamDissector(trace))
    process = psutil.Process()

    async def scenario() -> None:
        async with serving(tap=trace_tap(trace), config=Config(max_size=1 << 20)) as server:
            client = await connect(server.url + "echo", config=Config(max_size=1 << 20))
            before = 0
            for n in range(count):
                text = f"{n:08d}" + "x" * (size - 8)
                client.send_text(text)
                assert await client.recv(STEP) == TextMessage(text)
                model.row(len(trace) - 1)  # the TUI's tail shows the newest rows
                if n == 10:
                    before = process.memory_info().rss
            grown = process.memory_info().rss - before
            assert grown < 40 * 1024 * 1024, f"grew by {grown / 1e6:.0f} MB"
            await client.close()

    run(scenario(), timeout=120)
    assert trace.forgotten_bytes > 30 * 1024 * 1024
    rows = [model.row(i).info for i in range(len(trace) - 8, len(trace))]
    assert any(f"TEXT '{count - 1:08d}xxx" in row for row in rows), rows
    first = model.dissect(0)
    assert "no longer kept" in first.summary
