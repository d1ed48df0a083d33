"""`wirelab serve --capture`: the kernel's loopback packets of the server's connections.

Capturing needs root or CAP_NET_RAW: where this process has neither, the capture
tests are skipped with the reason `can_capture()` gives; the no-permission path
itself is tested everywhere by making the socket refuse.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from pathlib import Path

import pytest

from simulator.live import Server, connect, sniff, trace_tap
from simulator.live.sniff import (
    KERNEL_INTERFACE,
    CaptureUnavailable,
    KernelCapture,
    can_capture,
)
from simulator.trace import Layer, Trace, open_capture
from simulator.trace.segments import ACK, FIN, SYN, tcp_segment
from simulator.ws import TextMessage
from tests.live.support import STEP, run, wirelab

WHY_NOT = can_capture()
needs_capture = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


async def captured_session(trace: Trace, messages: list[str]) -> tuple[int, int]:
    """A server with the kernel capture on; one client says `messages` and closes.
    Returns (server port, client port)."""
    server = Server(host="127.0.0.1", port=0, tap=trace_tap(trace))
    await server.start()
    capture = KernelCapture(trace, server.port, loop=asyncio.get_running_loop())
    capture.start()
    try:
        await asyncio.sleep(0.2)  # the sniffer thread gets going
        client = await connect(server.url + "echo")
        assert client.info is not None
        for text in messages:
            client.send_text(text)
            assert await client.recv(STEP) == TextMessage(text)
        await client.close()
        await asyncio.sleep(0.3)  # the last ACK of the teardown
        return server.port, client.info.local[1]
    finally:
        capture.stop()
        await server.shutdown()


@needs_capture
def test_the_kernel_handshake_segments_and_teardown_are_captured() -> None:
    trace = Trace()
    messages = [f"message {n}" for n in range(20)]
    port, client_port = run(captured_session(trace, messages), timeout=20)
    kernel = [r for r in trace if r.layer is Layer.LINK]
    assert all(r.interface == KERNEL_INTERFACE for r in kernel)
    segments = [s for s in map(tcp_segment, kernel) if s is not None]
    assert len(segments) == len(kernel)
    ports = {s.src.port for s in segments} | {s.dst.port for s in segments}
    assert ports == {port, client_port}  # this connection only
    # The three-way handshake, first.
    syn, syn_ack, ack = segments[:3]
    assert syn.flags & (SYN | ACK) == SYN and syn.dst.port == port
    assert syn_ack.flags & (SYN | ACK) == SYN | ACK and syn_ack.ack == syn.seq + 1
    assert ack.flags & (SYN | ACK) == ACK and ack.ack == syn_ack.seq + 1
    # Each side's payload bytes, in sequence order, are what its socket wrote.
    for sender, isn in ((client_port, syn.seq), (port, syn_ack.seq)):
        data = {s.seq - isn - 1: s.payload for s in segments if s.src.port == sender and s.payload}
        joined = b"".join(data[offset] for offset in sorted(data))
        written = b"".join(
            r.data for r in trace if r.layer is Layer.STREAM and r.src and r.src.port == sender
        )
        assert joined == written
    # Both sides' FINs, each acknowledged.
    fins = [s for s in segments if s.flags & FIN]
    assert {s.src.port for s in fins} == {port, client_port}
    for fin in fins:
        assert any(s.ack == fin.seq + 1 and s.src == fin.dst for s in segments)
    # Loopback packets are seen leaving and arriving: each is kept once.
    datas = [r.data for r in kernel]
    assert not any(a == b for a, b in itertools.pairwise(datas))


def test_without_permission_it_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import scapy.arch  # noqa: F401
    from scapy.config import conf

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(conf, "L2listen", refuse)
    reason = sniff.can_capture()
    assert reason is not None and "\n" not in reason
    assert "root or CAP_NET_RAW" in reason and "carrying on" in reason

    async def start() -> None:
        KernelCapture(Trace(), 1, loop=asyncio.get_running_loop()).start()

    with pytest.raises(CaptureUnavailable, match="CAP_NET_RAW"):
        asyncio.run(start())


def test_a_missing_interface_is_a_clear_line_too() -> None:
    reason = can_capture("no-such-if0")
    assert reason is not None and reason.startswith("cannot capture on no-such-if0")
    assert "\n" not in reason


def test_headless_capture_needs_a_file_to_keep_the_packets() -> None:
    result = wirelab("serve", "--headless", "--port", "0", "--capture")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "wirelab: --capture without the TUI needs --record FILE to keep the packets"
    )


@needs_capture
def test_serve_records_the_kernel_packets(tmp_path: Path, serve_process: type) -> None:
    path = tmp_path / "kernel.pcap"
    serve = serve_process("--capture", "--record", str(path))
    serve.wait_line(r"^capturing the kernel's packets of port \d+ on lo$", timeout=20)

    async def talk() -> None:
        client = await connect(serve.url + "echo")
        client.send_text("through the kernel")
        assert await client.recv(STEP) == TextMessage("through the kernel")
        await client.close()

    run(talk())
    assert serve.signal(signal.SIGTERM) == 0
    serve.wait_line(r"^wrote \d+ packets", timeout=10)
    capture = open_capture(path)
    capture.index()
    segments = [tcp_segment(capture.record(i)) for i in range(len(capture))]
    assert segments[0] is not None and segments[0].flags & (SYN | ACK) == SYN
    assert any(s is not None and s.payload.startswith(b"GET /echo HTTP/1.1") for s in segments)
    assert sum(1 for s in segments if s is not None and s.flags & FIN) == 2
