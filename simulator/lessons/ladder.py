"""A lesson's ladder (sequence) diagram, as data: who sent which packet to whom, when.

Every record of a simulated trace crossed one link, sent by the node at one
end (`Network.senders`): that is an arrow between two lifelines. Lifelines are
the nodes in line order (clients, routers, server). Labels come from the
dissectors: the packet-list line of the same packet as the client's link saw
it (an IPv4 packet keeps its source and Identification across routers), or the
segment's flags and length where that link did not see it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from simulator.lessons.run import LessonRun
from simulator.network.topology import Host
from simulator.trace.segments import tcp_segment

# "49152 → 80 " or "10.0.0.1 → 10.0.3.2 ": the lifelines already say who talks to whom.
_ENDPOINTS = re.compile(r"^\S+ → \S+ ")


class LadderArrow(NamedTuple):
    number: int  # the packet's number in the whole trace, from 1
    time: float
    src: int  # lifeline indexes
    dst: int
    label: str
    step: int  # the lesson step that caused it
    lost: bool
    shown: int = 0  # its number in its own link's capture, as the lesson and inspector count
    link: str = ""  # the link it crossed, "client-r1"


def lifelines(run: LessonRun) -> list[str]:
    scenario = run.scenario
    names = [host.name for host in scenario.client_hosts]
    names += [router.name for router in scenario.routers]
    names.append(scenario.server_host.name)
    return names


def arrows(
    run: LessonRun,
    labels: dict[tuple[bytes, bytes], str] | None = None,
    *,
    records: range | None = None,
) -> list[LadderArrow]:
    """Every packet of the run (or the trace indexes `records`) as an arrow; `labels` maps
    (source, IPv4 id) to a label."""
    scenario = run.scenario
    network = scenario.network
    columns = {name: i for i, name in enumerate(lifelines(run))}
    links = network.links
    lost = {drop.record for drop in network.drops}
    step_of = _steps(run)
    out = []
    trace = run.trace
    numbers = _link_numbers(run)
    for index in records if records is not None else range(len(trace)):
        record = trace[index]
        link = links[record.interface or 0]
        sender = network.senders[record.index]
        receiver = link.b.node.name if link.a.node.name == sender else link.a.node.name
        data = record.data
        label = (labels or {}).get((data[12:16], data[4:6])) or _label(record.data, record)
        out.append(
            LadderArrow(
                record.index + 1, record.time, columns[sender], columns[receiver], label,
                step_of[record.index], record.index in lost, numbers[record.index], link.name,
            )
        )  # fmt: skip
    return out


def _link_numbers(run: LessonRun) -> list[int]:
    """Each record's number in its own link's capture (from 1): what `packet = N`, "#N"
    with `at`, the text and the inspector call it, one capture per link."""
    seen: dict[int | None, int] = {}
    out = []
    for record in run.trace:
        seen[record.interface] = seen.get(record.interface, 0) + 1
        out.append(seen[record.interface])
    return out


def _steps(run: LessonRun) -> list[int]:
    steps = [0] * len(run.trace)
    for state in run.steps:
        for i in range(state.first, state.end):
            steps[i] = state.index
    return steps


def _label(data: bytes, record: object) -> str:
    if len(data) >= 20 and data[9] == 1:
        kinds = {0: "ICMP echo reply", 3: "ICMP unreachable", 8: "ICMP echo request",
                 11: "ICMP time exceeded"}  # fmt: skip
        header = (data[0] & 0x0F) * 4
        kind = data[header] if len(data) > header else -1
        return f"{kinds.get(kind, f'ICMP type {kind}')} TTL={data[8]}"
    segment = tcp_segment(record)  # type: ignore[arg-type]
    if segment is None:
        return f"IPv4 protocol {data[9]}" if len(data) > 9 else "?"
    flags = segment.flag_names.replace("PSH, ", "")
    length = f" len={segment.payload_length}" if segment.payload_length else ""
    return f"[{flags}]{length}"


def client_link_labels(run: LessonRun, info: list[str]) -> dict[tuple[bytes, bytes], str]:
    """(source, IPv4 id) → the packet list's Info for every packet of the client's link,
    given `info`, that link's Info column in capture order ("" for a packet leaves it out)."""
    trace, _ = run.capture(None)
    return {
        (r.data[12:16], r.data[4:6]): _ENDPOINTS.sub("", text)
        for r, text in zip(trace, info, strict=False)
        if text
    }


def host_names(run: LessonRun) -> dict[str, str]:
    """Node name → its address, for column headers ("client 10.0.0.1")."""
    return {
        name: str(node.address)
        for name, node in run.scenario.network.nodes.items()
        if isinstance(node, Host)
    }


__all__ = ["LadderArrow", "arrows", "client_link_labels", "host_names", "lifelines"]
