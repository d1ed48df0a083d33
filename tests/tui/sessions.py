"""A real WebSocket session, as `wirelab serve --record` would save it, made deterministic.

The live server's tap (`simulator.live.trace_tap`) appends every read and
write to a trace as `Layer.STREAM` records; the ports, times and masking keys of
a real session vary from run to run. Here two engine `Connection`s with seeded
randomness talk to each other instead, and the same tap records what the server
reads and writes, from fixed ports at fixed times, before the export to pcap:
the same file every time, for snapshots and exact assertions.

    packet  1- 3  TCP handshake
    packet  4     GET / (upgrade), then an ACK
    packet  6     101 Switching Protocols, then an ACK
    packet  8     TEXT 'hello, wirelab' (masked), then an ACK
    packet 10     its echo, then an ACK
    packet 12     CLOSE 1000 (masked), then an ACK
    packet 14     CLOSE 1000, then an ACK and the TCP teardown (18 packets)
"""

from __future__ import annotations

import random
from pathlib import Path

from simulator.live import ConnectionInfo, trace_tap
from simulator.trace import Trace, export_pcap
from simulator.ws import Connection, Role, TextMessage

CLIENT = ("127.0.0.1", 50000)
SERVER = ("127.0.0.1", 8765)
START = 1_700_000_000.0
TEXT = "hello, wirelab"
TEXT_PACKET = 7  # the index of the client's masked text frame in the pcap


def session_trace() -> Trace:
    """Handshake, a text message and its echo, the closing handshake: as the tap records them."""
    client = Connection(Role.CLIENT, rng=random.Random(1).randbytes)
    server = Connection(Role.SERVER, rng=random.Random(2).randbytes)
    trace = Trace()
    tap = trace_tap(trace)
    info = ConnectionInfo(1, local=SERVER, peer=CLIENT)

    def write(sender: Connection, receiver: Connection) -> list[object]:
        """`sender` writes what it has queued; `receiver` reads it; its events come back."""
        data = sender.data_to_send()
        assert data, "nothing to send"
        tap(info, "in" if sender is client else "out", data, START + len(trace) * 0.001)
        receiver.receive_data(data)
        return list(receiver.events())

    client.connect(f"{SERVER[0]}:{SERVER[1]}", "/")
    write(client, server)
    server.accept()
    write(server, client)
    client.send_text(TEXT)
    (message,) = write(client, server)
    assert isinstance(message, TextMessage) and message.data == TEXT
    server.send_text(message.data)  # the echo server's answer
    write(server, client)
    client.close()
    write(client, server)
    write(server, client)  # the server echoes the close
    return trace


def session_pcap(path: Path) -> Path:
    """`session_trace()` exported to `path` as pcap (IPv4/TCP packets around the chunks)."""
    export_pcap(session_trace(), path)
    return path
