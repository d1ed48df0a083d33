"""The simulated network end to end: the real engine over the TCP model over routed IPv4."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

import pytest

from simulator.ip import icmp
from simulator.network import Scenario
from simulator.network.scenario import tcp_payload_length
from simulator.network.scenarios import BUILT_IN, run_built_in
from simulator.tcp import Reset, State, StateChanged
from simulator.trace import open_capture
from simulator.trace.records import WireRecord
from simulator.trace.segments import ACK, FIN, PSH, SYN, Segment, tcp_segment
from simulator.trace.streams import Reassembler
from simulator.ws import BinaryMessage, CloseReceived, Pong, TextMessage
from simulator.ws.frames import parse_frames
from simulator.ws.handshake import accept_key


def segments(records: Iterable[WireRecord]) -> list[Segment]:
    out = []
    for record in records:
        segment = tcp_segment(record)
        assert segment is not None, record
        out.append(segment)
    return out


def states(scenario: Scenario, host: str) -> list[str]:
    node = scenario.network.nodes[host]
    return [
        note.event.new.value
        for note in node.tcp.log  # type: ignore[attr-defined]
        if isinstance(note.event, StateChanged)
    ]


# --- one link: the handshake, the upgrade, the echo, the close -----------------------------


def test_handshake_numbers_on_the_wire() -> None:
    scenario = Scenario(seed=3)
    step = scenario.connect()
    syn, syn_ack, ack = segments(scenario.trace[step.first : step.end])
    client = scenario.client.socket
    assert client is not None
    session_socket = scenario.server_host.tcp.sockets[
        (80, client.local, client.endpoint.local_port)
    ]
    isn_c, isn_s = client.endpoint.iss, session_socket.endpoint.iss
    assert (syn.flags, syn.seq, syn.ack) == (SYN, isn_c, 0)
    assert (syn_ack.flags, syn_ack.seq, syn_ack.ack) == (SYN | ACK, isn_s, (isn_c + 1) % 2**32)
    assert (ack.flags, ack.seq, ack.ack) == (ACK, (isn_c + 1) % 2**32, (isn_s + 1) % 2**32)
    # The MSS option rides on the SYN and the SYN-ACK only.
    raw = [r.data for r in scenario.trace[step.first : step.end]]
    assert [data[20 + 12] >> 4 for data in raw] == [6, 6, 5]
    assert raw[0][40:44] == bytes([2, 4]) + (1460).to_bytes(2, "big")
    assert states(scenario, "client") == ["SYN-SENT", "ESTABLISHED"]
    assert states(scenario, "server") == ["LISTEN", "SYN-RECEIVED", "ESTABLISHED"]


def test_the_real_engine_runs_on_both_hosts() -> None:
    scenario = Scenario(seed=1)
    scenario.open()
    step = scenario.send_text("Hello, wirelab!")
    scenario.ping(b"still there?")
    scenario.close(1000, "bye")
    scenario.finish()
    # The echo came back through the engine on both sides.
    assert [e for e in scenario.client.events if isinstance(e, TextMessage)] == [
        TextMessage("Hello, wirelab!")
    ]
    assert Pong(b"still there?") in scenario.client.events
    assert any(isinstance(e, CloseReceived) and e.code == 1000 for e in scenario.client.events)
    # The step holds the masked frame out and the unmasked echo back, with their ACKs.
    data = [s for s in segments(scenario.trace[step.first : step.end]) if s.payload]
    assert len(data) == 2
    (out,), _ = parse_frames(data[0].payload)
    (back,), _ = parse_frames(data[1].payload)
    assert out.masked and out.payload == b"Hello, wirelab!"
    assert not back.masked and back.payload == b"Hello, wirelab!"
    # The handshake bytes are the engine's: the accept value matches the key sent.
    reassembler = Reassembler()
    pdus = reassembler.feed_all(scenario.capture()) + reassembler.finish()
    request, response = (p.data for p in pdus if p.kind == "http")
    key = next(
        line.split(b": ")[1]
        for line in request.split(b"\r\n")
        if line.startswith(b"Sec-WebSocket-Key")
    )
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert f"Sec-WebSocket-Accept: {accept_key(key.decode())}".encode() in response


def test_teardown_server_closes_tcp_first_then_time_wait_ends() -> None:
    scenario = Scenario(seed=2)
    scenario.open()
    scenario.close()
    # RFC 6455 §7.1.1: the server closes the TCP connection first, so TIME-WAIT is its.
    assert states(scenario, "server")[-3:] == ["FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT"]
    assert states(scenario, "client")[-3:] == ["CLOSE-WAIT", "LAST-ACK", "CLOSED"]
    assert scenario.network.sim.quiet  # TIME-WAIT alone does not keep the step going
    step = scenario.finish()
    assert states(scenario, "server")[-1] == "CLOSED"
    assert step.stop - step.start >= 2 * 30.0 - 1  # 2 × MSL
    assert not scenario.server_host.tcp.sockets and not scenario.client_host.tcp.sockets
    fins = [s for s in segments(scenario.capture()) if s.flags & FIN]
    assert len(fins) == 2


def test_a_closed_port_answers_with_a_reset() -> None:
    scenario = Scenario(seed=0)
    sock = scenario.client_host.tcp.connect(scenario.server_host.address, 81)
    scenario.advance()
    syn, rst = segments(scenario.capture())
    assert rst.rst and rst.ack == (syn.seq + 1) % 2**32
    assert sock.state is State.CLOSED
    assert any(isinstance(n.event, Reset) for n in scenario.client_host.tcp.log)


# --- routing --------------------------------------------------------------------------------


def test_each_packet_once_per_link_ttl_down_one_per_router() -> None:
    scenario = Scenario(seed=0, routers=3)
    scenario.open()
    step = scenario.send_text("hop hop hop")
    first = scenario.trace[step.first]  # the client's frame, on its own link
    assert first.interface == scenario.capture_link().index
    copies = [
        r
        for r in scenario.trace
        if r.data[4:6] == first.data[4:6] and r.data[12:16] == first.data[12:16]
    ]
    assert [r.interface for r in copies] == [0, 1, 2, 3]
    assert [r.data[8] for r in copies] == [64, 63, 62, 61]
    assert len({r.data[20:] for r in copies}) == 1  # only the IP header changes on the way
    for link in scenario.links:
        capture = scenario.capture(link.name)
        assert [r.index for r in capture] == list(range(len(capture)))
    decisions = [f for f in scenario.network.forwarding if f.record == copies[0].index]
    assert [d.router for d in decisions] == ["r1"]
    assert decisions[0].decision is not None and decisions[0].decision.route is not None


def test_traceroute_finds_every_router_then_the_server() -> None:
    scenario = Scenario(seed=0, routers=3)
    scenario.traceroute()
    answers = scenario.client_host.icmp_received
    kinds = [(message.type, message.code) for _, _, message in answers]
    assert kinds == [(icmp.TIME_EXCEEDED, 0)] * 3 + [(icmp.ECHO_REPLY, 0)]
    sources = [
        ipaddress.IPv4Address(scenario.trace[record].data[12:16]) for _, record, _ in answers
    ]
    # Each router answers from the interface facing the client.
    expected = [scenario.node(f"r{i}").interfaces[0].ip for i in (1, 2, 3)]
    assert sources == [*expected, scenario.server_host.address]
    expired = [f for f in scenario.network.forwarding if "TTL expired" in f.action]
    assert [f.router for f in expired] == ["r1", "r2", "r3"]


def test_no_route_means_icmp_unreachable_from_that_router() -> None:
    scenario = Scenario(seed=0, routers=2)
    server_net = str(scenario.server_host.interfaces[0].address.network)
    scenario.remove_route("r2", server_net)
    scenario.connect()
    # Each SYN (the first and its retransmissions) is answered by r2, from its interface
    # towards the client; none gets further.
    answers = scenario.client_host.icmp_received
    syns = [r for r in scenario.capture() if r.data[12:16] == scenario.client_host.address.packed]
    assert len(answers) == len(syns) >= 2
    for _, record, message in answers:
        assert (message.type, message.code) == (icmp.DEST_UNREACHABLE, icmp.NET_UNREACHABLE)
        assert scenario.trace[record].data[12:16] == scenario.node("r2").interfaces[0].packed
    refusals = [f for f in scenario.network.forwarding if f.action.startswith("no route")]
    assert {f.router for f in refusals} == {"r2"} and len(refusals) == len(syns)
    decision = refusals[0].decision
    assert decision is not None and decision.route is None and "unreachable" in decision.reason
    assert not scenario.capture(scenario.links[-1].name)  # nothing reached the server's link


def test_a_changed_route_is_used_from_the_next_packet() -> None:
    scenario = Scenario(seed=0, routers=2)
    scenario.open()
    # A more specific route for the server alone, via the same neighbour: longest prefix wins.
    server = scenario.server_host.address
    via = scenario.node("r2").interfaces[0].ip
    scenario.set_route("r1", f"{server}/32", via=str(via))
    step = scenario.send_text("which row?")
    at_r1 = [f for f in scenario.network.forwarding if f.router == "r1" and f.record >= step.first]
    client_side = [f for f in at_r1 if scenario.trace[f.record].data[16:20] == server.packed]
    assert client_side and all(
        f.decision is not None and f.decision.route is not None
        and f.decision.route.prefix.prefixlen == 32
        for f in client_side
    )  # fmt: skip


# --- flow control and loss ------------------------------------------------------------------


def test_slow_reader_window_goes_to_zero_and_opens_again() -> None:
    scenario = run_built_in("flow-control-slow-reader", 0)
    server = scenario.server_host.address.packed
    capture = scenario.capture()
    windows = [
        s.window
        for r, s in zip(capture, segments(capture), strict=True)
        if r.data[12:16] == server and not s.syn
    ]
    assert max(windows) <= 4096
    zero = windows.index(0)
    assert any(w > 0 for w in windows[zero:])  # reopened
    assert scenario.session().received_bytes >= 20480
    (message,) = [e for e in scenario.session().events if isinstance(e, BinaryMessage)]
    assert message.data == bytes(range(256)) * 80


def test_a_lost_segment_is_sent_again_and_delivered_once() -> None:
    scenario = run_built_in("lost-segment", 0)
    (drop,) = scenario.network.drops
    lost = tcp_segment(scenario.trace[drop.record])
    assert lost is not None and lost.payload
    again = [
        s for s in segments(scenario.capture()) if s.seq == lost.seq and s.payload == lost.payload
    ]
    assert len(again) == 2  # the original (seen on the link before it was lost) and the resend
    texts = [e for e in scenario.client.events if isinstance(e, TextMessage)]
    assert texts == [TextMessage("This segment is lost once, then sent again.")]


# --- capture files and determinism ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_same_seed_same_bytes(name: str, tmp_path: Path) -> None:
    run_built_in(name, 5).write_pcap(tmp_path / "a.pcap")
    run_built_in(name, 5).write_pcap(tmp_path / "b.pcap")
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def _shape(scenario: Scenario) -> list[tuple[object, ...]]:
    """Each packet with what a seed may change taken out: sequence numbers relative to
    each side's ISN, payloads unmasked, the handshake's nonce and accept value hidden."""
    isn: dict[tuple[str, int], int] = {}
    out: list[tuple[object, ...]] = []
    for record in scenario.capture():
        s = tcp_segment(record)
        if s is None:
            out.append((record.time, record.data))
            continue
        src, dst = (s.src.host, s.src.port), (s.dst.host, s.dst.port)
        if s.syn:
            isn[src] = s.seq
        seq = (s.seq - isn[src]) % 2**32
        ack = (s.ack - isn[dst]) % 2**32 if s.flags & ACK and dst in isn else 0
        out.append(
            (
                record.time,
                record.data[:4],
                record.data[6:10],
                s.flags & ~PSH,
                seq,
                ack,
                s.window,
                len(s.payload),
            )
        )
    return out


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_another_seed_changes_only_isns_and_masks(name: str) -> None:
    a, b = run_built_in(name, 1), run_built_in(name, 2)
    assert _shape(a) == _shape(b)
    messages = [[str(e) for e in peer.events] for s in (a, b) for peer in (s.client, s.session())]
    assert messages[:2] == messages[2:]
    syn_a, syn_b = (next(filter(None, map(tcp_segment, s.capture()))) for s in (a, b))
    assert syn_a.syn and syn_b.syn and syn_a.seq != syn_b.seq


def test_write_pcap_at_a_link_and_all_links(tmp_path: Path) -> None:
    scenario = run_built_in("routed-three-hops", 0)
    scenario.write_pcap(tmp_path / "r2.pcap", at="r2-r3")
    scenario.write_pcap(tmp_path / "all.pcapng", all_links=True)
    with open_capture(tmp_path / "r2.pcap") as one:
        one.index()
        assert len(one) == len(scenario.capture("r2-r3"))
    with open_capture(tmp_path / "all.pcapng") as every:
        every.index()
        assert len(every) == len(scenario.trace)
        assert [i.name for i in every.interfaces] == [link.name for link in scenario.links]


def test_payload_length_helper() -> None:
    scenario = Scenario(seed=0)
    scenario.open()
    lengths = [tcp_payload_length(r.data) for r in scenario.capture()]
    assert lengths[:3] == [0, 0, 0] and max(lengths) > 100


def test_a_closed_port_answers_a_syn_with_rst_ack() -> None:
    """RFC 9293 §3.10.7.1: no connection exists, so the SYN gets <SEQ=0><ACK=SEG.SEQ+1>
    <CTL=RST,ACK>; the client's connection ends there, and nothing is resent."""
    from simulator.trace.segments import ACK, RST, tcp_segment

    scenario = Scenario(seed=3)
    step = scenario.connect_port(81)
    segments = [tcp_segment(record) for record in scenario.trace]
    assert len(segments) == 2 == step.end - step.first
    syn, rst = segments
    assert syn is not None and rst is not None
    assert (syn.dst.port, rst.src.port) == (81, 81)
    assert rst.flags == RST | ACK and rst.seq == 0 and rst.ack == syn.seq + 1
    scenario.finish()
    assert len(scenario.trace) == 2
