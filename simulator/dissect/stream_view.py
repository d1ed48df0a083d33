"""Dissect records of a trace or capture together with the messages their streams carry.

`StreamDissector(source)` is a callable a view can use in place of
`dissect_record`: a packet that completes HTTP messages or WebSocket frames
comes back with them below its own layers. Reassembly is lazy: a capture's
packets are fed connection by connection (the capture's connection index says
which packets belong together), only as far as the packet asked for; any
other source (a live trace) is fed from its start. Safe to call from worker
threads.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.inflate import Inflated
from simulator.dissect.messages import MessageDissector, with_messages
from simulator.dissect.packet import dissect_record
from simulator.dissect.registry import Kind, define
from simulator.trace.analysis import EXPLANATIONS, FLAGS, LABELS, Analysis, Analyzer, info_marks
from simulator.trace.records import RecordSource, WireRecord
from simulator.trace.streams import Pdu, Reassembler, connection_key


@runtime_checkable
class ConnectionIndex(Protocol):
    """A source that knows which packets share a TCP connection (a pcap `Capture`)."""

    def connection_of(self, index: int) -> int | None: ...

    def same_connection(self, index: int) -> list[int]: ...


@dataclass
class _Group:
    """One reassembly: a connection of a capture, or a whole trace."""

    reassembler: Reassembler = field(default_factory=Reassembler)
    messages: MessageDissector = field(default_factory=MessageDissector)
    fed: int = 0  # how many of the group's records have been fed
    completed: dict[int, list[Pdu]] = field(default_factory=dict)
    in_order: list[Pdu] = field(default_factory=list)
    analyzer: Analyzer = field(default_factory=Analyzer)  # Wireshark's TCP analysis
    analysis: dict[int, Analysis] = field(default_factory=dict)  # of the flagged records


class StreamDissector:
    def __init__(self, source: RecordSource, *, relative: bool = False) -> None:
        """`relative`: sequence and acknowledgment numbers count from each side's ISN, as
        Wireshark shows them by default (`relative_numbers`); a view may change it, and
        then dissects again."""
        self.source = source
        self.relative = relative
        self._indexed = isinstance(source, ConnectionIndex)
        self._groups: dict[int | None, _Group] = {}
        self._first_time: float | None = None
        self._lock = threading.Lock()
        on_forget = getattr(source, "on_forget", None)
        if on_forget is not None:  # a bounded live trace: read what goes before it goes
            on_forget(self._forgetting)

    def _forgetting(self, upto: int) -> None:
        """The source forgets the bytes of the records below `upto`: reassemble them now
        (the connections' state carries on past them), and drop their messages."""
        if upto <= 0:
            return
        with self._lock:
            group, members = self._group(upto - 1)
            if group is None:
                return
            self._feed(group, members, until=upto - 1)
            for index in [index for index in group.completed if index < upto]:
                del group.completed[index]
            group.in_order = [pdu for pdu in group.in_order if pdu.completed_in >= upto]
            for index in [index for index in group.analysis if index < upto]:
                del group.analysis[index]
            group.reassembler.forget(upto)

    def __call__(self, record: WireRecord) -> Dissection:
        with self._lock:
            group, members = self._group(record.index)
            if group is None:
                return self._in_context(dissect_record(record), record)
            self._feed(group, members, until=record.index)
            # Dissected only now, when shown: the connection's context is already learnt.
            base = dissect_record(record, segment=group.reassembler.held(record.index))
            analysis = group.analysis.get(record.index)
            base = as_wireshark_shows(
                base, record, group.reassembler, analysis, relative=self.relative
            )
            base = self._in_context(base, record)
            return with_messages(base, group.completed.get(record.index, []), group.messages)

    def _in_context(self, dissection: Dissection, record: WireRecord) -> Dissection:
        """`dissection` with what only the whole capture knows: the time since its first
        packet, and which of its TCP connections this is (Wireshark's `tcp.stream`)."""
        if self._first_time is None:
            self._first_time = self.source.record(0).time if len(self.source) else record.time
        source = self.source
        stream = source.connection_of(record.index) if isinstance(source, ConnectionIndex) else None
        return in_context(dissection, record.time - self._first_time, stream)

    def messages(self, index: int) -> list[Pdu]:
        """Every message of record `index`'s connection seen so far, in stream order."""
        with self._lock:
            group, members = self._group(index)
            if group is None:
                return []
            self._feed(group, members, until=None)
            if self._indexed:
                return list(group.in_order)
            mine = connection_key(self.source.record(index))
            return [pdu for pdu in group.in_order if pdu.connection == mine]

    def inflated(self, pdu: Pdu) -> Inflated | None:
        """The message `pdu` ends, inflated, if it is the last frame of a compressed one."""
        with self._lock:
            group, _ = self._group(pdu.completed_in)
            return None if group is None else group.messages.inflated(pdu)

    def _group(self, index: int) -> tuple[_Group | None, list[int] | range]:
        if isinstance(self.source, ConnectionIndex):
            number = self.source.connection_of(index)
            if number is None:
                return None, []
            members: list[int] | range = self.source.same_connection(index)
        else:
            number = None
            members = range(len(self.source))
        return self._groups.setdefault(number, _Group()), members

    def _feed(self, group: _Group, members: list[int] | range, *, until: int | None) -> None:
        while group.fed < len(members):
            index = members[group.fed]
            if until is not None and index > until:
                return
            group.fed += 1
            record = self.source.record(index)
            analysis = group.analyzer.feed(record)
            if analysis is not None:
                group.analysis[index] = analysis
            for pdu in group.reassembler.feed(record):
                group.messages.learn(pdu)
                group.completed.setdefault(pdu.completed_in, []).append(pdu)
                group.in_order.append(pdu)


define("frame.time_relative", Kind.SECONDS, "Seconds since the capture's first packet")
define(
    "tcp.stream", Kind.UINT, "Which TCP connection of the capture, from 0 in order of first packet"
)
define("tcp.seq_raw", Kind.UINT, "The sequence number as it is on the wire")
define("tcp.ack_raw", Kind.UINT, "The acknowledgment number as it is on the wire")
define("tcp.window_size", Kind.UINT, "The window in bytes: the Window field scaled (RFC 7323)")
define("tcp.window_size_scalefactor", Kind.UINT, "What the Window field is multiplied by")

_WIN = re.compile(r"\bWin=\d+")
_SEQ = re.compile(r"\bSeq=\d+")
_ACK = re.compile(r"\bAck=\d+")
_SEQ_LABEL = re.compile(r"\bSeq: \d+")
_ACK_LABEL = re.compile(r"\bAck: \d+")
_MASK32 = 0xFFFFFFFF


def as_wireshark_shows(
    base: Dissection,
    record: WireRecord,
    reassembler: Reassembler,
    analysis: Analysis | None,
    *,
    relative: bool,
) -> Dissection:
    """`base` with what its connection so far tells: the window scaled, the TCP analysis
    flags, and (if `relative`) sequence numbers counted from each side's ISN."""
    base = scaled_window(base, reassembler.window_factor(record))
    if relative:
        base = relative_numbers(base, *reassembler.origins(record))
    if analysis is not None:
        base = with_analysis(base, analysis)
    return base


define("tcp.analysis.flags", Kind.LABEL, "Wireshark's TCP analysis has something to say of it")
for _flag, _description in {
    "reused_ports": "A new connection on the ports of an earlier one",
    "retransmission": "Data sent again (fast and spurious retransmissions included)",
    "fast_retransmission": "Data sent again soon after duplicate ACKs asked for it",
    "spurious_retransmission": "Data sent again that had already been acknowledged",
    "out_of_order": "An older segment that came right after newer ones: likely reordered",
    "lost_segment": "Earlier data of this side is missing from the capture",
    "ack_lost_segment": "Acknowledges data the capture never showed",
    "window_update": "No data: only news of a new receive window",
    "window_full": "Fills the receiver's window to its last byte",
    "keep_alive": "A keep-alive probe: asks an idle peer for an ACK",
    "keep_alive_ack": "The ACK answering a keep-alive probe",
    "duplicate_ack": "Repeats the previous ACK: usually, an earlier segment is missing",
    "zero_window_probe": "One byte sent to ask whether a zero window has opened",
    "zero_window": "The receiver's window is 0: the sender must wait",
    "zero_window_probe_ack": "The answer to a zero-window probe: the window is still 0",
}.items():
    define(f"tcp.analysis.{_flag}", Kind.LABEL, _description)
define("tcp.analysis.duplicate_ack_num", Kind.UINT, "Which duplicate of its ACK this is: 1, 2, …")
define("tcp.analysis.duplicate_ack_frame", Kind.FRAME, "The packet whose ACK this one repeats")


def with_analysis(dissection: Dissection, analysis: Analysis) -> Dissection:
    """`dissection` with Wireshark's TCP analysis of it: a branch at the end of its TCP
    header (`tcp.analysis.flags`, each flag below it), and the marks tshark puts in front
    of its Info column ("[TCP Retransmission] …")."""
    marks = info_marks(analysis)

    def patch(top: Field) -> Field:
        if top.name != "tcp":
            return top
        at, end, buffer = top.start, top.start, top.buffer
        flags = tuple(
            Field(f"tcp.analysis.{name}", LABELS[name], at, end, explanation=EXPLANATIONS[name],
                  buffer=buffer)
            for name in FLAGS if name in analysis.flags
        )  # fmt: skip
        numbers = []
        if analysis.duplicate_ack_num is not None:
            numbers.append(Field("tcp.analysis.duplicate_ack_num", "Duplicate ACK number",
                                 at, end, value=analysis.duplicate_ack_num,
                                 explanation="How many times this acknowledgment number has "
                                 "now been repeated.", buffer=buffer))  # fmt: skip
        if analysis.duplicate_ack_frame is not None:
            numbers.append(Field("tcp.analysis.duplicate_ack_frame", "Duplicate of the ACK "
                                 "in packet", at, end, value=analysis.duplicate_ack_frame,
                                 explanation="The packet whose acknowledgment this one "
                                 "repeats.", buffer=buffer))  # fmt: skip
        branch = Field("tcp.analysis.flags", "TCP analysis", at, end, display=" ".join(marks),
                       explanation="Not on the wire: what Wireshark's TCP analysis makes of "
                       "this segment, from the packets of its connection so far.",
                       children=(*flags, *numbers), buffer=buffer)  # fmt: skip
        return replace(top, children=(*top.children, branch))

    fields = tuple(patch(f) for f in dissection.fields)
    summary = f"{' '.join(marks)} {dissection.summary}" if marks else dissection.summary
    return replace(dissection, fields=fields, summary=summary)


_NOT_BAD = frozenset({"tcp.analysis.window_update", "tcp.analysis.keep_alive",
                      "tcp.analysis.keep_alive_ack"})  # fmt: skip


def bad_tcp(dissection: Dissection) -> bool:
    """Whether Wireshark's default colouring rule "Bad TCP" marks this packet: TCP analysis
    flags other than a window update or a keep-alive (and its ACK)."""
    for top in dissection.fields:
        if top.name == "tcp":
            for child in top.children:
                if child.name == "tcp.analysis.flags":  # the rule's very words:
                    # tcp.analysis.flags && !tcp.analysis.window_update
                    #     && !tcp.analysis.keep_alive && !tcp.analysis.keep_alive_ack
                    return not any(flag.name in _NOT_BAD for flag in child.children)
    return False


def in_context(dissection: Dissection, time_relative: float, stream: int | None) -> Dissection:
    """`dissection` with `frame.time_relative` in its frame and, for a TCP packet of an
    indexed capture, `tcp.stream` in its TCP header."""

    def patch(field: Field) -> Field:
        if field.name == "frame":
            since = Field("frame.time_relative", "Time since the first packet", 0, 0,
                          value=time_relative, display=f"{time_relative:.6f} seconds",
                          explanation="The Time column: seconds since the capture's first "
                          "packet.")  # fmt: skip
            return replace(field, children=(*field.children, since))
        if field.name == "tcp" and stream is not None:
            index = Field("tcp.stream", "Stream index", field.start, field.start,
                          value=stream, explanation="Which TCP connection of the capture "
                          "this is, counted from 0 in the order their first packets came; "
                          "filter on it to follow one connection.",
                          buffer=field.buffer)  # fmt: skip
            after = next((i + 1 for i, c in enumerate(field.children)
                          if c.name == "tcp.dstport"), 0)  # fmt: skip
            children = (*field.children[:after], index, *field.children[after:])
            return replace(field, children=children)
        return field

    return replace(dissection, fields=tuple(patch(f) for f in dissection.fields))


def relative_numbers(
    dissection: Dissection, seq_origin: int | None, ack_origin: int | None
) -> Dissection:
    """`dissection` with its TCP sequence and acknowledgment numbers relative to where
    each side's numbering starts (its ISN: the SYN is 0, the first data byte 1), as
    Wireshark shows them by default: `tcp.seq` and `tcp.ack` become relative, the
    numbers on the wire stay beside them as `tcp.seq_raw` and `tcp.ack_raw` (the names
    Wireshark gives them), and the summary's "Seq=" and "Ack=" follow."""
    seen: dict[str, int] = {}

    def patch(field: Field) -> Field:
        name, value = field.name, field.value
        origin = seq_origin if name == "tcp.seq" else ack_origin if name == "tcp.ack" else None
        if origin is not None and isinstance(value, int) and "not used" not in field.display:
            relative = (value - origin) & _MASK32
            seen[name] = relative
            raw = Field(f"{name}_raw", f"{field.label} (raw)", field.start, field.end,
                        value=value, explanation="The number as it is on the wire; the one "
                        "above counts from this side's initial sequence number, as Wireshark "
                        "shows it.", buffer=field.buffer)  # fmt: skip
            return replace(field, value=relative, display=f"{relative} (relative)",
                           children=(*field.children, raw))  # fmt: skip
        if name in ("tcp.seq", "tcp.ack") and isinstance(value, int):  # not used: as it is
            raw = Field(f"{name}_raw", f"{field.label} (raw)", field.start, field.end,
                        value=value, explanation="The number as it is on the wire.",
                        buffer=field.buffer)  # fmt: skip
            return replace(field, children=(*field.children, raw))
        if field.children and field.name == "tcp":
            children = tuple(patch(child) for child in field.children)
            label = field.label
            if "tcp.seq" in seen:  # "…, Seq: 2583860912, Len: 0" as Wireshark's tree says it
                label = _SEQ_LABEL.sub(f"Seq: {seen['tcp.seq']}", label, count=1)
            if "tcp.ack" in seen:
                label = _ACK_LABEL.sub(f"Ack: {seen['tcp.ack']}", label, count=1)
            return replace(field, label=label, children=children)
        return field

    if seq_origin is None and ack_origin is None:
        return dissection
    fields = tuple(patch(f) if f.name == "tcp" else f for f in dissection.fields)
    if not seen:
        return dissection
    summary = dissection.summary
    if "tcp.seq" in seen:
        summary = _SEQ.sub(f"Seq={seen['tcp.seq']}", summary, count=1)
    if "tcp.ack" in seen:
        summary = _ACK.sub(f"Ack={seen['tcp.ack']}", summary, count=1)
    return replace(dissection, fields=fields, summary=summary)


def scaled_window(dissection: Dissection, factor: int | None) -> Dissection:
    """`dissection` with the window its Window field stands for, as Wireshark shows it:
    `tcp.window_size` (the field times `factor` when windows are scaled, RFC 7323 §2.3)
    below `tcp.window`, with `tcp.window_size_scalefactor` (`factor`: 2**shift, -1 not
    known, -2 not scaled; None for a SYN, whose window is never scaled), and the
    summary's "Win=" when scaled."""
    window: list[int] = []

    def patch(field: Field) -> Field:
        if field.name == "tcp.window" and isinstance(field.value, int):
            scaled = factor is not None and factor > 0
            size = field.value * factor if scaled and factor is not None else field.value
            window.append(size)
            added = []
            if factor is not None:
                added.append(Field("tcp.window_size_scalefactor", "Window size scaling factor",
                                   field.start, field.end, value=factor,
                                   display=_FACTORS.get(factor, f"{factor} (shift "
                                                               f"{factor.bit_length() - 1})"),
                                   explanation=_FACTOR_EXPLANATIONS.get(factor, _SCALED),
                                   buffer=field.buffer))  # fmt: skip
            added.append(Field("tcp.window_size", "Calculated window size", field.start,
                               field.end, value=size, display=f"{size} bytes",
                               explanation=(f"The Window field × {factor}: " if scaled else
                                            "The Window field itself: ") + "the bytes the "
                               "sender of this segment is ready to receive (RFC 7323 §2.3).",
                               buffer=field.buffer))  # fmt: skip
            return replace(field, children=(*field.children, *added))
        if field.children and (field.name == "tcp" or field.name.startswith("tcp")):
            return replace(field, children=tuple(patch(child) for child in field.children))
        return field

    fields = tuple(patch(f) if f.name.startswith("tcp") else f for f in dissection.fields)
    if not window:
        return dissection
    summary = dissection.summary
    if factor is not None and factor > 0:
        summary = _WIN.sub(f"Win={window[0]}", summary, count=1)
    return replace(dissection, fields=fields, summary=summary)


_SCALED = "2^shift, from the Window Scale options of both SYNs (RFC 7323 §2.2)."
_FACTORS = {-1: "-1 (unknown)", -2: "-2 (no window scaling used)"}
_FACTOR_EXPLANATIONS = {
    -1: "Not known: the capture does not hold both SYNs of this connection, and only they "
    "say whether windows are scaled.",
    -2: "Not scaled: the two SYNs did not both carry the Window Scale option, so the "
    "Window field is the window (RFC 7323 §2.2).",
}
