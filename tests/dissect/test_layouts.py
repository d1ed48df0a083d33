"""Every header layout tiles its header: no gaps, no overlaps, no slot outside its bytes.

Invariants over all the layouts the dissectors build, so that a miscounted offset
in any layout, today's or a future one, fails here and names the slot.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.dissect.layout import BYTE_KINDS, LAYOUTS, Layout, Slot
from simulator.dissect.registry import Kind, fields, lookup

fields()  # imports every dissector, and so builds every layout


@pytest.fixture(params=list(LAYOUTS), ids=lambda layout: layout.title)
def layout(request: pytest.FixtureRequest) -> Layout[Any]:
    found: Layout[Any] = request.param
    return found


def test_the_dissectors_build_their_layouts() -> None:
    titles = {layout.title for layout in LAYOUTS}
    assert {"IPv4", "IPv6", "TCP", "UDP", "ICMP", "ICMP echo", "ICMPv6"} <= titles


def assert_tiles(slots: tuple[Slot[Any], ...], first: int, last: int, where: str) -> None:
    """`slots`, in order, cover bits first:last exactly: each begins where the one
    before it ends."""
    assert slots, f"{where}: no slots"
    position = first
    for slot in slots:
        start, end = slot.bit_span
        if start > position:
            pytest.fail(f"{where}: bits {position}-{start} belong to no slot (before {slot.name})")
        if start < position:
            pytest.fail(f"{where}: {slot.name} starts at bit {start}, overlapping bit {position}")
        position = end
    assert position == last, f"{where}: the slots end at bit {position}, not {last}"


def test_the_slots_tile_the_header(layout: Layout[Any]) -> None:
    assert_tiles(layout.slots, 0, layout.length * 8, layout.title)
    assert sum(s.bit_span[1] - s.bit_span[0] for s in layout.slots) == layout.length * 8
    for slot in layout.walk():
        if slot.children:
            assert_tiles(slot.children, *slot.bit_span, f"{layout.title} {slot.name}")


def test_every_slot_lies_within_its_bytes_and_the_header(layout: Layout[Any]) -> None:
    for slot in layout.walk():
        start, end = slot.bit_span
        assert 0 <= slot.offset < slot.end <= layout.length, slot.name
        assert slot.end - slot.offset == slot.size, slot.name
        assert slot.offset * 8 <= start < end <= slot.end * 8, slot.name
        # The bytes are the fewest that hold the bits: a bit span does not drag in a
        # neighbour's byte.
        assert start < slot.offset * 8 + 8 and end > slot.end * 8 - 8, slot.name
        if slot.kind in BYTE_KINDS:
            assert slot.bits is None, f"{slot.name}: bytes are read whole"


def test_each_bit_belongs_to_one_slot_and_its_parents(layout: Layout[Any]) -> None:
    """Read a header with only bit `n` set: the slots holding bit n read non-zero, and
    no other does (the layout reads exactly the bits it claims)."""
    for n in range(layout.length * 8):
        data = bytearray(layout.length)
        data[n // 8] = 0x80 >> (n % 8)
        header = layout.read(bytes(data))
        for slot in layout.walk():
            start, end = slot.bit_span
            value = header.values[slot.name]
            is_set = any(value) if isinstance(value, bytes) else value != 0
            assert is_set == (start <= n < end), f"{slot.name} with bit {n} set reads {value!r}"


def test_a_short_header_reads_as_zeros(layout: Layout[Any]) -> None:
    full = bytes(range(1, layout.length + 1))
    for cut in range(layout.length + 1):
        header = layout.read(full[:cut])
        assert header.values == layout.read(full[:cut] + bytes(layout.length - cut)).values


def test_every_slot_is_registered_with_its_kind(layout: Layout[Any]) -> None:
    names = [slot.name for slot in layout.walk()]
    assert len(names) == len(set(names)), f"{layout.title}: a name is used twice"
    for slot in layout.walk():
        info = lookup(slot.name)
        assert info is not None and not info.alias, slot.name
        assert (info.kind, info.description) == (slot.kind, slot.description), slot.name
        assert slot.kind is not Kind.PROTOCOL, slot.name
        protocol = lookup(slot.name.split(".", 1)[0])
        assert protocol is not None and protocol.kind is Kind.PROTOCOL, slot.name


def test_a_slot_refuses_a_place_it_cannot_have() -> None:
    with pytest.raises(ValueError, match="outside its bytes"):
        Slot("x.y", "Y", Kind.UINT, "Y", offset=1, size=1, bits=(0, 4))
    with pytest.raises(ValueError, match="empty"):
        Slot("x.y", "Y", Kind.UINT, "Y", bits=(4, 4))
    with pytest.raises(ValueError, match="offset and a size"):
        Slot("x.y", "Y", Kind.UINT, "Y")
