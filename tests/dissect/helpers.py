"""Domain helpers for the dissector tests: records from bytes, tree invariants, lookups."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from scapy.layers.inet import IP, TCP

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.packet import dissect_record
from simulator.trace.records import Endpoint, Layer, LinkType, WireRecord

FAST = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no example database on disk
    suppress_health_check=[HealthCheck.too_slow],
)

SYN_OPTIONS = [("MSS", 1460), ("WScale", 7), ("SAckOK", b""), ("Timestamp", (1, 0))]


def syn_packet(**tcp: object) -> bytes:
    """127.0.0.1:54321 → 127.0.0.1:8765 [SYN] with MSS, window scale, SACK-permitted, timestamps."""
    fields: dict[str, Any] = {  # scapy's field values are of any type
        "sport": 54321,
        "dport": 8765,
        "flags": "S",
        "seq": 1000,
        "window": 65495,
        "options": SYN_OPTIONS,
    }
    fields.update(tcp)
    return bytes(IP(src="127.0.0.1", dst="127.0.0.1", id=1) / TCP(**fields))


def link_record(data: bytes, link_type: int = LinkType.RAW, *, index: int = 2,
                original_length: int | None = None) -> WireRecord:  # fmt: skip
    return WireRecord(index, 1.5, Layer.LINK, data, link_type=link_type,
                      original_length=original_length)  # fmt: skip


def stream_record(data: bytes, *, src: int = 8765, dst: int = 50000) -> WireRecord:
    return WireRecord(
        4, 2.0, Layer.STREAM, data,
        src=Endpoint("127.0.0.1", src), dst=Endpoint("127.0.0.1", dst), connection=1,
    )  # fmt: skip


def dissect(data: bytes, link_type: int = LinkType.RAW, **kw: int | None) -> Dissection:
    dissection = dissect_record(link_record(data, link_type, **kw))  # type: ignore[arg-type]
    check_tree(dissection)
    return dissection


def field(dissection: Dissection, name: str) -> Field:
    found = dissection.find(name)
    assert found is not None, f"no field {name!r} in {[f.name for _, f in dissection.walk()]}"
    return found


def problem(dissection: Dissection, name: str) -> str:
    """The problem marked on field `name` ("" if none)."""
    return field(dissection, name).problem or ""


def check_tree(dissection: Dissection) -> None:
    """What every view relies on: spans inside their buffers, bits inside their bytes,
    children inside their parents, and no dissector crash hidden as a problem."""
    sizes = [len(b.data) for b in dissection.buffers]
    for top in dissection.fields:
        _check(top, sizes, None)
    for problem in dissection.problems:
        assert "internal dissector error" not in problem, problem


def _check(f: Field, sizes: list[int], parent: Field | None) -> None:
    assert 0 <= f.buffer < len(sizes), f"{f.name}: buffer {f.buffer} of {len(sizes)}"
    assert 0 <= f.start <= f.end <= sizes[f.buffer], f"{f.name}: {f.start}:{f.end}"
    assert f.name and f.label, f
    if f.bits is not None:
        assert f.start * 8 <= f.bits[0] < f.bits[1] <= f.end * 8, f"{f.name}: bits {f.bits}"
    if parent is not None and parent.buffer == f.buffer:
        assert parent.start <= f.start and f.end <= parent.end, f"{f.name} outside {parent.name}"
    for child in f.children:
        _check(child, sizes, f)


def names_at(dissection: Dissection, buffer: int = 0) -> list[str | None]:
    """The name of the field `field_at` picks for every byte of a buffer."""
    size = len(dissection.buffers[buffer].data)
    picked = (dissection.field_at(i, buffer) for i in range(size))
    return [f.name if f else None for f in picked]
