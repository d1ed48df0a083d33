"""Relative sequence and acknowledgment numbers, as Wireshark shows them by default: the
inspector's `tcp.seq` and `tcp.ack` (and the raw numbers beside them) agree with
tshark's on every packet, with the handshake captured or joined after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.cli import _model
from simulator.network.scenarios import run_built_in
from simulator.trace import write_pcap
from simulator.trace.pcap import open_capture
from simulator.tui.app import InspectorApp
from simulator.tui.screens.inspector import InspectorScreen
from tests.trace.helpers import Conversation
from tests.wireshark.support import tshark, walk, wirelab_json

FIELDS = ("tcp.seq", "tcp.ack", "tcp.seq_raw", "tcp.ack_raw")


def conversation() -> Conversation:
    talk = Conversation(fast=True)
    talk.handshake()
    talk.send("c", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    talk.send("s", b"HTTP/1.1 204 No Content\r\n\r\n")
    talk.send("c", b"x" * 3000, [1460, 1460, 80])
    talk.ack("s")
    talk.fin("c")
    talk.fin("s")
    talk.ack("c")
    return talk


def capture(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.pcap"
    if name == "handshake":
        write_pcap(path, conversation().records())
    elif name == "joined-later":  # the capture starts after the handshake
        write_pcap(path, conversation().records()[3:])
    else:
        run_built_in(name, 0).write_pcap(path)
    return path


def theirs(path: Path) -> list[tuple[str, ...]]:
    out = tshark("-r", str(path), "-T", "fields", "-e", "tcp.flags.ack",
                 *(f"-e{name}" for name in FIELDS))  # fmt: skip
    rows = [tuple(line.split("\t")) for line in out.splitlines()]
    # Without the ACK flag tshark still writes an acknowledgment number (0): not compared.
    return [(seq, ack if flag == "1" else "", seq_raw, ack_raw if flag == "1" else "")
            for flag, seq, ack, seq_raw, ack_raw in rows]  # fmt: skip


def ours(path: Path) -> list[tuple[str, ...]]:
    with open_capture(path) as opened:
        opened.index()
        model = _model(opened)
        rows = []
        for index in range(len(opened)):
            dissection = model.dissect(index)
            flag = dissection.find("tcp.flags.ack")
            acked = flag is not None and flag.value is True
            values = [dissection.find(name) for name in FIELDS]
            row = ["" if f is None else str(f.value) for f in values]
            if not acked:
                row[1] = row[3] = ""
            rows.append(tuple(row))
    return rows


@pytest.mark.parametrize(
    "name", ["handshake", "joined-later", "handshake-and-echo", "lost-segment",
             "flow-control-slow-reader"],
)  # fmt: skip
def test_relative_numbers_agree_with_tshark(tmp_path: Path, name: str) -> None:
    path = capture(tmp_path, name)
    assert ours(path) == theirs(path)


def test_the_summary_and_the_tree_say_the_relative_numbers(tmp_path: Path) -> None:
    with open_capture(capture(tmp_path, "handshake")) as opened:
        opened.index()
        model = _model(opened)
        assert "[SYN, ACK] Seq=0 Ack=1 " in model.row(1).info
        tcp = model.dissect(3).find("tcp")
        assert tcp is not None and ", Seq: 1, Ack: 1, Len: " in tcp.label


def test_n_in_the_inspector_switches_to_raw_numbers_and_back(tmp_path: Path) -> None:
    async def main() -> None:
        with open_capture(capture(tmp_path, "handshake")) as opened:
            opened.index()
            app = InspectorApp(_model(opened), source="handshake.pcap")
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen
                assert isinstance(screen, InspectorScreen)
                model = screen.model
                await pilot.press("n")
                await pilot.pause()
                assert "[SYN, ACK] Seq=5000 Ack=1001 " in model.row(1).info
                seq = model.dissect(3).find("tcp.seq")
                assert seq is not None and (seq.value, seq.children) == (1001, ())
                await pilot.press("n")
                await pilot.pause()
                assert "[SYN, ACK] Seq=0 Ack=1 " in model.row(1).info

    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize("name", ["handshake", "joined-later", "lost-segment"])
def test_wirelab_dissect_numbers_as_the_inspector_does(tmp_path: Path, name: str) -> None:
    path = capture(tmp_path, name)
    rows = []
    for packet in wirelab_json(path)["packets"]:
        found = {f["name"]: f for f in walk(packet["fields"])}
        acked = found.get("tcp.flags.ack", {}).get("value") is True
        row = [str(found[n]["value"]) if n in found else "" for n in FIELDS]
        if not acked:
            row[1] = row[3] = ""
        rows.append(tuple(row))
    assert rows == theirs(path) == ours(path)
