"""Marks for the whole suite: `slow` on what drives real programs or whole apps.

`make test-fast` runs the rest (`pytest -m "not slow"`): the engine, the TCP and IP
models, the dissectors, the lesson parser and runs, the CLI's arguments, in about half
a minute on two cores. `make test` runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Paths under tests/ whose every test is slow (or one test: "FILE::NAME"), and why.
SLOW = {
    "tui": "Textual apps driven through run_test(), screenshots",
    "browser": "a headless Chromium",
    "wireshark": "tshark in child processes",
    "live": "real servers and clients on sockets, some under load or attack",
    "lessons/test_export.py": "every lesson's run exported and read back by tshark",
    "test_fuzz_smoke.py": "each fuzz harness in a child process",
    "test_bench_smoke.py": "each benchmark, briefly",
    "trace/test_recorder.py::test_a_long_recording_is_not_held_in_memory": "a minute of packets",
    "dissect/test_hostile_captures.py::test_segments_in_reverse_order_are_reassembled_in_"
    "linear_time": "120,000 segments",
    "dissect/test_hostile_captures.py::test_deflate_bombs_in_a_capture_cost_bounded_memory_and_"
    "output": "wirelab dissect in child processes",
    "dissect/test_hostile_captures.py::test_dissect_takes_the_same_memory_for_a_long_capture_"
    "as_for_a_short_one": "wirelab dissect in child processes",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: left out by `make test-fast` (see tests/conftest.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix()
        test = f"{where}::{getattr(item, 'originalname', item.name)}"
        if any(test == slow or where == slow or where.startswith(f"{slow}/") for slow in SLOW):
            item.add_marker(pytest.mark.slow)
