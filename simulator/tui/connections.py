"""The live server's connections as a table: who, what path, which state, how many bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

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


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 10_000:
            return f"{n} {unit}"
        n //= 1000
    return f"{n} GB"


class ConnectionTable(DataTable[str]):
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
        self.add_columns("#", "peer", "path", "as", "state", "subprotocol", "extensions",
                         "in", "out")  # fmt: skip
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
        for number, row in rows.items():
            cells = self._cells(row)
            if number not in self.rows_now:
                self.add_row(*cells, key=str(number))
            elif row != self.rows_now[number]:
                for column, value in zip(self.columns, cells, strict=True):
                    self.update_cell(str(number), column, value)
            self.rows_now[number] = row
        open_ = sum(1 for row in rows.values() if row.state in ("open", "closing", "pending"))
        self.border_title = f"Connections  c  ({open_} open, {len(rows)} seen)"

    @staticmethod
    def _cells(row: ConnectionRow) -> tuple[str, ...]:
        return (str(row.number), row.peer, row.path, row.service, row.state,
                row.subprotocol or "–", row.extensions or "–", _size(row.bytes_in),
                _size(row.bytes_out))  # fmt: skip

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        row = self.rows_now.get(int(key)) if key is not None else None
        self.post_message(self.Chosen(row))

    def action_show_all(self) -> None:
        self.post_message(self.Chosen(None))
