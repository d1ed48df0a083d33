"""TCP analysis filters on a lossy transfer: wirelab's inspector against `tshark -Y`.

The capture is a simulated bulk transfer over a router with 1 % loss (about 100,000
packets with retransmissions, duplicate ACKs and window updates), not the loss-free
capture of `inspector.py`, so that the TCP analysis filters keep packets. wirelab's
figure is the inspector's: its model's columns read once (the background work after
indexing; its own row), then `model.matcher(filter)` over every packet. tshark's is the
whole `tshark -n -r FILE -Y FILTER -T fields -e frame.number` process. Both must keep the
same packets, or the run stops.

    .venv/bin/python bench/tcp_analysis.py [--rounds N] [--mib N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

FILTERS = (
    "tcp.analysis.flags",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.window_update",
    "tcp.analysis.lost_segment or tcp.analysis.out_of_order",
)
TSHARK_TIMEOUT = 300.0


def build(path: Path, mib: int) -> None:
    from simulator.network.scenarios import bulk_transfer

    bulk_transfer(7, mib << 20, routers=1, loss=0.01).write_pcap(path)


def tshark(path: Path, expression: str, *options: str) -> tuple[float, list[int]]:
    start = time.perf_counter()
    done = subprocess.run(
        ["tshark", "-n", *options, "-r", str(path), "-Y", expression, "-T", "fields",
         "-e", "frame.number"],
        capture_output=True, text=True, timeout=TSHARK_TIMEOUT, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, [int(n) for n in done.stdout.split()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, metavar="N")
    parser.add_argument("--mib", type=int, default=85, metavar="N", help="bytes sent (MiB)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from simulator.cli import _model
    from simulator.dissect.filters import compile_filter
    from simulator.trace.pcap import open_capture

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lossy.pcap"
        build(path, args.mib)
        capture = open_capture(path)
        capture.index()
        packets = len(capture)
        builds: list[float] = []
        ours: dict[str, list[float]] = {f: [] for f in FILTERS}
        theirs: dict[str, list[float]] = {f: [] for f in FILTERS}
        bare: dict[str, list[float]] = {f: [] for f in FILTERS}  # tshark without HTTP
        kept: dict[str, int] = {}
        for _ in range(args.rounds):
            model = _model(capture)
            start = time.perf_counter()
            for _ in model.indexing():  # the capture is indexed: these steps are the columns'
                pass
            builds.append(time.perf_counter() - start)
            for text in FILTERS:
                test = compile_filter(text)
                assert model.columns is not None and model.columns.covers(test), text
                match = model.matcher(test)
                start = time.perf_counter()
                mine = [i + 1 for i in range(len(model)) if match(i)]
                ours[text].append(time.perf_counter() - start)
                took, numbers = tshark(path, text)
                theirs[text].append(took)
                # Most of tshark's time here is reassembling the one 85 MiB message over
                # HTTP and WebSocket; without them it does the TCP analysis alone.
                alone, same = tshark(path, text, "--disable-protocol", "http")
                bare[text].append(alone)
                if not mine == numbers == same:
                    print(f"{text}: wirelab keeps {len(mine):,}, tshark {len(numbers):,}")
                    return 1
                kept[text] = len(mine)
        capture.close()
    load = os.getloadavg()[0]
    print(f"TCP analysis filters: {packets:,} packets, {args.mib} MiB over 1 router with 1 % "
          f"loss; median of {args.rounds}; load {load:.2f}\n")  # fmt: skip
    print(f"{'measurement':<58} {'kept':>7} {'wirelab':>9} {'tshark':>8} {'ratio':>7} "
          f"{'no http':>8} {'ratio':>7}")  # fmt: skip
    print(f"{'columns: read the capture once (background)':<58} {'':>7} "
          f"{statistics.median(builds):>8.2f}s")  # fmt: skip
    for text in FILTERS:
        wirelab, them = statistics.median(ours[text]), statistics.median(theirs[text])
        alone = statistics.median(bare[text])
        print(f"{'filter ' + text:<58} {kept[text]:>7,} {wirelab * 1e3:>7.0f}ms "
              f"{them:>7.2f}s {them / wirelab:>6.1f}× {alone:>7.2f}s "
              f"{alone / wirelab:>6.1f}×")  # fmt: skip
    print(
        '\nratio = tshark / wirelab; the same packets in both, every round. "no http": '
        "tshark --disable-protocol http,\nits TCP analysis alone"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
