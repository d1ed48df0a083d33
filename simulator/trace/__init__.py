"""The trace: wire records, stream reassembly, pcap in and out."""

from __future__ import annotations

from simulator.trace.pcap import (
    Capture,
    CaptureError,
    CaptureProblem,
    check_writable,
    open_capture,
    write_pcap,
)
from simulator.trace.records import Endpoint, Layer, LinkType, RecordSource, Trace, WireRecord
from simulator.trace.segments import Segment, tcp_segment
from simulator.trace.streams import ConnectionKey, Pdu, Reassembler, connection_key, reassemble
from simulator.trace.synth import Export, export_pcap, synthesize

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureProblem",
    "ConnectionKey",
    "Endpoint",
    "Export",
    "Layer",
    "LinkType",
    "Pdu",
    "Reassembler",
    "RecordSource",
    "Segment",
    "Trace",
    "WireRecord",
    "check_writable",
    "connection_key",
    "export_pcap",
    "open_capture",
    "reassemble",
    "synthesize",
    "tcp_segment",
    "write_pcap",
]
