"""What the inspector reads: rows, dissections and conversations of a growing record source.

The screens depend only on the `InspectorModel` protocol. `SourceModel` is the
one implementation: any `RecordSource` (a live `Trace`, a pcap `Capture`) plus a
dissect function. The dissect function and the conversation function are
parameters (see `simulator.cli`, which wires in the stream dissector and
`message_conversation`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from simulator.dissect import Buffer, Dissection, Field
from simulator.dissect.columns import Columns
from simulator.dissect.conversation import (
    ConversationFunction,
    DissectFunction,
    Turn,
    stream_conversation,
)
from simulator.dissect.filters import Filter
from simulator.dissect.stream_view import StreamDissector, bad_tcp
from simulator.trace import Layer, RecordSource, WireRecord
from simulator.trace.pcap import Capture
from simulator.trace.records import forgotten


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the packet list: cheap to show, computed from the dissection."""

    number: int  # 1-based, as people count packets
    time: float  # seconds since the first record
    src: str
    dst: str
    protocol: str
    length: int  # on the wire (the capture may hold fewer bytes)
    info: str
    problem: bool = False  # the dissection found something malformed
    bad_tcp: bool = False  # TCP analysis flags something wrong (Wireshark's "Bad TCP")


class InspectorModel(Protocol):
    """The inspector's view of a trace or capture. Everything may be called from a worker thread."""

    def __len__(self) -> int:
        """Rows available now; grows while a capture is indexed or a live trace runs."""
        ...

    def row(self, index: int) -> Row: ...

    def dissect(self, index: int) -> Dissection:
        """The full dissection of record `index`, including messages it completed."""
        ...

    def matcher(self, test: Filter) -> Callable[[int], bool]:
        """A function telling whether record `index` matches the display filter `test`
        (as `test(dissect(index))` says, maybe without dissecting it)."""
        ...

    def conversation(self, index: int) -> list[Turn]:
        """The connection record `index` belongs to, as turns; empty if it has none."""
        ...

    @property
    def progress(self) -> float | None:
        """How much of the source is indexed, 0..1; None once it is all there."""
        ...

    @property
    def problems(self) -> Sequence[str]:
        """What is wrong with the source as a whole (a truncated capture...)."""
        ...

    def indexing(self) -> Iterator[None]:
        """Steps of background indexing, each short; the app runs them in a worker."""
        ...

    def save(self, path: str, indexes: Sequence[int] | None = None) -> str:
        """Write every record (or those at `indexes`) as a pcap (or pcapng) file at
        `path`; say what was written."""
        ...


@runtime_checkable
class IndexedSource(Protocol):
    """A record source that indexes itself lazily, batch by batch (a pcap `Capture`).

    It must be safe to read (`len`, `record`) from one thread while another indexes.
    """

    done: bool
    bytes_indexed: int
    size: int

    def index_steps(self, batch: int) -> Iterator[object]: ...


CACHE_BYTES = 16 << 20  # the dissections kept for a second look, at most

K = TypeVar("K")
V = TypeVar("V")


class _LRU(OrderedDict[K, V]):
    """At most `size` entries, and (with `weigh`) at most `budget` of their weight: the
    most recent one always stays."""

    def __init__(
        self, size: int, *, weigh: Callable[[V], int] | None = None, budget: int = 0
    ) -> None:
        super().__init__()
        self.size = size
        self.weigh = weigh
        self.budget = budget
        self.weight = 0
        self._weights: dict[K, int] = {}

    def get_fresh(self, key: K) -> V | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.weigh is not None:
            self.weight += self.weigh(value) - self._weights.get(key, 0)
            self._weights[key] = self.weigh(value)
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size or (self.weigh is not None and self.weight > self.budget
                                         and len(self) > 1):  # fmt: skip
            old, _ = self.popitem(last=False)
            self.weight -= self._weights.pop(old, 0)

    def clear(self) -> None:
        super().clear()
        self.weight = 0
        self._weights.clear()


def _bytes_of(dissection: Dissection) -> int:
    return sum(len(buffer.data) for buffer in dissection.buffers)


class SourceModel:
    """An `InspectorModel` over any `RecordSource`, with LRU caches, safe to share with workers.

    `dissect` turns one record into a `Dissection` (the real dissectors, or
    `raw_dissection` until they exist); a dissector that raises gives a
    dissection naming the error instead of a crash. `conversation` groups a
    connection's records into turns (default: `stream_conversation`).

    A capture dissected by the stream dissector is also read into columns
    (`simulator.dissect.columns`) after it is indexed, so that display filters
    (`matcher`) need not dissect every packet.
    """

    def __init__(
        self,
        source: RecordSource,
        dissect: DissectFunction,
        *,
        conversation: ConversationFunction | None = None,
        cache_size: int = 256,
        index_batch: int = 2000,
    ) -> None:
        self.source = source
        self._dissect = dissect
        self._conversation = conversation or stream_conversation
        # Bounded by their bytes too: a dissection holds its messages (up to 1 MiB each).
        self._dissections: _LRU[int, Dissection] = _LRU(
            cache_size, weigh=_bytes_of, budget=CACHE_BYTES
        )
        self._rows: _LRU[int, Row] = _LRU(cache_size * 16)
        self._lock = threading.RLock()
        self._index_batch = index_batch
        self._start: float | None = None
        self._problems: list[str] = []
        # A capture read by the stream dissector gets columns for display filters.
        self._columns: Columns | None = None
        if isinstance(source, Capture) and isinstance(dissect, StreamDissector):
            self._columns = Columns(source, relative=dissect.relative)

    def __len__(self) -> int:
        return len(self.source)

    def record(self, index: int) -> WireRecord:
        with self._lock:
            return self.source.record(index)

    def dissect(self, index: int) -> Dissection:
        with self._lock:
            cached = self._dissections.get_fresh(index)
            if cached is not None:
                return cached
            record = self.source.record(index)
            try:
                dissection = self._dissect(record)
            except Exception as error:  # a dissector bug must not take the inspector down
                dissection = raw_dissection(record, problem=f"dissector error: {error!r}")
            self._dissections.put(index, dissection)
            return dissection

    def renumber(self) -> bool | None:
        """Switch TCP sequence and acknowledgment numbers between relative (Wireshark's
        default) and raw, and dissect again; the new setting (True: relative), or None
        when the dissector has no such setting."""
        with self._lock:
            dissector = self._dissect
            if not isinstance(dissector, StreamDissector):
                return None
            dissector.relative = relative = not dissector.relative
            if self._columns is not None:
                self._columns.relative = relative
            self._dissections.clear()
            self._rows.clear()
            return relative

    def row(self, index: int) -> Row:
        with self._lock:
            cached = self._rows.get_fresh(index)
            if cached is not None:
                return cached
            record = self.source.record(index)
            dissection = self.dissect(index)
            if self._start is None:
                self._start = self.source.record(0).time
            src, dst = _endpoints(record, dissection)
            problem = bool(dissection.problems) or any(f.problem for _, f in dissection.walk())
            row = Row(
                number=record.number,
                time=record.time - self._start,
                src=src,
                dst=dst,
                protocol=dissection.protocol,
                length=record.original_length or len(record.data),
                info=_info(dissection.summary, src, dst),
                problem=problem,
                bad_tcp=bad_tcp(dissection),
            )
            self._rows.put(index, row)
            return row

    @property
    def columns(self) -> Columns | None:
        """The capture's columns for display filters (None: filters dissect)."""
        return self._columns

    def matcher(self, test: Filter) -> Callable[[int], bool]:
        """Whether record `index` matches `test`: read from the capture's columns when
        they hold every field the filter reads (and the packet has a row), else from its
        dissection. Columns not read that far yet are read first, a batch at a time, so
        a filter run soon after opening a capture reads them as it goes."""
        columns = self._columns
        if columns is None or not columns.covers(test):
            return lambda index: test(self.dissect(index))

        def match(index: int) -> bool:
            if index >= len(columns):
                columns.build(index + self._index_batch)
            return columns.matches(test, index, self.dissect)

        return match

    def conversation(self, index: int) -> list[Turn]:
        return self._conversation(self.source, index, self.dissect_record)

    def dissect_record(self, record: WireRecord) -> Dissection:
        """Dissect a record of this source (cached when it is one of ours)."""
        return self.dissect(record.index)

    @property
    def progress(self) -> float | None:
        source = self.source
        if not isinstance(source, IndexedSource) or source.done:
            return None
        return min(1.0, source.bytes_indexed / source.size) if source.size else 0.0

    @property
    def forgetting(self) -> str | None:
        """What a bounded live source no longer keeps, for people (None: it keeps all)."""
        return getattr(self.source, "forgetting", None)

    @property
    def problems(self) -> Sequence[str]:
        found = getattr(self.source, "problems", ())
        if len(found) > len(self._problems):  # only ever grows: convert the new ones
            self._problems.extend(str(problem) for problem in found[len(self._problems) :])
        return self._problems

    def save(self, path: str, indexes: Sequence[int] | None = None) -> str:
        from simulator.trace.synth import export_pcap

        chosen = range(len(self.source)) if indexes is None else indexes
        every = [self.source.record(i) for i in chosen]
        records = [record for record in every if not forgotten(record)]
        done = export_pcap(records, path)  # atomic: a temporary file, then a rename
        packets = f"{done.packets:,} packet{'s' * (done.packets != 1)}"
        left = len(every) - len(records)
        more = f" ({left:,} records no longer kept were left out)" if left else ""
        return f"Wrote {packets} to {done.path}{more}"

    def indexing(self) -> Iterator[None]:
        source = self.source
        if not isinstance(source, IndexedSource):
            return
        # No lock here: an indexed source must be safe to read while it indexes (a
        # Capture is), and the screens keep reading while a batch is indexed.
        for _ in source.index_steps(self._index_batch):
            yield
        # Then the columns display filters read, so that the first filter is quick too.
        if self._columns is not None:
            for _ in self._columns.steps(self._index_batch):
                yield


def _endpoints(record: WireRecord, dissection: Dissection) -> tuple[str, str]:
    if record.src is not None and record.dst is not None:
        return str(record.src), str(record.dst)
    for family in ("ip", "ipv6"):
        src, dst = dissection.find(f"{family}.src"), dissection.find(f"{family}.dst")
        if src is not None and dst is not None:
            return _shown(src), _shown(dst)
    return "", ""


_MARKS = re.compile(r"(?:\[[^\]]*\] )+")


def _info(summary: str, src: str, dst: str) -> str:
    """The summary without the addresses the Source and Destination columns already show.

    "127.0.0.1:50000 → 127.0.0.1:8765 [SYN]" becomes "50000 → 8765 [SYN]", as in Wireshark.
    """
    marks = _MARKS.match(summary)  # "[TCP Retransmission] ": TCP analysis, first as in Wireshark
    if marks:
        return marks.group() + _info(summary[marks.end() :], src, dst)
    pairs = ((src, dst), (src.rsplit(":", 1)[0], dst.rsplit(":", 1)[0]), (f"[{src}]", f"[{dst}]"))
    for host_src, host_dst in pairs:
        prefix = f"{host_src}:"
        if host_src and summary.startswith(prefix):
            rest = summary[len(prefix) :]
            port, sep, tail = rest.partition(" → ")
            if sep and tail.startswith(f"{host_dst}:"):
                return f"{port} → {tail[len(host_dst) + 1 :]}"
    return summary


def _shown(field: Field) -> str:
    """An address for a list column: the plain value ("10.0.0.1") over the display."""
    if isinstance(field.value, str) and field.value:
        return field.value
    return field.display or str(field.value or "")


def raw_dissection(record: WireRecord, *, problem: str | None = None) -> Dissection:
    """A record as undissected bytes: what the inspector shows before any dissector runs.

    It names the record and its endpoints and spans all of its bytes; it reads
    nothing inside them.
    """
    size = len(record.data)
    if record.layer is Layer.STREAM:
        connection = f"connection #{record.connection}, " if record.connection is not None else ""
        summary = f"{connection}{size} byte{'s' * (size != 1)} (not dissected)"
        label = "TCP stream bytes"
        protocol = "TCP"
    else:
        summary = f"Frame {record.number}: {size} bytes, link type {record.link_type}"
        label = f"Frame {record.number} (link type {record.link_type})"
        protocol = "Frame"
    children = (
        Field(
            "data",
            "Bytes",
            0,
            size,
            record.data,
            explanation="Not dissected yet: the raw bytes as they crossed the wire.",
        ),
    )
    top = Field(
        "stream" if record.layer is Layer.STREAM else "frame",
        label,
        0,
        size,
        display=f"{size} bytes",
        explanation="One read or write on a TCP connection as the socket saw it: "
        "no IP or TCP header of its own."
        if record.layer is Layer.STREAM
        else "One captured frame, exactly as the capture holds it.",
        children=children,
        problem=problem,
    )
    return Dissection(
        summary=summary,
        protocol=protocol,
        fields=(top,),
        buffers=(Buffer(f"Record {record.number} ({size} bytes)", record.data),),
        problems=(problem,) if problem else (),
    )
