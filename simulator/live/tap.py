"""Turn the server's socket tap into trace records."""

from __future__ import annotations

from simulator.live.server import ConnectionInfo, Tap
from simulator.trace import Endpoint, Layer, Trace


def trace_tap(trace: Trace) -> Tap:
    """A tap that appends every read and write to `trace` as a `Layer.STREAM` record.

    "in" bytes went from the peer to us; "out" bytes from us to the peer.
    """

    def tap(info: ConnectionInfo, direction: str, data: bytes, timestamp: float) -> None:
        local = Endpoint(*info.local)
        peer = Endpoint(*info.peer)
        src, dst = (peer, local) if direction == "in" else (local, peer)
        trace.append(timestamp, Layer.STREAM, data, src=src, dst=dst, connection=info.id)

    return tap
