"""`wirelab dissect`: a capture's dissection as annotated terminal output or JSON.

The same dissections the inspector shows, for handouts and scripts: every
packet's field tree with explanations and a hex dump, and every HTTP message
and WebSocket frame reassembled from the TCP streams.

Output is streamed: each packet is dissected, written and let go before the
next is read, so a capture of any length takes the memory of one packet and
its messages (and of the connections' state), and the time and output grow
with the capture's size alone. What one packet can add is bounded too: the
messages it completes (`MESSAGES_SHOWN`), the hex rows of each buffer in the
terminal (`HEX_ROWS_SHOWN`), the fields of an HTTP message, an inflated
message; each cut is said where it is made.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from rich.console import Console
from rich.text import Span, Text

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.filters import Filter
from simulator.dissect.hexdump import BYTES_PER_ROW, offset_digits, plain_hex_row, where
from simulator.dissect.messages import MessageDissector, message_json, shown_messages
from simulator.dissect.packet import combine, dissect_record
from simulator.dissect.stream_view import as_wireshark_shows, in_context
from simulator.errors import WirelabError
from simulator.text import plural, printable
from simulator.trace.analysis import Analysis, Analyzer
from simulator.trace.pcap import Capture, open_capture
from simulator.trace.records import WireRecord
from simulator.trace.streams import Pdu, Reassembler, reassemble

HEX_ROWS_SHOWN = 64  # per buffer in the terminal; JSON carries the field values
TEXT_WIDTH = (60, 160)  # the narrowest and widest the text is laid out for
_SPOOL = 8 << 20  # messages' JSON kept in memory before it goes to a temporary file


class Dissected(NamedTuple):
    """One packet as `wirelab dissect` shows it: number 0 for the messages the end of
    the capture completed (a body delimited by the connection's end)."""

    number: int
    dissection: Dissection | None
    messages: list[tuple[Pdu, Dissection]]


def dissect_file(
    path: str, *, packet: int | None, as_json: bool, console: Console, only: Filter | None = None
) -> int:
    """Print the dissection of `path` (or of packet number `packet` only, or of the packets
    the display filter `only` matches, with their numbers in the whole capture); returns
    an exit code."""
    with open_capture(path) as capture:
        capture.index()
        if packet is not None and not 1 <= packet <= len(capture):
            raise WirelabError(f"{path} has packets 1–{len(capture)}; there is no packet {packet}")
        results = _every(capture) if packet is None else _one(capture, packet - 1)
        if only is not None:
            results = _matching(results, only)
        if as_json:
            _write_json(console.file, path, capture, results)
        else:
            _write_text(console, results)
            for problem in capture.problems:
                console.print(f"packet {problem.number}: {problem.message}", style="yellow",
                              markup=False, highlight=False)  # fmt: skip
    return 0


# --- dissecting, packet by packet ---------------------------------------------------------


def _every(capture: Capture) -> Iterator[Dissected]:
    """Every packet in order, each with the messages it completed; nothing is kept."""
    reassembler = Reassembler(keep=False)
    messages = MessageDissector(keep=False)
    analyzer = Analyzer()
    first = _first_time(capture)
    for index in range(len(capture)):
        record = capture.record(index)
        analysis = analyzer.feed(record)
        pdus = reassembler.feed(record)
        base = dissect_record(record, segment=reassembler.held_last)
        base = _numbered(base, record, reassembler, analysis, capture, first)
        yield _with(index + 1, base, pdus, messages)
    ended = reassembler.finish()
    if ended:
        yield Dissected(0, None, [(pdu, messages.dissect(pdu)) for pdu in ended])


def _one(capture: Capture, index: int) -> Iterator[Dissected]:
    """Packet `index`, read in the context of its connection up to it."""
    mine = [i for i in capture.same_connection(index) if i <= index]
    analyzer = Analyzer()
    analysis: list[Analysis | None] = [None]  # the last packet's: this one's

    def read() -> Iterator[WireRecord]:  # each packet once, for the analysis and reassembly
        for i in mine:
            record = capture.record(i)
            analysis[0] = analyzer.feed(record)
            yield record

    reassembler = reassemble(read())
    messages = MessageDissector()
    # What the connection said before (the handshake, compression settings, the
    # earlier compressed messages a later one refers to) explains this packet.
    for pdu in reassembler.pdus:
        if pdu.completed_in < index:
            messages.learn(pdu)
    record = capture.record(index)
    base = dissect_record(record, segment=reassembler.held(index))
    base = _numbered(base, record, reassembler, analysis[0], capture, _first_time(capture))
    yield _with(index + 1, base, reassembler.pdus_completed_in(index), messages)


def _matching(results: Iterator[Dissected], only: Filter) -> Iterator[Dissected]:
    """The packets `only` matches (and the messages the capture's end completed that it
    matches): every packet is still dissected, in order, so each is read in context."""
    for result in results:
        if result.dissection is not None:
            if only(result.dissection):
                yield result
            continue
        ended = [(pdu, message) for pdu, message in result.messages if only(message)]
        if ended:
            yield Dissected(0, None, ended)


def _numbered(
    base: Dissection,
    record: WireRecord,
    reassembler: Reassembler,
    analysis: Analysis | None,
    capture: Capture,
    first: float,
) -> Dissection:
    """The window scaled, the TCP analysis, the sequence numbers relative and the place in
    the capture (`first`: its first packet's time), as the inspector shows them."""
    base = as_wireshark_shows(base, record, reassembler, analysis, relative=True)
    return in_context(base, record.time - first, capture.connection_of(record.index))


def _first_time(capture: Capture) -> float:
    return capture.record(0).time if len(capture) else 0.0


def _with(number: int, base: Dissection, pdus: list[Pdu], messages: MessageDissector) -> Dissected:
    shown = shown_messages(pdus, messages)
    dissection = combine(base, shown.dissections, more=shown.left_out, more_at=shown.at)
    return Dissected(number, dissection, list(zip(shown.pdus, shown.dissections, strict=True)))


# --- JSON ---------------------------------------------------------------------------------


def _write_json(out: IO[str], path: str, capture: Capture, results: Iterator[Dissected]) -> None:
    """The document `{"file", "format", "packets", "messages", "problems"}`, written as
    it is made, a packet or a message a line: packets go out one by one, messages wait
    in a temporary file (in memory while small) until the packets are done."""
    out.write("{\n")
    out.write(f'  "file": {json.dumps(Path(path).name, ensure_ascii=False)},\n')
    out.write(f'  "format": {json.dumps(capture.format)},\n')
    out.write('  "packets": [')
    count = 0
    with tempfile.SpooledTemporaryFile(_SPOOL, mode="w+", encoding="utf-8") as spool:
        held = 0
        for number, dissection, extra in results:
            if dissection is not None:
                record = capture.record(number - 1)
                item = {"number": number, "time": record.time, "length": len(record.data),
                        "original_length": record.original_length or len(record.data),
                        "link_type": record.link_type, **dissection.to_json()}  # fmt: skip
                out.write(("," if count else "") + "\n    " + _nested(item))
                count += 1
            for pdu, message in extra:
                spool.write(("," if held else "") + "\n    " + _nested(message_json(pdu, message)))
                held += 1
        out.write("\n  ],\n" if count else "],\n")
        out.write('  "messages": [')
        spool.seek(0)
        while chunk := spool.read(1 << 20):
            out.write(chunk)
        out.write("\n  ],\n" if held else "],\n")
    problems = [{"packet": p.number, "message": p.message} for p in capture.problems]
    out.write(f'  "problems": {_nested(problems)}\n')
    out.write("}\n")


def _nested(value: Any) -> str:
    """`value` as JSON on one line: one packet or message a line reads well enough, is a
    third of the size indented, and is written by the json module's C encoder (which it
    does not use for indented output: ten times slower)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- text ---------------------------------------------------------------------------------


def _write_text(console: Console, results: Iterator[Dissected]) -> None:
    width = min(max(console.width, TEXT_WIDTH[0]), TEXT_WIDTH[1])
    for number, dissection, extra in results:
        if dissection is not None:
            _render(number, dissection, width).write(console)
        else:  # completed by the end of the capture: each message on its own
            for pdu, message in extra:
                heading = f"At the end of the capture (packet {pdu.completed_in + 1})"
                _render(0, message, width, heading=heading).write(console)


class _Writer:
    """Lines of a panel open on the left ("│ "), each wrapped to the width by hand: a
    packet's text costs a few list appends per line, not a layout engine's pass. Styles
    are applied only when the console shows them (a terminal); a file or a pipe gets the
    plain text written as it is."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.parts: list[str] = []
        self.styles: list[str] = []

    def add(self, text: str, style: str = "") -> None:
        self.parts.append(text)
        self.styles.append(style)

    def line(self, content: str, style: str = "", *, first: str = "", rest: str = "") -> None:
        """`content` wrapped, `first` before its first line and `rest` before the others."""
        room = max(20, self.width - 2 - len(first))
        for n, piece in enumerate(_wrap(printable(content), room)):
            self.add("│ ", "blue")
            self.add(first if n == 0 else rest, "dim")
            self.add(piece + "\n", style)

    def write(self, console: Console) -> None:
        if console.color_system is None:
            console.file.write("".join(self.parts))
            return
        spans, at = [], 0
        for part, style in zip(self.parts, self.styles, strict=True):
            if style:
                spans.append(Span(at, at + len(part), style))
            at += len(part)
        console.print(Text("".join(self.parts), spans=spans), soft_wrap=True, end="")


def _render(number: int, dissection: Dissection, width: int, *, heading: str = "") -> _Writer:
    out = _Writer(width)
    title = f"╭─ {printable(dissection.protocol, limit=40)} "
    out.add(title + "─" * max(0, width - len(title)) + "\n", "blue")
    out.line(heading or f"Packet {number}  {dissection.summary}", "bold")
    for n, top in enumerate(dissection.fields):
        _branch(out, top, "", last=n == len(dissection.fields) - 1)
    for buffer in dissection.buffers:
        out.line("")
        out.line(buffer.name, "bold")
        _hexdump(out, buffer.data)
    for problem in dissection.problems:
        out.line(f"problem: {problem}", "bold red")
    out.add("╰" + "─" * (width - 1) + "\n", "blue")
    return out


def _branch(out: _Writer, field: Field, indent: str, *, last: bool) -> None:
    shown = str(field).removeprefix(field.label)
    spans = field.end > field.start or field.bits is not None  # else: not on the wire
    place = f"  [{where(field.start, field.end, field.bits)}]" if spans else ""
    first, rest = indent + ("└── " if last else "├── "), indent + ("    " if last else "│   ")
    out.line(field.label + shown + place, first=first, rest=rest)
    more = rest + ("│   " if field.children else "    ")
    if field.problem:
        out.line(field.problem, "bold red", first=more, rest=more)
    if field.explanation:
        out.line(field.explanation, "italic dim", first=more, rest=more)
    for n, child in enumerate(field.children):
        _branch(out, child, rest, last=n == len(field.children) - 1)


def _hexdump(out: _Writer, data: bytes) -> None:
    digits = offset_digits(len(data))
    rows = (len(data) + BYTES_PER_ROW - 1) // BYTES_PER_ROW
    for row in range(min(rows, HEX_ROWS_SHOWN)):
        line = plain_hex_row(data, row, digits=digits)
        out.add("│ ", "blue")
        out.add(line[:digits], "dim")
        out.add(line[digits:] + "\n")
    if rows > HEX_ROWS_SHOWN:
        left = len(data) - HEX_ROWS_SHOWN * BYTES_PER_ROW
        out.line(f"… {plural(left, 'more byte', grouped=True)}", "dim")


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken at spaces where it can be."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        while len(paragraph) > width:
            cut = paragraph.rfind(" ", 0, width + 1)
            if cut <= 0:
                cut = width
            lines.append(paragraph[:cut].rstrip())
            paragraph = paragraph[cut:].lstrip(" ")
        lines.append(paragraph)
    return lines
