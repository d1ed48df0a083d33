"""A display filter selects the same packets read from the capture's columns as from full
dissections: for filters made of every name the columns offer, with the values the
dissections show, on every kind of capture wirelab has (the built-in scenarios, the
inspector benchmark's WebSocket traffic, the fuzz corpus, every lesson's run, crafted
frames and connections).

The columns (`simulator.dissect.columns`) read packets without dissecting them and
give each field the value and display the dissectors would; `Columns.matches` falls
back to the dissection for what they do not hold. The filters here are made from the
field registry and the dissections themselves, so a field a dissector changes, or one
it starts to show, is checked without this file changing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from simulator.dissect import registry
from simulator.dissect.columns import Columns, offered
from simulator.dissect.fields import Dissection
from simulator.dissect.filters import (
    Filter,
    FilterError,
    PacketFields,
    Undecided,
    compile_filter,
    dissection_fields,
)
from simulator.dissect.stream_view import StreamDissector
from simulator.lessons import load_course
from simulator.lessons.run import LessonRun
from simulator.network.scenarios import BUILT_IN, run_built_in
from simulator.trace.pcap import Capture, open_capture, write_pcap
from simulator.views.inspector import SourceModel
from tests.dissect.corpus import _link_frames, _link_record

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted({p.name: p for p in (ROOT / "fuzz" / "corpus").glob("*/*.pcap*")}.values())
BENCH_PACKETS = 3000


# --- the captures ----------------------------------------------------------------------


def bench_inspector() -> ModuleType:
    """bench/inspector.py, whose `build_capture` makes the benchmark's capture (it imports
    its neighbours as a script does, with bench/ on the path)."""
    bench = str(ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_inspector", ROOT / "bench" / "inspector.py"
        )
        assert spec is not None and spec.loader is not None
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(bench)
    return module


def crafted(folder: Path, name: str) -> Path:
    """Captures made here: frames with 1-byte parts and every link type (the dissector
    corpus's), a connection reopened on the same ports, one joined after its handshake."""
    path = folder / name
    if name == "links.pcapng":
        frames = _link_frames()
        write_pcap(path, [_link_record(i, *frame) for i, frame in enumerate(frames)])
        return path
    first = list(run_built_in("handshake-and-echo", 0).capture())
    if name == "joined-late.pcap":
        write_pcap(path, [dataclasses.replace(r, index=i) for i, r in enumerate(first[3:])])
        return path
    again = list(run_built_in("handshake-and-echo", 1).capture())  # new ISNs, same ports
    later = first[-1].time + 1
    records = first + [
        dataclasses.replace(r, index=len(first) + i, time=r.time + later)
        for i, r in enumerate(again)
    ]
    write_pcap(path, records)
    return path


def capture_path(folder: Path, name: str) -> Path:
    kind, _, what = name.partition(":")
    if kind == "scenario":
        path = folder / f"{what}.pcap"
        run_built_in(what, 0).write_pcap(path)
        return path
    if kind == "bench":
        path = folder / "bench.pcap"
        bench_inspector().build_capture(str(path), BENCH_PACKETS)
        return path
    if kind == "corpus":
        return next(p for p in CORPUS if p.name == what)
    if kind == "lesson":
        lesson = next(lesson for lesson in LESSONS if lesson.id == what)
        trace, _ = LessonRun(lesson).capture(None)
        path = folder / f"{what}.pcapng"
        write_pcap(path, trace)
        return path
    return crafted(folder, what)


LESSONS = load_course(user=False).lessons
CAPTURES = [
    *(f"scenario:{name}" for name in BUILT_IN),
    "bench:inspector",
    *(f"corpus:{path.name}" for path in CORPUS),
    *(f"lesson:{lesson.id}" for lesson in LESSONS),
    "crafted:links.pcapng",
    "crafted:reused-ports.pcap",
    "crafted:joined-late.pcap",
]


# --- filters made from what the dissections show ---------------------------------------


def seen(dissections: list[Dissection]) -> dict[str, Counter[tuple[object, str]]]:
    """(value, display) of every field, by name, over all packets, counted; an alias's
    are those of the fields it stands for (any of them will do to make filters of)."""
    found: dict[str, Counter[tuple[object, str]]] = {}
    headers: dict[str, Counter[tuple[object, str]]] = {}
    for dissection in dissections:
        for _, field in dissection.walk():
            found.setdefault(field.name, Counter())[field.value, field.display] += 1
            if field.name == "http.header":
                headers.setdefault(field.label.lower(), Counter())[field.value, field.display] += 1
    for name, info in registry.fields().items():
        if info.alias:
            values: Counter[tuple[object, str]] = Counter()
            for other in info.of:
                values.update(found.get(other, {}))
            values.update(headers.get(info.header or "", {}))
            found[name] = values
    return found


def quoted(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_WORD = re.compile(r"[A-Za-z][A-Za-z_\-]+")
_KEYWORDS = {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "contains", "true", "false"}


def comparisons(name: str, value: object, display: str, *, every: bool) -> Iterator[str]:
    """Filters comparing `name` with one value it was seen to have (and its display);
    not `every` operator for each kind, only the main ones."""
    if isinstance(value, bool):
        yield f"{name} == {int(value)}"
        if every:
            yield f"{name} == {'true' if value else 'false'}"
    elif isinstance(value, int):
        yield f"{name} == {value}"
        yield f"{name} < {value}"
        if every:
            yield f"{name} != {value}"
            yield f"{name} >= {value}"
    elif isinstance(value, float):
        yield f"{name} > {value:.6f}"
        if every:
            yield f"{name} <= {value:.6f}"
    elif isinstance(value, str) and value:
        yield f"{name} == {quoted(value)}"
        if every:
            yield f"{name} contains {quoted(value[:4])}"
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            network = ipaddress.ip_network(f"{address}/{address.max_prefixlen - 8}", strict=False)
            yield f"{name} == {address}"
            yield f"{name} == {network}"
    elif isinstance(value, bytes) and len(value) >= 2:
        yield f"{name} contains {value[:2].hex(':')}"
    elif value is None and every:
        yield f'{name} contains "HTTP"'
    for word in _WORD.findall(display):
        if word.lower() not in _KEYWORDS:
            yield f"{name} == {word}"  # a bare word, matched against the display
            if every:
                yield f"{name} contains {quoted(word)}"
            break


def atoms(dissections: list[Dissection], *, per_name: int, every: bool) -> list[str]:
    """Presence and comparisons for every registered name whose fields the columns hold,
    with up to `per_name` of the values seen (the commonest and the rarest); not `every`
    kind of comparison, nor the names no packet has, for a large capture."""
    found: list[str] = []
    values_of = seen(dissections)
    every_name = [*sorted(registry.fields()), *sorted(registry.protocols())]
    names = [n for n in dict.fromkeys(every_name) if all(map(offered, compile_filter(n).needs))]
    for name in names:
        values = values_of.get(name, Counter()).most_common()
        info = registry.lookup(name)
        other_name = info is not None and len(info.of) == 1 and info.header is None
        if not every and (not values or other_name):
            continue  # nothing to compare, or the same field under Wireshark's name
        found.append(name)
        chosen = values[: (per_name + 1) // 2] + values[len(values) - per_name // 2 :]
        for (value, display), _count in dict.fromkeys(chosen):
            found.extend(comparisons(name, value, display, every=every))
    return found


def combinations(singles: list[str]) -> list[str]:
    """`and`, `or` and `not` over a spread of the single tests."""
    step = max(1, len(singles) // 12)
    picked = singles[::step][:12]
    pairs = list(zip(picked, picked[1:] + picked[:1], strict=True))
    made = [f"not {a}" for a in picked[:4]]
    made += [f"{a} and {b}" for a, b in pairs]
    made += [f"({a}) or not ({b})" for a, b in pairs[:6]]
    made += [f"!({a} || {b}) && frame" for a, b in pairs[:3]]
    return made


# --- the check -------------------------------------------------------------------------


def same_packets(capture: Capture, *, relative: bool, per_name: int) -> tuple[int, int]:
    """Every filter selects the same packets both ways; (filters, packets with a row)."""
    slow = StreamDissector(capture, relative=relative)
    dissections = [slow(capture.record(i)) for i in range(len(capture))]
    fields = [dissection_fields(d) for d in dissections]
    columns = Columns(capture, relative=relative)
    columns.build()
    rows = [columns.packet(i) for i in range(len(capture))]
    singles = atoms(dissections, per_name=per_name, every=len(capture) <= 500)
    checked = 0
    for text in [*singles, *combinations(singles)]:
        try:
            test = compile_filter(text)
        except FilterError:
            continue  # a value that reads as something else in the language
        assert columns.covers(test), text
        expected = [i for i, packet in enumerate(fields) if test.matches(packet)]
        got = [i for i, row in enumerate(rows) if fast(test, row, fields[i])]
        if got != expected:
            wrong = sorted(set(got) ^ set(expected))[0]
            how = "kept" if wrong in got else "left out"
            pytest.fail(f"{text!r}: packet {wrong + 1} {how} by the columns, not by its "
                        f"dissection ({dissections[wrong].summary})")  # fmt: skip
        checked += 1
    return checked, sum(row is not None for row in rows)


def fast(test: Filter, row: PacketFields | None, dissected: PacketFields) -> bool:
    """What `Columns.matches` answers, for a row read beforehand."""
    if row is not None:
        try:
            return test.matches(row)
        except Undecided:
            pass
    return test.matches(dissected)


@pytest.mark.parametrize("name", CAPTURES)
def test_the_columns_select_what_the_dissections_select(name: str, tmp_path: Path) -> None:
    capture = open_capture(capture_path(tmp_path, name))
    capture.index()
    big = len(capture) > 500
    checked, rows = same_packets(capture, relative=True, per_name=1 if big else 3)
    assert checked >= 100, checked
    if name.startswith("bench:"):  # TCP over IP: the columns answer for every packet
        assert rows == len(capture)


@pytest.mark.parametrize("name", [f"scenario:{name}" for name in BUILT_IN])
def test_raw_sequence_numbers_too(name: str, tmp_path: Path) -> None:
    capture = open_capture(capture_path(tmp_path, name))
    capture.index()
    checked, _ = same_packets(capture, relative=False, per_name=2)
    assert checked >= 100


# --- what the columns do not hold ------------------------------------------------------


def test_a_filter_on_a_field_the_columns_do_not_hold_is_not_theirs() -> None:
    assert not offered("tcp.checksum")
    assert not offered("ws.text")
    assert offered("tcp.port") is False  # an alias: filters read the fields it stands for
    assert compile_filter("tcp.port == 80").needs == {"tcp.srcport", "tcp.dstport"}
    assert compile_filter("http.host").needs == {"http.header"}


def test_what_a_row_does_not_hold_is_read_from_the_dissection(tmp_path: Path) -> None:
    capture = open_capture(capture_path(tmp_path, "scenario:handshake-and-echo"))
    capture.index()
    columns = Columns(capture)
    columns.build()
    asked: list[int] = []
    slow = StreamDissector(capture, relative=True)

    def dissect(index: int) -> Dissection:
        asked.append(index)
        return slow(capture.record(index))

    payload = compile_filter('tcp contains "Upgrade"')  # the bytes of a span: not kept
    assert columns.covers(payload)
    chosen = [i for i in range(len(capture)) if columns.matches(payload, i, dissect)]
    assert chosen and set(chosen) <= set(asked)
    with pytest.raises(Undecided):
        row = columns.packet(chosen[0])
        assert row is not None
        payload.matches(row)
    asked.clear()
    port = compile_filter("tcp.port == 80")
    assert [i for i in range(len(capture)) if columns.matches(port, i, dissect)]
    assert asked == []


def test_the_inspector_model_filters_through_the_columns(tmp_path: Path) -> None:
    capture = open_capture(capture_path(tmp_path, "scenario:lost-segment"))
    slow = StreamDissector(capture, relative=True)
    model = SourceModel(capture, slow)
    for _ in model.indexing():
        pass
    for text in ("tcp.seq > 1", "tcp.analysis.retransmission or tcp.len > 0", "http"):
        try:
            test = compile_filter(text)
        except FilterError:
            continue
        expected = [i for i in range(len(model)) if test(model.dissect(i))]
        match = model.matcher(test)
        assert [i for i in range(len(model)) if match(i)] == expected, text
    assert model.renumber() is False  # raw numbers now: the columns follow
    test = compile_filter("tcp.seq > 1")
    match = model.matcher(test)
    assert [i for i in range(len(model)) if match(i)] == [
        i for i in range(len(model)) if test(model.dissect(i))
    ]
