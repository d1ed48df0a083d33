"""Masking (RFC 6455 §5.3) against a literal reading of the RFC, on every code path."""

from __future__ import annotations

import random

import pytest

from simulator.ws.mask import ALIGN_THRESHOLD, NUMPY_THRESHOLD, apply_mask, mask_inplace
from tests.ws.helpers import KEY, naive_mask

# Around each switch between strategies, with every tail length 0-3.
SIZES = sorted(
    {
        max(0, base + d)
        for base in (0, 4, 64, NUMPY_THRESHOLD, ALIGN_THRESHOLD)
        for d in range(-4, 4)
    }
    | {125, 126, 65535, 65536, 3 * ALIGN_THRESHOLD + 3}
)


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def test_rfc_example() -> None:
    # RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    assert apply_mask(b"Hello", KEY) == bytes.fromhex("7f 9f 4d 51 58")


@pytest.mark.parametrize("n", SIZES)
def test_apply_mask_matches_the_rfc(n: int) -> None:
    data = payload(n, n)
    masked = apply_mask(data, KEY)
    assert masked == naive_mask(data, KEY)
    assert apply_mask(masked, KEY) == data


@pytest.mark.parametrize("n", [0, 7, NUMPY_THRESHOLD + 1, ALIGN_THRESHOLD + 2])
def test_apply_mask_accepts_any_buffer(n: int) -> None:
    data = payload(n)
    expected = naive_mask(data, KEY)
    assert apply_mask(bytearray(data), KEY) == expected
    assert apply_mask(memoryview(data), KEY) == expected
    assert apply_mask(memoryview(b"xyz" + data)[3:], KEY) == expected


@pytest.mark.parametrize("n", [NUMPY_THRESHOLD + 3, ALIGN_THRESHOLD + 1])
@pytest.mark.parametrize("key", [KEY, b"\x00\x00\x00\x00", b"\xff\x00\xff\x01"])
def test_apply_mask_with_other_keys(n: int, key: bytes) -> None:
    data = payload(n)
    assert apply_mask(data, key) == naive_mask(data, key)


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_apply_mask_wants_a_four_byte_key(key: bytes) -> None:
    with pytest.raises(ValueError):
        apply_mask(b"data", key)


@pytest.mark.parametrize("n", [5, 1023, NUMPY_THRESHOLD, NUMPY_THRESHOLD + 3, ALIGN_THRESHOLD + 1])
@pytest.mark.parametrize("start", range(8))
def test_mask_inplace_at_unaligned_offsets(n: int, start: int) -> None:
    # A payload at every alignment inside a buffer, with bytes on both sides left alone.
    before = payload(start, 1)
    data = payload(n, 2)
    after = payload(5, 3)
    buf = bytearray(before + data + after)
    mask_inplace(buf, KEY, start, start + n)
    assert buf == before + naive_mask(data, KEY) + after


@pytest.mark.parametrize("tail", range(4))
@pytest.mark.parametrize("start", range(4))
def test_mask_inplace_large_tails(start: int, tail: int) -> None:
    n = ALIGN_THRESHOLD + 4 * 7 + tail
    buf = bytearray(payload(start + n, tail))
    expected = buf[:start] + naive_mask(bytes(buf[start:]), KEY)
    mask_inplace(buf, KEY, start)
    assert buf == expected


def test_mask_inplace_empty_range_is_a_no_op() -> None:
    buf = bytearray(b"abcdef")
    mask_inplace(buf, KEY, 3, 3)
    mask_inplace(buf, KEY, 6)
    assert buf == b"abcdef"


def test_mask_inplace_whole_buffer_by_default() -> None:
    data = payload(NUMPY_THRESHOLD * 3 + 1)
    buf = bytearray(data)
    mask_inplace(buf, KEY)
    assert buf == naive_mask(data, KEY)
    mask_inplace(buf, KEY)
    assert buf == data
