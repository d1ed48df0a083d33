"""One lesson step as a browser following a class shows it: a small JSON-able document.

`wirelab teach --share` sends each browser that follows the class a `view`
message at every moment of the teacher's (see `simulator.live.classroom`);
its document is `step_document(...)`, made from the same `StepView` the lesson
screen renders, the same way the screen's panes render it:

    {"lesson": {"id", "title", "steps"},
     "step": {"index", "title", "playing", "shown", "of"},
     "narration": [{"kind": "title" | "prose" | "pre", "text"}],   # prose: Markdown
     "checkpoint": {"text", "predict", "answered", "expected"?} | null,
     "ladder": {"columns", "arrows": [{"n", "no", "t", "src", "dst", "label",
                "own"?, "lost"?}], "selected", "before", "after"},
     "packet": {"number", "trace", "title",
                "fields": [{"text", "at"?, "open"?, "lit"?, "problem"?, "children"?}],
                "buffers": [{"name", "length", "offset", "hex", "hidden"}],
                "lit", "explain": {"field", "where", "problems", "text", "value"}} | null,
     "empty": "This step puts no packet on the wire." | null,
     "routes": {...} | null, "window": {...} | null,
     "cut": {"arrows", "fields", "bytes"}}

The student can read every frame of the WebSocket in the browser's developer
tools, so the rule is the lesson screen's: nothing it holds back before a
checkpoint is answered (or revealed) is in the document. Field lines go through
the same `field_line`/`kin`/`redact`/`hide_anywhere` as `FieldTree`, the bytes
that hold the answer are "??" in `hex` (never their value), ladder labels are the
view's (already withheld), the answer (`expected`) is there only once answered,
a withheld verdict or window is left out.

The document stays under `LIMIT` bytes of JSON (unless a step's narration alone
were that long): the ladder keeps its most recent arrows (and the picked one), the
hex dump a few KiB around the lit field, the field tree a few hundred lines, fewer
of each when that is still too much; `cut` says how many of each were left out.

Nothing here imports Textual.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.hexdump import where
from simulator.lessons.checkpoints import Withheld
from simulator.lessons.ladder import LadderArrow
from simulator.views.lesson import LessonView, RoutesShown, StepView, WindowShown
from simulator.views.withheld import (
    field_line,
    hidden_bytes,
    hide_anywhere,
    kin,
    redact,
    tells_place,
)

#: Bytes of JSON a document stays under (the share server's followers get one per moment).
LIMIT = 32 * 1024
#: The most recent arrows of the ladder a document keeps (and the picked one).
ARROWS = 80
#: Lines of the field tree a document keeps.
NODES = 300
#: Bytes of hex dump a document keeps, over all its buffers.
HEX_BYTES = 4096
#: What stands for a byte held back, in `hex` (two characters, as a byte's hex digits).
HIDDEN_HEX = "??"
ROUTE_HEADINGS = ("#", "destination", "gateway", "interface", "metric", "covers")
HIDDEN_WINDOW = "The window sizes are the checkpoint's answer."

# "WebSocket frame 10.0.0.1:5000 → 10.0.0.2:80 (20 bytes, packet 8)": the part in parentheses
_TRAILING_DETAILS = re.compile(r" \([^()]*\)$")


@dataclass(frozen=True, slots=True)
class _Shown:
    """What the field and byte panes show: a packet's dissection, as the lesson screen
    picks it (the step's packet, or the one picked on the ladder)."""

    dissection: Dissection
    packet: int | None  # the capture index the field tree counts it by (None: on its own)
    tree: Withheld  # what the field tree holds back (NOTHING for a packet on its own)
    field: Field | None  # the field lit
    number: int  # its trace number, from 1


def step_document(
    view: LessonView, index: int, *, answered: bool, shown: int | None, picked: int | None
) -> dict[str, object]:
    """Step `index` of `view`'s lesson as the lesson screen shows it at that moment:
    `answered` (its checkpoint revealed), `shown` of its packets while they play (None:
    all), `picked` a packet (trace number) picked on the ladder. See the module."""
    step = view.step(index, answered=answered, revealed=shown, selected=picked)
    panes = _panes(view, step, picked)
    arrows, budget, nodes = ARROWS, HEX_BYTES, NODES
    while True:
        document = _document(view, step, panes, arrows=arrows, hex_bytes=budget, nodes=nodes)
        if len(_json(document)) < LIMIT or (arrows, budget, nodes) == (8, 256, 40):
            return document
        arrows, budget, nodes = max(8, arrows * 3 // 4), max(256, budget // 2), max(40, nodes // 2)


def document_size(document: dict[str, object]) -> int:
    """The bytes of a document in a `view` message (UTF-8, compact)."""
    return len(_json(document))


def _json(document: dict[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _document(
    view: LessonView,
    step: StepView,
    panes: _Shown | None,
    *,
    arrows: int,
    hex_bytes: int,
    nodes: int,
) -> dict[str, object]:
    lesson = view.lesson
    pointer = lesson.steps[step.index].pointer
    captured = view.run.scenario.capture_link(pointer.at if pointer is not None else None).name
    ladder, cut_arrows = _ladder(step, captured, arrows)
    packet, cut_fields, cut_bytes = (
        _packet(step, panes, captured, hex_bytes, nodes) if panes is not None else (None, 0, 0)
    )
    shown, of = step.current
    return {
        "lesson": {"id": lesson.id, "title": lesson.title, "steps": step.count},
        "step": {
            "index": step.index,
            "title": step.title,
            "playing": step.playing,
            "shown": shown,
            "of": of,
        },
        "narration": [
            {
                "kind": "title" if block.title else "pre" if block.preformatted else "prose",
                "text": block.text,
            }
            for block in step.blocks
        ],
        "checkpoint": _checkpoint(view, step),
        "ladder": ladder,
        "packet": packet,
        "empty": step.empty if panes is None else None,
        "routes": _routes(step.routes) if step.routes is not None else None,
        "window": _window(step.window) if step.window is not None else None,
        "cut": {"arrows": cut_arrows, "fields": cut_fields, "bytes": cut_bytes},
    }


# --- the checkpoint -----------------------------------------------------------------------


def _checkpoint(view: LessonView, step: StepView) -> dict[str, object] | None:
    question = step.question
    if question is None:
        return None
    checkpoint = view.lesson.steps[step.index].checkpoint
    found: dict[str, object] = {
        "text": question.text,
        "predict": bool(checkpoint is not None and checkpoint.predict),
        "answered": step.answered,
    }
    if step.answered:
        found["expected"] = question.expected
    return found


# --- the ladder (as LessonScreen._show_ladder) ------------------------------------------------


def _ladder(step: StepView, captured: str, limit: int) -> tuple[dict[str, object], int]:
    """The lifelines and the arrows (the most recent `limit`, the selected one among them);
    how many arrows were left out. `captured`: the link whose capture numbers the rows."""
    every = step.arrows
    start = max(0, len(every) - limit)
    numbers = [arrow.number for arrow in every]
    if step.selected in numbers and numbers.index(step.selected) < start:
        start = max(0, numbers.index(step.selected) - limit // 8)
    kept = every[start : start + limit]
    ladder: dict[str, object] = {
        "columns": list(step.columns),
        "arrows": [_arrow(arrow, step.index, captured) for arrow in kept],
        "selected": step.selected if step.selected in numbers else None,
        "before": start,
        "after": len(every) - start - len(kept),
    }
    return ladder, len(every) - len(kept)


def _arrow(arrow: LadderArrow, index: int, captured: str) -> dict[str, object]:
    found: dict[str, object] = {
        "n": arrow.number,
        # Numbered as the capture the step shows counts them; other links' rows have none.
        "no": str(arrow.shown) if arrow.link == captured else "",
        "t": round(arrow.time, 6),
        "src": arrow.src,
        "dst": arrow.dst,
        "label": arrow.label,
    }
    if arrow.step == index:
        found["own"] = True
    if arrow.lost:
        found["lost"] = True
    return found


# --- the field and byte panes (as LessonScreen._show_packet and FieldTree) ------------------


def _panes(view: LessonView, step: StepView, picked: int | None) -> _Shown | None:
    """The packet the field and byte panes show (None: the step shows none)."""
    if picked is not None:  # picked on the ladder: as LessonScreen._show_trace_packet
        trace_index = picked - 1
        if not 0 <= trace_index < len(view.run.trace):
            return None
        dissection, packet = view.trace_packet(step.index, trace_index, step.withheld)
        return _Shown(dissection, packet, step.withheld, None, picked)
    if step.packet is None or step.dissection is None:
        return None
    pointer = view.lesson.steps[step.index].pointer
    _, originals = view.run.capture(pointer.at if pointer is not None else None)
    number = originals[step.packet] + 1
    return _Shown(step.dissection, step.packet, step.withheld, step.field, number)


def _packet(
    step: StepView, panes: _Shown, captured: str, hex_bytes: int, nodes: int
) -> tuple[dict[str, object], int, int]:
    """The packet pane's document; how many field lines and bytes were left out."""
    withheld = step.withheld
    fields, cut_fields = _field_nodes(panes, withheld, limit=nodes)
    buffers, cut_bytes = _buffers(panes, withheld, hex_bytes)
    lit = panes.field
    place = lit is not None and tells_place(withheld, lit, panes.packet)
    # Its number in the capture the ladder counts by ("" when that link did not see it).
    number = next(
        (str(a.shown) for a in step.arrows if a.number == panes.number and a.link == captured),
        "",
    )
    packet: dict[str, object] = {
        "number": number,
        "trace": panes.number,
        "title": _summary(panes, withheld),
        "fields": fields,
        "buffers": buffers,
        "lit": [lit.buffer, lit.start, lit.end] if lit is not None and not place else None,
        "explain": _explain(panes, withheld),
    }
    return packet, cut_fields, cut_bytes


def _tree_line(panes: _Shown, field: Field, kin_ids: set[int], *, tag_buffer: bool) -> str:
    """`field`'s line exactly as `FieldTree.field_label` writes it (its value held back,
    the buffer it moves to, its problem)."""
    withheld, dissection = panes.tree, panes.dissection
    text = field_line(field, withheld, packet=panes.packet, kin=id(field) in kin_ids)
    if tag_buffer and field.buffer:
        buffers = dissection.buffers
        if 0 <= field.buffer < len(buffers) and buffers[field.buffer].name not in field.label:
            name = _TRAILING_DETAILS.sub("", buffers[field.buffer].name)
            if panes.packet == withheld.packet:
                name = redact(name, withheld, asked=False)
            text += f"  [{name}]"
    if field.problem:
        text += f"  ⚠ {hide_anywhere(field.problem, withheld)}"
    return text


def _field_nodes(
    panes: _Shown, withheld: Withheld, *, limit: int = NODES
) -> tuple[list[dict[str, object]], int]:
    """The field tree as nested nodes (`FieldTree.show`): each with its line, its bytes
    (`at`: [buffer, start, end], left out for the field whose place is the answer, which
    the hex pane never lights either), open or closed; at most `limit` lines, and how
    many more there were. `withheld`: the step's."""
    dissection, tree = panes.dissection, panes.tree
    kin_ids: set[int] = set()
    if tree.field is not None and panes.packet == tree.packet:
        kin_ids = kin(dissection, tree.field)
    messages = any(field.buffer != 0 for field in dissection.fields)
    last = dissection.fields[-1] if dissection.fields else None
    lit_path = _path_to(dissection, panes.field)
    count = 0
    total = sum(1 for _ in dissection.walk())

    def node(field: Field, is_open: bool, parent_buffer: int) -> dict[str, object] | None:
        nonlocal count
        if count >= limit:
            return None
        count += 1
        line = _tree_line(panes, field, kin_ids, tag_buffer=field.buffer != parent_buffer)
        found: dict[str, object] = {"text": line}
        if not tells_place(withheld, field, panes.packet):
            found["at"] = [field.buffer, field.start, field.end]
        if field.problem:
            found["problem"] = True
        if field is panes.field:
            found["lit"] = True
        if field.children:
            found["open"] = is_open or id(field) in lit_path
            children = []
            for child in field.children:
                made = node(child, is_open, field.buffer)
                if made is None:
                    break
                children.append(made)
            found["children"] = children
        return found

    nodes = []
    for field in dissection.fields:
        made = node(field, field.buffer != 0 if messages else field is last, 0)
        if made is None:
            break
        nodes.append(made)
    return nodes, total - count


def _path_to(dissection: Dissection, field: Field | None) -> set[int]:
    """`id()` of the fields above `field` (opened to show it, as `select_field` does)."""
    if field is None:
        return set()
    path: list[Field] = []

    def walk(fields: tuple[Field, ...]) -> bool:
        for candidate in fields:
            if candidate is field:
                return True
            path.append(candidate)
            if walk(candidate.children):
                return True
            path.pop()
        return False

    walk(dissection.fields)
    return {id(parent) for parent in path}


def _hidden(panes: _Shown, withheld: Withheld) -> dict[int, tuple[int, int]]:
    """Buffer → the bytes the hex pane holds back (as `LessonScreen._hidden`)."""
    if panes.packet != withheld.packet:
        return {}
    return hidden_bytes(panes.dissection, withheld)


def _buffers(panes: _Shown, withheld: Withheld, budget: int) -> tuple[list[dict[str, object]], int]:
    """Every buffer of the dissection as hex ("??" for a byte held back), cut to `budget`
    bytes in all: the lit field's buffer first (around the field), leaving the others a
    third of it at least; how many bytes were cut."""
    dissection = panes.dissection
    hidden = _hidden(panes, withheld)
    lit = panes.field
    first = lit.buffer if lit is not None and 0 <= lit.buffer < len(dissection.buffers) else 0
    order = [first, *(i for i in range(len(dissection.buffers)) if i != first)]
    made: dict[int, dict[str, object]] = {}
    cut = 0
    left = budget
    for position, number in enumerate(order):
        buffer = dissection.buffers[number]
        data = buffer.data
        others = sum(len(dissection.buffers[i].data) for i in order[position + 1 :])
        size = min(len(data), left - min(others, left // 3))
        offset = 0
        if size < len(data) and lit is not None and lit.buffer == number and lit.end > size:
            # Around the lit field: from a row or so before it.
            offset = max(0, min(lit.start - 64, len(data) - size)) // 16 * 16
        shown = data[offset : offset + size]
        span = hidden.get(number)
        text = shown.hex()
        if span is not None:
            start, end = max(span[0], offset), min(span[1], offset + len(shown))
            if start < end:
                pieces = [text[: 2 * (start - offset)], HIDDEN_HEX * (end - start)]
                text = "".join([*pieces, text[2 * (end - offset) :]])
        name = _TRAILING_DETAILS.sub("", buffer.name)
        if panes.packet == withheld.packet:
            name = redact(name, withheld, asked=False)
        made[number] = {
            "name": hide_anywhere(name, withheld),
            "length": len(data),
            "offset": offset,
            "hex": text,
            "hidden": list(span) if span is not None else None,
        }
        cut += len(data) - len(shown)
        left -= len(shown)
    return [made[i] for i in range(len(dissection.buffers))], cut


def _summary(panes: _Shown, withheld: Withheld) -> str:
    """The packet's one line, as the explanation bar says it with no field lit."""
    summary = panes.dissection.summary
    if withheld.packet == panes.packet:
        summary = redact(summary, withheld)
    return hide_anywhere(summary, withheld)


def _explain(panes: _Shown, withheld: Withheld) -> dict[str, object]:
    """The explanation bar (as `LessonScreen._explain` and `ExplanationBar.show_field`):
    the lit field's name, where it is, its problem and explanation, and its line; or,
    with no field lit, the packet's problems and summary."""
    field, dissection = panes.field, panes.dissection

    def hide(text: str) -> str:
        return hide_anywhere(text, withheld)

    if field is None:
        return {
            "field": None,
            "where": "",
            "problems": [hide(problem) for problem in dissection.problems],
            "text": _summary(panes, withheld),
            "value": "",
        }
    shows_where = not tells_place(withheld, field, panes.packet)
    value = str(field)
    if withheld.packet == panes.packet:
        kin_ids = kin(dissection, panes.tree.field) if panes.tree.field is not None else set()
        value = field_line(field, panes.tree, packet=panes.packet, kin=id(field) in kin_ids)
    line = hide(value)
    return {
        "field": field.name,
        "where": where(field.start, field.end, field.bits) if shows_where else "",
        "problems": [hide(field.problem)] if field.problem else [],
        "text": hide(field.explanation) if field.explanation else line,
        "value": line.replace("\n", " "),
    }


# --- the table: a routing table, a TCP window --------------------------------------------------


def _routes(routes: RoutesShown) -> dict[str, object]:
    """A router's table as rows of text; the lookup's row and reason unless withheld
    (then `decision` is None in the view, and nothing of it is here)."""
    decision = routes.decision
    return {
        "router": routes.router,
        "title": f"{routes.router} routing table",
        "headings": list(ROUTE_HEADINGS),
        "rows": [
            [str(i + 1), str(r.prefix), r.gateway(), r.interface, str(r.metric), r.covers]
            for i, r in enumerate(routes.rows)
        ],
        "matched": decision.row if decision is not None else None,
        "candidates": list(decision.candidates) if decision is not None else [],
        "reason": decision.reason if decision is not None else "",
    }


def _window(window: WindowShown) -> dict[str, object]:
    """One side's receive buffer as `TcpWindowView` says it: the bar's parts and rows of
    (name, value, note); with its window sizes withheld, only what that view shows then."""
    snapshot = window.snapshot
    if snapshot is None:
        return {"side": window.side, "state": "not connected", "hidden": False, "rows": []}
    free = max(0, snapshot.receive_buffer - snapshot.readable)
    if window.hidden:
        return {
            "side": window.side,
            "state": snapshot.state,
            "buffer": snapshot.receive_buffer,
            "hidden": True,
            "bar": {"readable": snapshot.readable, "hidden": free},
            "rows": [
                ["readable", f"{snapshot.readable} B", "waiting for the application to read"],
                ["rcv_wnd", "?", ""],
                ["snd_wnd", "?", ""],
                ["in flight", f"{snapshot.in_flight} B", ""],
                ["unsent", f"{snapshot.unsent} B", ""],
            ],
            "note": HIDDEN_WINDOW,
        }
    advertised = max(0, min(snapshot.rcv_wnd, free))
    held = max(0, free - snapshot.rcv_wnd)
    zero = snapshot.rcv_wnd == 0
    rows = [
        ["readable", f"{snapshot.readable} B", "waiting for the application to read"],
        ["rcv_wnd", f"{snapshot.rcv_wnd} B",
         "window 0: the sender must stop" if zero else "the window it advertises"],
        ["held back", f"{held} B", "free, not advertised yet (SWS avoidance)"],
        ["snd_wnd", f"{snapshot.snd_wnd} B", "the peer's window"],
    ]  # fmt: skip
    if snapshot.cwnd is not None:
        rows.append(["cwnd", f"{snapshot.cwnd} B", "the congestion window"])
        if snapshot.ssthresh is not None:
            rows.append(["ssthresh", f"{snapshot.ssthresh} B", ""])
        which = "cwnd" if snapshot.cwnd < snapshot.snd_wnd else "snd_wnd"
        rows.append(["may send", f"{min(snapshot.cwnd, snapshot.snd_wnd)} B", f"{which} limits"])
    rows += [["in flight", f"{snapshot.in_flight} B", ""], ["unsent", f"{snapshot.unsent} B", ""]]
    warnings = []
    if zero:
        warnings.append("window 0: the sender must stop")
    if snapshot.snd_wnd == 0:
        warnings.append("the peer's window is 0: this side must wait (it sends zero-window probes)")
    return {
        "side": window.side,
        "state": snapshot.state,
        "buffer": snapshot.receive_buffer,
        "hidden": False,
        "bar": {"readable": snapshot.readable, "window": advertised, "held": free - advertised},
        "rows": rows,
        "warnings": warnings,
    }


__all__ = ["ARROWS", "HEX_BYTES", "LIMIT", "NODES", "document_size", "step_document"]
