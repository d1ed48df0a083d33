"""What an endpoint reports through `Endpoint.events()`: plain values, each readable as a line."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.tcp.segment import Segment
from simulator.tcp.states import State


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The connection moved from `old` to `new`; `cause` says why ("SYN received")."""

    old: State
    new: State
    cause: str

    def __str__(self) -> str:
        return f"{self.old.value} → {self.new.value} ({self.cause})"


@dataclass(frozen=True, slots=True)
class Connected:
    """The three-way handshake completed: ESTABLISHED. `mss` is the effective send MSS."""

    mss: int

    def __str__(self) -> str:
        return f"CONNECTED (MSS {self.mss})"


@dataclass(frozen=True, slots=True)
class DataReceived:
    """`size` new bytes arrived in order; `readable` bytes are now waiting for `read()`."""

    size: int
    readable: int

    def __str__(self) -> str:
        return f"DATA {self.size} bytes ({self.readable} readable)"


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer's FIN arrived in order: after what is readable, no more data will come."""

    def __str__(self) -> str:
        return "END OF STREAM (peer's FIN)"


@dataclass(frozen=True, slots=True)
class DataAcknowledged:
    """The peer acknowledged `size` more bytes; `buffered` bytes remain in the send buffer."""

    size: int
    buffered: int

    def __str__(self) -> str:
        return f"ACKED {self.size} bytes ({self.buffered} still buffered)"


@dataclass(frozen=True, slots=True)
class WindowChanged:
    """The peer advertised a new receive window (SND.WND), in bytes."""

    window: int

    def __str__(self) -> str:
        return f"PEER WINDOW {self.window}"


@dataclass(frozen=True, slots=True)
class Retransmitted:
    """A segment was sent again, with the same byte boundaries when possible.

    `reason`: "timeout" (RFC 6298), "fast retransmit" (3 duplicate ACKs, RFC 5681
    §3.2), "partial ACK" (the next hole after a retransmission, RFC 6582),
    "duplicate SYN" (the SYN-ACK, when the peer's SYN comes again) or
    "window opened" (a zero-window probe the receiver had to drop: its byte
    goes again at the start of the next full segment).
    """

    seq: int
    length: int
    reason: str

    def __str__(self) -> str:
        return f"RETRANSMIT seq={self.seq} len={self.length} ({self.reason})"


@dataclass(frozen=True, slots=True)
class WindowProbe:
    """The persist timer sent a zero-window probe (RFC 9293 §3.8.6.1); `attempt` counts from 1."""

    seq: int
    length: int
    attempt: int

    def __str__(self) -> str:
        return f"ZERO-WINDOW PROBE seq={self.seq} len={self.length} (#{self.attempt})"


@dataclass(frozen=True, slots=True)
class RttMeasured:
    """A round-trip sample updated the RTO estimator (RFC 6298 §2); times in seconds."""

    rtt: float
    srtt: float
    rttvar: float
    rto: float

    def __str__(self) -> str:
        return (
            f"RTT {self.rtt:.3f}s → SRTT {self.srtt:.3f}s"
            f" RTTVAR {self.rttvar:.3f}s RTO {self.rto:.3f}s"
        )


@dataclass(frozen=True, slots=True)
class Discarded:
    """A received segment was dropped (wholly or in part); `reason` says why."""

    segment: Segment
    reason: str

    def __str__(self) -> str:
        return f"DISCARDED {self.segment} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection reached CLOSED normally (after TIME-WAIT or LAST-ACK, or close() early)."""

    def __str__(self) -> str:
        return "CLOSED"


@dataclass(frozen=True, slots=True)
class Reset:
    """The connection ended abnormally: an RST arrived, `abort()` was called, it gave up
    after too many retransmissions, or a passive open's handshake was abandoned (the
    endpoint is back in LISTEN)."""

    reason: str

    def __str__(self) -> str:
        return f"RESET ({self.reason})"


Event = (
    StateChanged
    | Connected
    | DataReceived
    | EndOfStream
    | DataAcknowledged
    | WindowChanged
    | Retransmitted
    | WindowProbe
    | RttMeasured
    | Discarded
    | Closed
    | Reset
)

__all__ = [
    "Closed",
    "Connected",
    "DataAcknowledged",
    "DataReceived",
    "Discarded",
    "EndOfStream",
    "Event",
    "Reset",
    "Retransmitted",
    "RttMeasured",
    "StateChanged",
    "WindowChanged",
    "WindowProbe",
]
