"""Helpers for the trace tests: scapy-built packets, scripted TCP conversations, WebSocket bytes."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet, Raw

from simulator.ip.packet import build_ipv4, pack_address
from simulator.tcp.segment import ACK, FIN, PSH, RST, SYN, Segment
from simulator.tcp.wire import encode
from simulator.trace import Endpoint, Layer, LinkType, WireRecord
from simulator.ws import Connection, Role

CLIENT = Endpoint("10.0.0.1", 50000)
SERVER = Endpoint("10.0.0.2", 80)
MAC_A = "02:00:00:00:00:01"  # explicit: scapy would otherwise look them up (ARP)
MAC_B = "02:00:00:00:00:02"


def tcp(
    src: Endpoint, dst: Endpoint, seq: int, ack: int = 0, flags: str = "A", payload: bytes = b""
) -> Packet:
    """An IPv4 (or IPv6, for ':' hosts) TCP packet, as scapy builds it."""
    ip = IPv6(src=src.host, dst=dst.host) if ":" in src.host else IP(src=src.host, dst=dst.host)
    packet = ip / TCP(sport=src.port, dport=dst.port, seq=seq, ack=ack, flags=flags)
    return packet / Raw(payload) if payload else packet


_FLAG_BITS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK}


def fast_tcp(
    src: Endpoint, dst: Endpoint, seq: int, ack: int = 0, flags: str = "A", payload: bytes = b""
) -> bytes:
    """An IPv4 TCP packet like `tcp()`'s, built by wirelab's own encoders (checksums
    included): a hundred times faster than scapy, for captures of many thousand packets."""
    bits = sum(_FLAG_BITS[letter] for letter in flags)
    source, destination = pack_address(src.host), pack_address(dst.host)
    segment = Segment(src.port, dst.port, seq, ack, bits, 8192, payload)
    return build_ipv4(source, destination, 6, encode(segment, source, destination))


def link_records(
    frames: Iterable[bytes], link_type: int = LinkType.RAW, *, start: float = 1000.0
) -> list[WireRecord]:
    """Frames as LINK records, 1 ms apart, indexed by position."""
    return [
        WireRecord(i, start + i / 1000, Layer.LINK, data, link_type)
        for i, data in enumerate(frames)
    ]


def stream_records(
    chunks: Iterable[tuple[str, bytes]],
    *,
    client: Endpoint = CLIENT,
    server: Endpoint = SERVER,
    connection: int = 1,
) -> list[WireRecord]:
    """("c" | "s", bytes) chunks as STREAM records of one connection."""
    records = []
    for i, (side, data) in enumerate(chunks):
        src, dst = (client, server) if side == "c" else (server, client)
        records.append(
            WireRecord(
                i, 1000.0 + i / 1000, Layer.STREAM, data, src=src, dst=dst, connection=connection
            )
        )
    return records


@dataclass
class Conversation:
    """A scripted TCP connection: packets with consistent seq/ack, in the order sent."""

    client: Endpoint = CLIENT
    server: Endpoint = SERVER
    isn_client: int = 1000
    isn_server: int = 5000
    packets: list[bytes] = field(default_factory=list)
    fast: bool = False  # build with `fast_tcp` (IPv4 only), not scapy

    def __post_init__(self) -> None:
        self.next = {self.client: self.isn_client, self.server: self.isn_server}

    def _packet(
        self, src: Endpoint, dst: Endpoint, seq: int, ack: int, flags: str, payload: bytes = b""
    ) -> bytes:
        if self.fast:
            return fast_tcp(src, dst, seq, ack, flags, payload)
        return bytes(tcp(src, dst, seq, ack, flags, payload))

    def _side(self, side: str) -> tuple[Endpoint, Endpoint]:
        return (self.client, self.server) if side == "c" else (self.server, self.client)

    def handshake(self) -> None:
        c, s = self.client, self.server
        self.packets.append(self._packet(c, s, self.next[c], 0, "S"))
        self.next[c] = (self.next[c] + 1) & 0xFFFFFFFF
        self.packets.append(self._packet(s, c, self.next[s], self.next[c], "SA"))
        self.next[s] = (self.next[s] + 1) & 0xFFFFFFFF
        self.packets.append(self._packet(c, s, self.next[c], self.next[s], "A"))

    def send(self, side: str, data: bytes, sizes: Sequence[int] | None = None) -> list[int]:
        """Send `data` in segments of `sizes` (one segment if None); returns their positions."""
        src, dst = self._side(side)
        sizes = list(sizes) if sizes is not None else [len(data)]
        assert sum(sizes) == len(data)
        positions = []
        pos = 0
        for size in sizes:
            piece = data[pos : pos + size]
            positions.append(len(self.packets))
            self.packets.append(self._packet(src, dst, self.next[src], self.next[dst], "PA", piece))
            self.next[src] = (self.next[src] + size) & 0xFFFFFFFF
            pos += size
        return positions

    def ack(self, side: str) -> None:
        src, dst = self._side(side)
        self.packets.append(self._packet(src, dst, self.next[src], self.next[dst], "A"))

    def fin(self, side: str) -> None:
        src, dst = self._side(side)
        self.packets.append(self._packet(src, dst, self.next[src], self.next[dst], "FA"))
        self.next[src] = (self.next[src] + 1) & 0xFFFFFFFF

    def records(self, order: Sequence[int] | None = None) -> list[WireRecord]:
        packets = self.packets if order is None else [self.packets[i] for i in order]
        return link_records(packets)


def websocket_chunks() -> list[tuple[str, bytes]]:
    """A WebSocket session's bytes, chunk by chunk, from the real engine (seeded masks):
    upgrade, 101, text, binary, a fragmented text, ping/pong, close/close."""
    client = Connection(Role.CLIENT, rng=random.Random(7).randbytes)
    server = Connection(Role.SERVER)
    chunks: list[tuple[str, bytes]] = []

    def c() -> None:
        data = client.data_to_send()
        chunks.append(("c", data))
        server.receive_data(data)
        server.events()

    def s() -> None:
        data = server.data_to_send()
        chunks.append(("s", data))
        client.receive_data(data)
        client.events()

    client.connect("example.com", "/chat")
    c()
    server.accept()
    s()
    client.send_text("hello")
    c()
    server.send_text("hello")
    s()
    client.send_binary(bytes(range(256)) * 2)
    c()
    client.send_text("a fragmented message", fragment_size=7)
    c()
    client.ping(b"p")
    c()
    s()  # the automatic pong
    client.close(1000, "bye")
    c()
    s()  # the echoed close
    return chunks
