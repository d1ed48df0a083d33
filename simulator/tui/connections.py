"""The live server's connections as a table: who, what path, which state, how many bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from simulator.text import printable

if TYPE_CHECKING:
    from simulator.live import Server, Session

MAX_ROWS = 500  # ended connections beyond this many are forgotten, oldest first


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """A snapshot of one connection, as the table shows it."""

    number: int
    peer: str
    path: str
    service: str
    state: str
    subprotocol: str
    extensions: str
    bytes_in: int
    bytes_out: int
    peer_port: int

    @classmethod
    def of(cls, session: Session) -> ConnectionRow:
        info = session.info
        conn = session.conn
        service = session.service.name if session.service is not None else session.kind
        host, port = info.peer if info is not None else ("?", 0)
        return cls(
            number=info.id if info is not None else 0,
            peer=f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            path=session.path or "",
            service="page" if session.kind == "http" else service,
            state=session.state,
            subprotocol=conn.subprotocol or "",
            extensions=", ".join(ext.describe() for ext in conn.extensions),
            bytes_in=session.bytes_in,
            bytes_out=session.bytes_out,
            peer_port=port,
        )


CELL = 40  # characters of a peer's path, subprotocol or extensions shown in a cell


def _cut(text: str) -> Text:
    return Text(printable(text, limit=CELL))


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 10_000:
            return f"{n} {unit}"
        n //= 1000
    return f"{n} GB"


class ConnectionTable(DataTable[Text]):
    """Every connection the server has seen; Enter shows only that one's bytes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Show only this connection"),
        Binding("a", "show_all", "Show all connections"),
    ]

    class Chosen(Message):
        """A connection was chosen (None: all of them)."""

        def __init__(self, row: ConnectionRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, server: Server, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.server = server
        self.seen: dict[int, Session] = {}  # every session so far, by number
        self.rows_now: dict[int, ConnectionRow] = {}
        server.observers.append(self._observe)
        for session in list(server.sessions):
            self._observe(session)

    def on_mount(self) -> None:
        # The byte counters come before the texts a peer chooses (its path, the extension
        # parameters), so a long one never pushes them off screen; those are cut to
        # `CELL` characters, and the highlighted row's are shown whole below the table.
        self.add_columns("#", "peer", "state", "in", "out", "path", "as", "subprotocol",
                         "extensions")  # fmt: skip
        self.refresh_rows()

    def on_unmount(self) -> None:
        if self._observe in self.server.observers:
            self.server.observers.remove(self._observe)

    def _observe(self, session: Session) -> None:
        if session.info is None:
            return
        self.seen[session.info.id] = session
        while len(self.seen) > MAX_ROWS:
            del self.seen[next(iter(self.seen))]

    def refresh_rows(self) -> None:
        """Bring the table up to date (bytes and states change all the time)."""
        rows = {number: ConnectionRow.of(session) for number, session in self.seen.items()}
        for number in list(self.rows_now):
            if number not in rows:
                self.remove_row(str(number))
                del self.rows_now[number]
        # New rows scroll into view, unless the user scrolled up to read older ones.
        following = self.scroll_y >= self.max_scroll_y
        added = False
        for number, row in rows.items():
            cells = self._cells(row)
            if number not in self.rows_now:
                self.add_row(*cells, key=str(number))
                added = True
            elif row != self.rows_now[number]:
                for column, value in zip(self.columns, cells, strict=True):
                    self.update_cell(str(number), column, value)
            self.rows_now[number] = row
        if added and following:
            self.call_after_refresh(self.scroll_end, animate=False)
        open_ = sum(1 for row in rows.values() if row.state in ("open", "closing", "pending"))
        self.border_title = Text(f"Connections  c  ({open_} open, {len(rows)} seen)")
        self._show_whole()

    @staticmethod
    def _cells(row: ConnectionRow) -> tuple[Text, ...]:
        # Text, never str: a DataTable reads a str cell as markup, and the path, the
        # subprotocol and the extensions are what a peer sent.
        return (Text(str(row.number)), Text(row.peer), Text(row.state),
                Text(_size(row.bytes_in)), Text(_size(row.bytes_out)), _cut(row.path),
                Text(row.service), _cut(row.subprotocol or "–"),
                _cut(row.extensions or "–"))  # fmt: skip

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_whole()

    def _show_whole(self) -> None:
        """The highlighted connection's path and extensions, whole, below the table."""
        row = self.highlighted_row
        whole = "" if row is None else f"{row.path}  {row.extensions}".strip()
        self.border_subtitle = Text(printable(whole, limit=300)) if whole else ""

    @property
    def highlighted_row(self) -> ConnectionRow | None:
        if not self.row_count or not 0 <= self.cursor_row < self.row_count:
            return None
        key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        return self.rows_now.get(int(key)) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        row = self.rows_now.get(int(key)) if key is not None else None
        self.post_message(self.Chosen(row))

    def action_show_all(self) -> None:
        self.post_message(self.Chosen(None))
