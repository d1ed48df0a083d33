"""The trace: records as appended, immutable, numbered in order, told to subscribers."""

from __future__ import annotations

import dataclasses

import pytest

from simulator.trace import Endpoint, Layer, LinkType, Trace, WireRecord


def test_appended_records_are_the_records_the_constructor_makes() -> None:
    trace = Trace()
    src, dst = Endpoint("10.0.0.1", 5000), Endpoint("10.0.0.2", 80)
    first = trace.append(1.5, Layer.LINK, b"\x45\x00", link_type=LinkType.RAW, interface=2)
    second = trace.append(
        2.5,
        Layer.STREAM,
        # Not the declared bytes, on purpose: the record must hold an immutable copy.
        bytearray(b"GET"),  # type: ignore[arg-type]
        src=src,
        dst=dst,
        connection=7,
        original_length=9,
    )
    assert first == WireRecord(0, 1.5, Layer.LINK, b"\x45\x00", LinkType.RAW, interface=2)
    assert second == WireRecord(
        1, 2.5, Layer.STREAM, b"GET", LinkType.RAW, src, dst, 7, original_length=9
    )
    assert type(second.data) is bytes
    assert hash(first) == hash(dataclasses.replace(first))
    for record in (first, second):
        for field in dataclasses.fields(WireRecord):
            assert getattr(record, field.name) == getattr(dataclasses.replace(record), field.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.index = 5  # type: ignore[misc]


def test_subscribers_see_each_record_once_until_they_leave() -> None:
    trace = Trace()
    seen: list[int] = []
    leave = trace.subscribe(lambda record: seen.append(record.index))
    trace.append(0.0, Layer.LINK, b"a")
    trace.append(0.1, Layer.LINK, b"b")
    leave()
    trace.append(0.2, Layer.LINK, b"c")
    assert seen == [0, 1]
    assert [r.data for r in trace] == [b"a", b"b", b"c"]
    assert Trace(trace[:2])[1] == trace[1]
