"""The limits hold under attack: `bench/attacks.py --quick` runs every attack against a
fresh server in its own process, with a well-behaved client echoing throughout, and each
attacker must be cut off the way the README says, the server's memory must stay bounded
and the well-behaved client must get every echo. (No wall-clock bound is asserted: the
machine is shared; the benchmark reports the latencies.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
PEAK_MB = 250  # quick attacks: 30–100 MB today; the fragment flood took 285 MB before


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "attacks.py", "--quick", "--json"], cwd=BENCH, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return {result["attack"]: result for result in json.loads(done.stdout)["results"]}


def kinds(result: dict[str, Any]) -> dict[str, int]:
    """How the attackers ended: {"close 1009": 34, "kept": 1, "431 …": 38, …}."""
    found: dict[str, int] = {}
    for attacker in result["attackers"]:
        kind = attacker["kind"].split(" “")[0]
        found[kind] = found.get(kind, 0) + attacker["count"]
    return found


EXPECTED = {
    # attack: how its attackers must end (besides being still connected at the end)
    "continuation": {"close 1009"},
    "fragments": {"close 1009"},
    "bomb": {"close 1009"},
    "bad-heads": {"426", "400"},
    "big-heads": {"431"},
}
QUIET = ("baseline", "unread", "idle", "slowloris", "chat")  # cut off later, or well-behaved


@pytest.mark.parametrize("attack", [*EXPECTED, *QUIET])
def test_every_attack_is_bounded_and_the_others_are_served(
    attack: str, report: dict[str, dict[str, Any]]
) -> None:
    result = report[attack]
    assert result["rss_peak_mb"] < PEAK_MB, result["rss_peak_mb"]
    assert result["capped_after_s"] is None  # never killed at the memory cap
    control = result["control"]
    assert control["echoes"] > 0 and control["unanswered_ms"] is None and not control["lost"]
    assert result["log"]["stderr_lines"] == 0  # no traceback, no asyncio "Fatal error"
    ended = kinds(result)
    if attack in EXPECTED:
        assert set(ended) - {"kept"} == EXPECTED[attack], ended
        assert sum(n for kind, n in ended.items() if kind != "kept") > 0
