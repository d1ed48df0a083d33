"""Simulation benchmark: a 10 MiB WebSocket message over three routers with 1% loss.

Measures, as the median of several runs in one process:

- the wall time of the whole scenario (TCP handshake, upgrade, the message,
  the closing handshake, teardown), and simulated segments per second: the TCP
  segments the two hosts sent, and the packets that crossed a link (each
  segment crosses four links);
- the pcap export of that run: the client's link (pcap) and every link (pcapng);
- side by side with scapy, the same packets built and parsed: wirelab's
  builder (`simulator.ip.build_ipv4` over `simulator.tcp.wire.encode`) against
  `bytes(IP()/TCP()/Raw())`, and the lean reader the simulation uses against
  `IP(bytes)`, on a sample of the run's own packets (checked equal first).

Progress goes to stderr, the report to stdout (`--json` for a document).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script

from simulator.network.scenario import tcp_payload_length
from simulator.network.scenarios import bulk_transfer
from simulator.tcp import wire

MIB = 1 << 20
SAMPLE = 2000  # packets built and parsed both ways


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def one_run(size: int, seed: int, loss: float) -> dict[str, Any]:
    gc.collect()
    started = time.perf_counter()
    scenario = bulk_transfer(seed, size, loss=loss)
    wall = time.perf_counter() - started
    network = scenario.network
    sent = _segments_sent(scenario, "client") + _segments_sent(scenario, "server")
    crossings = len(scenario.trace)
    delivered = sum(session.received_bytes for session in scenario.server.sessions)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        one = scenario.write_pcap(Path(folder) / "client.pcap")
        export_one = time.perf_counter() - started
        started = time.perf_counter()
        scenario.write_pcap(Path(folder) / "all.pcapng", all_links=True)
        export_all = time.perf_counter() - started
    return {
        "wall_s": wall,
        "segments_sent": sent,
        "link_crossings": crossings,
        "segments_per_s": sent / wall,
        "crossings_per_s": crossings / wall,
        "simulated_s": scenario.now,
        "lost": len(network.drops),
        "delivered_bytes": delivered,
        "client_link_packets": one,
        "export_client_link_s": export_one,
        "export_all_links_s": export_all,
        "scenario": scenario,
    }


def _segments_sent(scenario: Any, host: str) -> int:
    """Packets the host itself put on its link (its TCP segments, retransmissions included)."""
    node = scenario.network.nodes[host]
    link = node.interfaces[0].link
    source = node.interfaces[0].packed
    return sum(1 for r in scenario.trace if r.interface == link.index and r.data[12:16] == source)


def scapy_side_by_side(scenario: Any) -> dict[str, float]:
    """Build and parse a sample of the run's packets with wirelab's fast path and scapy."""
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw

    from simulator.ip import build_ipv4

    packets = [r.data for r in scenario.capture() if r.data[9] == 6][:SAMPLE]
    decoded = []
    for data in packets:
        header = (data[0] & 15) * 4
        decoded.append((data, wire.decode(data[header:], data[12:16], data[16:20])))

    def ours_build() -> list[bytes]:
        return [
            build_ipv4(
                d[12:16],
                d[16:20],
                6,
                wire.encode(s, d[12:16], d[16:20]),
                ttl=d[8],
                identification=int.from_bytes(d[4:6], "big"),
            )
            for d, s in decoded
        ]

    def scapy_build() -> list[bytes]:
        out = []
        for d, s in decoded:
            options = [("MSS", s.mss)] if s.mss is not None else []
            pkt = IP(
                src=".".join(map(str, d[12:16])), dst=".".join(map(str, d[16:20])), ttl=d[8],
                id=int.from_bytes(d[4:6], "big"), flags="DF",
            ) / TCP(
                sport=s.src_port, dport=s.dst_port, seq=s.seq, ack=s.ack, flags=s.flags,
                window=s.window, options=options,
            )  # fmt: skip
            if s.payload:
                pkt = pkt / Raw(s.payload)
            out.append(bytes(pkt))
        return out

    def ours_parse() -> int:
        n = 0
        for d in packets:
            header = (d[0] & 15) * 4
            n += len(wire.decode(d[header:], d[12:16], d[16:20]).payload)
        return n

    def scapy_parse() -> int:
        n = 0
        for d in packets:
            n += len(bytes(IP(d)[TCP].payload))
        return n

    ours = ours_build()
    theirs = scapy_build()
    assert ours == packets == theirs, "the fast path and scapy disagree on a packet"
    assert ours_parse() == scapy_parse() == sum(tcp_payload_length(d) for d in packets)
    timings = {}
    for name, fn in (("ours_build", ours_build), ("scapy_build", scapy_build),
                     ("ours_parse", ours_parse), ("scapy_parse", scapy_parse)):  # fmt: skip
        started = time.perf_counter()
        fn()
        timings[name] = len(packets) / (time.perf_counter() - started)
    timings["sample"] = len(packets)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=10 * MIB, help="message bytes (10 MiB)")
    parser.add_argument("--loss", type=float, default=0.01, help="end-to-end loss (0.01)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 run of 1 MiB")
    parser.add_argument("--profile", action="store_true", help="print where one run's time goes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.size = 1, MIB
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(bulk_transfer, args.seed, args.size, loss=args.loss)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    runs = []
    for i in range(args.runs):
        result = one_run(args.size, args.seed, args.loss)
        progress(
            f"run {i + 1}/{args.runs}: {result['wall_s']:.2f} s wall, "
            f"{result['segments_sent']:,} segments, {result['lost']} lost"
        )
        runs.append(result)
    scenario = runs[-1].pop("scenario")
    for r in runs:
        r.pop("scenario", None)
    assert all(r["delivered_bytes"] >= args.size for r in runs), "the message did not arrive"
    progress("scapy side by side …")
    side = scapy_side_by_side(scenario)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    report = {
        "revision": revision(),
        "python": platform.python_version(),
        "size": args.size,
        "loss": args.loss,
        "runs": runs,
        "median": median,
        "scapy": side,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = median
    print(f"wirelab {report['revision']}, Python {report['python']}, median of {args.runs} runs")
    print(f"{args.size / MIB:g} MiB over 3 routers, {args.loss:.0%} loss end to end")
    print(f"  wall time                 {m['wall_s']:8.2f} s")
    print(
        f"  segments sent by hosts    {m['segments_sent']:8,.0f}   ({m['segments_per_s']:,.0f}/s)"
    )
    print(
        f"  link crossings            {m['link_crossings']:8,.0f}   ({m['crossings_per_s']:,.0f}/s)"
    )
    print(f"  packets lost              {m['lost']:8,.0f}")
    print(f"  simulated time            {m['simulated_s']:8.2f} s")
    print(f"  pcap, client link         {m['export_client_link_s']:8.3f} s "
          f"({m['client_link_packets']:,.0f} packets)")  # fmt: skip
    print(f"  pcapng, every link        {m['export_all_links_s']:8.3f} s")
    print(f"side by side with scapy, {side['sample']:,.0f} of the run's packets (identical bytes):")
    print(f"  build  ours {side['ours_build']:10,.0f}/s   scapy {side['scapy_build']:8,.0f}/s"
          f"   {side['ours_build'] / side['scapy_build']:6.1f}×")  # fmt: skip
    print(f"  parse  ours {side['ours_parse']:10,.0f}/s   scapy {side['scapy_parse']:8,.0f}/s"
          f"   {side['ours_parse'] / side['scapy_parse']:6.1f}×")  # fmt: skip


if __name__ == "__main__":
    main()
