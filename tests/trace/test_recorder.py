"""`serve --record` writes as it goes: the same packets `export_pcap` writes for the
whole trace at once, with nothing of the recording held in memory."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from simulator.trace import Endpoint, Layer, LinkType, Trace, export_pcap, open_capture
from simulator.trace.pcap import PcapWriter
from simulator.trace.synth import MSS, Recorder

CLIENTS = [Endpoint("127.0.0.1", 40000 + n) for n in range(3)]
SERVER = Endpoint("127.0.0.1", 8765)


def interleaved(trace: Trace) -> list[int]:
    """Three connections writing both ways, interleaved, chunks from 0 bytes to several
    segments; the position in `trace` of each connection's last chunk."""
    last = {}
    for n in range(60):
        connection = n % 3
        client = CLIENTS[connection]
        src, dst = (client, SERVER) if n % 2 == 0 else (SERVER, client)
        size = (n * 977) % (3 * MSS + 50)
        if n < 3:
            src, dst = client, SERVER  # the client writes first: it is the client
        trace.append(1000.0 + n / 10, Layer.STREAM, bytes([n]) * size, src=src, dst=dst,
                     connection=connection)  # fmt: skip
        last[connection] = n
    return sorted(last.values())


@pytest.mark.parametrize("name", ["r.pcap", "r.pcapng"])
def test_recording_as_it_goes_writes_what_the_whole_export_writes(
    tmp_path: Path, name: str
) -> None:
    whole = Trace()
    ends = interleaved(whole)
    export_pcap(whole, tmp_path / f"whole-{name}")
    streamed = Trace(keep=False)
    recorder = Recorder(tmp_path / name)
    streamed.subscribe(recorder)
    for record in whole:
        streamed.append(record.time, record.layer, record.data, src=record.src,
                        dst=record.dst, connection=record.connection)  # fmt: skip
        if record.index in ends:
            assert record.connection is not None
            recorder.ended(record.connection)
    done = recorder.close()
    assert len(streamed) == len(whole) and list(streamed) == []  # counted, none kept
    expected, got = open_capture(tmp_path / f"whole-{name}"), open_capture(tmp_path / name)
    expected.index()
    got.index()
    assert done.packets == len(got) == len(expected) and done.connections == 3
    assert got.problems == []
    for a, b in zip(expected, got, strict=True):
        assert (a.time, a.data, a.link_type) == (b.time, b.data, b.link_type)


@pytest.mark.timeout(300)  # every packet built by scapy: about half a minute on its own
def test_a_long_recording_is_not_held_in_memory(tmp_path: Path) -> None:
    """Seen: 300 MB echoed with --record took the server to 764 MB."""
    trace = Trace(keep=False)
    recorder = Recorder(tmp_path / "long.pcapng")
    trace.subscribe(recorder)
    process = psutil.Process()
    chunk = bytes(range(256)) * 256  # 64 KiB
    for n in range(200):  # warm up: the allocator's high-water mark
        trace.append(float(n), Layer.STREAM, chunk, src=CLIENTS[0], dst=SERVER, connection=0)
    before = process.memory_info().rss
    for n in range(1000):  # 62.5 MiB more: held, they would be twice the bound below
        trace.append(float(n), Layer.STREAM, chunk, src=CLIENTS[0], dst=SERVER, connection=0)
    grown = process.memory_info().rss - before
    done = recorder.close()
    assert grown < 32 * 1024 * 1024, f"grew by {grown / 1e6:.0f} MB for 62.5 MiB recorded"
    assert (tmp_path / "long.pcapng").stat().st_size > 1200 * len(chunk)
    assert done.connections == 1 and len(trace) == 1200


def test_the_writer_keeps_the_old_file_until_it_closes_and_one_link_type_per_pcap(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keep.pcap"
    path.write_bytes(b"the old recording")
    writer = PcapWriter(path)
    from simulator.trace import WireRecord

    writer.write(WireRecord(0, 1.0, Layer.LINK, b"\x45" + b"\0" * 19, LinkType.RAW))
    writer.write(WireRecord(1, 2.0, Layer.LINK, b"\0" * 14, LinkType.ETHERNET))
    assert path.read_bytes() == b"the old recording"
    assert writer.close() == 1 and writer.skipped == 1
    capture = open_capture(path)
    capture.index()
    assert len(capture) == 1 and capture.format == "pcap"
    aborted = PcapWriter(tmp_path / "gone.pcapng")
    aborted.abort()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
