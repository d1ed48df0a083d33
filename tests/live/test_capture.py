"""The kernel's loopback packets of the server's own connections (`simulator.live.capture`).

Capturing needs root or CAP_NET_RAW. Where this process has neither, the tests that
capture are skipped with the reason `can_capture()` gives. The rest run everywhere:
the no-permission path (the socket is made to refuse) and the packet filter, run
here on packets scapy builds by a small interpreter of the BPF instructions it uses.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import struct
import threading
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from simulator.ip.checksum import internet_checksum
from simulator.live import Server, connect, site, trace_tap
from simulator.live.capture import (
    KERNEL_INTERFACE,
    SNAPLEN,
    CaptureStats,
    CaptureUnavailable,
    can_capture,
    start_capture,
    tcp_port_filter,
)
from simulator.trace import Layer, LinkType, Trace, WireRecord, open_capture
from simulator.trace.segments import ACK, FIN, RST, SYN, Segment, tcp_segment
from simulator.ws import TextMessage
from tests.live.support import STEP, run, wirelab

WHY_NOT = can_capture()
needs_capture = pytest.mark.skipif(WHY_NOT is not None, reason=f"{WHY_NOT}")

PACKET_HOST, PACKET_OUTGOING = 0, 4


async def session(trace: Trace, messages: list[str]) -> tuple[int, int, CaptureStats]:
    """A server on a free port with the capture on; one client says `messages`, each echoed,
    and closes. Returns (server port, client port, the capture's stats)."""
    server = site(host="127.0.0.1", port=0, tap=trace_tap(trace))
    await server.start()
    capture = start_capture(trace, server.port)  # before any client: the SYN is seen
    try:
        client = await connect(server.url + "echo")
        assert client.info is not None
        for text in messages:
            client.send_text(text)
            assert await client.recv(STEP) == TextMessage(text)
        await client.close()
        fins = 0
        for _ in range(50):  # the teardown's last ACK reaches the capture: bounded wait
            await asyncio.sleep(0.02)
            kernel = [s for s in segments_of(trace) if s.flags & FIN]
            if (fins := len(kernel)) == 2:
                break
        assert fins == 2
        await asyncio.sleep(0.05)
        return server.port, client.info.local[1], await capture.aclose()
    finally:
        capture.stop()  # a second stop is harmless
        await server.shutdown()


def kernel_records(trace: Trace) -> list[WireRecord]:
    return [r for r in trace if r.layer is Layer.LINK]


def segments_of(trace: Trace) -> list[Segment]:
    found = [tcp_segment(r) for r in kernel_records(trace)]
    assert all(s is not None for s in found)
    return [s for s in found if s is not None]


def stream_from(segments: list[Segment], sender: int, isn: int) -> bytes:
    """The bytes `sender` sent, placed by sequence number (RFC 9293 §3.4: the first data
    byte is ISN + 1); each offset once."""
    data: dict[int, bytes] = {}
    for s in segments:
        if s.src.port == sender and s.payload:
            data.setdefault((s.seq - isn - 1) & 0xFFFFFFFF, s.payload)
    joined = bytearray()
    for offset in sorted(data):
        assert offset <= len(joined), f"a gap before offset {offset}: a packet was lost"
        joined[offset : offset + len(data[offset])] = data[offset]
    return bytes(joined)


@needs_capture
def test_the_kernel_handshake_data_and_teardown_are_captured() -> None:
    trace = Trace()
    messages = [f"message {n}" for n in range(200)]
    port, client_port, stats = run(session(trace, messages), timeout=30)
    kernel = kernel_records(trace)
    assert all(r.link_type == LinkType.ETHERNET for r in kernel)
    assert all(r.interface == KERNEL_INTERFACE for r in kernel)
    # Real timestamps, in capture order, within the socket tap's span.
    stream_times = [r.time for r in trace if r.layer is Layer.STREAM]
    times = [r.time for r in kernel]
    assert times == sorted(times)
    assert times[0] <= stream_times[0] and stream_times[-1] <= times[-1]
    segments = segments_of(trace)
    assert {(s.src.port, s.dst.port) for s in segments} == {
        (port, client_port),
        (client_port, port),
    }
    assert not any(s.flags & RST for s in segments)
    # The three-way handshake comes first (RFC 9293 §3.5).
    syn, syn_ack, ack = segments[:3]
    assert syn.flags & (SYN | ACK) == SYN and syn.dst.port == port
    assert syn_ack.flags & (SYN | ACK) == SYN | ACK and syn_ack.ack == (syn.seq + 1) & 0xFFFFFFFF
    assert ack.flags & (SYN | ACK) == ACK and ack.ack == (syn_ack.seq + 1) & 0xFFFFFFFF
    assert not any(s.flags & SYN for s in segments[3:])
    # Each side's data, reassembled from the packets, is what its socket wrote; the
    # loopback interface shows each packet once (the leaving copy is filtered out).
    for sender, isn in ((client_port, syn.seq), (port, syn_ack.seq)):
        written = b"".join(
            r.data for r in trace if r.layer is Layer.STREAM and r.src and r.src.port == sender
        )
        assert stream_from(segments, sender, isn) == written
    assert sum(len(s.payload) for s in segments) == sum(
        len(r.data) for r in trace if r.layer is Layer.STREAM
    )
    # Both FINs, each acknowledged (RFC 9293 §3.6), and nothing after the last ACK.
    fins = [s for s in segments if s.flags & FIN]
    assert sorted(s.src.port for s in fins) == sorted((port, client_port))
    for fin in fins:
        assert any(s.src == fin.dst and s.ack == (fin.seq + 1) & 0xFFFFFFFF for s in segments)
    assert stats == CaptureStats(len(kernel), 0)  # every packet appended, none dropped


@needs_capture
def test_checksums_ip_correct_tcp_left_to_offload() -> None:
    """The IPv4 header checksum is always computed. The TCP checksum is either correct or,
    with checksum offload (what the loopback device announces), only the pseudo-header's
    sum, which a network card would complete and the loopback device never needs."""
    trace = Trace()
    run(session(trace, ["checksums"]), timeout=20)
    kinds = set()
    for record in kernel_records(trace):
        ip = record.data[14:]
        header = ip[: (ip[0] & 0x0F) * 4]
        assert internet_checksum(header) == 0
        (total,) = struct.unpack("!H", ip[2:4])
        segment = ip[len(header) : total]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(segment))
        field = int.from_bytes(segment[16:18], "big")
        if internet_checksum(pseudo + segment) == 0:
            kinds.add("correct")
        else:
            assert field == ~internet_checksum(pseudo) & 0xFFFF  # the partial sum
            kinds.add("partial")
    assert kinds  # which of the two this kernel gives is reported, not assumed


@needs_capture
def test_only_the_servers_port_and_records_are_appended_on_the_loop() -> None:
    trace = Trace()
    threads: set[int] = set()
    trace.subscribe(lambda record: threads.add(threading.get_ident()))

    async def two_servers() -> tuple[int, int]:
        other = Server(host="127.0.0.1", port=0)
        await other.start()
        try:
            port, _, _ = await session_with_noise(trace, other)
        finally:
            await other.shutdown()
        return port, other.port

    async def session_with_noise(trace: Trace, other: Server) -> tuple[int, int, CaptureStats]:
        noise = await connect(other.url + "echo")
        try:
            noise.send_text("not for this capture")
            result = await session(trace, ["hello"])
            noise.send_text("nor this")
            assert await noise.recv(STEP) == TextMessage("not for this capture")
        finally:
            await noise.close()
        return result

    loop_thread: list[int] = []

    async def main() -> tuple[int, int]:
        loop_thread.append(threading.get_ident())
        return await two_servers()

    port, other_port = run(main(), timeout=20)
    segments = segments_of(trace)
    assert segments and all(port in (s.src.port, s.dst.port) for s in segments)
    assert not any(other_port in (s.src.port, s.dst.port) for s in segments)
    assert threads == set(loop_thread)  # the reader thread never touched the trace
    assert not [t for t in threading.enumerate() if t.name.startswith("capture ")]


@needs_capture
def test_stop_is_prompt_idempotent_and_leaves_no_thread() -> None:
    async def main() -> None:
        capture = start_capture(Trace(), 9)
        assert capture.running
        first = capture.stop()
        running: bool = capture.running  # read afresh: mypy still holds the True above
        assert not running
        assert capture.stop() == first == CaptureStats(0, 0)
        assert await capture.aclose() == first

    run(main())
    assert not [t for t in threading.enumerate() if t.name.startswith("capture ")]


def test_without_permission_it_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import scapy.arch.linux

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(scapy.arch.linux, "L2ListenSocket", refuse)
    reason = can_capture()
    assert reason == (
        "cannot capture the kernel's packets on lo: capturing needs root or CAP_NET_RAW "
        "(run with sudo, or setcap cap_net_raw+ep on the Python interpreter); "
        "carrying on without them"
    )

    async def start() -> None:
        start_capture(Trace(), 8765)

    with pytest.raises(CaptureUnavailable) as caught:
        run(start())
    assert str(caught.value) == reason
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_missing_interface_is_one_line_too() -> None:
    reason = can_capture("no-such-if0")
    assert reason is not None and "\n" not in reason
    assert reason.startswith("cannot capture the kernel's packets on no-such-if0: ")
    assert reason.endswith("; carrying on without them")


# --- the filter, on packets scapy builds -----------------------------------------------


def run_bpf(program: bytes, packet: bytes, pkttype: int) -> int:
    """Classic BPF, just the instructions the filter uses: how many bytes it keeps."""
    insns = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    a = x = pc = 0
    for _ in range(len(insns)):  # jumps only go forward
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20 and k == 0xFFFFF004:  # ld #pkttype (ancillary)
            a = pkttype
        elif code in (0x20, 0x28, 0x30, 0x48):  # ld [k] / ldh [k] / ldb [k] / ldh [x + k]
            at = k + (x if code == 0x48 else 0)
            size = {0x20: 4, 0x28: 2, 0x30: 1, 0x48: 2}[code]
            if at + size > len(packet):
                return 0
            a = int.from_bytes(packet[at : at + size], "big")
        elif code == 0xB1:  # ldxb 4 * ([k] & 0xf)
            x = 4 * (packet[k] & 0x0F)
        elif code in (0x15, 0x45):  # jeq #k / jset #k
            pc += jt if (a == k if code == 0x15 else a & k) else jf
        elif code == 0x06:  # ret #k
            return int(k)
        else:
            raise AssertionError(f"instruction {code:#x} not understood")
    raise AssertionError("the program ran off its end")


PORT = 8765


@pytest.mark.parametrize(
    ("packet", "pkttype", "kept"),
    [
        (Ether() / IP() / TCP(sport=40000, dport=PORT), PACKET_HOST, True),
        (Ether() / IP() / TCP(sport=PORT, dport=40000, flags="SA"), PACKET_HOST, True),
        (Ether() / IPv6() / TCP(sport=40000, dport=PORT), PACKET_HOST, True),
        (Ether() / IPv6() / TCP(sport=PORT, dport=40000), PACKET_HOST, True),
        (Ether() / IP(options=b"\x01" * 4) / TCP(sport=40000, dport=PORT), PACKET_HOST, True),
        # the copy seen leaving: loopback shows every packet twice
        (Ether() / IP() / TCP(sport=40000, dport=PORT), PACKET_OUTGOING, False),
        (Ether() / IP() / TCP(sport=40000, dport=PORT + 1), PACKET_HOST, False),
        (Ether() / IPv6() / TCP(sport=PORT + 1, dport=40000), PACKET_HOST, False),
        (Ether() / IP() / UDP(sport=40000, dport=PORT), PACKET_HOST, False),
        (Ether() / IP(frag=100, proto=6) / (b"\x22\x3d" * 20), PACKET_HOST, False),
    ],
)
def test_the_filter_keeps_arriving_tcp_of_the_port(packet: Ether, pkttype: int, kept: bool) -> None:
    assert run_bpf(tcp_port_filter(PORT), bytes(packet), pkttype) == (SNAPLEN if kept else 0)


# --- the command line ----------------------------------------------------------------------


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
