"""The field tree: what every dissector produces and every view renders.

A `Field` names a span of bytes (and, for header bits, a span of bits) in one
of a dissection's buffers, with its decoded value and a one-line explanation
for a learner. Buffer 0 is the record's own bytes; dissectors may add more (a
reassembled WebSocket frame, an unmasked payload) and point fields at them.

Bit spans are absolute within their buffer and count from the most
significant bit of byte 0: the FIN bit of a frame at offset 0 is (0, 1), its
opcode (4, 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FieldValue = int | str | bytes | bool | float | None
JSON_VALUE_LIMIT = 256 << 10  # bytes (or characters) of one value in JSON; the rest is cut


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # dotted, stable, for scripts: "ip.ttl", "tcp.flags.syn", "ws.opcode"
    label: str  # for people: "Time to live"
    start: int  # byte span in its buffer, end exclusive
    end: int
    value: FieldValue = None
    display: str = ""  # the value as shown: "64", "0x1 (text)", "0x1c46 (correct)"
    explanation: str = ""  # one line a learner can read
    bits: tuple[int, int] | None = None
    children: tuple[Field, ...] = ()
    buffer: int = 0
    problem: str | None = None  # "incorrect checksum", "truncated": shown as a warning

    def __str__(self) -> str:
        shown = self.display or _show(self.value)
        return f"{self.label}: {shown}" if shown else self.label

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Field]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def to_json(self) -> dict[str, Any]:
        value = shown = self.value
        # An inflated message can be a thousand times its bytes on the wire: a long value
        # is cut, and says so, so that the output stays bounded by the input.
        cut = 0
        if isinstance(value, (bytes, str)) and len(value) > JSON_VALUE_LIMIT:
            shown, cut = value[:JSON_VALUE_LIMIT], len(value)
        out = {
            "name": self.name,
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "bits": list(self.bits) if self.bits else None,
            "value": json_value(shown),
            "display": self.display or _show(value),
            "buffer": self.buffer,
            "problem": self.problem,
            "children": [child.to_json() for child in self.children],
        }
        if cut:
            out.update(value_length=cut, value_truncated=True)
        return out


@dataclass(frozen=True, slots=True)
class Buffer:
    name: str  # "Frame 3 (74 bytes)", "Reassembled WebSocket frame", "Unmasked payload"
    data: bytes


@dataclass(frozen=True, slots=True)
class Dissection:
    """One record (or one reassembled message), dissected."""

    summary: str  # one line for a packet list: "TCP 10.0.0.1:5000 → 10.0.0.2:80 [SYN]"
    protocol: str  # the top-most protocol recognised: "WebSocket", "HTTP", "TCP", ...
    fields: tuple[Field, ...]  # the layers, outermost first
    buffers: tuple[Buffer, ...]
    problems: tuple[str, ...] = field(default=())  # what is malformed, in words

    def walk(self) -> Iterator[tuple[int, Field]]:
        for top in self.fields:
            yield from top.walk()

    def find(self, name: str) -> Field | None:
        """The first field called `name`, depth first."""
        return next((f for _, f in self.walk() if f.name == name), None)

    def find_all(self, name: str) -> list[Field]:
        return [f for _, f in self.walk() if f.name == name]

    def field_at(self, offset: int, buffer: int = 0) -> Field | None:
        """The narrowest field whose span holds byte `offset` of `buffer`."""
        best: Field | None = None
        for _, candidate in self.walk():
            if candidate.buffer != buffer or not candidate.start <= offset < candidate.end:
                continue
            if best is None or candidate.end - candidate.start <= best.end - best.start:
                best = candidate
        return best

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "protocol": self.protocol,
            "problems": list(self.problems),
            "buffers": [{"name": b.name, "length": len(b.data)} for b in self.buffers],
            "fields": [f.to_json() for f in self.fields],
        }


def json_value(value: FieldValue) -> Any:
    """Bytes as hex; everything else as JSON has it."""
    return value.hex() if isinstance(value, bytes) else value


def _show(value: FieldValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "set" if value else "not set"
    if isinstance(value, bytes):
        return value[:16].hex(" ") + (" …" if len(value) > 16 else "")
    return str(value)
