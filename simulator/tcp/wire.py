"""TCP segments to and from wire bytes (RFC 9293 §3.1), with the IPv4 pseudo-header checksum.

A hot path: the simulation encodes every segment it carries, so `encode` sums
the header fields as integers and lets `ones_complement_sum` run over the
payload only, then packs the header once. The bytes are identical to scapy's
`bytes(TCP(...)/Raw(payload))` under `IP(src, dst)`: urgent pointer 0, reserved
bits 0, and on a SYN with `mss` the single MSS option (kind 2, length 4), which
makes the data offset 6 with no padding; with `wscale` too, a NOP and the
Window Scale option (kind 3, length 3) follow it: data offset 7.
"""

from __future__ import annotations

import struct

from simulator.ip.checksum import internet_checksum, pseudo_header_sum
from simulator.tcp.errors import DecodeError
from simulator.tcp.segment import Segment

PROTOCOL_TCP = 6
HEADER_LEN = 20
OPT_END, OPT_NOP, OPT_MSS, OPT_WSCALE = 0, 1, 2, 3  # RFC 9293 §3.2, RFC 7323 §2.2

_HEADER = struct.Struct("!HHIIBBHHH")
_HEADER_MSS = struct.Struct("!HHIIBBHHHBBH")
_MSS_WORD = OPT_MSS << 8 | 4  # kind and length, as one 16-bit word
_OFFSET_5 = 5 << 4  # data offset 5 (20 bytes), in the high nibble of byte 12
_OFFSET_6 = 6 << 4


def encode(segment: Segment, src_ip: bytes, dst_ip: bytes) -> bytes:
    """The segment as bytes: header, options, payload, checksum over the pseudo-header.

    `src_ip` and `dst_ip` are the 4-byte IPv4 addresses of the packet carrying it.
    """
    payload = segment.payload
    seq = segment.seq
    ack = segment.ack
    flags = segment.flags
    mss = segment.mss
    if segment.wscale is not None:
        return _encode_with_options(segment, src_ip, dst_ip)
    header_len = HEADER_LEN if mss is None else HEADER_LEN + 4
    total = (
        pseudo_header_sum(src_ip, dst_ip, PROTOCOL_TCP, header_len + len(payload))
        + segment.src_port + segment.dst_port
        + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
        + (header_len << 10 | flags) + segment.window
    )  # fmt: skip
    if mss is None:
        checksum = internet_checksum(payload, total)
        header = _HEADER.pack(
            segment.src_port, segment.dst_port, seq, ack, _OFFSET_5, flags,
            segment.window, checksum, 0,
        )  # fmt: skip
    else:
        checksum = internet_checksum(payload, total + _MSS_WORD + mss)
        header = _HEADER_MSS.pack(
            segment.src_port, segment.dst_port, seq, ack, _OFFSET_6, flags,
            segment.window, checksum, 0, OPT_MSS, 4, mss,
        )  # fmt: skip
    return header + payload if payload else header


def _encode_with_options(segment: Segment, src_ip: bytes, dst_ip: bytes) -> bytes:
    """The slow path, for the SYNs that carry Window Scale: MSS, NOP, WS."""
    options = b""
    if segment.mss is not None:
        options += struct.pack("!BBH", OPT_MSS, 4, segment.mss)
    options += bytes((OPT_NOP, OPT_WSCALE, 3, segment.wscale or 0))
    options += b"\0" * (-len(options) % 4)
    header_len = HEADER_LEN + len(options)
    header = _HEADER.pack(
        segment.src_port, segment.dst_port, segment.seq, segment.ack, (header_len // 4) << 4,
        segment.flags, segment.window, 0, 0,
    ) + options  # fmt: skip
    start = pseudo_header_sum(src_ip, dst_ip, PROTOCOL_TCP, header_len + len(segment.payload))
    checksum = internet_checksum(header + segment.payload, start)
    return header[:16] + checksum.to_bytes(2, "big") + header[18:] + segment.payload


def decode(data: bytes, src_ip: bytes | None = None, dst_ip: bytes | None = None) -> Segment:
    """Parse a TCP segment. With both addresses given, verify its checksum too.

    Options other than MSS and Window Scale are skipped. Raises `DecodeError` (a `ValueError`)
    naming the problem: a short header, a bad data offset or option, a bad checksum.
    """
    data = bytes(data)
    size = len(data)
    if size < HEADER_LEN:
        raise DecodeError(f"TCP header too short: {size} bytes, at least {HEADER_LEN} needed")
    src_port, dst_port, seq, ack, offset, flags, window, checksum, _urgent = _HEADER.unpack_from(
        data
    )
    header_len = (offset >> 4) * 4
    if header_len < HEADER_LEN:
        raise DecodeError(f"TCP data offset {offset >> 4} is below the minimum of 5 (20 bytes)")
    if header_len > size:
        raise DecodeError(
            f"TCP data offset {offset >> 4} says the header is {header_len} bytes,"
            f" but only {size} bytes are present"
        )
    mss, wscale = _parse_options(data, header_len)
    if src_ip is not None or dst_ip is not None:
        if src_ip is None or dst_ip is None:
            raise ValueError("give both src_ip and dst_ip to verify the checksum")
        if len(src_ip) != 4 or len(dst_ip) != 4:
            raise ValueError("src_ip and dst_ip must be 4-byte IPv4 addresses")
        start = pseudo_header_sum(src_ip, dst_ip, PROTOCOL_TCP, size)
        if internet_checksum(data, start) != 0:
            zeroed = data[:16] + b"\0\0" + data[18:]
            expected = internet_checksum(zeroed, start)
            raise DecodeError(f"bad TCP checksum 0x{checksum:04x}, expected 0x{expected:04x}")
    return Segment(src_port, dst_port, seq, ack, flags, window, data[header_len:], mss, wscale)


def _parse_options(data: bytes, header_len: int) -> tuple[int | None, int | None]:
    """Walk the options (RFC 9293 §3.2); the MSS and Window Scale values, if present."""
    mss = wscale = None
    i = HEADER_LEN
    while i < header_len:
        kind = data[i]
        if kind == OPT_END:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= header_len:
            raise DecodeError(f"TCP option kind {kind} at byte {i} has no length byte")
        length = data[i + 1]
        if length < 2 or i + length > header_len:
            raise DecodeError(f"TCP option kind {kind} at byte {i} has a bad length {length}")
        if kind == OPT_MSS:
            if length != 4:
                raise DecodeError(f"TCP MSS option has length {length}, must be 4")
            mss = data[i + 2] << 8 | data[i + 3]
        elif kind == OPT_WSCALE:
            if length != 3:
                raise DecodeError(f"TCP Window Scale option has length {length}, must be 3")
            wscale = data[i + 2]
        i += length
    return mss, wscale


__all__ = ["HEADER_LEN", "PROTOCOL_TCP", "decode", "encode"]
