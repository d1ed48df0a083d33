"""A sans-IO TCP endpoint model (RFC 9293): segments, wire bytes, the connection state machine."""

from __future__ import annotations

from simulator.tcp.endpoint import MAX_WINDOW, Endpoint, TcpConfig
from simulator.tcp.errors import DecodeError, TcpError, TransitionError, UsageError
from simulator.tcp.events import (
    Closed,
    Connected,
    DataAcknowledged,
    DataReceived,
    Discarded,
    EndOfStream,
    Event,
    Reset,
    Retransmitted,
    RttMeasured,
    StateChanged,
    WindowChanged,
    WindowProbe,
)
from simulator.tcp.segment import (
    ACK,
    CWR,
    DEFAULT_MSS,
    ECE,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Segment,
    reset_for,
)
from simulator.tcp.sequence import seq_add, seq_diff, seq_le, seq_lt
from simulator.tcp.states import TRANSITIONS, Cause, State, next_state
from simulator.tcp.wire import decode, encode

__all__ = [
    "ACK",
    "CWR",
    "DEFAULT_MSS",
    "ECE",
    "FIN",
    "MAX_WINDOW",
    "PSH",
    "RST",
    "SYN",
    "TRANSITIONS",
    "URG",
    "Cause",
    "Closed",
    "Connected",
    "DataAcknowledged",
    "DataReceived",
    "DecodeError",
    "Discarded",
    "EndOfStream",
    "Endpoint",
    "Event",
    "Reset",
    "Retransmitted",
    "RttMeasured",
    "Segment",
    "State",
    "StateChanged",
    "TcpConfig",
    "TcpError",
    "TransitionError",
    "UsageError",
    "WindowChanged",
    "WindowProbe",
    "decode",
    "encode",
    "next_state",
    "reset_for",
    "seq_add",
    "seq_diff",
    "seq_le",
    "seq_lt",
]
