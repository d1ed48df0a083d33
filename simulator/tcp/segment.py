"""A TCP segment as a value (RFC 9293 §3.1), and the RST a closed port answers with."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.tcp.sequence import SEQ_MASK

# RFC 9293 §3.1: the control bits, in the order they sit in header byte 13.
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (FIN, "FIN"),
    (SYN, "SYN"),
    (RST, "RST"),
    (PSH, "PSH"),
    (ACK, "ACK"),
    (URG, "URG"),
    (ECE, "ECE"),
    (CWR, "CWR"),
)

DEFAULT_MSS = 536
"""RFC 9293 §3.7.1: the send MSS to assume when the peer's SYN carries no MSS option."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment: the header fields a lesson talks about, and the payload.

    `seq` and `ack` are absolute 32-bit numbers; `ack` means something only when
    the ACK bit is set. `window` is the 16-bit Window field as sent (scaled down
    when window scaling is in use). The options modelled are MSS and Window
    Scale (RFC 7323 §2, `wscale`: the shift count), both on SYN segments only;
    the checksum and data offset are computed by `wire.encode`.
    """

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes = b""
    mss: int | None = None
    wscale: int | None = None

    @property
    def seq_len(self) -> int:
        """SEG.LEN: the sequence space the segment occupies (data, plus SYN and FIN)."""
        return len(self.payload) + (self.flags & SYN) // SYN + (self.flags & FIN)

    @property
    def seq_end(self) -> int:
        """The sequence number just after this segment (SEG.SEQ + SEG.LEN, modulo 2**32)."""
        return (self.seq + self.seq_len) & SEQ_MASK

    def has(self, flag: int) -> bool:
        """Whether every bit of `flag` is set."""
        return self.flags & flag == flag

    def flag_names(self) -> str:
        """The control bits set, in header order: "SYN, ACK"; "" when none is set."""
        return ", ".join(name for bit, name in FLAG_NAMES if self.flags & bit)

    def __str__(self) -> str:
        parts = [self.flag_names() or "<no flags>", f"seq={self.seq}"]
        if self.flags & ACK:
            parts.append(f"ack={self.ack}")
        parts.append(f"win={self.window}")
        if self.payload:
            parts.append(f"len={len(self.payload)}")
        if self.mss is not None:
            parts.append(f"MSS={self.mss}")
        if self.wscale is not None:
            parts.append(f"WS={self.wscale}")
        return " ".join(parts)


def reset_for(segment: Segment) -> Segment | None:
    """The RST a port without a connection answers `segment` with (RFC 9293 §3.10.7.1).

    An RST is never answered (None). If the ACK bit is on: <SEQ=SEG.ACK><CTL=RST>;
    otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Ports are swapped.
    """
    if segment.flags & RST:
        return None
    if segment.flags & ACK:
        return Segment(segment.dst_port, segment.src_port, segment.ack, 0, RST, 0)
    return Segment(segment.dst_port, segment.src_port, 0, segment.seq_end, RST | ACK, 0)


__all__ = [
    "ACK",
    "CWR",
    "DEFAULT_MSS",
    "ECE",
    "FIN",
    "FLAG_NAMES",
    "PSH",
    "RST",
    "SYN",
    "URG",
    "Segment",
    "reset_for",
]
