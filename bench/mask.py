"""Masking throughput on 16 MiB: our apply_mask and mask_inplace against websockets' C helper."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from simulator.ws.mask import apply_mask, mask_inplace

SIZE = 16 << 20
KEY = b"\x9a\x3c\x51\xe7"


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    """Seconds per call, `runs` times, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def candidates(data: bytes) -> dict[str, Callable[[], object]]:
    buf = bytearray(data)
    found: dict[str, Callable[[], object]] = {
        "wirelab apply_mask (returns new bytes)": lambda: apply_mask(data, KEY),
        "wirelab mask_inplace (bytearray)": lambda: mask_inplace(buf, KEY),
        # An odd offset: the lead-in and tail paths, as for a frame inside a read buffer.
        "wirelab mask_inplace, offset 3": lambda: mask_inplace(buf, KEY, 3),
    }
    try:
        from websockets.speedups import apply_mask as ws_apply_mask
    except ImportError:
        pass
    else:
        found["websockets.speedups.apply_mask (C)"] = lambda: ws_apply_mask(data, KEY)
    return found


def check(data: bytes) -> None:
    """Everything must agree with the RFC 6455 §5.3 definition before it is timed."""
    sample = data[:4099]
    expected = bytes(b ^ KEY[i % 4] for i, b in enumerate(sample))
    assert apply_mask(sample, KEY) == expected
    buf = bytearray(b"xyz" + sample)
    mask_inplace(buf, KEY, 3)
    assert buf[3:] == expected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, metavar="N", help="timed runs (15)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    data = random.Random(6455).randbytes(SIZE)
    check(data)
    medians = {
        name: statistics.median(measure(fn, args.runs)) for name, fn in candidates(data).items()
    }
    if args.json:
        rows = [{"name": n, "median_s": t, "gb_per_s": SIZE / t / 1e9} for n, t in medians.items()]
        print(json.dumps({"size": SIZE, "runs": args.runs, "rows": rows}, indent=2))
        return 0
    width = max(map(len, medians))
    print(f"masking {SIZE >> 20} MiB, median of {args.runs} runs\n")
    print(f"{'':{width}}  {'GB/s':>6}  {'ms':>6}")
    for name, t in medians.items():
        print(f"{name:{width}}  {SIZE / t / 1e9:6.2f}  {t * 1e3:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
