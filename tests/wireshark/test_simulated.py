"""Wireshark reads the simulated network's packets as real ones.

For every built-in scenario, the pcap `wirelab simulate` writes must open in
tshark with no malformed packet and every IPv4 and TCP checksum good; tshark's
TCP stream follows must hold the same bytes wirelab's reassembly cut its
messages from; its WebSocket frames must be wirelab's, field by field; and its
TCP analysis may flag a retransmission only where the scenario dropped a segment.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simulator.network.scenarios import BUILT_IN, run_built_in
from simulator.trace.segments import tcp_segment
from simulator.trace.streams import Reassembler
from tests.live.support import BIN
from tests.wireshark.support import (
    RUN_TIMEOUT,
    require_tshark,
    tshark,
    tshark_frames,
    wirelab_frames,
    wirelab_json,
)

CHECKSUMS = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")
RETRANSMISSION = (
    "tcp.analysis.retransmission or tcp.analysis.fast_retransmission"
    " or tcp.analysis.spurious_retransmission"
)


@pytest.fixture(scope="module")
def pcaps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each built-in scenario's pcap, written by `wirelab simulate` itself."""
    folder = tmp_path_factory.mktemp("simulated")
    out = {}
    for name in BUILT_IN:
        path = folder / f"{name}.pcap"
        done = subprocess.run(
            [str(BIN / "wirelab"), "simulate", name, "-o", str(path), "--seed", "4"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0 and not done.stderr, done.stderr
        assert f"wrote {path}" in done.stdout
        out[name] = path
    return out


def numbers(path: Path, display_filter: str) -> list[int]:
    out = tshark(
        "-r", str(path), *CHECKSUMS, "-Y", display_filter, "-T", "fields", "-e", "frame.number"
    )
    return [int(line) for line in out.split()]


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_no_malformed_packets_and_good_checksums(name: str, pcaps: dict[str, Path]) -> None:
    require_tshark()
    path = pcaps[name]
    total = len(numbers(path, "frame"))
    assert total > 10
    assert numbers(path, "_ws.malformed or _ws.expert.severity == error") == []
    assert numbers(path, "ip.checksum.status == 0 or tcp.checksum.status == 0") == []
    assert len(numbers(path, "ip.checksum.status == 1")) == total
    tcp_packets = len(numbers(path, "tcp"))
    assert len(numbers(path, "tcp.checksum.status == 1")) == tcp_packets > 0


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_retransmissions_only_where_a_segment_was_dropped(
    name: str, pcaps: dict[str, Path]
) -> None:
    require_tshark()
    scenario = run_built_in(name, 4)
    dropped = [tcp_segment(scenario.trace[d.record]) for d in scenario.network.drops]
    flagged = numbers(pcaps[name], RETRANSMISSION)
    capture = scenario.capture()
    resent = [tcp_segment(capture[n - 1]) for n in flagged]
    assert len(resent) == len(dropped)
    for again, lost in zip(resent, dropped, strict=True):
        assert again is not None and lost is not None
        assert (again.seq, again.payload) == (lost.seq, lost.payload)


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_tshark_follows_the_same_streams(name: str, pcaps: dict[str, Path]) -> None:
    require_tshark()
    scenario = run_built_in(name, 4)
    reassembler = Reassembler()
    pdus = reassembler.feed_all(scenario.capture()) + reassembler.finish()
    client = scenario.client_host.address.exploded
    wirelab_out = b"".join(p.data for p in pdus if p.src.host == client)
    wirelab_back = b"".join(p.data for p in pdus if p.src.host != client)
    follow = tshark("-r", str(pcaps[name]), "-q", "-z", "follow,tcp,raw,0")
    out, back = bytearray(), bytearray()
    for line in follow.splitlines():
        text = line.strip()
        if not text or text.startswith(("=", "Follow:", "Filter:", "Node ")):
            continue
        # Raw follow output: node 0's chunks flush left, node 1's indented by a tab.
        (back if line.startswith("\t") else out).extend(bytes.fromhex(text))
    assert out and back
    assert bytes(out) == wirelab_out
    assert bytes(back) == wirelab_back


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_websocket_frames_agree_with_wirelab(name: str, pcaps: dict[str, Path]) -> None:
    require_tshark()
    path = pcaps[name]
    theirs = tshark_frames(path)
    ours = wirelab_frames(wirelab_json(path))
    assert theirs, "tshark found no WebSocket frames"
    assert ours == theirs
    # Client frames masked, server frames not (RFC 6455 §5.1).
    opcodes = {frame.opcode for frame in theirs}
    assert 0x8 in opcodes  # the closing handshake is there


@pytest.mark.parametrize(
    ("client_buffer", "server_buffer", "scaled"),
    [(65_535, 262_144, True), (200_000, 65_535, True), (65_535, 65_535, False)],
)
def test_tshark_scales_every_window_as_wirelab_does(
    client_buffer: int, server_buffer: int, scaled: bool, tmp_path: Path
) -> None:
    """RFC 7323: tshark's calculated window (`tcp.window_size`) of every segment is
    wirelab's, the Window field times the sender's scale once both SYNs offered it."""
    require_tshark()
    from simulator.dissect.stream_view import StreamDissector
    from simulator.network import Scenario
    from simulator.tcp import TcpConfig
    from simulator.trace.records import Trace

    scenario = Scenario(
        seed=5,
        client_tcp=TcpConfig(receive_buffer=client_buffer, window_scale=scaled),
        server_tcp=TcpConfig(receive_buffer=server_buffer, window_scale=scaled),
    )
    scenario.open()
    scenario.send_binary(bytes(300_000))
    scenario.close()
    scenario.finish()
    path = tmp_path / "scaled.pcap"
    scenario.write_pcap(path)
    trace = Trace(scenario.capture(None))
    dissect = StreamDissector(trace)
    ours = []
    for record in trace:
        fields = {f.name: f.value for _, f in dissect(record).walk()}
        ours.append(fields.get("tcp.window_size", fields.get("tcp.window")))
    theirs = tshark("-r", str(path), "-T", "fields", "-e", "tcp.window_size").split()
    assert [int(v) for v in theirs] == ours
    biggest = max(v for v in ours if isinstance(v, int))
    assert biggest > 65_535 if scaled else biggest <= 65_535
