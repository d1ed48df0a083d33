"""The benchmarks still run: each new mode once, tiny, with no timing asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=BENCH, capture_output=True, text=True, timeout=240,
        check=False,
    )  # fmt: skip


def test_echo_with_compression_runs_and_checks_the_echoes() -> None:
    done = bench("echo.py", "--compression", "--quick", "--no-pin", "--servers", "ours")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "with permessage-deflate" in done.stdout
    assert "JSON text" in done.stdout


def test_broadcast_runs_with_a_few_clients() -> None:
    done = bench("broadcast.py", "--clients", "5", "--messages", "3", "--pipelined", "20",
                 "--rounds", "1", "--no-pin")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "one message to all others, median" in done.stdout
