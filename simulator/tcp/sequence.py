"""Sequence-number arithmetic modulo 2**32 (RFC 9293 §3.4).

Sequence numbers wrap, so "a < b" means "b is less than 2**31 ahead of a".
Every comparison in this package goes through `seq_diff`.
"""

from __future__ import annotations

SEQ_MOD = 1 << 32
SEQ_MASK = SEQ_MOD - 1
_HALF = 1 << 31


def seq_add(seq: int, n: int) -> int:
    """`seq + n` modulo 2**32."""
    return (seq + n) & SEQ_MASK


def seq_diff(a: int, b: int) -> int:
    """The signed distance `a - b`, in [-2**31, 2**31): positive when `a` is after `b`."""
    d = (a - b) & SEQ_MASK
    return d - SEQ_MOD if d >= _HALF else d


def seq_lt(a: int, b: int) -> bool:
    """`a` comes before `b` in sequence space."""
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    """`a` comes before `b` or is `b`."""
    return seq_diff(a, b) <= 0


__all__ = ["SEQ_MASK", "SEQ_MOD", "seq_add", "seq_diff", "seq_le", "seq_lt"]
