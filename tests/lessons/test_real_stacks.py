"""[network] asks for TCP as real stacks send it: congestion control, RFC 6928's initial
window, delayed ACKs; a wrong value is a problem with its line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.lessons import LessonError, parse_lesson
from simulator.lessons.run import LessonRun
from simulator.tcp import TcpConfig
from simulator.trace.records import Trace
from tests.tcp.harness import established_pair

LESSON = """+++
id = "stacks"
title = "Stacks"
order = 1
level = "beginner"
minutes = 5
objectives = ["Watch slow start"]

[network]
seed = 1
{network}
+++

## A big message

The client sends 60 000 bytes.

```do
open
send_binary 60000 advance=0
```
"""


def run(tmp_path: Path, network: str) -> LessonRun:
    path = tmp_path / "stacks.md"
    path.write_text(LESSON.format(network=network), encoding="utf-8")
    return LessonRun(parse_lesson(path))


def first_flight(trace: Trace, client: str) -> int:
    """Data segments the client sends after its handshake, before any new ACK arrives."""
    from simulator.dissect.packet import dissect_record

    sent = 0
    started = False
    for record in trace:
        dissection = dissect_record(record)
        payload = dissection.find("tcp.payload")
        src = dissection.find("ip.src")
        if src is None:
            continue
        mine = str(src.value) == client
        if mine and payload is not None and payload.end - payload.start > 1000:
            started = True
            sent += 1
        elif started and not mine:
            break
    return sent


@pytest.mark.parametrize(
    ("network", "flight"),
    [
        ("", None),  # flow control only: as much as the window allows
        ("congestion_control = true", 3),  # RFC 5681 §3.1: 3 segments at MSS 1460
        ("congestion_control = true\ninitial_window = 10", 10),  # RFC 6928: 14600 bytes
    ],
)
def test_the_first_flight_follows_the_initial_window(
    tmp_path: Path, network: str, flight: int | None
) -> None:
    lesson = run(tmp_path, network)
    client = str(lesson.scenario.client_host.address)
    sent = first_flight(lesson.trace, client)
    if flight is None:
        assert sent > 10, sent
    else:
        assert sent == flight, sent


@pytest.mark.parametrize(
    ("mss", "segments", "expected"),
    [(1460, 10, 14600), (1460, 4, 4 * 1460), (9000, 10, 18000), (536, 10, 5360)],
)
def test_rfc_6928_caps_the_initial_window_in_bytes(mss: int, segments: int, expected: int) -> None:
    """min(segments · MSS, max(2 · MSS, 14600 bytes)) after the handshake."""
    config = TcpConfig(mss=mss, congestion_control=True, initial_window=segments)
    pair = established_pair(client_config=config, server_config=TcpConfig(mss=mss))
    assert pair.client.cwnd == expected


@pytest.mark.parametrize(
    "network",
    [
        "congestion_control = 1",
        "initial_window = 10",  # without congestion control
        "congestion_control = true\ninitial_window = 11",
        "congestion_control = true\ninitial_window = 2.0",
        "delayed_ack = 0.5",
        "delayed_ack = true",
    ],
)
def test_a_wrong_value_is_a_problem_with_its_line(tmp_path: Path, network: str) -> None:
    with pytest.raises(LessonError) as raised:
        run(tmp_path, network)
    (problem,) = raised.value.problems
    assert problem.message.startswith("[network]:"), problem
