"""Capture files in and out: pcap and pcapng, read lazily, written atomically.

Reading. `open_capture(path)` checks the file header and indexes the first
packets: enough for a first screen. `Capture.index()` (or `index_steps()`, one
batch at a time, for a background worker showing progress) indexes the rest.
The index is compact, per packet: the file offset and length of its record
(`array('Q')`, `array('I')`), for pcapng its interface, and the number of its
TCP connection. `Capture.record(i)` reads just that packet, with `os.pread` on
the one file descriptor the capture keeps open (safe from any thread).

Formats (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng):

- pcap in either byte order, micro- or nanosecond timestamps (and the old
  "modified pcap" variant with 24-byte record headers);
- pcapng sections in either byte order; an Interface Description Block per
  interface with its link type, `if_tsresol` and `if_tsoffset`; Enhanced,
  Simple and (obsolete) Packet Blocks; any other block is skipped.

Damage. A file that is not a capture at all raises `CaptureError`. Damage
further in (a cut-off last packet, an absurd length, a broken block) stops
indexing there, or skips the one bad block when the file's framing is still
sound: the packets before stay usable and `Capture.problems` says what
happened, at which packet. Unknown link types are kept as they are: the
dissectors name them.

Writing. `write_pcap(path, records)` writes classic pcap (microsecond
timestamps) when the records share one link type and pcapng, with one
interface per link type, when they mix them (or when asked, or when the file
name ends in .pcapng). It writes a
temporary file next to the target and renames it over: a reader never sees a
half-written capture, and a failed write leaves the old file alone.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from simulator import __version__
from simulator.errors import WirelabError
from simulator.files import write_atomically
from simulator.trace.records import Layer, LinkType, WireRecord
from simulator.trace.segments import flow_key

MAX_PACKET = 16 << 20  # a larger captured length is damage, not a packet
DEFAULT_SNAPLEN = 262144  # what tcpdump and Wireshark write
INITIAL_PACKETS = 1000  # indexed by open_capture: a first screen, and then some
_CHUNK = 1 << 20  # bytes read at a time while indexing

PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_IDB, _OPB, _SPB, _EPB = 1, 2, 3, 6
_OPT_END, _IF_NAME, _IF_TSRESOL, _IF_TSOFFSET, _SHB_USERAPPL = 0, 2, 9, 14, 4

# The first four bytes of a pcap file: (byte order, timestamp units per second, record header).
_PCAP_MAGIC: dict[bytes, tuple[str, int, int]] = {
    bytes.fromhex("d4c3b2a1"): ("<", 1_000_000, 16),
    bytes.fromhex("a1b2c3d4"): (">", 1_000_000, 16),
    bytes.fromhex("4d3cb2a1"): ("<", 1_000_000_000, 16),
    bytes.fromhex("a1b23c4d"): (">", 1_000_000_000, 16),
    bytes.fromhex("34cdb2a1"): ("<", 1_000_000, 24),  # Kuznetzov's "modified pcap"
    bytes.fromhex("a1b2cd34"): (">", 1_000_000, 24),
}


class CaptureError(WirelabError):
    """A file that cannot be read as a capture, or a capture that cannot be written."""


class CaptureProblem(NamedTuple):
    """Damage found while indexing: the packet number it concerns (1-based) and what it is."""

    number: int
    message: str

    def __str__(self) -> str:
        return f"packet {self.number}: {self.message}"


@dataclass(frozen=True, slots=True)
class Interface:
    """A pcapng interface (a pcap file has one): its link type and timestamp units."""

    link_type: int
    units: int  # timestamp ticks per second
    offset: int  # if_tsoffset: seconds added to every timestamp
    endian: str  # "<" or ">": the byte order of its section
    snaplen: int
    name: str | None = None  # if_name


Progress = Callable[["Capture"], object]


def open_capture(path: str | os.PathLike[str], *, initial: int = INITIAL_PACKETS) -> Capture:
    """Open a pcap or pcapng file and index its first `initial` packets.

    Raises `CaptureError` with a one-line reason when the file is not a capture.
    """
    return Capture(path, initial=initial)


class Capture:
    """A capture file: a lazily indexed, random-access `RecordSource` of `Layer.LINK` records."""

    format: Literal["pcap", "pcapng"]

    def __init__(self, path: str | os.PathLike[str], *, initial: int = INITIAL_PACKETS) -> None:
        self.path = os.fspath(path)
        self.name = self.path
        self.problems: list[CaptureProblem] = []
        self.interfaces: list[Interface] = []
        self.done = False
        self._offsets = array("Q")  # where each packet's record or block starts
        self._lengths = array("I")  # ... and its length
        self._ifaces = array("I")  # pcapng: the packet's interface (index into interfaces)
        self._conns = array("i")  # the packet's TCP connection number, -1 for none
        self._flows: dict[bytes, int] = {}
        self._conn_packets: list[array[int]] = []
        # Simple Packet Blocks have no timestamp: they get the time of the last packet
        # before them that has one (-1: none, time 0).
        self._spb_before: dict[int, int] = {}
        self._last_timed = -1
        self._count = 0
        self._lock = threading.Lock()
        self._fd = self._open()
        try:
            self.size = os.fstat(self._fd).st_size
            self._read_header()
        except BaseException:
            self.close()
            raise
        if initial:
            self.index(max_packets=initial)

    # --- the file header --------------------------------------------------------

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as error:
            raise CaptureError(f"cannot open {self.name}: {error.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CaptureError(f"cannot read {self.name}: not a regular file")
        return fd

    def _read_header(self) -> None:
        head = os.pread(self._fd, 64, 0)
        if not head:
            raise CaptureError(f"{self.name} is empty: not a pcap or pcapng file")
        magic = head[:4]
        if magic in _PCAP_MAGIC:
            self._read_pcap_header(head)
        elif len(head) >= 4 and struct.unpack("<I", magic)[0] == PCAPNG_SHB:
            self.format = "pcapng"
            self._pos = 0
            self._section_base = 0
            self._endian = "<"
            if len(head) < 28:
                raise CaptureError(f"{self.name} ends inside its pcapng section header")
            self._section_header(head, 0)
        else:
            shown = head[:4].hex(" ")
            raise CaptureError(f"{self.name} is not a pcap or pcapng file (starts with {shown})")

    def _read_pcap_header(self, head: bytes) -> None:
        endian, units, record_header = _PCAP_MAGIC[head[:4]]
        if len(head) < 24:
            raise CaptureError(
                f"{self.name} ends inside its pcap file header ({len(head)} of 24 bytes)"
            )
        major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
            endian + "HHiIII", head, 4
        )
        if major != 2:
            raise CaptureError(f"{self.name}: pcap version {major}.{minor} is not supported")
        self.format = "pcap"
        # The low 16 bits are the link type; the high bits may hold FCS information.
        self.interfaces.append(Interface(network & 0xFFFF, units, 0, endian, snaplen))
        self._pos = 24
        self._record_header = record_header
        self._record_struct = struct.Struct(endian + "IIII")

    def _section_header(self, buf: bytes, at: int) -> int:
        """Read a Section Header Block at buf[at:]; returns its total length."""
        if len(buf) - at < 28:  # the smallest section header block there is
            raise CaptureError(f"{self.name} ends inside a pcapng section header")
        (magic,) = struct.unpack_from("<I", buf, at + 8)
        if magic == PCAPNG_BYTE_ORDER_MAGIC:
            endian = "<"
        elif magic == 0x4D3C2B1A:
            endian = ">"
        else:
            raise CaptureError(f"{self.name}: pcapng section header with a bad byte-order magic")
        (length,) = struct.unpack_from(endian + "I", buf, at + 4)
        (major,) = struct.unpack_from(endian + "H", buf, at + 12)
        if major != 1:
            raise CaptureError(f"{self.name}: pcapng version {major} is not supported")
        if length < 28 or length % 4:
            raise CaptureError(f"{self.name}: pcapng section header of {length} bytes")
        self._endian = endian
        self._section_base = len(self.interfaces)
        return int(length)

    # --- RecordSource -----------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    def record(self, index: int) -> WireRecord:
        """Packet `index` (from 0), read from the file."""
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"packet index {index} out of range ({self._count} indexed)")
        length = self._lengths[index]
        try:
            data = os.pread(self._fd, length, self._offsets[index])
        except OSError as error:
            raise CaptureError(f"cannot read {self.name}: {error.strerror}") from None
        if len(data) < length:
            raise CaptureError(f"{self.name} changed while open: packet {index + 1} is gone")
        if self.format == "pcap":
            return self._pcap_record(index, data)
        return self._pcapng_record(index, data)

    def __iter__(self) -> Iterator[WireRecord]:
        """Every packet indexed so far, in order."""
        for index in range(self._count):
            yield self.record(index)

    def _pcap_record(self, index: int, data: bytes) -> WireRecord:
        iface = self.interfaces[0]
        seconds, fraction, caplen, origlen = self._record_struct.unpack_from(data)
        start = self._record_header
        return WireRecord(
            index,
            seconds + fraction / iface.units,
            Layer.LINK,
            data[start : start + caplen],
            iface.link_type,
            original_length=origlen if origlen > caplen else None,
        )

    def _pcapng_record(self, index: int, data: bytes) -> WireRecord:
        number = self._ifaces[index]
        iface = self.interfaces[number]
        endian = iface.endian
        (block_type,) = struct.unpack_from(endian + "I", data)
        if block_type == _SPB:
            (origlen,) = struct.unpack_from(endian + "I", data, 8)
            caplen = _spb_caplen(len(data), origlen, iface.snaplen)
            before = self._spb_before.get(index, -1)
            time = self.record(before).time if before >= 0 else 0.0
            return WireRecord(
                index,
                time,
                Layer.LINK,
                data[12 : 12 + caplen],
                iface.link_type,
                original_length=origlen if origlen > caplen else None,
                interface=number,
            )
        if block_type == _EPB:
            _, high, low, caplen, origlen = struct.unpack_from(endian + "IIIII", data, 8)
            start = 28
        else:  # obsolete Packet Block: 16-bit interface and drop count
            _, _, high, low, caplen, origlen = struct.unpack_from(endian + "HHIIII", data, 8)
            start = 28
        seconds, ticks = divmod((high << 32) | low, iface.units)
        return WireRecord(
            index,
            seconds + ticks / iface.units + iface.offset,
            Layer.LINK,
            data[start : start + caplen],
            iface.link_type,
            original_length=origlen if origlen > caplen else None,
            interface=number,
        )

    # --- connections ------------------------------------------------------------

    def connection_of(self, index: int) -> int | None:
        """The TCP connection number (from 0, in order of first packet) of packet `index`."""
        number = self._conns[index]
        return None if number < 0 else number

    def connection_packets(self, connection: int) -> array[int]:
        """The indexes of the packets of TCP connection `connection`, so far, in order."""
        return self._conn_packets[connection]

    def same_connection(self, index: int) -> list[int]:
        """The indexes of every packet of packet `index`'s TCP connection ([] if not TCP)."""
        number = self.connection_of(index)
        return [] if number is None else list(self._conn_packets[number])

    @property
    def connection_count(self) -> int:
        return len(self._conn_packets)

    # --- indexing ---------------------------------------------------------------

    @property
    def bytes_indexed(self) -> int:
        """How far into the file indexing has come (equals `size` once `done`)."""
        return self.size if self.done else self._pos

    def index(self, max_packets: int | None = None, progress: Progress | None = None) -> int:
        """Index up to `max_packets` more packets (all when None); returns how many were added.

        `progress(capture)` is called after every batch of packets.
        """
        added = 0
        batch = 5000 if max_packets is None else min(5000, max_packets)
        while not self.done and (max_packets is None or added < max_packets):
            wanted = batch if max_packets is None else min(batch, max_packets - added)
            added += self._index_batch(wanted)
            if progress is not None:
                progress(self)
        return added

    def index_steps(self, batch: int = 5000) -> Iterator[int]:
        """Index the rest one batch at a time, yielding the packet count after each batch."""
        while not self.done:
            self._index_batch(batch)
            yield self._count

    def _index_batch(self, wanted: int) -> int:
        with self._lock:
            if self.done:
                return 0
            before = self._count
            try:
                if self.format == "pcap":
                    self._index_pcap(wanted)
                else:
                    self._index_pcapng(wanted)
            except struct.error:
                # A length the checks above let through: the file is cut or malformed
                # here. What was indexed stays; the rest is a problem, not a traceback.
                self._problem(f"a malformed or cut block after packet {self._count}")
                self.done = True
            return self._count - before

    def _problem(self, message: str) -> None:
        self.problems.append(CaptureProblem(self._count + 1, message))

    def _add(self, offset: int, length: int, iface: int, buf: bytes, start: int, end: int) -> None:
        """Index one packet whose data is buf[start:end]."""
        self._offsets.append(offset)
        self._lengths.append(length)
        if self.format == "pcapng":
            self._ifaces.append(iface)
        number = -1
        flow = flow_key(buf, self.interfaces[iface].link_type, start, end)
        if flow is not None:
            found = self._flows.get(flow)
            if found is None:
                found = self._flows[flow] = len(self._conn_packets)
                self._conn_packets.append(array("I"))
            number = found
            self._conn_packets[number].append(self._count)
        self._conns.append(number)
        self._count += 1  # last: a reader in another thread sees only complete entries

    def _index_pcap(self, wanted: int) -> None:
        fd, size, pos = self._fd, self.size, self._pos
        header = self._record_header
        unpack = self._record_struct.unpack_from
        chunk, base = b"", pos
        target = self._count + wanted
        while self._count < target:
            if pos + header > size:
                if pos < size:
                    self._problem(f"the file ends inside a record header (at byte {pos})")
                self.done = True
                break
            if pos + header > base + len(chunk):
                chunk, base = os.pread(fd, _CHUNK, pos), pos
            _, _, caplen, _ = unpack(chunk, pos - base)
            if caplen > MAX_PACKET:
                self._problem(
                    f"record at byte {pos} claims {caplen} captured bytes, more than a packet "
                    f"can be: the rest of the file is not read"
                )
                self.done = True
                break
            end = pos + header + caplen
            if end > size:
                self._problem(
                    f"cut short: the file ends after {size - pos - header} of its {caplen} bytes"
                )
                self.done = True
                break
            if pos + header + min(caplen, 1024) > base + len(chunk):
                chunk, base = os.pread(fd, _CHUNK, pos), pos  # the headers, for flow_key
            data_start = pos + header - base
            self._add(
                pos, header + caplen, 0, chunk, data_start, min(data_start + caplen, len(chunk))
            )
            pos = end
        self._pos = pos

    def _index_pcapng(self, wanted: int) -> None:
        fd, size, pos = self._fd, self.size, self._pos
        chunk, base = b"", pos
        target = self._count + wanted
        while self._count < target:
            if pos + 12 > size:
                if pos < size:
                    self._problem(f"the file ends inside a block header (at byte {pos})")
                self.done = True
                break
            if pos + 12 > base + len(chunk):
                chunk, base = os.pread(fd, _CHUNK, pos), pos
            at = pos - base
            endian = self._endian
            block_type, length = struct.unpack_from(endian + "II", chunk, at)
            if block_type == PCAPNG_SHB:
                if pos + 28 > base + len(chunk):
                    chunk, base = os.pread(fd, _CHUNK, pos), pos
                    at = 0
                try:
                    length = self._section_header(chunk, at)
                except CaptureError as error:
                    self._problem(f"{str(error).removeprefix(self.name + ': ')} at byte {pos}")
                    self.done = True
                    break
                endian = self._endian
            if length < 12 or length % 4 or length > MAX_PACKET + 4096:
                self._problem(f"block at byte {pos} claims an impossible length ({length})")
                self.done = True
                break
            end = pos + length
            if end > size:
                self._problem(
                    f"cut short: the file ends after {size - pos} of the {length} bytes "
                    f"of the block at byte {pos}"
                )
                self.done = True
                break
            if end > base + len(chunk):
                chunk, base = os.pread(fd, max(_CHUNK, length), pos), pos
                at = 0
            (trailer,) = struct.unpack_from(endian + "I", chunk, at + length - 4)
            if trailer != length:
                self._problem(
                    f"block at byte {pos} has different lengths at its start ({length}) "
                    f"and end ({trailer}): the rest of the file is not read"
                )
                self.done = True
                break
            if block_type in (_EPB, _OPB) and length < 32:
                self._problem(f"packet block at byte {pos} is too short ({length} bytes): skipped")
            elif block_type in (_EPB, _OPB):
                if block_type == _EPB:
                    iface, _, _, caplen, _ = struct.unpack_from(endian + "IIIII", chunk, at + 8)
                else:
                    iface, _, _, _, caplen, _ = struct.unpack_from(endian + "HHIIII", chunk, at + 8)
                number = self._section_base + iface
                if number >= len(self.interfaces):
                    self._problem(
                        f"packet block at byte {pos} names interface {iface}, "
                        "which the section does not describe: skipped"
                    )
                elif caplen > length - 32:
                    self._problem(
                        f"packet block at byte {pos} claims {caplen} bytes of data "
                        f"in a {length}-byte block: skipped"
                    )
                else:
                    self._last_timed = self._count
                    self._add(pos, length, number, chunk, at + 28, at + 28 + caplen)
            elif block_type == _SPB:
                number = self._section_base
                if number >= len(self.interfaces) or length < 16:
                    self._problem(
                        f"simple packet block at byte {pos} without an interface: skipped"
                    )
                else:
                    (origlen,) = struct.unpack_from(endian + "I", chunk, at + 8)
                    caplen = _spb_caplen(length, origlen, self.interfaces[number].snaplen)
                    self._spb_before[self._count] = self._last_timed
                    self._add(pos, length, number, chunk, at + 12, at + 12 + caplen)
            elif block_type == _IDB:
                try:
                    self.interfaces.append(_interface(chunk, at, length, endian))
                except (struct.error, ValueError) as error:
                    self._problem(f"bad interface description at byte {pos}: {error}")
                    self.done = True
                    break
            pos = end
        self._pos = pos

    # --- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "indexed" if self.done else f"{self.bytes_indexed}/{self.size} bytes indexed"
        return f"<Capture {self.name!r} {self.format}: {self._count} packets, {state}>"


def _spb_caplen(block_length: int, origlen: int, snaplen: int) -> int:
    """A Simple Packet Block's captured length: its original length, cut by snaplen and block."""
    caplen = min(origlen, block_length - 16)
    return min(caplen, snaplen) if snaplen else caplen


def _interface(buf: bytes, at: int, length: int, endian: str) -> Interface:
    """Parse an Interface Description Block at buf[at:at+length]."""
    if length < 20:
        raise ValueError(f"{length} bytes is too short")
    link_type, _, snaplen = struct.unpack_from(endian + "HHI", buf, at + 8)
    units, offset = 1_000_000, 0  # if_tsresol defaults to 6: microseconds
    name = None
    pos, end = at + 16, at + length - 4
    while pos + 4 <= end:
        code, size = struct.unpack_from(endian + "HH", buf, pos)
        if code == _OPT_END:
            break
        value = buf[pos + 4 : pos + 4 + size]
        if len(value) < size:
            raise ValueError(f"option {code} runs past the block")
        if code == _IF_TSRESOL and size >= 1:
            # The high bit chooses the base: 2**-n if set, 10**-n if clear.
            exponent = value[0] & 0x7F
            if exponent > 60:
                raise ValueError(f"if_tsresol of {value[0]:#x}")
            units = 2**exponent if value[0] & 0x80 else 10**exponent
        elif code == _IF_TSOFFSET and size >= 8:
            (offset,) = struct.unpack_from(endian + "q", value)
        elif code == _IF_NAME:
            name = value.decode("utf-8", "replace").rstrip("\0")
        pos += 4 + size + (-size % 4)
    return Interface(link_type, units, offset, endian, snaplen, name)


# --- writing --------------------------------------------------------------------------


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise `CaptureError` now if a capture cannot be written to `path` later."""
    target = Path(path)
    if target.is_dir():
        raise CaptureError(f"cannot write {os.fspath(path)}: it is a directory")
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise CaptureError(f"cannot write {os.fspath(path)}: {error.strerror}") from None
    os.close(fd)
    os.unlink(temporary)


def write_pcap(
    path: str | os.PathLike[str],
    records: Iterable[WireRecord],
    *,
    format: Literal["auto", "pcap", "pcapng"] = "auto",
    snaplen: int = DEFAULT_SNAPLEN,
    interfaces: Sequence[tuple[str, int]] | None = None,
) -> int:
    """Write `Layer.LINK` records to a capture file, atomically; returns the packet count.

    "auto" writes pcapng (one interface per link type, in order of first use)
    when the records mix link types or the path ends in ".pcapng", else pcap. Stream
    records have no packets to write: `synthesize()` them first (or use
    `export_pcap`). `interfaces`, (name, link type) pairs, writes pcapng with one
    named interface each, every record on the one its `interface` number names
    (several capture points of one network). Raises `CaptureError` when the file
    cannot be written.
    """
    items = list(records)
    for record in items:
        if record.layer is not Layer.LINK:
            raise ValueError(
                f"record {record.number} is a stream record: synthesize() packets from it first"
            )
    if interfaces is not None:
        if format == "pcap":
            raise CaptureError("named interfaces need pcapng")
        for record in items:
            number = record.interface
            if number is None or not 0 <= number < len(interfaces):
                raise ValueError(f"record {record.number} is on no interface given ({number})")
            if record.link_type != interfaces[number][1]:
                raise ValueError(f"record {record.number}'s link type is not its interface's")
        snaplen = max(snaplen, max((len(record.data) for record in items), default=0))
        _write_atomically(path, _pcapng_bytes(items, list(interfaces), snaplen, named=True))
        return len(items)
    link_types = list(dict.fromkeys(record.link_type for record in items))
    if format == "auto":
        pcapng = len(link_types) > 1 or Path(path).suffix.lower() == ".pcapng"
        format = "pcapng" if pcapng else "pcap"
    if format == "pcap" and len(link_types) > 1:
        names = ", ".join(str(t) for t in link_types)
        raise CaptureError(
            f"a pcap file has one link type, these records have {names}: write pcapng"
        )
    snaplen = max(snaplen, max((len(record.data) for record in items), default=0))
    if format == "pcap":
        blob = _pcap_bytes(items, link_types[0] if link_types else 1, snaplen)
    else:
        blob = _pcapng_bytes(items, [("", t) for t in link_types], snaplen, named=False)
    _write_atomically(path, blob)
    return len(items)


class PcapWriter:
    """Writes `Layer.LINK` records to a capture file as they come, for a recording that
    must not be held in memory: into a temporary file beside `path`, renamed over it
    by `close()` (until then, and after a crash, `path` is untouched).

    pcapng (the default for a ".pcapng" name) gets an interface per link type as each
    is first used. A pcap file has one link type, the first record's: a record of
    another is not written and is counted in `skipped`. A record longer than `snaplen`
    is cut to it, its original length kept, as a capture would. Raises `CaptureError`
    when the file cannot be written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: Literal["pcap", "pcapng"] | None = None,
        snaplen: int = DEFAULT_SNAPLEN,
    ) -> None:
        self.path = Path(path)
        self.pcapng = (
            format or ("pcapng" if self.path.suffix.lower() == ".pcapng" else "pcap")
        ) == "pcapng"
        self.snaplen = snaplen
        self.count = 0
        self.skipped = 0
        self._interfaces: dict[int, int] = {}  # link type → interface number
        self._link_type: int | None = None  # pcap's one link type, once written
        try:
            fd, self._temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}."
            )
            self._file: io.BufferedWriter | None = os.fdopen(fd, "wb")
        except OSError as error:
            raise CaptureError(f"cannot write {self.path}: {error.strerror or error}") from None
        if self.pcapng:
            application = f"wirelab {__version__}".encode()
            shb = struct.pack("<IHHq", PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1)
            shb += _option(_SHB_USERAPPL, application) + _option(_OPT_END, b"")
            self._write(_block(PCAPNG_SHB, shb))

    def _write(self, data: bytes) -> None:
        assert self._file is not None, "written after close()"
        try:
            self._file.write(data)
        except OSError as error:
            self.abort()
            raise CaptureError(f"cannot write {self.path}: {error.strerror or error}") from None

    def write(self, record: WireRecord) -> None:
        data = record.data[: self.snaplen]
        original = max(_original_length(record), len(record.data))
        seconds, micros = _microseconds(record.time)
        if not self.pcapng:
            if self._link_type is None:
                self._link_type = record.link_type
                self._write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen,
                                        record.link_type))  # fmt: skip
            elif record.link_type != self._link_type:
                self.skipped += 1
                return
            header = struct.pack("<IIII", seconds & 0xFFFFFFFF, micros, len(data), original)
            self._write(header + data)
        else:
            iface = self._interfaces.get(record.link_type)
            if iface is None:
                iface = self._interfaces[record.link_type] = len(self._interfaces)
                self._write(_block(_IDB, struct.pack("<HHI", record.link_type, 0, self.snaplen)))
            ticks = (seconds * 1_000_000 + micros) & 0xFFFFFFFFFFFFFFFF
            body = struct.pack("<IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                               original)  # fmt: skip
            self._write(_block(_EPB, body + data))
        self.count += 1

    def close(self) -> int:
        """Finish the file and put it at `path`; the number of packets written."""
        file = self._file
        if file is None:
            return self.count
        if not self.pcapng and self._link_type is None:  # nothing came: an empty capture
            self._write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen,
                                    LinkType.RAW))  # fmt: skip
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self._file = None
            os.chmod(self._temporary, 0o644)
            os.replace(self._temporary, self.path)
        except OSError as error:
            self.abort()
            raise CaptureError(f"cannot write {self.path}: {error.strerror or error}") from None
        return self.count

    def abort(self) -> None:
        """Stop and remove the temporary file; `path` stays as it was."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            os.unlink(self._temporary)


def _microseconds(time: float) -> tuple[int, int]:
    seconds = math.floor(time)
    micros = round((time - seconds) * 1_000_000)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return int(seconds), micros


def _original_length(record: WireRecord) -> int:
    original = record.original_length
    return original if original is not None and original > len(record.data) else len(record.data)


def _pcap_bytes(records: list[WireRecord], link_type: int, snaplen: int) -> bytearray:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, link_type))
    header = struct.Struct("<IIII")
    for record in records:
        seconds, micros = _microseconds(record.time)
        out += header.pack(seconds & 0xFFFFFFFF, micros, len(record.data), _original_length(record))
        out += record.data
    return out


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _pcapng_bytes(
    records: list[WireRecord], interfaces: list[tuple[str, int]], snaplen: int, *, named: bool
) -> bytearray:
    """pcapng: one interface per (name, link type); records go on the interface their
    `interface` names (`named`) or the one of their link type."""
    application = f"wirelab {__version__}".encode()
    shb = struct.pack("<IHHq", PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1)
    shb += _option(_SHB_USERAPPL, application) + _option(_OPT_END, b"")
    out = bytearray(_block(PCAPNG_SHB, shb))
    by_type: dict[int, int] = {}
    for number, (name, link_type) in enumerate(interfaces):
        by_type.setdefault(link_type, number)
        body = struct.pack("<HHI", link_type, 0, snaplen)  # µs timestamps: the default
        if name:
            body += _option(_IF_NAME, name.encode()) + _option(_OPT_END, b"")
        out += _block(_IDB, body)
    for record in records:
        iface = record.interface if named else by_type[record.link_type]
        assert iface is not None
        seconds, micros = _microseconds(record.time)
        ticks = (seconds * 1_000_000 + micros) & 0xFFFFFFFFFFFFFFFF
        body = struct.pack(
            "<IIIII",
            iface,
            ticks >> 32,
            ticks & 0xFFFFFFFF,
            len(record.data),
            _original_length(record),
        )
        out += _block(_EPB, body + record.data)
    return out


def _write_atomically(path: str | os.PathLike[str], data: bytes | bytearray) -> None:
    try:
        write_atomically(path, bytes(data))
    except OSError as error:
        name = os.fspath(path)
        raise CaptureError(f"cannot write {name}: {error.strerror or error}") from None


__all__ = [
    "DEFAULT_SNAPLEN",
    "MAX_PACKET",
    "Capture",
    "CaptureError",
    "CaptureProblem",
    "Interface",
    "PcapWriter",
    "check_writable",
    "open_capture",
    "write_pcap",
]
