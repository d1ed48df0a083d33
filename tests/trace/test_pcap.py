"""Capture files: pcap and pcapng read (lazily) and written (atomically); damage is reported."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgWriter, PcapWriter, wrpcap

from simulator.trace import (
    CaptureError,
    Layer,
    LinkType,
    Trace,
    WireRecord,
    open_capture,
    write_pcap,
)
from simulator.trace.pcap import MAX_PACKET, Capture
from tests.trace.helpers import CLIENT, MAC_A, MAC_B, SERVER, link_records, tcp

USER0 = 147  # a link type wirelab knows nothing about


def frames(n: int = 3) -> list[bytes]:
    return [bytes(tcp(CLIENT, SERVER, 1000 + i, 1, "PA", b"x" * i)) for i in range(1, n + 1)]


def assert_same(read: WireRecord, written: WireRecord) -> None:
    assert read.layer is Layer.LINK
    assert read.data == written.data
    assert read.link_type == written.link_type
    assert read.time == pytest.approx(written.time, abs=1e-6)
    assert read.original_length == written.original_length


def read_all(path: Path) -> Capture:
    capture = open_capture(path)
    capture.index()
    assert capture.done and capture.bytes_indexed == capture.size
    return capture


# --- round trips ------------------------------------------------------------------------


def test_pcap_round_trip(tmp_path: Path) -> None:
    records = link_records(frames(5))
    truncated = WireRecord(
        5,
        2000.5,
        Layer.LINK,
        records[0].data[:20],
        LinkType.RAW,
        original_length=len(records[0].data),
    )
    records.append(truncated)
    path = tmp_path / "out.pcap"
    assert write_pcap(path, records) == 6
    assert path.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    capture = read_all(path)
    assert capture.format == "pcap" and len(capture) == 6 and capture.problems == []
    for i, record in enumerate(records):
        assert_same(capture.record(i), record)
        assert capture.record(i).index == i
    assert capture.record(5).truncated
    assert capture.record(-1).index == 5
    with pytest.raises(IndexError):
        capture.record(6)
    capture.close()


def test_mixed_link_types_become_pcapng_with_an_interface_each(tmp_path: Path) -> None:
    ether = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP())
    records = [
        WireRecord(0, 1.25, Layer.LINK, ether, LinkType.ETHERNET),
        WireRecord(1, 1.5, Layer.LINK, frames(1)[0], LinkType.RAW),
        WireRecord(2, 1.75, Layer.LINK, b"\x01\x02\x03", USER0),
        WireRecord(3, 2.0, Layer.LINK, ether, LinkType.ETHERNET),
    ]
    path = tmp_path / "mixed.cap"
    write_pcap(path, records)
    capture = read_all(path)
    assert capture.format == "pcapng"
    assert [i.link_type for i in capture.interfaces] == [LinkType.ETHERNET, LinkType.RAW, USER0]
    for i, record in enumerate(records):
        assert_same(capture.record(i), record)
    with pytest.raises(CaptureError, match="one link type"):
        write_pcap(tmp_path / "x.pcap", records, format="pcap")


def test_named_interfaces_one_per_capture_point(tmp_path: Path) -> None:
    data = frames(3)
    records = [
        WireRecord(i, 0.5 * i, Layer.LINK, data[i], LinkType.RAW, interface=iface)
        for i, iface in enumerate([0, 1, 0])
    ]
    path = tmp_path / "links.pcapng"
    write_pcap(path, records, interfaces=[("client-r1", LinkType.RAW), ("r1-server", LinkType.RAW)])
    capture = read_all(path)
    assert capture.format == "pcapng"
    assert [i.name for i in capture.interfaces] == ["client-r1", "r1-server"]
    assert [capture.record(i).interface for i in range(3)] == [0, 1, 0]
    for i, record in enumerate(records):
        assert_same(capture.record(i), record)
    bad = [WireRecord(0, 0.0, Layer.LINK, data[0], LinkType.RAW, interface=2)]
    with pytest.raises(ValueError, match="no interface"):
        write_pcap(tmp_path / "bad.pcapng", bad, interfaces=[("a", LinkType.RAW)])
    with pytest.raises(CaptureError, match="pcapng"):
        write_pcap(tmp_path / "bad.pcap", records, format="pcap", interfaces=[("a", 101)])


def test_pcapng_by_name_and_on_request(tmp_path: Path) -> None:
    records = link_records(frames(2))
    write_pcap(tmp_path / "a.pcapng", records)
    write_pcap(tmp_path / "b.pcap", records, format="pcapng")
    for name in ("a.pcapng", "b.pcap"):
        capture = read_all(tmp_path / name)
        assert capture.format == "pcapng"
        assert [capture.record(i).data for i in range(2)] == [r.data for r in records]


def test_write_is_atomic_and_reports_errors(tmp_path: Path) -> None:
    path = tmp_path / "out.pcap"
    path.write_bytes(b"old")
    path.chmod(0o640)
    write_pcap(path, link_records(frames(1)))
    assert path.stat().st_mode & 0o777 == 0o640  # the old file's permissions are kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pcap"]  # no temporary file left
    with pytest.raises(CaptureError, match=r"cannot write .*missing/out\.pcap: No such file"):
        write_pcap(tmp_path / "missing" / "out.pcap", [])
    with pytest.raises(ValueError, match="stream record"):
        write_pcap(path, [WireRecord(0, 0.0, Layer.STREAM, b"x")])
    empty = tmp_path / "empty.pcap"
    write_pcap(empty, [])
    capture = read_all(empty)
    assert len(capture) == 0 and capture.problems == []


def test_a_trace_is_a_record_source_for_writing(tmp_path: Path) -> None:
    trace = Trace(link_records(frames(2)))
    write_pcap(tmp_path / "t.pcap", trace)
    assert len(read_all(tmp_path / "t.pcap")) == 2


# --- files written by scapy -------------------------------------------------------------


def scapy_packets() -> list[Ether]:
    packets = []
    for i in range(4):
        packet = (
            Ether(src=MAC_A, dst=MAC_B)
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / TCP(seq=i)
            / Raw(b"p" * i)
        )
        packet.time = 1_700_000_000 + i / 4
        packets.append(packet)
    packets.append(Ether(src=MAC_A, dst=MAC_B) / IP() / UDP() / Raw(b"udp"))
    packets[-1].time = 1_700_000_001.5
    return packets


def test_scapy_wrpcap(tmp_path: Path) -> None:
    path = tmp_path / "scapy.pcap"
    packets = scapy_packets()
    wrpcap(str(path), packets)
    capture = read_all(path)
    assert len(capture) == 5
    for i, packet in enumerate(packets):
        record = capture.record(i)
        assert record.data == bytes(packet) and record.link_type == LinkType.ETHERNET
        assert record.time == pytest.approx(float(packet.time), abs=1e-6)
    assert capture.connection_of(0) == capture.connection_of(3) == 0
    assert capture.connection_of(4) is None  # UDP
    assert capture.same_connection(2) == [0, 1, 2, 3]


def test_scapy_nanosecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "nano.pcap"
    packets = scapy_packets()
    packets[1].time = 1_700_000_000.123456789
    with PcapWriter(str(path), nano=True) as writer:
        for packet in packets:
            writer.write(packet)
    assert path.read_bytes()[:4] == bytes.fromhex("4d3cb2a1")
    capture = read_all(path)
    assert capture.interfaces[0].units == 1_000_000_000
    assert capture.record(1).time == pytest.approx(1_700_000_000.123456789, abs=1e-9)


def test_scapy_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "scapy.pcapng"
    packets = scapy_packets()
    with PcapNgWriter(str(path)) as writer:
        for packet in packets:
            writer.write(packet)
    capture = read_all(path)
    assert capture.format == "pcapng" and len(capture) == 5 and capture.problems == []
    for i, packet in enumerate(packets):
        assert capture.record(i).data == bytes(packet)
        assert capture.record(i).time == pytest.approx(float(packet.time), abs=1e-6)


# --- hand-built files: byte orders, resolutions, block kinds ----------------------------


def pcap_file(
    endian: str,
    magic: int,
    records: list[tuple[int, int, bytes, int]],
    link_type: int = LinkType.RAW,
) -> bytes:
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, link_type)
    for seconds, fraction, data, origlen in records:
        out += struct.pack(endian + "IIII", seconds, fraction, len(data), origlen) + data
    return out


def test_big_endian_nanosecond_pcap(tmp_path: Path) -> None:
    data = frames(1)[0]
    path = tmp_path / "be.pcap"
    path.write_bytes(pcap_file(">", 0xA1B23C4D, [(10, 500_000_000, data, len(data) + 5)]))
    capture = read_all(path)
    record = capture.record(0)
    assert record.time == 10.5 and record.data == data
    assert record.original_length == len(data) + 5 and record.truncated


def block(endian: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return (
        struct.pack(endian + "II", kind, len(body) + 12)
        + body
        + struct.pack(endian + "I", len(body) + 12)
    )


def option(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, link_type: int, tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    options = b""
    if tsresol is not None:
        options += option(endian, 9, bytes([tsresol]))
    if tsoffset:
        options += option(endian, 14, struct.pack(endian + "q", tsoffset))
    if options:
        options += option(endian, 0, b"")
    return block(endian, 1, struct.pack(endian + "HHI", link_type, 0, 0) + options)


def epb(endian: str, iface: int, ticks: int, data: bytes, origlen: int | None = None) -> bytes:
    body = struct.pack(
        endian + "IIIII",
        iface,
        ticks >> 32,
        ticks & 0xFFFFFFFF,
        len(data),
        len(data) if origlen is None else origlen,
    )
    return block(endian, 6, body + data)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_two_interfaces_resolutions_and_block_kinds(tmp_path: Path, endian: str) -> None:
    ether = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP())
    raw = frames(1)[0]
    blob = shb(endian)
    blob += idb(endian, LinkType.ETHERNET, tsresol=9)  # nanoseconds
    blob += idb(endian, LinkType.RAW, tsresol=0x80 | 10, tsoffset=100)  # 2**-10 s, +100 s
    blob += epb(endian, 0, 1_500_000_000, ether)
    blob += block(endian, 0x00000BAD, b"a custom block")  # skipped
    blob += epb(endian, 1, 3 * 1024 + 512, raw)
    blob += block(endian, 3, struct.pack(endian + "I", len(ether)) + ether)  # SPB, interface 0
    blob += block(endian, 5, b"\0" * 8)  # an Interface Statistics Block: skipped
    path = tmp_path / "two.pcapng"
    path.write_bytes(blob)
    capture = read_all(path)
    assert capture.problems == []
    assert [i.link_type for i in capture.interfaces] == [LinkType.ETHERNET, LinkType.RAW]
    first, second, simple = (capture.record(i) for i in range(3))
    assert (first.link_type, first.data, first.time) == (LinkType.ETHERNET, ether, 1.5)
    assert (second.link_type, second.data, second.time) == (LinkType.RAW, raw, 103.5)
    assert (simple.link_type, simple.data) == (LinkType.ETHERNET, ether)
    assert simple.time == second.time  # no timestamp of its own: the one before


def test_pcapng_second_section_in_the_other_byte_order(tmp_path: Path) -> None:
    raw = frames(2)
    blob = shb("<") + idb("<", LinkType.RAW) + epb("<", 0, 1_000_000, raw[0])
    blob += shb(">") + idb(">", LinkType.ETHERNET) + idb(">", LinkType.RAW)
    blob += epb(">", 1, 2_000_000, raw[1])  # interface 1 of the second section
    path = tmp_path / "sections.pcapng"
    path.write_bytes(blob)
    capture = read_all(path)
    assert capture.problems == [] and len(capture) == 2
    assert capture.record(1).data == raw[1] and capture.record(1).time == 2.0
    assert capture.interfaces[capture._ifaces[1]].endian == ">"


# --- damage -----------------------------------------------------------------------------


def test_not_a_capture(tmp_path: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("Hello, this is text")
    with pytest.raises(CaptureError) as error:
        open_capture(text)
    assert str(error.value) == f"{text} is not a pcap or pcapng file (starts with 48 65 6c 6c)"
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureError, match="is empty"):
        open_capture(empty)
    short = tmp_path / "short.pcap"
    short.write_bytes(bytes.fromhex("d4c3b2a1") + b"\x02\x00")
    with pytest.raises(CaptureError, match=r"ends inside its pcap file header \(6 of 24 bytes\)"):
        open_capture(short)
    with pytest.raises(CaptureError, match="No such file"):
        open_capture(tmp_path / "nothing-here.pcap")
    with pytest.raises(CaptureError, match="not a regular file"):
        open_capture(tmp_path)
    version = tmp_path / "v3.pcap"
    version.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 3, 0, 0, 0, 65535, 1))
    with pytest.raises(CaptureError, match=r"version 3\.0"):
        open_capture(version)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.pcap"
    path.write_bytes(pcap_file("<", 0xA1B2C3D4, []))
    capture = open_capture(path)
    assert capture.done and len(capture) == 0 and capture.problems == []
    ng = tmp_path / "header.pcapng"
    ng.write_bytes(shb("<"))
    capture = open_capture(ng)
    assert capture.done and len(capture) == 0 and capture.problems == []


def test_truncated_last_packet_keeps_the_others(tmp_path: Path) -> None:
    records = link_records(frames(4))
    path = tmp_path / "cut.pcap"
    write_pcap(path, records)
    blob = path.read_bytes()
    path.write_bytes(blob[:-3])
    capture = read_all(path)
    assert len(capture) == 3
    assert [capture.record(i).data for i in range(3)] == [r.data for r in records[:3]]
    assert len(capture.problems) == 1
    number, message = capture.problems[0]
    assert number == 4 and "cut short" in message
    path.write_bytes(blob[: len(blob) - len(records[3].data) - 10])  # inside a record header
    capture = read_all(path)
    assert len(capture) == 3 and "inside a record header" in capture.problems[0].message

    ng = tmp_path / "cut.pcapng"
    write_pcap(ng, records, format="pcapng")
    ng.write_bytes(ng.read_bytes()[:-7])
    capture = read_all(ng)
    assert len(capture) == 3 and "cut short" in str(capture.problems[0])


def test_absurd_lengths(tmp_path: Path) -> None:
    data = frames(1)[0]
    path = tmp_path / "absurd.pcap"
    absurd = struct.pack("<IIII", 2, 0, MAX_PACKET + 1, MAX_PACKET + 1) + b"x" * 64
    path.write_bytes(pcap_file("<", 0xA1B2C3D4, [(1, 0, data, len(data))]) + absurd)
    capture = read_all(path)
    assert len(capture) == 1 and capture.record(0).data == data
    assert capture.problems[0].number == 2 and "more than a packet can be" in capture.problems[0][1]

    blob = shb("<") + idb("<", LinkType.RAW) + epb("<", 0, 0, data)
    bad_length = blob + struct.pack("<II", 6, 0xFFFFFFF0) + b"\0" * 40
    ng = tmp_path / "absurd.pcapng"
    ng.write_bytes(bad_length)
    capture = read_all(ng)
    assert len(capture) == 1 and "impossible length" in capture.problems[0].message


def test_bad_pcapng_blocks(tmp_path: Path) -> None:
    data = frames(3)
    good = shb("<") + idb("<", LinkType.RAW)
    unknown_iface = epb("<", 7, 0, data[1])
    too_long = bytearray(epb("<", 0, 0, data[2]))
    struct.pack_into("<I", too_long, 20, 10_000)  # captured length larger than the block
    blob = (
        good + epb("<", 0, 0, data[0]) + unknown_iface + bytes(too_long) + epb("<", 0, 0, data[1])
    )
    path = tmp_path / "bad.pcapng"
    path.write_bytes(blob)
    capture = read_all(path)
    assert [capture.record(i).data for i in range(len(capture))] == [data[0], data[1]]
    assert [p.number for p in capture.problems] == [2, 2]
    assert "interface 7" in capture.problems[0].message
    assert "claims 10000 bytes" in capture.problems[1].message

    mismatch = bytearray(epb("<", 0, 0, data[2]))
    mismatch[-4:] = struct.pack("<I", 12)
    path.write_bytes(good + epb("<", 0, 0, data[0]) + bytes(mismatch) + epb("<", 0, 0, data[1]))
    capture = read_all(path)
    assert len(capture) == 1 and "different lengths" in capture.problems[0].message


def test_unknown_link_type_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "user0.pcap"
    path.write_bytes(pcap_file("<", 0xA1B2C3D4, [(1, 0, b"\xde\xad", 2)], link_type=USER0))
    capture = read_all(path)
    assert capture.record(0).link_type == USER0 and capture.problems == []
    assert capture.connection_of(0) is None


# --- laziness ---------------------------------------------------------------------------


def test_a_large_capture_is_indexed_in_steps(tmp_path: Path) -> None:
    count = 20_000
    frames_by_flow = [
        bytes(
            Ether(src=MAC_A, dst=MAC_B)
            / IP(src=f"10.0.0.{n + 1}", dst="10.0.1.1")
            / TCP(sport=40000 + n, dport=80, seq=n)
            / Raw(bytes([n]) * n)
        )
        for n in range(10)
    ]
    records = [
        WireRecord(
            i, 1_700_000_000 + i / 1000, Layer.LINK, frames_by_flow[i % 10], LinkType.ETHERNET
        )
        for i in range(count)
    ]
    for name in ("big.pcap", "big.pcapng"):
        path = tmp_path / name
        write_pcap(path, records)
        capture = open_capture(path, initial=100)
        assert len(capture) == 100
        assert 0 < capture.bytes_indexed < capture.size
        steps = list(capture.index_steps(batch=5000))
        assert steps[-1] == count and capture.done and capture.bytes_indexed == capture.size
        last = capture.record(count - 1)
        assert last.data == frames_by_flow[(count - 1) % 10]
        assert last.time == pytest.approx(1_700_000_000 + (count - 1) / 1000, abs=1e-6)
        assert capture.connection_count == 10
        assert len(capture.connection_packets(capture.connection_of(count - 1) or 0)) == count // 10
        capture.close()


def test_index_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    write_pcap(path, link_records(frames(1) * 30))
    capture = open_capture(path, initial=0)
    assert len(capture) == 0
    seen: list[int] = []
    assert capture.index(max_packets=10, progress=lambda c: seen.append(len(c))) == 10
    assert seen == [10] and capture.bytes_indexed < capture.size
    capture.index(progress=lambda c: seen.append(len(c)))
    assert seen[-1] == 30 and capture.done
    assert list(capture.index_steps()) == []
    assert "30 packets" in repr(capture)
    with capture:
        pass
    assert capture._fd == -1
    with pytest.raises(CaptureError, match="Bad file descriptor"):
        capture.record(0)


def test_a_file_cut_while_open(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    write_pcap(path, link_records(frames(3)))
    capture = open_capture(path)
    os.truncate(path, path.stat().st_size - 1)
    assert capture.record(0).data == frames(3)[0]
    with pytest.raises(CaptureError, match="changed while open: packet 3 is gone"):
        capture.record(2)


def test_reads_with_os_pread_only(tmp_path: Path) -> None:
    """Reading a record does not move a shared file position: safe from a background thread."""
    path = tmp_path / "p.pcap"
    write_pcap(path, link_records(frames(3)))
    capture = open_capture(path)
    position = os.lseek(capture._fd, 0, os.SEEK_CUR)
    capture.record(2)
    assert os.lseek(capture._fd, 0, os.SEEK_CUR) == position


@pytest.mark.parametrize("kept", range(1, 28))
def test_a_second_section_header_cut_anywhere_is_a_problem_not_a_traceback(
    kept: int, tmp_path: Path
) -> None:
    """Seen: a pcapng ending with 12 or 13 bytes of a section header block raised
    struct.error from `dissect` and `inspect`. Cut at every byte, the packets before it
    stay and the rest is one problem."""
    raw = frames(2)
    blob = shb("<") + idb("<", LinkType.RAW) + epb("<", 0, 1_000_000, raw[0])
    path = tmp_path / "cut.pcapng"
    path.write_bytes(blob + shb("<")[:kept])
    capture = read_all(path)
    assert len(capture) == 1 and capture.record(0).data == raw[0]
    assert len(capture.problems) == 1 and capture.done
