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
from simulator.dissect.messages import MessageDissector, with_messages
from simulator.dissect.packet import dissect_record
from simulator.dissect.websocket import Inflated
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


class StreamDissector:
    def __init__(self, source: RecordSource, *, relative: bool = False) -> None:
        """`relative`: sequence and acknowledgment numbers count from each side's ISN, as
        Wireshark shows them by default (`relative_numbers`); a view may change it, and
        then dissects again."""
        self.source = source
        self.relative = relative
        self._indexed = isinstance(source, ConnectionIndex)
        self._groups: dict[int | None, _Group] = {}
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
            group.reassembler.forget(upto)

    def __call__(self, record: WireRecord) -> Dissection:
        with self._lock:
            group, members = self._group(record.index)
            if group is None:
                return dissect_record(record)
            self._feed(group, members, until=record.index)
            # Dissected only now, when shown: the connection's context is already learnt.
            base = dissect_record(record, segment=group.reassembler.held(record.index))
            shift = group.reassembler.window_shift(record)
            if shift is not None:
                base = scaled_window(base, shift)
            if self.relative:
                base = relative_numbers(base, *group.reassembler.origins(record))
            return with_messages(base, group.completed.get(record.index, []), group.messages)

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
            for pdu in group.reassembler.feed(self.source.record(index)):
                group.messages.learn(pdu)
                group.completed.setdefault(pdu.completed_in, []).append(pdu)
                group.in_order.append(pdu)


_WIN = re.compile(r"\bWin=\d+")
_SEQ = re.compile(r"\bSeq=\d+")
_ACK = re.compile(r"\bAck=\d+")
_SEQ_LABEL = re.compile(r"\bSeq: \d+")
_ACK_LABEL = re.compile(r"\bAck: \d+")
_MASK32 = 0xFFFFFFFF


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


def scaled_window(dissection: Dissection, shift: int) -> Dissection:
    """`dissection` with the window its Window field stands for: the field times
    2**shift (RFC 7323 §2.3), as `tcp.window_size` below `tcp.window`, and in the
    summary's "Win=" as Wireshark shows it."""
    window: list[int] = []

    def patch(field: Field) -> Field:
        if field.name == "tcp.window" and isinstance(field.value, int):
            size = field.value << shift
            window.append(size)
            children = (
                *field.children,
                Field("tcp.window_size_scalefactor", "Window size scaling factor", field.start,
                      field.end, value=1 << shift, display=f"{1 << shift} (shift {shift})",
                      explanation="2^shift, from the Window Scale options of both SYNs "
                      "(RFC 7323 §2.2).", buffer=field.buffer),
                Field("tcp.window_size", "Calculated window size", field.start, field.end,
                      value=size, display=f"{size} bytes",
                      explanation=f"The Window field × {1 << shift}: the bytes the sender of "
                      "this segment is ready to receive (RFC 7323 §2.3).",
                      buffer=field.buffer),
            )  # fmt: skip
            return replace(field, children=children)
        if field.children and (field.name == "tcp" or field.name.startswith("tcp")):
            return replace(field, children=tuple(patch(child) for child in field.children))
        return field

    fields = tuple(patch(f) if f.name.startswith("tcp") else f for f in dissection.fields)
    if not window:
        return dissection
    summary = _WIN.sub(f"Win={window[0]}", dissection.summary, count=1)
    return replace(dissection, fields=fields, summary=summary)
