"""The bit ruler: the bytes that hold the selected header bits, in binary, those bits marked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from simulator.dissect import Dissection, Field
from simulator.views.render import bit_ruler


class BitRuler(Static):
    """Shown only while the selected field has a bit span."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"bit-ruler--bits"}

    DEFAULT_CSS = """
    BitRuler { height: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    BitRuler.-bits { display: block; }
    BitRuler > .bit-ruler--bits { background: $primary 60%; text-style: bold; }
    """

    def show_field(self, dissection: Dissection | None, field: Field | None) -> None:
        if dissection is None or field is None or field.bits is None:
            self.remove_class("-bits")
            self.update("")
            return
        buffers = dissection.buffers
        data = buffers[field.buffer].data if 0 <= field.buffer < len(buffers) else b""
        neighbours = [
            (f.name.rsplit(".", 1)[-1], f.bits)
            for _, f in dissection.walk()
            if f.bits is not None
            and f.buffer == field.buffer
            and not any(child.bits for child in f.children)
        ]
        if not any(span == field.bits for _, span in neighbours):
            neighbours.append((field.name.rsplit(".", 1)[-1], field.bits))
        pieces = bit_ruler(data, field.bits, neighbours)
        marked = self.get_component_rich_style("bit-ruler--bits", partial=True)
        text = Text("bits ")
        for piece, highlighted in pieces:
            text.append(piece, marked if highlighted else "")
        self.set_class(bool(pieces), "-bits")
        self.update(text)
