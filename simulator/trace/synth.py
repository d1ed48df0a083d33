"""Packets from socket chunks: `Layer.STREAM` records become real IPv4/IPv6 TCP packets.

A socket tap sees what each side wrote and read, not the packets that carried
it. To export such a trace to pcap (for Wireshark, tshark, the inspector),
`synthesize()` builds the TCP conversation that could have carried exactly
those bytes, with scapy (which computes lengths and checksums):

    client                                        server
      SYN  seq=ISN(c)          MSS, WScale 7  ──►              at the first chunk's time
      ◄──  SYN, ACK  seq=ISN(s) ack=ISN(c)+1  MSS, WScale 7
      ACK                                     ──►
      [PSH,] ACK  one segment per MSS bytes of each chunk ──►  at the chunk's time
      ◄──  ACK  for the chunk (and every ACK_EVERY segments within a long one)
      ...
      FIN, ACK  from the side that wrote last  ──►             at the last chunk's time
      ◄──  FIN, ACK
      ACK                                      ──►

Choices, so the result is stable and plausible rather than a guess at what the
kernel did:

- the client is the side that wrote first (in WebSocket, the one sending the
  upgrade request);
- segments carry at most `MSS` = 1460 bytes (1440 over IPv6), what a path with a
  1500-byte MTU allows, so large messages show as many segments (the real
  loopback interface would have allowed ~64 KiB); PSH marks a chunk's last one;
- both sides announce window scale 7 and then a window of 8192 × 2^7 = 1 MiB;
- ISNs and IPv4 identification fields are derived from the connection (CRC-32
  of its key): the same trace always gives the same bytes;
- the teardown is added only for connections that ended (all of them by default);
- packets are `LinkType.RAW` (IP with no link header); an endpoint given as an
  IPv4-mapped IPv6 address is written as IPv4.

`Layer.LINK` records pass through unchanged (only renumbered), in their place.
"""

from __future__ import annotations

import ipaddress
import os
import zlib
from collections.abc import Container, Iterable
from dataclasses import replace
from functools import cache
from typing import Any, Literal, NamedTuple

from simulator.trace.pcap import PcapWriter, write_pcap
from simulator.trace.records import Endpoint, Layer, LinkType, WireRecord
from simulator.trace.streams import ConnectionKey, connection_key

MSS = 1460
WINDOW_SCALE = 7
WINDOW = 8192  # after the handshake, scaled: 8192 << 7 = 1 MiB
SYN_WINDOW = 65535  # never scaled (RFC 7323 §2.2)
ACK_EVERY = 64  # segments of one long chunk between two ACKs (64 × 1460 B < the window)
TTL = 64
_MASK32 = 0xFFFFFFFF

Ended = Container[int | ConnectionKey]


@cache
def _scapy() -> tuple[Any, Any, Any, Any]:
    """scapy's layers, imported on first use (importing scapy takes a moment)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw

    return IP, IPv6, TCP, Raw


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        # A name, not an address: a stable stand-in from TEST-NET-1 (RFC 5737).
        return ipaddress.IPv4Address(0xC0000200 + 1 + zlib.crc32(host.encode()) % 254)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _derived(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


class _Flow:
    """One synthesized TCP connection: both sides' next sequence numbers."""

    def __init__(self, key: ConnectionKey, client: Endpoint, server: Endpoint, mss: int) -> None:
        self.client = client
        self.server = server
        a, b = _address(client.host), _address(server.host)
        self.v6 = a.version == 6 or b.version == 6
        if self.v6:
            a, b = (ipaddress.IPv6Address(f"::ffff:{x}") if x.version == 4 else x for x in (a, b))
        self.host = {client: str(a), server: str(b)}
        self.mss = mss - 20 if self.v6 else mss  # the IPv6 header is 20 bytes longer
        name = f"{key.id}|{client}|{server}"
        self.isn = {client: _derived(name + "|client"), server: _derived(name + "|server")}
        self.seq = dict(self.isn)
        self.ip_id = {client: self.isn[client] & 0xFFFF, server: self.isn[server] & 0xFFFF}

    def other(self, side: Endpoint) -> Endpoint:
        return self.server if side == self.client else self.client

    def packet(
        self, sender: Endpoint, flags: str, payload: bytes = b"", *, syn: bool = False
    ) -> bytes:
        ip_layer, ipv6_layer, tcp_layer, raw_layer = _scapy()
        receiver = self.other(sender)
        if self.v6:
            ip = ipv6_layer(src=self.host[sender], dst=self.host[receiver], hlim=TTL)
        else:
            ident = self.ip_id[sender]
            self.ip_id[sender] = (ident + 1) & 0xFFFF
            ip = ip_layer(
                src=self.host[sender], dst=self.host[receiver], ttl=TTL, flags="DF", id=ident
            )
        options = [("MSS", self.mss), ("NOP", None), ("WScale", WINDOW_SCALE)] if syn else []
        tcp = tcp_layer(
            sport=sender.port,
            dport=receiver.port,
            seq=self.seq[sender] & _MASK32,
            ack=self.seq[receiver] & _MASK32 if "A" in flags else 0,
            flags=flags,
            window=SYN_WINDOW if syn else WINDOW,
            options=options,
        )
        packet = ip / tcp
        if payload:
            packet = packet / raw_layer(payload)
        return bytes(packet)

    def handshake(self) -> list[bytes]:
        client, server = self.client, self.server
        syn = self.packet(client, "S", syn=True)
        self.seq[client] += 1  # the SYN takes one sequence number (RFC 9293 §3.4)
        syn_ack = self.packet(server, "SA", syn=True)
        self.seq[server] += 1
        return [syn, syn_ack, self.packet(client, "A")]

    def data(self, sender: Endpoint, payload: bytes) -> list[bytes]:
        receiver = self.other(sender)
        packets = []
        mss = self.mss
        for count, start in enumerate(range(0, len(payload), mss), 1):
            piece = payload[start : start + mss]
            last = start + mss >= len(payload)
            packets.append(self.packet(sender, "PA" if last else "A", piece))
            self.seq[sender] += len(piece)
            if last or count % ACK_EVERY == 0:
                packets.append(self.packet(receiver, "A"))
        return packets

    def teardown(self, closer: Endpoint) -> list[bytes]:
        other = self.other(closer)
        fin = self.packet(closer, "FA")
        self.seq[closer] += 1  # FIN takes one sequence number too
        fin_back = self.packet(other, "FA")
        self.seq[other] += 1
        return [fin, fin_back, self.packet(closer, "A")]


def synthesize(
    records: Iterable[WireRecord], *, ended: Ended | None = None, mss: int = MSS
) -> list[WireRecord]:
    """`Layer.LINK` packets for a trace: stream records become TCP/IP packets (see the module).

    `ended` holds the connections (tap connection ids or `ConnectionKey`s) known
    to have ended, which get a FIN teardown after their last chunk; None means all.
    """
    return _synthesize(records, ended=ended, mss=mss)[0]


def _synthesize(
    records: Iterable[WireRecord], *, ended: Ended | None, mss: int
) -> tuple[list[WireRecord], int]:
    items = list(records)
    keys: list[ConnectionKey | None] = []
    last: dict[ConnectionKey, int] = {}
    for position, record in enumerate(items):
        key = None
        if record.layer is Layer.STREAM:
            key = connection_key(record)
            if key is None:
                raise ValueError(f"stream record {record.number} has no endpoints")
            last[key] = position
        keys.append(key)
    out: list[WireRecord] = []

    def emit(time: float, packets: list[bytes]) -> None:
        for data in packets:
            out.append(WireRecord(len(out), time, Layer.LINK, data, LinkType.RAW))

    flows: dict[ConnectionKey, _Flow] = {}
    for position, (record, key) in enumerate(zip(items, keys, strict=True)):
        if key is None:
            out.append(replace(record, index=len(out)))
            continue
        assert record.src is not None and record.dst is not None
        flow = flows.get(key)
        if flow is None:
            flow = flows[key] = _Flow(key, record.src, record.dst, mss)
            emit(record.time, flow.handshake())
        if record.data:
            emit(record.time, flow.data(record.src, record.data))
        if last[key] == position and (ended is None or key in ended or key.id in ended):
            emit(record.time, flow.teardown(record.src))
    return out, len(flows)


class Recorder:
    """`serve --record`: a trace's records as packets in a capture file as they come, so a
    recording is never held in memory. Call it with each record (a trace subscriber),
    `ended(connection)` when a tapped connection closes (its FIN teardown), then
    `close()`. Stream records are synthesized as `synthesize()` does; link records (the
    kernel's packets) are written as they are. With `kernel`, only link records are
    written: the kernel's packets are the real ones, the stream chunks the same bytes.
    Only the connections still open are kept in memory.
    """

    def __init__(self, path: str | os.PathLike[str], *, kernel: bool = False) -> None:
        self.writer = PcapWriter(path)
        self.kernel = kernel
        self._flows: dict[int, tuple[_Flow, Endpoint, float]] = {}  # id → flow, last writer
        self._connections = 0

    def __call__(self, record: WireRecord) -> None:
        if record.layer is Layer.LINK:
            self.writer.write(record)
            return
        if self.kernel or record.src is None or record.dst is None:
            return
        connection = record.connection if record.connection is not None else -1
        known = self._flows.get(connection)
        if known is None:
            key = connection_key(record)
            if key is None:
                return
            flow = _Flow(key, record.src, record.dst, MSS)
            self._connections += 1
            self._emit(record.time, flow.handshake())
        else:
            flow = known[0]
        if record.data:
            self._emit(record.time, flow.data(record.src, record.data))
        self._flows[connection] = (flow, record.src, record.time)

    def ended(self, connection: int) -> None:
        """Tapped connection `connection` closed: its teardown, from the side that wrote last."""
        known = self._flows.pop(connection, None)
        if known is not None:
            flow, last, time = known
            self._emit(time, flow.teardown(last))

    def _emit(self, time: float, packets: list[bytes]) -> None:
        for data in packets:
            self.writer.write(WireRecord(0, time, Layer.LINK, data, LinkType.RAW))

    def close(self) -> Export:
        """End the connections still open and finish the file."""
        for connection in list(self._flows):
            self.ended(connection)
        count = self.writer.close()
        return Export(count, self._connections, os.fspath(self.writer.path))


class Export(NamedTuple):
    """What `export_pcap` wrote."""

    packets: int
    connections: int
    path: str


def export_pcap(
    records: Iterable[WireRecord],
    path: str | os.PathLike[str],
    *,
    ended: Ended | None = None,
    format: Literal["auto", "pcap", "pcapng"] = "auto",
) -> Export:
    """Write a trace (stream records synthesized into packets, link records as they are)
    to a capture file, atomically. Raises `CaptureError` when it cannot be written."""
    items = list(records)
    packets, synthesized = _synthesize(items, ended=ended, mss=MSS)
    captured = {
        key
        for record in items
        if record.layer is Layer.LINK and (key := connection_key(record)) is not None
    }
    count = write_pcap(path, packets, format=format)
    return Export(count, synthesized + len(captured), os.fspath(path))


__all__ = ["MSS", "Export", "Recorder", "export_pcap", "synthesize"]
