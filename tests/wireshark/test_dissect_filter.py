"""`wirelab dissect FILE --filter EXPR` keeps the packets a display filter matches, with
their numbers in the whole capture, as `tshark -r FILE -Y EXPR` does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.network.scenarios import run_built_in
from tests.wireshark.support import tshark, wirelab_json

FILTERS = (
    "tcp.flags.syn == 1",
    "tcp.flags.fin == 1",
    "http",
    "http.response.code == 101",
    'http.request.method == "GET"',
    "websocket",
    "websocket.opcode == 1",
    "tcp.port == 80 and not http",
    "icmp",
    # Wireshark's names, as the issue that asked for them tried them
    "tcp.stream == 1",
    "frame.len > 100",
    'http.request.uri contains "/"',
    'http.host contains "10"',
    "tcp.analysis.retransmission",
    "tcp.analysis.zero_window or tcp.analysis.window_update",
    "ip.ttl < 64 and icmp.type == 11",
)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("filtered")
    made = {}
    for name in ("handshake-and-echo", "lost-segment", "routed-three-hops",
                 "flow-control-slow-reader"):  # fmt: skip
        made[name] = folder / f"{name}.pcap"
        run_built_in(name, 0).write_pcap(made[name])
    return made


def numbers_from_tshark(path: Path, expression: str) -> list[int]:
    out = tshark("-r", str(path), "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(n) for n in out.split()]


@pytest.mark.parametrize("expression", FILTERS)
def test_the_packets_kept_are_tsharks(captures: dict[str, Path], expression: str) -> None:
    for path in captures.values():
        document = wirelab_json(path, "--filter", expression)
        ours = [packet["number"] for packet in document["packets"]]
        assert ours == numbers_from_tshark(path, expression), (path.name, expression)
        assert {m["packet"] for m in document["messages"]} <= set(ours)


def test_the_text_shows_the_same_packets(captures: dict[str, Path]) -> None:
    path = captures["handshake-and-echo"]
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "dissect", str(path), "--filter", "websocket"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    shown = [int(n) for n in re.findall(r"^│ Packet (\d+) ", done.stdout, re.MULTILINE)]
    assert shown == numbers_from_tshark(path, "websocket") and shown


def test_a_bad_filter_is_one_line_that_says_where(captures: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "dissect", str(captures["lost-segment"]),
         "--filter", "ws.opcode =="],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.strip() == (
        "wirelab: --filter 'ws.opcode ==': column 13: expected a value after '=='"
    )
