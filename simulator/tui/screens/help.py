"""The help screen: every key of the inspector, read from the bindings themselves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
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

    def __init__(self, sections: Iterable[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = list(sections)
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
            seen: set[str] = set()
            for binding in bindings:
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                if binding.description in seen:
                    continue
                seen.add(binding.description)
                keys = " ".join(
                    self.app.get_key_display(Binding(key, binding.action))
                    for key in binding.key.split(",")
                )
                table.add_row(keys, binding.description)
            table.add_row("", "")
        table.add_row("[u]Mouse[/u]", "")
        for what, does in MOUSE:
            table.add_row(what, does)
        table.add_row("", "")
        table.add_row("[u]Filters[/u]", "")
        for example, meaning in FILTERS:
            table.add_row(example, meaning)
        return table
