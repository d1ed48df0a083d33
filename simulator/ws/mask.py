"""Masking (RFC 6455 §5.3): payload octet i is XORed with masking-key octet i mod 4.

Small payloads use one big-integer XOR; large ones an in-place NumPy XOR over
32-bit words, which runs at memory speed.
"""

from __future__ import annotations

from typing import Any

# Below this size the integer trick wins over NumPy's per-call overhead.
NUMPY_THRESHOLD = 2048

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
    arr = np.frombuffer(buf, dtype=np.uint8, count=n, offset=start)
    # Align the word loop on the array's address: rotate the key by the lead-in.
    lead = (-arr.ctypes.data) % 4
    if lead:
        arr[:lead] ^= np.frombuffer(key[:lead], dtype=np.uint8)
        key = key[lead:] + key[:lead]
    words = (n - lead) // 4
    body = arr[lead : lead + 4 * words].view(np.uint32)
    np.bitwise_xor(body, np.frombuffer(key, dtype=np.uint32)[0], out=body)
    tail = n - lead - 4 * words
    if tail:
        arr[n - tail :] ^= np.frombuffer(key[:tail], dtype=np.uint8)


def apply_mask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Return `data` masked (or unmasked: XOR is its own inverse) with `key`."""
    if len(key) != 4:
        raise ValueError("a masking key is exactly 4 bytes")
    if len(data) < NUMPY_THRESHOLD:
        return xor_small(data, key) if data else b""
    buf = bytearray(data)
    mask_inplace(buf, key)
    return bytes(buf)
