"""Masking (RFC 6455 §5.3): payload octet i is XORed with masking-key octet i mod 4.

Small payloads use one big-integer XOR; large ones an in-place NumPy XOR over
32-bit words, which runs at memory speed.
"""

from __future__ import annotations

import sys
from typing import Any

# Below this size the integer trick wins over NumPy's per-call overhead.
NUMPY_THRESHOLD = 1024
# From this size on, aligning the word loop to the buffer's address pays off.
ALIGN_THRESHOLD = 64 * 1024

_np: Any = None


def _numpy() -> Any:
    global _np
    if _np is None:  # imported on first large payload: keeps start-up fast
        import numpy

        _np = numpy
    return _np


def xor_small(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    n = len(data)
    stream = key * (n // 4 + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")
    return value.to_bytes(n, "little")


def mask_inplace(buf: bytearray, key: bytes, start: int = 0, end: int | None = None) -> None:
    """XOR `buf[start:end]` with the repeating 4-byte `key`, in place."""
    if end is None:
        end = len(buf)
    n = end - start
    if n <= 0:
        return
    if n < NUMPY_THRESHOLD:
        buf[start:end] = xor_small(memoryview(buf)[start:end], key)
        return
    np = _numpy()
    if n >= ALIGN_THRESHOLD:
        # Unaligned 32-bit words run at half speed: XOR the lead-in bytes one by
        # one and rotate the key so the word loop starts on an aligned address.
        probe = np.frombuffer(buf, dtype=np.uint8, count=1, offset=start)
        lead = -probe.__array_interface__["data"][0] % 4
        if lead:
            head = np.frombuffer(buf, dtype=np.uint8, count=lead, offset=start)
            np.bitwise_xor(head, np.frombuffer(key, dtype=np.uint8, count=lead), out=head)
            start += lead
            n -= lead
            key = key[lead:] + key[:lead]
    words = n >> 2
    body = np.frombuffer(buf, dtype=np.uint32, count=words, offset=start)
    # Both sides are read from memory in the same byte order, so the key's
    # native-order integer lines up with the payload's words.
    np.bitwise_xor(body, int.from_bytes(key, sys.byteorder), out=body)
    tail = n & 3
    if tail:
        rest = np.frombuffer(buf, dtype=np.uint8, count=tail, offset=start + 4 * words)
        np.bitwise_xor(rest, np.frombuffer(key, dtype=np.uint8, count=tail), out=rest)


def apply_mask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Return `data` masked (or unmasked: XOR is its own inverse) with `key`."""
    if len(key) != 4:
        raise ValueError("a masking key is exactly 4 bytes")
    if len(data) < NUMPY_THRESHOLD:
        return xor_small(data, key) if data else b""
    buf = bytearray(data)
    mask_inplace(buf, key)
    return bytes(buf)
