"""The inspector screen: packet list, field tree and hex pane, linked; a filter bar on top.

Flow of a selection:

    packet list cursor ──RecordHighlighted──► dissect, fill the tree, show buffer 0
    tree cursor ──NodeHighlighted──► highlight the field's bytes (switching buffer), ruler,
                                     explanation
    hex cursor ──HexCursorMoved──► Dissection.field_at → move the tree cursor (→ above)

The model may grow at any time (a live trace, a capture still being indexed):
a timer compares its length with the list's and tells the list, which
follows new rows when its cursor was on the last one.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from simulator.dissect import Dissection, Field
from simulator.dissect.filters import Filter
from simulator.errors import WirelabError
from simulator.trace.records import Layer
from simulator.tui.bit_ruler import BitRuler
from simulator.tui.breakpoints import apply_breakpoints
from simulator.tui.explanation import ExplanationBar
from simulator.tui.field_tree import FieldTree
from simulator.tui.filter_bar import FilterBar
from simulator.tui.hex_view import HexView
from simulator.tui.messages import (
    FilterProgress,
    FilterSubmitted,
    HexCursorMoved,
    RecordChosen,
    RecordHighlighted,
)
from simulator.tui.packet_list import PacketList
from simulator.tui.screens.error import report_worker_error
from simulator.tui.screens.follow import FollowScreen
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.save import Save, SaveScreen
from simulator.views.inspector import InspectorModel

POLL_SECONDS = 0.1
PROGRESS_SECONDS = 0.1


class InspectorScreen(Screen[None]):
    """Wireshark's three panes for one `InspectorModel`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("f", "follow", "Follow stream"),
        Binding("b", "next_buffer", "Next buffer", show=False),  # the Bytes title says so
        Binding("w", "save", "Save pcap"),
        Binding("n", "renumber", "Relative/raw numbers", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
        Binding("1", "focus('#packets')", "Packet list", show=False),
        Binding("2", "focus('#fields')", "Field tree", show=False),
        Binding("3", "focus('#hex')", "Hex pane", show=False),
    ]

    # Classes for the .tcss: side by side from 150 columns, full borders from 32 lines.
    # (Textual annotates these `ClassVar[...] | None`, which mypy won't let us repeat.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (150, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    def __init__(
        self, model: InspectorModel, *, source: str = "", empty_text: str = "", live: bool = False
    ) -> None:
        super().__init__()
        self.model = model
        self.live = live
        self.source = source
        self.empty_text = empty_text or "No packets."
        self.dissection: Dissection | None = None
        self.record: int | None = None
        self.field: Field | None = None
        self.filter: Filter | None = None
        self._generation = 0  # bumped by every new filter: stale progress is dropped
        self._checked = 0  # records the current filter has looked at
        self._filtering = False
        self._filter_worker: Worker[None] | None = None
        self._filter_progress: tuple[int, int] | None = None
        self._packets_titles: tuple[str, str] | None = None
        self._problems_told = 0
        self._keep: int | None = None  # the record to return to once a filter has run

    def compose(self) -> ComposeResult:
        yield FilterBar(id="filter")
        yield PacketList(self.model, empty_text=self.empty_text, tail=self.live, id="packets")
        with Container(id="detail"):
            yield FieldTree(id="fields")
            with Vertical(id="bytes"):
                yield HexView(id="hex")
                yield BitRuler(id="ruler")
        yield ExplanationBar(id="explain")
        yield Footer()

    @property
    def packets(self) -> PacketList:
        return self.query_one(PacketList)

    @property
    def fields(self) -> FieldTree:
        return self.query_one(FieldTree)

    @property
    def hex_view(self) -> HexView:
        return self.query_one(HexView)

    def on_mount(self) -> None:
        apply_breakpoints(self)
        self.query_one("#fields").border_title = "Fields"
        self.query_one("#bytes").border_title = "Bytes"
        self.packets.focus()
        self.poll()
        if self.record is None:
            self.show_record(None)
        self.set_interval(POLL_SECONDS, self.poll)
        # Index once the first screen is painted: the worker would otherwise compete
        # with it for the interpreter (a 100k-packet capture took twice as long to show).
        self.call_after_refresh(self.index_in_background)

    # --- the model grows --------------------------------------------------------------

    def poll(self) -> None:
        """Catch up with the model: new rows, indexing progress, problems."""
        length = len(self.model)
        packets = self.packets
        if length != packets.known_length:
            packets.grow(length)
            if self.filter is not None:
                self.filter_more()
        problems = self.model.problems
        fresh = problems[self._problems_told :]
        if len(fresh) > 3:  # a badly damaged capture: one note, not a storm of them
            fresh = [f"{fresh[0]} (and {len(fresh) - 1} more problems)"]
        for problem in fresh:
            self.notify(
                problem, title="Problem in the capture", severity="warning", timeout=8, markup=False
            )
        self._problems_told = len(problems)
        self.show_status()

    @work(thread=True, group="index", exit_on_error=False, name="Indexing the capture")
    def index_in_background(self) -> None:
        worker = get_current_worker()
        for _ in self.model.indexing():
            if worker.is_cancelled:
                return

    def show_status(self) -> None:
        packets = self.packets
        total = len(self.model)
        parts = [f"{total:,} packet{'s' * (total != 1)}"]
        if self.filter is not None:
            parts.append(f"{packets.count:,} shown ({self.filter.text.strip()})")
        if self._filter_progress is not None:
            checked, of = self._filter_progress
            parts.append(f"filtering {checked * 100 // max(of, 1)}%")
        progress = self.model.progress
        if progress is not None:
            parts.append(f"indexing {progress:.0%}")
        if self._problems_told:
            parts.append(f"⚠ {self._problems_told} problem{'s' * (self._problems_told != 1)}")
        forgetting = getattr(self.model, "forgetting", None)
        if forgetting:
            parts.append(forgetting)
        subtitle = " · ".join(parts)
        title = f"Packets · {self.source}" if self.source else "Packets"
        if self.has_class("-short"):  # no bottom border: all on top
            title, subtitle = f"{title} · {subtitle}", ""
        if self._packets_titles != (title, subtitle):  # the file's name, the filter: not markup
            self._packets_titles = (title, subtitle)
            packets.border_title = Text(title)
            packets.border_subtitle = Text(subtitle)

    # --- selection --------------------------------------------------------------------

    @on(RecordHighlighted)
    def record_highlighted(self, event: RecordHighlighted) -> None:
        self.show_record(event.index)

    def show_record(self, index: int | None) -> None:
        """Dissect record `index` and fill the tree and hex pane, keeping the field chosen."""
        previous = self.field.name if self.field is not None else None
        self.record = index
        self.dissection = self.model.dissect(index) if index is not None else None
        self.field = None
        tree = self.fields
        tree.show(self.dissection)
        self.show_buffer(0)
        if self.dissection is None:
            self.query_one(ExplanationBar).say(self.empty_text)
            self.query_one(BitRuler).show_field(None, None)
            return
        same = self.dissection.find(previous) if previous else None
        if same is not None:
            tree.select_field(same)
        self.select_field(same)

    def show_buffer(self, number: int) -> None:
        hex_view = self.hex_view
        buffers = self.dissection.buffers if self.dissection is not None else ()
        if 0 <= number < len(buffers):
            buffer = buffers[number]
            hex_view.show(buffer.data, buffer=number, name=buffer.name)
            # Which buffer first: a long name ("WebSocket frame 10.0.0.1:5000 → …") is
            # cut at the end of the border, and the "b" hint must stay.
            where = f" {number + 1}/{len(buffers)} (b: next)" if len(buffers) > 1 else ""
            title = f"Bytes{where} · {buffer.name}"
        else:
            hex_view.show(b"", buffer=0)
            title = "Bytes"
        self.query_one("#bytes").border_title = Text(title)

    @on(Tree.NodeHighlighted)
    def node_highlighted(self, event: Tree.NodeHighlighted[Field]) -> None:
        event.stop()
        if self.fields.holds(event.node):
            self.select_field(event.node.data)

    def select_field(self, field: Field | None) -> None:
        """Show `field`: its bytes highlighted, its bits on the ruler, its explanation."""
        self.field = field
        hex_view = self.hex_view
        if field is not None and field.buffer != hex_view.buffer:
            self.show_buffer(field.buffer)
        in_view = field is not None and field.buffer == hex_view.buffer
        hex_view.set_highlight((field.start, field.end) if field is not None and in_view else None)
        self.query_one(BitRuler).show_field(self.dissection, field)
        self.query_one(ExplanationBar).show_field(self.dissection, field)

    @on(HexCursorMoved)
    def hex_cursor_moved(self, event: HexCursorMoved) -> None:
        if self.dissection is None:
            return
        owner = self.dissection.field_at(event.offset, event.buffer)
        if owner is None:
            self.field = None
            self.fields.select_field(None)
            self.hex_view.set_highlight(None)
            self.query_one(BitRuler).show_field(None, None)
            self.query_one(ExplanationBar).say(f"No field covers byte {event.offset}.")
        elif owner is not self.field:
            self.fields.select_field(owner)

    @on(RecordChosen)
    def record_chosen(self, event: RecordChosen) -> None:
        self.fields.focus()

    # --- actions ----------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        self.query_one(FilterBar).focus()

    def action_next_buffer(self) -> None:
        if self.dissection is None or len(self.dissection.buffers) < 2:
            self.notify("This packet has one buffer: its own bytes.", timeout=3, markup=False)
            return
        number = (self.hex_view.buffer + 1) % len(self.dissection.buffers)
        self.show_buffer(number)
        if self.field is not None and self.field.buffer == number:
            self.hex_view.set_highlight((self.field.start, self.field.end))

    def action_follow(self) -> None:
        if self.record is None:
            self.notify("Choose a packet first.", timeout=3, markup=False)
            return
        self.app.push_screen(FollowScreen(self.model, self.record))

    def action_renumber(self) -> None:
        """TCP sequence and acknowledgment numbers: relative (Wireshark's default) or raw."""
        renumber = getattr(self.model, "renumber", None)
        relative = renumber() if renumber is not None else None
        if relative is None:
            self.notify("This view has no TCP numbers to change.", timeout=3, markup=False)
            return
        self.packets.refresh()
        self.show_record(self.record)
        way = "relative to each side's first (ISN)" if relative else "raw, as on the wire"
        self.notify(f"Sequence and acknowledgment numbers: {way}", timeout=3, markup=False)

    def action_save(self) -> None:
        shown = self.packets.shown_records

        def chosen(save: Save | None) -> None:
            if save is not None:
                self.save_pcap(save.path, shown if save.only_shown else None)

        count = None if shown is None else len(shown)
        record = getattr(self.model, "record", None)  # a trace recorded at the sockets?
        sockets = bool(len(self.model)) and record is not None and record(0).layer is Layer.STREAM
        save = SaveScreen(self.suggested_name(), len(self.model), count, sockets=sockets)
        self.app.push_screen(save, chosen)

    def suggested_name(self) -> str:
        """`capture-saved.pcap` for `capture.pcapng`; `wirelab-live.pcap` for a live session."""
        source = str(getattr(self.app, "source", ""))
        for suffix in (".pcapng", ".pcap"):
            if source.endswith(suffix):
                return f"{source.removesuffix(suffix)}-saved.pcap"
        return "wirelab-live.pcap"

    @work(thread=True, exclusive=True, name="Saving the pcap")
    def save_pcap(self, path: str, indexes: list[int] | None = None) -> None:
        try:
            message = self.model.save(path, indexes)
        except WirelabError as error:  # cannot be written: say why, keep the inspector
            self.app.call_from_thread(
                self.notify, str(error), severity="error", timeout=10, markup=False
            )
            return
        self.app.call_from_thread(self.notify, message, timeout=5, markup=False)

    def action_help(self) -> None:
        sections = [
            ("Everywhere", self.BINDINGS),
            ("Packet list", PacketList.BINDINGS),
            ("Field tree", Tree.BINDINGS),
            ("Hex pane", HexView.BINDINGS),
            ("Filter bar", FilterBar.BINDINGS),
        ]
        self.app.push_screen(HelpScreen(sections))

    # --- filtering --------------------------------------------------------------------

    @on(FilterSubmitted)
    def filter_submitted(self, event: FilterSubmitted) -> None:
        self.apply_filter(event.filter)
        self.packets.focus()

    def apply_filter(self, new: Filter) -> None:
        """Show only the records `new` matches (all of them for the empty filter)."""
        self._generation += 1
        self.workers.cancel_group(self, "filter")
        self._filtering = False
        self._checked = 0
        self._filter_progress = None
        keep = self.record
        if new.everything:
            self.filter = None
            self.packets.show_all(keep=keep)
        else:
            self.filter = new
            self._keep = keep
            self.packets.show_positions([])
            self.filter_more()
        self.show_status()

    def filter_more(self) -> None:
        """Run the filter over records it has not seen yet, in a worker."""
        total = len(self.model)
        if self.filter is None or self._filtering or self._checked >= total:
            return
        self._filtering = True
        self._filter_progress = (self._checked, total)
        self._filter_worker = self.run_filter(self.filter, self._generation, self._checked, total)

    @work(thread=True, group="filter", exit_on_error=False, name="Filtering")
    def run_filter(self, test: Filter, generation: int, start: int, total: int) -> None:
        worker = get_current_worker()
        # From the capture's columns when they hold what the filter reads: no dissecting.
        match = self.model.matcher(test)
        matches: list[int] = []
        last = time.monotonic()
        for index in range(start, total):
            if worker.is_cancelled:
                return
            if match(index):
                matches.append(index)
            now = time.monotonic()
            if now - last >= PROGRESS_SECONDS:
                self.post_message(FilterProgress(generation, index + 1, total, matches))
                matches, last = [], now
        self.post_message(FilterProgress(generation, total, total, matches, done=True))

    @on(FilterProgress)
    def filter_progress(self, event: FilterProgress) -> None:
        if event.generation != self._generation:
            return
        self._checked = event.checked
        packets = self.packets
        packets.add_positions(event.matches)
        self._filter_progress = None if event.done else (event.checked, event.total)
        if event.done:
            self._filtering = False
            if self._keep is not None and packets.go_to_record(self._keep):
                self._keep = None
            elif packets.count and packets.cursor < 0:
                packets.action_first()
            self.filter_more()  # the model may have grown meanwhile
        self.show_status()

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        report_worker_error(event)
        # Only the running filter's end counts: one cancelled for a newer filter ends after
        # the newer one has started.
        if event.worker is self._filter_worker and event.state in (
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._filtering = False
            self._filter_progress = None
            self.show_status()


class CourseInspector(InspectorScreen):
    """The inspector opened from the course: Escape (or q) goes back to where it was
    opened rather than quitting wirelab."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
    ]
