"""Lessons run TCP as real stacks send it unless their [network] says otherwise: slow
start from RFC 6928's initial window of 10, delayed ACKs, window scaling; a lesson may
turn each off; a wrong value is a problem with its line, not a traceback."""

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


def run(tmp_path: Path, network: str, *, whole: bool = False) -> LessonRun:
    """The lesson on `network`: the first flight only, or (`whole`) the whole message."""
    path = tmp_path / "stacks.md"
    text = LESSON.format(network=network)
    path.write_text(text.replace(" advance=0", "") if whole else text, encoding="utf-8")
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
        ("", 10),  # the default: RFC 6928's 14600 bytes
        ("congestion_control = false", None),  # flow control only: all the window allows
        ("initial_window = 3", 3),  # RFC 5681 §3.1's 3 segments at MSS 1460
        ("congestion_control = true\ninitial_window = 10", 10),
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
        "congestion_control = false\ninitial_window = 10",  # without congestion control
        "window_scale = 1",
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


def acks_of_data(lesson: LessonRun) -> tuple[int, int]:
    """(data segments the client sent, bare ACKs the server sent) in the whole run."""
    from simulator.dissect.packet import dissect_record

    data = acks = 0
    client = str(lesson.scenario.client_host.address)
    for record in lesson.trace:
        dissection = dissect_record(record)
        src, payload = dissection.find("ip.src"), dissection.find("tcp.payload")
        if src is None or dissection.find("tcp") is None:
            continue
        if str(src.value) == client and payload is not None and payload.end - payload.start > 1000:
            data += 1
        elif str(src.value) != client and payload is None:
            acks += 1
    return data, acks


def test_delayed_acks_by_default_one_per_segment_when_turned_off(tmp_path: Path) -> None:
    """RFC 9293 §3.8.6.3: an ACK for at least every second full-sized segment; without
    delayed ACKs, one per segment."""
    data, acks = acks_of_data(run(tmp_path, "", whole=True))
    assert data >= 40 and acks <= data // 2 + 6, (data, acks)
    data, acks = acks_of_data(run(tmp_path, "delayed_ack = false", whole=True))
    assert acks >= data, (data, acks)


def test_syns_offer_window_scaling_unless_turned_off(tmp_path: Path) -> None:
    def syn_options(lesson: LessonRun) -> list[object]:
        return [f.value for _, f in lesson.dissect(0).walk() if f.name == "tcp.option.wscale"]

    assert syn_options(run(tmp_path, "")) == [0]  # a 65535-byte buffer: shift 0
    assert syn_options(run(tmp_path, "server_receive_buffer = 262144")) == [0]
    assert syn_options(run(tmp_path, "window_scale = false")) == []
    scaled = run(tmp_path, "server_receive_buffer = 262144")
    server_syn = [f.value for _, f in scaled.dissect(1).walk() if f.name == "tcp.option.wscale"]
    assert server_syn == [3]  # 262144 = 65535·4 + 4: a shift of 3 covers it
    assert scaled.steps[-1].tcp["server"].receive_buffer == 262144


def test_the_window_pane_shows_the_congestion_window(tmp_path: Path) -> None:
    from simulator.tui.window import window_text

    lesson = run(tmp_path, "")
    client = lesson.steps[-1].tcp["client"]
    assert client.cwnd is not None and client.cwnd >= 14600
    shown = window_text("client", client, width=100).plain
    assert f"cwnd {client.cwnd} B" in shown and "may send" in shown
    off = run(tmp_path, "congestion_control = false").steps[-1].tcp["client"]
    assert off.cwnd is None and "cwnd" not in window_text("client", off, width=100).plain
