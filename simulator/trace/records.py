"""Wire records and the append-only trace every view reads.

A `WireRecord` is one unit of traffic exactly as it was seen:

- `Layer.LINK`: a whole captured frame (from a pcap, or a simulated link), with
  its pcap link type (Ethernet, loopback, raw IP);
- `Layer.STREAM`: bytes one side of a TCP connection wrote or read, tapped at a
  socket: no IP/TCP headers of their own.

Records are immutable; a `Trace` only grows. Views subscribe and are told of
each new record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from enum import Enum, IntEnum
from typing import Protocol, overload


class Layer(Enum):
    LINK = "link"
    STREAM = "stream"


class LinkType(IntEnum):
    """pcap LINKTYPE_* values wirelab reads and writes."""

    NULL = 0  # BSD loopback: 4-byte address family in host byte order
    ETHERNET = 1
    RAW = 101  # raw IPv4/IPv6, no link header
    LINUX_SLL = 113
    LOOP = 108  # OpenBSD loopback: address family in network byte order
    IPV4 = 228


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One unit of traffic: a captured frame, or a chunk of a TCP byte stream."""

    index: int  # position in its trace or capture, from 0 (shown to people from 1)
    time: float  # seconds since the epoch (real) or since the start (simulated)
    layer: Layer
    data: bytes
    link_type: int = LinkType.RAW  # for Layer.LINK
    src: Endpoint | None = None  # for Layer.STREAM: who wrote the bytes
    dst: Endpoint | None = None
    connection: int | None = None  # for Layer.STREAM: which connection
    original_length: int | None = None  # on the wire, when a capture cut the frame short
    interface: int | None = None  # for Layer.LINK: which capture interface (pcapng) or link

    @property
    def number(self) -> int:
        """The 1-based number people use ("packet 3")."""
        return self.index + 1

    @property
    def truncated(self) -> bool:
        return self.original_length is not None and self.original_length > len(self.data)


# A record built straight through its slots: a frozen dataclass's generated __init__
# goes through object.__setattr__ for each of its ten fields, which makes it the
# slowest step of a simulated packet (3.4 µs against 1.3 µs). Same object, same checks
# on the way out: the record stays frozen, equal and hashable as ever.
_SLOT_SETTERS = tuple(WireRecord.__dict__[f.name].__set__ for f in fields(WireRecord))


def _record(
    index: int, time: float, layer: Layer, data: bytes, link_type: int,
    src: Endpoint | None, dst: Endpoint | None, connection: int | None,
    original_length: int | None, interface: int | None,
) -> WireRecord:  # fmt: skip
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _SLOT_SETTERS
    record: WireRecord = object.__new__(WireRecord)
    s0(record, index)
    s1(record, time)
    s2(record, layer)
    s3(record, data)
    s4(record, link_type)
    s5(record, src)
    s6(record, dst)
    s7(record, connection)
    s8(record, original_length)
    s9(record, interface)
    return record


class RecordSource(Protocol):
    """What views read: a growing, indexable sequence of records (a trace or a capture)."""

    def __len__(self) -> int: ...

    def record(self, index: int) -> WireRecord: ...


Subscriber = Callable[[WireRecord], None]


def _stub(index: int, length: int) -> WireRecord:
    """What a forgotten record reads as."""
    return _record(index, 0.0, Layer.STREAM, b"", LinkType.RAW, None, None, None, length, None)


Forgetter = Callable[[int], None]


def forgotten(record: WireRecord) -> bool:
    """Whether `record` stands for one a bounded `Trace` no longer keeps: no bytes, and
    `original_length` saying how many there were (0: the whole record is gone)."""
    return record.layer is Layer.STREAM and not record.data and record.original_length is not None


class Trace(Sequence[WireRecord]):
    """An append-only sequence of wire records that tells its subscribers as it grows.

    With `keep=False` it keeps none of them: it numbers them and hands each to its
    subscribers (a recording written as it goes); its length counts them, indexing
    finds nothing.

    With `limit_bytes` (or `limit_records`) it is a ring: past the limit, the oldest
    records' bytes (then the oldest records themselves) are forgotten, a quarter of the
    limit at a time. Numbers never change: a forgotten record reads as a stream record
    with no bytes and `original_length` saying how many it had (see `forgotten`).
    `on_forget` callbacks run first, with the index below which bytes go, so a reader
    can finish with them; `forgotten_bytes` and `forgotten_records` count what went.
    """

    def __init__(
        self,
        records: Sequence[WireRecord] = (),
        *,
        keep: bool = True,
        limit_bytes: int | None = None,
        limit_records: int | None = None,
    ) -> None:
        self._records: list[WireRecord] = []  # from index `_first` on
        self._subscribers: list[Subscriber] = []
        self._forgetters: list[Forgetter] = []
        self._keep = keep
        self._count = 0
        self._first = 0  # records before it are forgotten whole
        self._bytes_from = 0  # records before it (and from `_first`) have no bytes left
        self._kept_bytes = 0
        self.limit_bytes = limit_bytes
        self.limit_records = limit_records
        self.forgotten_bytes = 0
        self.forgotten_records = 0
        for record in records:
            self.append(record.time, record.layer, record.data, link_type=record.link_type,
                        src=record.src, dst=record.dst, connection=record.connection,
                        original_length=record.original_length,
                        interface=record.interface)  # fmt: skip

    def append(
        self,
        time: float,
        layer: Layer,
        data: bytes,
        *,
        link_type: int = LinkType.RAW,
        src: Endpoint | None = None,
        dst: Endpoint | None = None,
        connection: int | None = None,
        original_length: int | None = None,
        interface: int | None = None,
    ) -> WireRecord:
        record = _record(
            self._count, time, layer, bytes(data), link_type, src, dst, connection,
            original_length, interface,
        )  # fmt: skip
        self._count += 1
        if self._keep:
            self._records.append(record)
            self._kept_bytes += len(record.data)
            if self.limit_bytes is not None and self._kept_bytes > self.limit_bytes:
                self._forget_bytes(self.limit_bytes * 3 // 4)
            limit = self.limit_records
            if limit is not None and self._count - self._first > limit:
                self._forget_records(self._count - limit * 3 // 4)
        if self._subscribers:
            for subscriber in list(self._subscribers):
                subscriber(record)
        return record

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every record appended from now on; returns an unsubscribe."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def on_forget(self, forgetter: Forgetter) -> None:
        """Call `forgetter(index)` before the bytes of the records below `index` go."""
        self._forgetters.append(forgetter)

    def _forget_bytes(self, keep: int) -> None:
        """Forget the oldest records' bytes until at most `keep` bytes are kept."""
        upto, kept = self._bytes_from, self._kept_bytes
        while kept > keep and upto < self._count - 1:  # the newest record stays whole
            kept -= len(self._records[upto - self._first].data)
            upto += 1
        for forgetter in self._forgetters:
            forgetter(upto)
        for index in range(self._bytes_from, upto):
            old = self._records[index - self._first]
            if old.data:
                self.forgotten_bytes += len(old.data)
                self._records[index - self._first] = _record(
                    index, old.time, old.layer, b"", old.link_type, old.src, old.dst,
                    old.connection, len(old.data), old.interface,
                ) if old.layer is Layer.STREAM else _stub(index, len(old.data))  # fmt: skip
        self._bytes_from, self._kept_bytes = upto, kept

    def _forget_records(self, upto: int) -> None:
        """Forget the records below `upto` whole (their bytes first)."""
        if upto > self._bytes_from:
            for forgetter in self._forgetters:
                forgetter(upto)
            for index in range(self._bytes_from, upto):
                data = self._records[index - self._first].data
                self._kept_bytes -= len(data)
                self.forgotten_bytes += len(data)
            self._bytes_from = upto
        self.forgotten_records += upto - self._first
        del self._records[: upto - self._first]
        self._first = upto

    @property
    def forgetting(self) -> str | None:
        """What a bounded trace no longer keeps, for people; None while it keeps all."""
        if not (self.forgotten_bytes or self.forgotten_records):
            return None
        limits = []
        if self.limit_bytes is not None:
            limits.append(f"{self.limit_bytes / 1048576:g} MiB")
        if self.limit_records is not None:
            limits.append(f"{self.limit_records:,} records")
        return (
            f"{self.forgotten_bytes:,} bytes no longer kept (the live trace keeps the last "
            f"{' and '.join(limits)})"
        )

    def record(self, index: int) -> WireRecord:
        if 0 <= index < self._first:
            return _stub(index, 0)
        return self._records[index - self._first]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> WireRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[WireRecord]: ...
    def __getitem__(self, index: int | slice) -> WireRecord | Sequence[WireRecord]:
        if isinstance(index, slice):
            if not self._first:
                return tuple(self._records[index])
            return tuple(self.record(i) for i in range(*index.indices(self._count)))
        if index < 0:
            index += self._count
        if not 0 <= index < self._count or not self._keep:
            raise IndexError("trace index out of range")
        return self.record(index)

    def __iter__(self) -> Iterator[WireRecord]:
        """The records still kept (a bounded trace's forgotten ones are left out)."""
        if self.limit_bytes is None and self.limit_records is None:
            return iter(self._records)
        return iter(list(self._records))  # forgetting must not shift it under the reader
