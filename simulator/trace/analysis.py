"""Wireshark's TCP analysis flags (`tcp.analysis.*`), computed once per connection.

Wireshark's TCP dissector keeps, for each conversation and each direction, a
little state: the next sequence number it expects, the last ACK and window that
side sent, how many duplicate ACKs in a row it has seen. From that state it
labels packets "TCP Retransmission", "TCP Dup ACK 5#1", "TCP ZeroWindow"... in
the Info column and under `tcp.analysis.flags`. This module keeps the same state
and applies the same tests, in the same order, so that the flags agree with
tshark's packet for packet (tshark 4.0). No scapy: a few microseconds a packet.

How each flag is decided, in Wireshark's order (`seq`, `len`: this segment's;
"next": the highest sequence number its direction has reached, SYN and FIN
counting one; "as before": as in the previous segment of the same direction):

- zero_window_probe: exactly 1 byte at next while the other side's last window
  was 0. The probe's byte does not move next, and of the tests below only
  ack_lost_segment and the retransmission kinds apply to it.
- zero_window: window 0, and no SYN, FIN or RST.
- lost_segment ("Previous segment not captured"): seq beyond next (not on RST).
- keep_alive: 0 or 1 byte at next - 1, no SYN, FIN or RST.
- window_update: no data, no SYN, FIN or RST, same seq and ACK as before, a
  window that changed and is not 0.
- window_full: data that reaches exactly the right edge of the window the other
  side last advertised, scaled by its Window Scale shift (never on SYN, FIN or
  RST, and only when the handshake told whether scaling is in use).
- keep_alive_ack / zero_window_probe_ack: no data, same seq, ACK and window as
  before, right after a keep-alive / zero-window probe from the other side.
- duplicate_ack: otherwise, no data, same seq, ACK and non-zero window as before;
  counted (`duplicate_ack_num`) from the last packet of the direction whose ACK
  changed (`duplicate_ack_frame`).
- ack_lost_segment ("ACKed unseen segment"): an ACK beyond every byte the other
  side has been seen to send (said once, not again for each repeat).
- a segment with data (or SYN or FIN) that is not a keep-alive: first match wins,
  spurious_retransmission if it ends at or before the other side's last ACK;
  then, if it starts before next (data of more than 1 byte at next - 1 does
  not: it follows a probe's byte), fast_retransmission if the other side sent
  at least two duplicate ACKs for exactly its first byte, its last packet less
  than 20 ms before; out_of_order if it came within the handshake's round-trip
  time (SYN to the first ACK after it; 3 ms when unknown) of the packet that
  last moved next, and does not end exactly at next; else retransmission. As
  in Wireshark's display filter, `retransmission` is set for the fast and the
  spurious kinds too (`info_marks` names only the specific kind).
- reused_ports: a SYN with a new initial sequence number on the ports of an
  earlier connection (everything starts afresh there), or a SYN-ACK with one.

Wireshark's quirks are kept, so that the flags stay tshark's: 0 stands for "not
known yet" in its sequence numbers and times; a side whose data was ACKed beyond
counts as having had -1 duplicate ACKs, which passes the "at least two" test; a
SYN resent with the same number resets next to the last contiguous byte; past
10,000 segments not yet ACKed, a FIN's (or SYN's) byte is no longer counted.
Times are compared in whole microseconds, what a pcap file holds.

`analyse()` takes any records (a whole capture, or one connection's packets, as
`Capture.connection_packets()` lists them) and sorts them into connections by
their two endpoints; `ConnectionAnalyzer` is the same, one connection at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from simulator.tcp.segment import ACK, FIN, RST, SYN
from simulator.trace.records import Endpoint, WireRecord
from simulator.trace.segments import Segment, tcp_segment

_M = 0xFFFFFFFF
_HALF = 0x80000000
_SYN_FIN = SYN | FIN
_SYN_FIN_RST = SYN | FIN | RST
_SYN_ACK = SYN | ACK

_FAST_RETRANSMISSION_WINDOW = 20_000  # µs after the other side's last packet
_OUT_OF_ORDER_WINDOW = 3_000  # µs, when no handshake gave a round-trip time
_MAX_UNACKED = 10_000  # Wireshark stops tracking (and counting SYN/FIN) past this
_MAX_SHIFT = 14  # RFC 7323 §2.3: a larger Window Scale shift count means 14

# Flag bits, in the order Wireshark adds their labels to the Info column, each in
# front of those added before it (so the Info column shows them the other way round).
REUSED_PORTS = 1 << 0
RETRANSMISSION = 1 << 1
FAST_RETRANSMISSION = 1 << 2
SPURIOUS_RETRANSMISSION = 1 << 3
OUT_OF_ORDER = 1 << 4
LOST_SEGMENT = 1 << 5
ACK_LOST_SEGMENT = 1 << 6
WINDOW_UPDATE = 1 << 7
WINDOW_FULL = 1 << 8
KEEP_ALIVE = 1 << 9
KEEP_ALIVE_ACK = 1 << 10
DUPLICATE_ACK = 1 << 11
ZERO_WINDOW_PROBE = 1 << 12
ZERO_WINDOW = 1 << 13
ZERO_WINDOW_PROBE_ACK = 1 << 14

_BITS: tuple[tuple[int, str], ...] = (
    (REUSED_PORTS, "reused_ports"),
    (RETRANSMISSION, "retransmission"),
    (FAST_RETRANSMISSION, "fast_retransmission"),
    (SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
    (OUT_OF_ORDER, "out_of_order"),
    (LOST_SEGMENT, "lost_segment"),
    (ACK_LOST_SEGMENT, "ack_lost_segment"),
    (WINDOW_UPDATE, "window_update"),
    (WINDOW_FULL, "window_full"),
    (KEEP_ALIVE, "keep_alive"),
    (KEEP_ALIVE_ACK, "keep_alive_ack"),
    (DUPLICATE_ACK, "duplicate_ack"),
    (ZERO_WINDOW_PROBE, "zero_window_probe"),
    (ZERO_WINDOW, "zero_window"),
    (ZERO_WINDOW_PROBE_ACK, "zero_window_probe_ack"),
)

FLAGS: tuple[str, ...] = tuple(name for _, name in _BITS)
"""Every flag name, as in Wireshark's `tcp.analysis.<name>` display filter fields."""

LABELS: dict[str, str] = {
    "reused_ports": "TCP Port numbers reused",
    "retransmission": "TCP Retransmission",
    "fast_retransmission": "TCP Fast Retransmission",
    "spurious_retransmission": "TCP Spurious Retransmission",
    "out_of_order": "TCP Out-Of-Order",
    "lost_segment": "TCP Previous segment not captured",
    "ack_lost_segment": "TCP ACKed unseen segment",
    "window_update": "TCP Window Update",
    "window_full": "TCP Window Full",
    "keep_alive": "TCP Keep-Alive",
    "keep_alive_ack": "TCP Keep-Alive ACK",
    "duplicate_ack": "TCP Dup ACK",  # "TCP Dup ACK 5#1": see info_marks
    "zero_window_probe": "TCP ZeroWindowProbe",
    "zero_window": "TCP ZeroWindow",
    "zero_window_probe_ack": "TCP ZeroWindowProbeAck",
}
"""Wireshark's Info-column wording for each flag."""

EXPLANATIONS: dict[str, str] = {
    "reused_ports": (
        "A SYN with a new initial sequence number on the ports of an earlier connection: "
        "a new connection has started, and its analysis starts afresh."
    ),
    "retransmission": (
        "This segment carries sequence numbers that were already sent, so the sender is "
        "sending them again, usually because its retransmission timer ran out before an "
        "ACK came (RFC 9293 §3.8.1)."
    ),
    "fast_retransmission": (
        "A resend of the segment the receiver kept asking for with duplicate ACKs, sent "
        "soon after them and without waiting for the retransmission timer (RFC 5681 §3.2)."
    ),
    "spurious_retransmission": (
        "A resend of data the receiver had already acknowledged: it was never lost, so "
        "sending it again was unnecessary (the ACK was late, or was lost on its way back)."
    ),
    "out_of_order": (
        "A segment older than data already seen that arrived very soon after it (within "
        "about one round trip), so it was more likely reordered on the way than resent."
    ),
    "lost_segment": (
        "This segment starts beyond the next expected sequence number: some earlier data "
        "is missing from the capture, lost on the network or just not captured."
    ),
    "ack_lost_segment": (
        "This ACK acknowledges data the capture never showed: the segment that carried it "
        "was not captured (common when a capture starts mid-connection)."
    ),
    "window_update": (
        "A segment with no data and the same sequence and acknowledgment numbers whose only "
        "news is a new receive window: the receiver tells the sender how much it may send."
    ),
    "window_full": (
        "This segment fills the receiver's advertised window to its last byte: the sender "
        "may send nothing more until an ACK or a window update opens it again."
    ),
    "keep_alive": (
        "A keep-alive probe: a segment with at most one byte, one sequence number behind, "
        "that asks the idle peer for an ACK to prove the connection is still alive "
        "(RFC 9293 §3.8.4)."
    ),
    "keep_alive_ack": (
        "The ACK answering a keep-alive probe: it repeats the acknowledgment number, so the "
        "connection is still alive at both ends."
    ),
    "duplicate_ack": (
        "An ACK that repeats the previous acknowledgment number with no data and no window "
        "change: the receiver got a segment it cannot use yet, usually because an earlier "
        "one is missing (RFC 5681 §2); three of them trigger a fast retransmission."
    ),
    "zero_window_probe": (
        "One byte sent at the edge of a zero receive window, to ask the receiver whether "
        "its window has opened again (RFC 9293 §3.8.6.1)."
    ),
    "zero_window": (
        "The receiver advertises a window of 0: its buffer is full, and the sender must "
        "stop sending data until the window opens (RFC 9293 §3.8.6)."
    ),
    "zero_window_probe_ack": (
        "The receiver's answer to a zero-window probe: it has not taken the byte and its "
        "window is still 0."
    ),
}
"""One sentence per flag: what it means, for a learner."""


class Analysis(NamedTuple):
    """What Wireshark's TCP analysis says of one packet."""

    flags: frozenset[str]  # names from FLAGS, without the "tcp.analysis." prefix
    duplicate_ack_num: int | None = None  # tcp.analysis.duplicate_ack_num
    duplicate_ack_frame: int | None = None  # tcp.analysis.duplicate_ack_frame (a packet number)


_flag_sets: dict[int, frozenset[str]] = {}
_SPECIFIC_RETRANSMISSIONS = frozenset({"fast_retransmission", "spurious_retransmission"})


def _names(bits: int) -> frozenset[str]:
    found = _flag_sets.get(bits)
    if found is None:
        found = _flag_sets[bits] = frozenset(name for bit, name in _BITS if bits & bit)
    return found


def info_marks(analysis: Analysis, number: int | None = None) -> list[str]:
    """The bracketed prefixes tshark puts in front of the packet's Info column, in its
    order: ["[TCP Dup ACK 5#2]"], ["[TCP ZeroWindowProbeAck]", "[TCP ZeroWindow]"].

    `number`, the packet's own number, changes nothing: the frame a duplicate ACK
    repeats is in `analysis`."""
    del number
    flags = analysis.flags
    marks: list[str] = []
    for _, name in reversed(_BITS):
        if name not in flags:
            continue
        if name == "duplicate_ack":
            frame, count = analysis.duplicate_ack_frame, analysis.duplicate_ack_num
            marks.append(f"[TCP Dup ACK {frame}#{count}]")
        elif name != "retransmission" or not flags & _SPECIFIC_RETRANSMISSIONS:
            marks.append(f"[{LABELS[name]}]")  # a fast or spurious one under that name only
    return marks


def _microseconds(time: float) -> int:
    return round(time * 1_000_000)


def _before(delta: int, limit: int) -> bool:
    """Wireshark's `(guint64) delta < (guint64) limit`, both in the same unit."""
    if delta < 0:
        return limit < 0 and delta < limit
    return limit < 0 or delta < limit


class _Side:
    """What Wireshark remembers of one direction of a conversation."""

    __slots__ = (
        "ack_time",
        "base_seq",
        "base_set",
        "dup_acks",
        "first_ack",
        "last_ack",
        "last_flags",
        "last_moved_ack",
        "next_seq",
        "next_time",
        "to_be_acked",
        "unacked",
        "window",
        "wscale",
    )

    def __init__(self) -> None:
        self.base_set = False
        self.base_seq = 0
        self.next_seq = 0  # 0: not known yet (Wireshark's own convention)
        self.next_time = 0
        self.to_be_acked = 0  # the highest contiguous sequence number to be ACKed
        self.last_ack = 0
        self.ack_time = 0
        self.window = _M  # none seen yet
        self.wscale = -1  # -1 unknown, -2 not in use, else the shift count
        self.first_ack = False  # between its SYN and its first ACK without SYN
        self.last_flags = 0
        self.dup_acks = 0
        self.last_moved_ack = 0  # the packet number whose ACK last changed
        self.unacked: deque[int] = deque()  # the end of each segment not yet ACKed


class ConnectionAnalyzer:
    """Feed one connection's segments in capture order; returns the analysis of each
    (None for a packet with no flag)."""

    __slots__ = ("_a", "_first_rtt", "_sides", "_syn_time")
    _a: Endpoint | None  # the side that sent the first segment
    _sides: tuple[_Side, _Side]  # its state, the other side's
    _syn_time: int  # when the last SYN (without ACK) was seen; 0: none
    _first_rtt: int  # from that SYN to the first ACK after it; 0: not known

    def __init__(self) -> None:
        self._a = None
        self._reset()

    def _reset(self) -> None:
        self._sides = (_Side(), _Side())
        self._syn_time = 0
        self._first_rtt = 0

    def feed(self, number: int, time: float, segment: Segment) -> Analysis | None:
        """Analyse the packet numbered `number` (1-based) captured at `time` (seconds)."""
        src = segment.src
        a = self._a
        if a is None:
            a = self._a = src
        sides = self._sides
        if src is a or src == a:
            return self._analyse(number, _microseconds(time), segment, sides[0], sides[1])
        return self._analyse(number, _microseconds(time), segment, sides[1], sides[0])

    def _analyse(
        self, number: int, now: int, segment: Segment, fwd: _Side, rev: _Side
    ) -> Analysis | None:
        seq = segment.seq
        ack = segment.ack
        flags = segment.flags
        window = segment.window
        length = segment.payload_length
        bits = 0

        # A SYN on ports already in use: a retransmission, or a new connection.
        if flags & _SYN_ACK == SYN and fwd.base_set:
            if seq != fwd.base_seq:
                sides = self._sides
                self._reset()
                if fwd is sides[0]:
                    fwd, rev = self._sides
                else:
                    rev, fwd = self._sides
                bits = REUSED_PORTS
            else:
                fwd.next_seq = fwd.to_be_acked
        elif flags & _SYN_ACK == _SYN_ACK and fwd.base_set and seq != fwd.base_seq:
            fwd.base_seq = seq
            bits = REUSED_PORTS

        if not fwd.base_set:
            fwd.base_seq = seq if flags & SYN else (seq - 1) & _M
            fwd.base_set = True
        if not rev.base_set and flags & ACK:
            rev.base_seq = (ack - 1) & _M
            rev.base_set = True

        next_seq = fwd.next_seq
        syn_fin_rst = flags & _SYN_FIN_RST
        same_place = not length and not syn_fin_rst and seq == next_seq and ack == fwd.last_ack
        probe = length == 1 and seq == next_seq and rev.window == 0
        dup_num = dup_frame = None
        if probe:
            bits |= ZERO_WINDOW_PROBE
        else:
            if window == 0 and not syn_fin_rst:
                bits |= ZERO_WINDOW
            if next_seq and not flags & RST and ((next_seq - seq) & _M) >= _HALF:
                bits |= LOST_SEGMENT
            if length <= 1 and not syn_fin_rst and seq == (next_seq - 1) & _M:
                bits |= KEEP_ALIVE
            if same_place and window and window != fwd.window:
                bits |= WINDOW_UPDATE
            if length and rev.wscale != -1 and not syn_fin_rst:
                shift = 0 if rev.first_ack or rev.wscale == -2 else rev.wscale
                edge = (rev.last_ack + ((rev.window << shift) & _M)) & _M
                if (seq + length) & _M == edge:
                    bits |= WINDOW_FULL
            if same_place and window == fwd.window:
                if window and rev.last_flags & KEEP_ALIVE:
                    bits |= KEEP_ALIVE_ACK
                elif not window and rev.last_flags & ZERO_WINDOW_PROBE:
                    bits |= ZERO_WINDOW_PROBE_ACK
                elif window:
                    fwd.dup_acks = 1 if fwd.dup_acks == -1 else fwd.dup_acks + 1
                    bits |= DUPLICATE_ACK
                    dup_num = fwd.dup_acks
                    dup_frame = fwd.last_moved_ack

        if ack != fwd.last_ack:
            fwd.last_moved_ack = number
            fwd.dup_acks = 0

        # An ACK beyond what the other side has been seen to send.
        to_be_acked = rev.to_be_acked
        if to_be_acked and flags & ACK and ((to_be_acked - ack) & _M) >= _HALF:
            if ((to_be_acked - rev.next_seq) & _M) >= _HALF:
                rev.to_be_acked = rev.next_seq
                bits |= ACK_LOST_SEGMENT
            else:
                if rev.dup_acks == 0:
                    bits |= ACK_LOST_SEGMENT
                rev.dup_acks = -1

        syn_fin = flags & _SYN_FIN
        if (length or syn_fin) and not bits & KEEP_ALIVE:
            behind = next_seq != 0 and ((seq - next_seq) & _M) >= _HALF
            if length > 1 and (next_seq - 1) & _M == seq:
                behind = False  # new data after a zero-window probe's byte
            last_ack = rev.last_ack
            if length and last_ack and (((seq + length - last_ack) & _M) - 1) & _M >= _HALF - 1:
                bits |= SPURIOUS_RETRANSMISSION | RETRANSMISSION
            elif (
                behind
                and (rev.dup_acks >= 2 or rev.dup_acks == -1)  # -1: unsigned in Wireshark
                and last_ack == seq
                and _before(now - rev.ack_time, _FAST_RETRANSMISSION_WINDOW)
            ):
                bits |= FAST_RETRANSMISSION | RETRANSMISSION
            elif (
                behind
                and _before(now - fwd.next_time, self._first_rtt or _OUT_OF_ORDER_WINDOW)
                and next_seq != (seq + length + (1 if syn_fin else 0)) & _M
            ):
                bits |= OUT_OF_ORDER
            elif behind:
                bits |= RETRANSMISSION

        end = (seq + length) & _M
        unacked = fwd.unacked
        if (length or syn_fin) and len(unacked) < _MAX_UNACKED:
            if syn_fin:
                end = (end + 1) & _M
            unacked.append(end)
        if (not next_seq or ((next_seq - end) & _M) >= _HALF) and not probe:
            fwd.next_seq = end
            fwd.next_time = now
        if (seq == fwd.to_be_acked or not fwd.to_be_acked) and not probe:
            fwd.to_be_acked = fwd.next_seq

        fwd.window = window
        fwd.last_ack = ack
        fwd.ack_time = now
        fwd.last_flags = bits

        # The other side's segments this ACKs (only their number matters here).
        pending = rev.unacked
        while pending and (((pending[0] - ack) & _M) - 1) & _M >= _HALF - 1:
            pending.popleft()

        # The handshake: its round-trip time, and the Window Scale options.
        if flags & SYN:
            if not flags & ACK:
                self._syn_time = now
            fwd.first_ack = True
        elif flags & ACK:
            if self._syn_time and not self._first_rtt:
                self._first_rtt = now - self._syn_time
            fwd.first_ack = False
        if flags & SYN:
            if segment.wscale is not None:
                fwd.wscale = min(segment.wscale, _MAX_SHIFT)
            if fwd.wscale == -1:
                fwd.wscale = rev.wscale = -2
            elif flags & ACK and rev.wscale == -2:
                fwd.wscale = -2

        if not bits:
            return None
        return Analysis(_names(bits), dup_num, dup_frame)


class Analyzer:
    """Any number of connections, fed packet by packet in capture order (each packet's
    connection is found from its endpoints)."""

    __slots__ = ("_connections",)

    def __init__(self) -> None:
        self._connections: dict[tuple[Endpoint, Endpoint], tuple[ConnectionAnalyzer, bool]] = {}

    def feed(self, record: WireRecord) -> Analysis | None:
        """The analysis of `record` (None: not TCP, or nothing to say)."""
        segment = tcp_segment(record)
        if segment is None:
            return None
        connections = self._connections
        key = (segment.src, segment.dst)
        known = connections.get(key)
        if known is None:
            analyzer = ConnectionAnalyzer()
            connections[key] = (analyzer, True)
            connections[(segment.dst, segment.src)] = (analyzer, False)
            analyzer._a = segment.src
            known = (analyzer, True)
        analyzer, forward = known
        sides = analyzer._sides
        fwd, rev = sides if forward else (sides[1], sides[0])
        return analyzer._analyse(record.number, _microseconds(record.time), segment, fwd, rev)


def analyse(records: Iterable[WireRecord]) -> dict[int, Analysis]:
    """Every TCP packet of a capture (keyed by record index) that carries any flag."""
    analyzer = Analyzer()
    found: dict[int, Analysis] = {}
    for record in records:
        result = analyzer.feed(record)
        if result is not None:
            found[record.index] = result
    return found


__all__ = [
    "EXPLANATIONS",
    "FLAGS",
    "LABELS",
    "Analysis",
    "Analyzer",
    "ConnectionAnalyzer",
    "analyse",
    "info_marks",
]
