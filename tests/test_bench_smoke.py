"""The benchmarks still run: each new mode once, tiny, with no timing asserted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=BENCH, capture_output=True, text=True, timeout=100,
        check=False,
    )  # fmt: skip


def test_echo_with_compression_negotiates_and_checks_the_echoes() -> None:
    done = bench("echo.py", "--compression", "--quick", "--no-pin",
                 "--servers", "ours,wsproto,raw-asyncio")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "with permessage-deflate" in done.stdout
    assert "JSON text" in done.stdout
    # Each server's answer to the client's offer is reported as it came.
    assert "ours    answers: permessage-deflate; client_no_context_takeover" in done.stdout
    assert "wsproto answers: permessage-deflate" in done.stdout
    # The raw echo is no WebSocket server: left out, in one line.
    assert "raw-asyncio left out: not a WebSocket server" in done.stdout


def test_echo_quick_against_the_raw_echo_with_many_connections() -> None:
    servers = (
        "ours,ours-uvloop,raw-asyncio" if importlib.util.find_spec("uvloop") else "ours,raw-asyncio"
    )
    done = bench("echo.py", "--quick", "--no-pin", "--servers", servers)
    assert done.returncode == 0, done.stderr[-2000:]
    # The raw echo sends the client's masked frames back: accepted from it alone.
    assert "16 MiB binary round trip" in done.stdout
    assert "20 connections × 10 round trips" in done.stdout
    assert "server CPU, 20 connections" in done.stdout
    assert "ours vs" in done.stdout and "raw-asyncio" in done.stdout
    assert "Traceback" not in done.stderr


def test_idle_counts_memory_per_connection() -> None:
    done = bench("idle.py", "--connections", "50", "--no-pin", "--servers", "ours,websockets")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "50 idle WebSockets a server" in done.stdout
    rows = [line.split()[0] for line in done.stdout.splitlines() if line[:1].isalpha()]
    assert "ours" in rows and "websockets" in rows
    assert "Traceback" not in done.stderr


def test_broadcast_runs_with_a_few_clients() -> None:
    done = bench("broadcast.py", "--clients", "5", "--messages", "3", "--pipelined", "20",
                 "--rounds", "1", "--no-pin")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "one message to all 4 others, median" in done.stdout
    assert "compression off" in done.stdout


def test_broadcast_with_compression_and_several_senders() -> None:
    done = bench("broadcast.py", "--clients", "5", "--messages", "3", "--pipelined", "20",
                 "--senders", "2", "--rounds", "1", "--no-pin", "--compression",
                 "--servers", "ours,websockets")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "20 pipelined (2 senders)" in done.stdout
    assert "websockets answers: permessage-deflate" in done.stdout


def test_broadcast_rejects_an_unknown_server_in_one_line() -> None:
    done = bench("broadcast.py", "--servers", "nobody")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "--servers" in done.stderr


def test_classroom_runs_with_a_few_followers() -> None:
    done = bench("classroom.py", "--followers", "20", "--moves", "3", "--no-pin")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "20 followers: step reach median" in done.stdout
    # Half of them are browsers: each view checked, its reach and size reported.
    assert "10 browsers: view reach median" in done.stdout
    assert "of 30 views skipped" in done.stdout
    assert "20 answers tallied in" in done.stdout
    assert "reveal to all in" in done.stdout
    # The mix of answers, judged and counted: 10 right, 5 × "62", 5 × "64".
    assert "Class: 20 of 20 answered · 10 right (50 %)" in done.stdout
    assert "Traceback" not in done.stderr


def test_hostile_files_dissects_every_crafted_capture_small() -> None:
    done = bench("hostile_files.py", "--quick")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deflate bomb in 1-byte frames" in done.stdout and "echoes" in done.stdout
    assert len(done.stdout.splitlines()) == 1 + 7  # the heading and one line a capture
