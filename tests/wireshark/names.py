"""Wireshark's field names in wirelab's filters: for every registered name that tshark
also knows, the filters `NAME` and `NAME == VALUE` (for values tshark shows) select the
same packets in both tools. Shared by the capture tests here and the browser's."""

from __future__ import annotations

import functools
import itertools
import math
import re
from pathlib import Path

from simulator.dissect.fields import Dissection
from simulator.dissect.filters import compile_filter
from simulator.dissect.registry import Kind, fields
from simulator.dissect.stream_view import StreamDissector
from simulator.trace.pcap import open_capture
from tests.wireshark.support import tshark

VALUES_TRIED = 4  # distinct values a name is compared with, per capture
VALUE_LIMIT = 200  # longer ones (a whole payload in hex) are not tried
SEPARATOR = "\x1f"  # between the values of one field in one packet (text may hold commas)

# Types tshark prints as something other than the value a filter compares with.
_COMPARABLE = {"FT_UINT8", "FT_UINT16", "FT_UINT24", "FT_UINT32", "FT_UINT64", "FT_INT8",
               "FT_INT16", "FT_INT32", "FT_INT64", "FT_BOOLEAN", "FT_STRING", "FT_IPv4",
               "FT_IPv6", "FT_ETHER", "FT_BYTES", "FT_FRAMENUM", "FT_RELATIVE_TIME",
               "FT_ABSOLUTE_TIME", "FT_UINT_STRING", "FT_DOUBLE"}  # fmt: skip


@functools.cache
def wireshark_fields() -> dict[str, str]:
    """tshark's field names and their types."""
    known = {}
    for line in tshark("-G", "fields").splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[0] == "F":
            known[parts[2]] = parts[3]
    return known


def wireshark_name(name: str) -> str:
    """wirelab's `ws.x` is Wireshark's `websocket.x`."""
    return "websocket." + name[3:] if name.startswith("ws.") else name


def shared_names() -> list[tuple[str, str]]:
    """(Wireshark's spelling, its type) of every registered field tshark also knows."""
    theirs = wireshark_fields()
    found = []
    for name, info in sorted(fields().items()):
        spelled = wireshark_name(name)
        kind = theirs.get(spelled)
        if kind is not None and info.kind is not Kind.PROTOCOL and kind in _COMPARABLE:
            found.append((spelled, kind))
    return found


def presence_names() -> list[str]:
    """Registered names tshark knows as a label with no value (FT_NONE): only whether a
    packet has one can be compared (`tcp.analysis.retransmission`)."""
    theirs = wireshark_fields()
    return [wireshark_name(name) for name in sorted(fields())
            if theirs.get(wireshark_name(name)) == "FT_NONE"]  # fmt: skip


def literal(value: str, kind: str) -> str:
    """A value as tshark printed it, written as a filter value."""
    if kind == "FT_STRING" or kind == "FT_UINT_STRING":
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if kind == "FT_BYTES":
        return ":".join(re.findall("..", value)) if len(value) > 2 else f"{value}:"[:-1]
    return value


def dissect_all(path: Path) -> list[Dissection]:
    capture = open_capture(path)
    capture.index()
    stream = StreamDissector(capture, relative=True)
    return [stream(capture.record(i)) for i in range(len(capture))]


def disagreements(path: Path, *decode: str) -> list[str]:
    """Every filter over a shared name where wirelab and tshark keep different packets."""
    names = shared_names()
    ours = dissect_all(path)
    out: list[str] = []
    chunk = 40  # names a tshark run prints at once
    for at in range(0, len(names), chunk):
        some = names[at : at + chunk]
        args = ["-r", str(path), *decode, "-T", "fields", "-E", f"aggregator={SEPARATOR}",
                "-e", "frame.number"]  # fmt: skip
        for name, _ in some:
            args += ["-e", name]
        rows = [line.split("\t") for line in tshark(*args).splitlines()]
        for column, (name, kind) in enumerate(some, start=1):
            seen = [set(filter(None, row[column].split(SEPARATOR))) for row in rows]
            out += _compare(name, kind, seen, ours)
    out += _compare_presence(path, decode, ours)
    return out


def _numbers(path: Path, decode: tuple[str, ...], expression: str) -> set[int]:
    found = tshark("-r", str(path), *decode, "-Y", expression, "-T", "fields", "-e",
                   "frame.number")  # fmt: skip
    return {int(n) for n in found.split()}


def _compare_presence(path: Path, decode: tuple[str, ...], ours: list[Dissection]) -> list[str]:
    """Labels tshark prints no value for, one tshark run each (none when neither tool
    finds any label of that protocol in the capture)."""
    problems = []
    names = presence_names()
    for head in sorted({name.split(".", 2)[0] + "." + name.split(".", 2)[1] for name in names}):
        group = [name for name in names if name.startswith(head + ".")]
        anywhere = compile_filter(" or ".join(group))
        if not _numbers(path, decode, " or ".join(group)) and not any(map(anywhere, ours)):
            continue  # e.g. no TCP analysis flag at all in this capture, in either tool
        for name in group:
            test = compile_filter(name)
            mine = {n + 1 for n, dissection in enumerate(ours) if test(dissection)}
            theirs = _numbers(path, decode, name)
            if mine != theirs:
                problems.append(f"{name}: only wirelab {sorted(mine - theirs)[:8]}, "
                                f"only tshark {sorted(theirs - mine)[:8]}")  # fmt: skip
    return problems


def _compare(name: str, kind: str, seen: list[set[str]], ours: list[Dissection]) -> list[str]:
    present = {n + 1 for n, values in enumerate(seen) if values}
    wanted: list[tuple[str, set[int]]] = [(name, present)]
    distinct = sorted({v for values in seen for v in values})
    if kind in ("FT_RELATIVE_TIME", "FT_ABSOLUTE_TIME", "FT_DOUBLE"):
        numbers = sorted({float(v) for v in distinct})
        for low, high in list(itertools.pairwise(numbers))[:VALUES_TRIED]:
            middle = (low + high) / 2  # never on a value: no rounding decides it
            keep = {n + 1 for n, vs in enumerate(seen) if any(float(v) > middle for v in vs)}
            wanted.append((f"{name} > {middle:.9f}", keep))
    else:
        short = [
            value
            for value in distinct
            if len(value) <= VALUE_LIMIT and not (kind == "FT_BYTES" and len(value) == 2)
        ]  # "7a" would read as a number
        step = max(1, math.ceil(len(short) / VALUES_TRIED))
        for value in short[::step]:
            keep = {n + 1 for n, values in enumerate(seen) if value in values}
            wanted.append((f"{name} == {literal(value, kind)}", keep))
    problems = []
    for expression, theirs in wanted:
        test = compile_filter(expression)
        mine = {n + 1 for n, dissection in enumerate(ours) if test(dissection)}
        if mine != theirs:
            problems.append(
                f"{expression[:120]}: only wirelab {sorted(mine - theirs)[:8]}, "
                f"only tshark {sorted(theirs - mine)[:8]}"
            )
    return problems
