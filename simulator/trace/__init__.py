"""The trace: wire records, stream reassembly, pcap in and out."""

from __future__ import annotations

from simulator.trace.records import Endpoint, Layer, LinkType, RecordSource, Trace, WireRecord

__all__ = ["Endpoint", "Layer", "LinkType", "RecordSource", "Trace", "WireRecord"]
