"""`wirelab dissect`: a capture's dissection as annotated terminal output or JSON.

The same dissections the inspector shows, for handouts and scripts: every
packet's field tree with explanations and a hex dump, and every HTTP message
and WebSocket frame reassembled from the TCP streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.hexdump import BYTES_PER_ROW, hex_line, offset_digits, where
from simulator.dissect.messages import MessageDissector, message_json
from simulator.dissect.packet import combine, dissect_record
from simulator.errors import WirelabError
from simulator.trace.pcap import Capture, open_capture
from simulator.trace.streams import Pdu, reassemble

HEX_ROWS_SHOWN = 64  # per buffer in the terminal; JSON carries everything


def dissect_file(path: str, *, packet: int | None, as_json: bool, console: Console) -> int:
    """Print the dissection of `path` (or of packet number `packet` only); returns an exit code."""
    with open_capture(path) as capture:
        capture.index()
        if packet is not None and not 1 <= packet <= len(capture):
            raise WirelabError(f"{path} has packets 1–{len(capture)}; there is no packet {packet}")
        chosen = range(len(capture)) if packet is None else [packet - 1]
        results = list(_dissected(capture, chosen))
        if as_json:
            # Written as is: Rich's print_json would parse and re-render it (megabytes for a
            # capture with large frames) into the same bytes, ten times slower.
            document = json.dumps(_json(path, capture, results), indent=2, ensure_ascii=False)
            console.file.write(document + "\n")
        else:
            for number, dissection, _ in results:
                console.print(_render(number, dissection))
            for problem in capture.problems:
                console.print(f"[yellow]packet {problem.number}:[/] {problem.message}")
    return 0


def _dissected(
    capture: Capture, chosen: range | list[int]
) -> Iterator[tuple[int, Dissection, list[tuple[Pdu, Dissection]]]]:
    if isinstance(chosen, range):
        reassembler = reassemble(capture)
    else:  # one packet: its connection up to it is enough
        mine = [i for i in capture.same_connection(chosen[0]) if i <= chosen[0]]
        reassembler = reassemble(capture, mine)
    messages = MessageDissector()
    if not isinstance(chosen, range):
        # What the connection said before (the handshake, compression settings, the
        # earlier compressed messages a later one refers to) explains this packet.
        for pdu in reassembler.pdus:
            if pdu.completed_in < chosen[0]:
                messages.learn(pdu)
    for index in chosen:
        pdus = reassembler.pdus_completed_in(index)
        extra = [(pdu, messages.dissect(pdu)) for pdu in pdus]
        base = dissect_record(capture.record(index))
        yield index + 1, combine(base, [d for _, d in extra]), extra


def _json(path: str, capture: Capture, results: list[Any]) -> dict[str, Any]:
    packets: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for number, dissection, extra in results:
        record = capture.record(number - 1)
        packets.append(
            {"number": number, "time": record.time, "length": len(record.data),
             "original_length": record.original_length or len(record.data),
             "link_type": record.link_type, **dissection.to_json()}
        )  # fmt: skip
        messages.extend(message_json(pdu, d) for pdu, d in extra)
    return {
        "file": Path(path).name,
        "format": capture.format,
        "packets": packets,
        "messages": messages,
        "problems": [{"packet": p.number, "message": p.message} for p in capture.problems],
    }


def _render(number: int, dissection: Dissection) -> Panel:
    tree = Tree(Text.assemble(("Packet ", "bold"), (f"{number}", "bold cyan"), "  ",
                              dissection.summary))  # fmt: skip
    for top in dissection.fields:
        _branch(tree, top)
    parts: list[Any] = [tree]
    for buffer in dissection.buffers:
        parts.append(Text(f"\n{buffer.name}", style="bold"))
        parts.append(_hexdump(buffer.data))
    for problem in dissection.problems:
        parts.append(Text(f"problem: {problem}", style="bold red"))
    return Panel(Group(*parts), title=dissection.protocol, title_align="left")


def _branch(parent: Tree, field: Field) -> None:
    label = Text(field.label, style="bold")
    shown = str(field).removeprefix(field.label)
    if shown:
        label.append(shown)
    label.append(f"  [{where(field.start, field.end, field.bits)}]", style="dim")
    if field.problem:
        label.append(f"  {field.problem}", style="bold red")
    if field.explanation:
        label.append(f"\n{field.explanation}", style="italic dim")
    node = parent.add(label)
    for child in field.children:
        _branch(node, child)


def _hexdump(data: bytes) -> Text:
    digits = offset_digits(len(data))
    rows = (len(data) + BYTES_PER_ROW - 1) // BYTES_PER_ROW
    text = Text()
    for row in range(min(rows, HEX_ROWS_SHOWN)):
        for piece in hex_line(data, row, digits=digits):
            text.append(piece.text, style="dim" if piece.kind in ("offset", "dot") else "")
        text.append("\n")
    if rows > HEX_ROWS_SHOWN:
        text.append(f"… {len(data) - HEX_ROWS_SHOWN * BYTES_PER_ROW} more bytes\n", style="dim")
    return text
