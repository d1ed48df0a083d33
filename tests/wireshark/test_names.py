"""A Wireshark user's filter means in wirelab what it means in Wireshark: every registered
name tshark also knows, on every built-in scenario and on a real loopback capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.network.scenarios import BUILT_IN, run_built_in
from tests.live.support import run
from tests.wireshark.names import disagreements, shared_names
from tests.wireshark.support import require_tshark
from tests.wireshark.test_agreement import Capture, captured_session

# Named in the issue the names were asked for: each must be one tshark shares with us.
ASKED = (
    "frame.number", "frame.len", "frame.time_relative", "tcp.stream", "tcp.len", "tcp.seq",
    "tcp.ack", "tcp.seq_raw", "tcp.ack_raw", "http.request.method", "http.request.uri",
    "http.request.version", "http.response.code", "http.response.phrase", "http.host",
    "http.user_agent", "http.content_length", "http.upgrade", "websocket.opcode",
    "websocket.mask", "websocket.masking_key", "websocket.fin", "websocket.payload_length",
    "ip.ttl", "ip.flags.df", "icmp.type", "icmp.code", "tcp.flags.reset", "ip.addr",
    "tcp.port",
)  # fmt: skip


def test_every_name_asked_for_is_shared() -> None:
    require_tshark()
    shared = {name for name, _ in shared_names()}
    assert set(ASKED) <= shared, sorted(set(ASKED) - shared)


@pytest.mark.parametrize("scenario", list(BUILT_IN))
def test_scenarios(scenario: str, tmp_path: Path) -> None:
    require_tshark()
    path = tmp_path / f"{scenario}.pcap"
    run_built_in(scenario, 0).write_pcap(path)
    assert disagreements(path) == []


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    require_tshark()
    path = tmp_path_factory.mktemp("names") / "session.pcapng"
    return Capture("captured", path, run(captured_session(path), timeout=30))


def test_a_real_loopback_capture(loopback: Capture) -> None:
    """Our client and the `websockets` library's against our server, captured by tshark."""
    assert disagreements(loopback.path, *loopback.decode) == []
