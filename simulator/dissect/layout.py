"""Fixed header layouts as data: each field's name, place, kind and explanation, in wire order.

A `Layout` is a header drawn as the RFC draws it: a list of `Slot`s, each at a
byte offset and size, or at a span of bits for the fields that do not fill
whole bytes (IPv4's IHL, TCP's flags). Bit spans count from the most
significant bit of the header's first byte, as `FieldSpan` (the WebSocket
frame's spans) and `Field` count them. A slot says what kind of value it
holds and, in one line, what it is: building a layout registers every slot
in the field registry. The rest is for the learner: an explanation, a display
and a problem, each a string or a function of the slot's number and of the
dissector's context (whatever else the wording depends on: the SYN flag), or
all three at once (`shown`: a checksum, verified).

    IPV4 = Layout("IPv4", 20, (
        Slot("ip.version", "Version", Kind.UINT, "The IP version: 4", bits=(0, 4)),
        Slot("ip.ihl", "Header length (IHL)", Kind.UINT, "...", bits=(4, 8),
             display=lambda ihl, _: f"{ihl} ({ihl * 4} bytes)"),
        ...
    ))
    header = IPV4.read(buf, start)       # every slot's number: header.number("ip.ihl")
    fields = IPV4.fields(header, context, buffer=0)

Reading never fails: past the end of the bytes a header reads as zeros, and
`fields` leaves out the slots whose bytes are missing. Children (the bits of a
flags field) tile their parent. Variable parts (options, extension headers)
stay code, beside the layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from simulator.dissect.fields import Field, FieldValue
from simulator.dissect.registry import Kind, define

Ctx = TypeVar("Ctx")

# Kinds whose slots hold bytes as they are; every other slot holds an unsigned number.
BYTE_KINDS = frozenset({Kind.BYTES, Kind.IPV4, Kind.IPV6, Kind.ETHER})

LAYOUTS: list[Layout[Any]] = []  # every layout built, for the tests' invariants


class Shown(NamedTuple):
    """How a field reads when one piece of work decides all of it (a checksum, verified)."""

    display: str
    explanation: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Slot(Generic[Ctx]):
    """One fixed field of a header: where it sits, what it holds, how to explain it.

    Place it with `offset` and `size` (bytes) or with `bits` (start, end), relative
    to the header's first byte; a slot given bits spans the bytes that hold them.
    The functions get the slot's number (bytes for byte kinds) and the context.
    """

    name: str  # "ip.ttl"
    label: str  # "Time to live"
    kind: Kind
    description: str  # one line, for the registry
    offset: int = 0
    size: int = 0
    bits: tuple[int, int] | None = None
    explanation: str | Callable[[Any, Ctx], str] = ""
    display: str | Callable[[Any, Ctx], str] = ""
    problem: Callable[[Any, Ctx], str | None] | None = None
    shown: Callable[[Any, Ctx], Shown] | None = None  # display, explanation, problem at once
    value: Callable[[Any, Ctx], FieldValue] | None = None  # default: the number (a bool for BOOL)
    children: tuple[Slot[Ctx], ...] = ()
    end: int = field(init=False, default=0)  # offset + size

    def __post_init__(self) -> None:
        if self.bits is not None:
            first, last = self.bits
            if not 0 <= first < last:
                raise ValueError(f"{self.name}: bit span {self.bits} is empty or negative")
            offset, end = first // 8, -(-last // 8)
            if self.size and (self.offset, self.size) != (offset, end - offset):
                raise ValueError(f"{self.name}: bits {self.bits} lie outside its bytes")
            object.__setattr__(self, "offset", offset)
            object.__setattr__(self, "size", end - offset)
        elif self.size <= 0 or self.offset < 0:
            raise ValueError(f"{self.name}: needs an offset and a size, or bits")
        object.__setattr__(self, "end", self.offset + self.size)

    @property
    def bit_span(self) -> tuple[int, int]:
        """The bits it covers: its own, or all of its bytes'."""
        return self.bits if self.bits is not None else (self.offset * 8, self.end * 8)

    def walk(self) -> Iterator[Slot[Ctx]]:
        yield self
        for child in self.children:
            yield from child.walk()


class _Reader(NamedTuple):
    """How to read one slot's number from the header's bytes."""

    name: str
    offset: int
    end: int
    shift: int  # right shift after reading bytes offset:end as a big-endian number
    mask: int  # 0: keep the bytes as bytes


@dataclass(frozen=True, slots=True)
class Header:
    """A header's bytes read through its layout: every slot's number (zeros past the end)."""

    buf: bytes
    start: int  # where the header begins in `buf`
    values: dict[str, int | bytes]

    def number(self, name: str) -> int:
        value = self.values[name]
        if not isinstance(value, int):
            raise TypeError(f"{name} holds bytes, not a number")
        return value

    def raw(self, name: str) -> bytes:
        value = self.values[name]
        if not isinstance(value, bytes):
            raise TypeError(f"{name} holds a number, not bytes")
        return value


class Layout(Generic[Ctx]):
    """A fixed header of `length` bytes, as slots in wire order."""

    def __init__(self, title: str, length: int, slots: Sequence[Slot[Ctx]]) -> None:
        self.title = title  # "IPv4", "TCP"
        self.length = length
        self.slots = tuple(slots)
        self._readers: list[_Reader] = []
        for slot in self.walk():
            define(slot.name, slot.kind, slot.description)
            first, last = slot.bit_span
            if slot.kind in BYTE_KINDS:
                self._readers.append(_Reader(slot.name, slot.offset, slot.end, 0, 0))
            else:
                shift = slot.end * 8 - last
                self._readers.append(
                    _Reader(slot.name, slot.offset, slot.end, shift, (1 << (last - first)) - 1)
                )
        LAYOUTS.append(self)

    def __repr__(self) -> str:
        return f"Layout({self.title!r}, {self.length})"

    def walk(self) -> Iterator[Slot[Ctx]]:
        """Every slot, children after their parent, in wire order."""
        for slot in self.slots:
            yield from slot.walk()

    def read(self, buf: bytes, start: int = 0) -> Header:
        """The header at `buf[start:]`, each slot's number read (a short header as zeros)."""
        head = buf[start : start + self.length].ljust(self.length, b"\x00")
        values: dict[str, int | bytes] = {}
        for name, offset, end, shift, mask in self._readers:
            if mask:
                values[name] = (int.from_bytes(head[offset:end], "big") >> shift) & mask
            else:
                values[name] = head[offset:end]
        return Header(buf, start, values)

    def fields(self, header: Header, context: Ctx, *, buffer: int = 0) -> list[Field]:
        """A `Field` for each slot whose bytes are all in the buffer, in wire order."""
        present = len(header.buf) - header.start
        return [_field(slot, header, context, buffer) for slot in self.slots if slot.end <= present]


def _field(slot: Slot[Ctx], header: Header, context: Ctx, buffer: int) -> Field:
    number = header.values[slot.name]
    start = header.start
    if slot.value is not None:
        value: FieldValue = slot.value(number, context)
    elif slot.kind is Kind.BOOL:
        value = bool(number)
    else:
        value = number
    if slot.shown is not None:
        display, explanation, problem = slot.shown(number, context)
    else:
        display = slot.display if isinstance(slot.display, str) else slot.display(number, context)
        explain = slot.explanation
        explanation = explain if isinstance(explain, str) else explain(number, context)
        problem = None if slot.problem is None else slot.problem(number, context)
    bits = slot.bits
    if bits is not None:
        bits = (start * 8 + bits[0], start * 8 + bits[1])
    children: tuple[Field, ...] = ()
    if slot.children:
        children = tuple([_field(child, header, context, buffer) for child in slot.children])
    return Field(
        slot.name, slot.label, start + slot.offset, start + slot.end, value, display,
        explanation, bits, children, buffer, problem,
    )  # fmt: skip


__all__ = ["LAYOUTS", "Header", "Layout", "Shown", "Slot"]
