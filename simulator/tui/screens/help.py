"""The help screen: every key of the inspector, read from the bindings themselves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from simulator.tui.footer import KeyBar

MOUSE = [
    ("click a row", "show that packet"),
    ("double-click a row", "go to its fields"),
    ("click a field", "select it: its bytes light up"),
    ("click a byte", "select the field that owns it"),
    ("wheel", "scroll the pane under the mouse"),
]

LESSON_MOUSE = [
    ("click an arrow", "show that packet in the fields and bytes"),
    ("click a field", "select it: its bytes light up"),
    ("click the answer box", "answer the checkpoint"),
    ("wheel", "scroll the pane under the mouse"),
]

FILTERS = [
    ("tcp  udp  ip  http  ws", "packets with that protocol"),
    ("tcp.port == 8765", "either port (ip.addr: either address)"),
    ("ws.opcode == 1, == text", "a field's value, or a word of how it is shown"),
    ('ws.payload contains "hi"', "text or bytes (81:85) inside a field"),
    ("== != < > <= >=", "comparisons; and, or, not, ( )"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]

    def __init__(
        self,
        sections: Iterable[tuple[str, Iterable[BindingType]]],
        *,
        mouse: Iterable[tuple[str, str]] = MOUSE,
        filters: bool = True,
    ) -> None:
        super().__init__()
        self.sections = list(sections)
        self.mouse = list(mouse)
        self.filters = filters
        self.table = Table.grid(padding=(0, 2))

    def compose(self) -> ComposeResult:
        self.table = self._table()
        with VerticalScroll(id="help-box"):
            yield Label("Keys and mouse  (Esc closes)", id="help-title")
            yield Static(self.table, id="help-table")
        yield KeyBar()

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for title, bindings in self.sections:
            table.add_row(f"[u]{title}[/u]", "")
            # One row per key and action: the same key for one action with a parameter
            # (d: the next pane) reads as one line with its descriptions joined.
            rows: dict[tuple[str, str], list[str]] = {}
            for binding in bindings:
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                action = binding.action.partition("(")[0]
                described = rows.setdefault((binding.key, action), [])
                if binding.description not in described:
                    described.append(binding.description)
            for (key_list, _), descriptions in rows.items():
                keys = " ".join(
                    self.app.get_key_display(Binding(key, "")) for key in key_list.split(",")
                )
                table.add_row(Text(keys), Text(" / ".join(descriptions)))
            table.add_row("", "")
        if self.mouse:
            table.add_row("[u]Mouse[/u]", "")
            for what, does in self.mouse:
                table.add_row(what, does)
        if self.filters:
            table.add_row("", "")
            table.add_row("[u]Filters[/u]", "")
            for example, meaning in FILTERS:
                table.add_row(example, meaning)
        return table
