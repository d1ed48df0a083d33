"""Crafted captures against `wirelab dissect` and the inspector: time, memory, output.

Each capture is one of the shapes that once took minutes or gigabytes (the issue that
hardened the readers lists them), at that size, built with the same helpers as
`tests/dissect/test_hostile_captures.py`:

- a chunked body of 200,000 one-byte chunks; a chunked body with 200,000 trailer lines;
- a request head of 100,000 header lines;
- 20 permessage-deflate bombs (64 MiB of zeros each, about 65 KB on the wire);
- one such bomb sent in one-byte frames;
- 50,000 one-byte segments sent last first;
- 5,000 WebSocket echoes (20,005 packets).

For each, `wirelab dissect FILE` and `wirelab dissect FILE --json` run in a child
process, with the wall time, the child's peak RSS and the bytes written; and the
inspector's dissection of the capture's last packet (what `inspect` does when you
press End), in this process. Nothing is asserted: see the tests for the bounds.

    .venv/bin/python bench/hostile_files.py            # the sizes above (a few minutes)
    .venv/bin/python bench/hostile_files.py --quick    # a hundredth of them
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from simulator.dissect.inflate import INFLATE_LIMIT
from simulator.dissect.stream_view import StreamDissector
from simulator.trace.pcap import open_capture
from simulator.ws.frames import serialize_frame
from tests.dissect.test_hostile_captures import (
    deflated,
    dissect_in_a_child,
    echoes,
    save,
    sent,
    websocket,
)
from tests.trace.helpers import Conversation

CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunks(n: int) -> Conversation:
    return sent(CHUNKED + b"1\r\na\r\n" * n + b"0\r\n\r\n")


def trailers(n: int) -> Conversation:
    return sent(CHUNKED + b"1\r\na\r\n0\r\n" + b"a:b\r\n" * n + b"\r\n")


def headers(n: int) -> Conversation:
    return sent(b"GET / HTTP/1.1\r\n" + b"a:b\r\n" * n + b"\r\n")


def bombs(n: int) -> Conversation:
    bomb = serialize_frame(0x2, deflated(4 * INFLATE_LIMIT), rsv1=True)
    return websocket(*[bomb] * n)


def bomb_in_bytes(_: int) -> Conversation:
    bomb = deflated(4 * INFLATE_LIMIT)
    frames = [serialize_frame(0x2, bomb[:1], rsv1=True, fin=False)]
    frames += [serialize_frame(0x0, bomb[i : i + 1], fin=False) for i in range(1, len(bomb) - 1)]
    return websocket(*frames, serialize_frame(0x0, bomb[-1:]))


def reversed_segments(n: int) -> tuple[Conversation, list[int]]:
    conversation = sent(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n)
    conversation.send("c", b"x" * n, [1] * n)
    last = len(conversation.packets) - 1
    return conversation, [0, 1, 2, 3, *range(last, 3, -1)]


CASES: dict[str, tuple[int, Callable[[int], Conversation | tuple[Conversation, list[int]]]]] = {
    "{:,} one-byte chunks": (200_000, chunks),
    "{:,} trailer lines": (200_000, trailers),
    "{:,} header lines": (100_000, headers),
    "{:,} deflate bombs": (20, bombs),
    "a deflate bomb in 1-byte frames": (1, bomb_in_bytes),
    "{:,} reversed 1-byte segments": (50_000, reversed_segments),
    "{:,} echoes": (5_000, echoes),
}


def dissect(path: Path, *args: str) -> tuple[float, int, int]:
    """`wirelab dissect` in a child: (seconds, its peak RSS in MB, MB written)."""
    started = time.perf_counter()
    written, peak = dissect_in_a_child(path, *args)
    return time.perf_counter() - started, peak >> 10, written >> 20


def last_packet(path: Path) -> float:
    """Seconds for the inspector to dissect the last packet of `path`, from cold."""
    with open_capture(path) as capture:
        capture.index()
        started = time.perf_counter()
        StreamDissector(capture, relative=True)(capture.record(len(capture) - 1))
        return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a hundredth of each size")
    args = parser.parse_args(argv)
    print(f"{'capture':<34} {'size':>8}  {'text: s, MB RSS, MB out':>24}  "
          f"{'JSON: s, MB RSS, MB out':>24}  {'last packet':>11}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wirelab-hostile-") as folder:
        for title, (size, make) in CASES.items():
            n = max(1, size // 100) if args.quick else size
            made = make(n)
            conversation, order = made if isinstance(made, tuple) else (made, None)
            path = save(conversation, Path(folder) / "capture.pcap", order)
            text, as_json = dissect(path), dissect(path, "--json")
            kb = path.stat().st_size / 1e6
            print(f"{title.format(n):<34} {kb:>6.2f}MB  "
                  f"{text[0]:>8.1f} {text[1]:>7} {text[2]:>7}  "
                  f"{as_json[0]:>8.1f} {as_json[1]:>7} {as_json[2]:>7}  "
                  f"{last_packet(path):>10.2f}s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
