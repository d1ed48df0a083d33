"""The document a browser following a class gets for a step (`simulator.views.page`):
what the lesson screen shows, nothing it holds back, and small.

The screen's own texts are worked out here from the same view functions the
widgets use (`field_line`, `kin`, `redact`, `hide_anywhere`, `hidden_bytes`), without
Textual; the last test compares the document with a running follower's screen.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.hexdump import where
from simulator.lessons.checkpoints import Withheld
from simulator.live.classroom import lesson_digest
from simulator.text import split_code
from simulator.tui.explanation import ExplanationBar
from simulator.tui.field_tree import FieldTree
from simulator.tui.hex_view import HexView
from simulator.tui.ladder import LadderDiagram
from simulator.tui.narration import Narration
from simulator.tui.screens.lesson import LessonScreen
from simulator.views.lesson import LessonView, StepView
from simulator.views.page import LIMIT, document_size, step_document
from simulator.views.withheld import (
    field_line,
    hidden_bytes,
    hide_anywhere,
    kin,
    redact,
    tells_place,
)
from tests.tui.course_support import COURSE, following, until, view_of

TRAILING = re.compile(r" \([^()]*\)$")  # as FieldTree cuts a buffer's name


# --- what the lesson screen shows, without Textual ----------------------------------------------


def tree_labels(step: StepView) -> list[str]:
    """Every line of the field tree for the step's own packet, as `FieldTree.show` and
    `FieldTree.field_label` write them, depth first."""
    dissection, withheld, packet = step.dissection, step.withheld, step.packet
    if dissection is None or packet is None:
        return []
    close = (
        kin(dissection, withheld.field) if withheld.field and packet == withheld.packet else set()
    )
    out: list[str] = []

    def add(field: Field, parent_buffer: int) -> None:
        text = field_line(field, withheld, packet=packet, kin=id(field) in close)
        buffers = dissection.buffers
        if (
            field.buffer != parent_buffer
            and field.buffer
            and 0 <= field.buffer < len(buffers)
            and buffers[field.buffer].name not in field.label
        ):
            name = TRAILING.sub("", buffers[field.buffer].name)
            if packet == withheld.packet:
                name = redact(name, withheld, asked=False)
            text += f"  [{name}]"
        if field.problem:
            text += f"  ⚠ {hide_anywhere(field.problem, withheld)}"
        out.append(text)
        for child in field.children:
            add(child, field.buffer)

    for top in dissection.fields:
        add(top, 0)
    return out


def screen_texts(view: LessonView, step: StepView) -> list[str]:
    """Every text the lesson screen may show at this step (the learner moving the
    cursor over the fields included): narration, question, ladder labels, field lines,
    the explanation bar's lines, the table."""
    texts = [block.text for block in step.blocks]
    if step.question is not None:
        texts.append(step.question.text)
    texts += [arrow.label for arrow in step.arrows]
    texts += tree_labels(step)
    withheld, dissection = step.withheld, step.dissection
    if dissection is not None:
        summary = dissection.summary
        if withheld.packet == step.packet:
            summary = redact(summary, withheld)
        texts.append(hide_anywhere(summary, withheld))
        texts += [hide_anywhere(problem, withheld) for problem in dissection.problems]
        for _, field in dissection.walk():
            texts.append(hide_anywhere(field.explanation, withheld))
            texts.append(where(field.start, field.end, field.bits))
            if field.problem:
                texts.append(hide_anywhere(field.problem, withheld))
    if step.routes is not None:
        for route in step.routes.rows:
            texts += [str(route.prefix), str(route.next_hop), route.interface]
        if step.routes.decision is not None:
            texts.append(step.routes.decision.reason)
    return texts


def strings(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) of every string in a JSON value, but the hex dumps' (bytes, not text)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, key)
    elif isinstance(value, str) and key != "hex":
        yield key, value


def word(secret: str) -> re.Pattern[str]:
    """`secret` as a whole word ("61", not the 61 of "0x61" or "1461")."""
    return re.compile(rf"(?<![\w.]){re.escape(secret)}(?![\w.])")


def flat(nodes: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        out.append(node["text"])
        out += flat(node.get("children", []))
    return out


def every_step() -> Iterator[tuple[LessonView, int]]:
    for lesson in COURSE.lessons:
        view = view_of(lesson.id)
        for index in range(len(lesson.steps)):
            yield view, index


# --- every step of the course -------------------------------------------------------------------


@pytest.mark.parametrize("answered", [False, True], ids=["asking", "answered"])
def test_every_step_of_the_course_is_the_screen_and_holds_nothing_back(answered: bool) -> None:
    """For every step of every built-in lesson, the document is JSON under `LIMIT` bytes,
    its field lines are the field tree's, its hidden bytes are the hex pane's, and before
    the checkpoint is answered nothing in it gives the answer away.

    "Gives the answer away" is judged per string, not per document: the answer often
    is a common word elsewhere ("2" is a packet number, "4096" a buffer the lesson
    names, a choice is in its question, a prediction's value in an earlier packet).
    So each string of the document in which the expected answer, a withheld word or a
    withheld computed value occurs as a whole word must be (part of) a text the lesson
    screen itself shows at that moment. A string the document made on its own (a raw
    field value, an unredacted summary, a buffer's full name, the expected answer
    itself) fails it. The bytes are checked apart: the hex dump's hidden bytes are
    exactly `hidden_bytes`'s, written "??", never their value.
    """
    started = time.monotonic()
    for view, index in every_step():
        lesson = view.lesson
        where_ = f"{lesson.id} step {index + 1} ({'answered' if answered else 'asking'})"
        document: Any = step_document(view, index, answered=answered, shown=None, picked=None)
        text = json.dumps(document, ensure_ascii=False)
        assert json.loads(text) == document, where_
        assert document_size(document) < LIMIT, f"{where_}: {document_size(document)} bytes"
        step = view.step(index, answered=answered)
        assert document["step"] == {
            "index": index,
            "title": lesson.steps[index].title,
            "playing": step.playing,
            "shown": step.current[0],
            "of": step.current[1],
        }, where_
        assert [b["text"] for b in document["narration"]] == [b.text for b in step.blocks]

        # The checkpoint: its answer only once answered.
        checkpoint = document["checkpoint"]
        if step.question is None:
            assert checkpoint is None, where_
        else:
            assert checkpoint["text"] == step.question.text, where_
            assert ("expected" in checkpoint) == step.answered, where_
            if step.answered:
                assert checkpoint["expected"] == step.question.expected, where_

        # The ladder: the view's arrows (labels withheld as the view has them).
        ladder = document["ladder"]
        labels = [arrow.label for arrow in step.arrows]
        kept = [arrow["label"] for arrow in ladder["arrows"]]
        assert kept == labels[ladder["before"] : len(labels) - ladder["after"]], where_
        assert ladder["before"] + ladder["after"] == document["cut"]["arrows"], where_

        # The field and byte panes.
        packet = document["packet"]
        if step.dissection is None or step.packet is None:
            assert packet is None and document["empty"] == step.empty, where_
        else:
            dissection, withheld = step.dissection, step.withheld
            assert flat(packet["fields"]) == tree_labels(step), where_
            assert document["cut"]["fields"] == 0, where_
            check_bytes(packet, dissection, withheld, step.packet, where_)
            field = step.field
            if field is not None and not tells_place(withheld, field, step.packet):
                assert packet["lit"] == [field.buffer, field.start, field.end], where_
            else:
                assert packet["lit"] is None, where_

        if not step.answered:
            check_nothing_given_away(view, step, document, where_)
    assert time.monotonic() - started < 60


def check_bytes(
    packet: dict[str, Any], dissection: Dissection, withheld: Withheld, shown: int, where_: str
) -> None:
    """The hex dumps hide exactly what the hex pane hides (as "??"), nothing else."""
    hidden = hidden_bytes(dissection, withheld) if shown == withheld.packet else {}
    assert len(packet["buffers"]) == len(dissection.buffers), where_
    for number, (buffer, made) in enumerate(
        zip(dissection.buffers, packet["buffers"], strict=True)
    ):
        span = hidden.get(number)
        assert made["hidden"] == (list(span) if span is not None else None), where_
        assert made["length"] == len(buffer.data), where_
        offset, hex_text = made["offset"], made["hex"]
        for at in range(len(hex_text) // 2):
            pair, byte = hex_text[2 * at : 2 * at + 2], offset + at
            if span is not None and span[0] <= byte < span[1]:
                assert pair == "??", f"{where_}: byte {byte} of buffer {number} shows"
            else:
                assert pair == f"{buffer.data[byte]:02x}", f"{where_}: byte {byte}"


def check_nothing_given_away(
    view: LessonView, step: StepView, document: dict[str, Any], where_: str
) -> None:
    assert step.question is not None
    withheld = step.withheld
    secrets = {step.question.expected, *withheld.words, *withheld.anywhere} - {""}
    shown = screen_texts(view, step)
    for key, text in strings(document):
        for secret in secrets:
            if word(secret).search(text):
                assert any(text in screen for screen in shown), (
                    f"{where_}: {secret!r} in {key} {text!r}, which the screen does not show"
                )
    routes = document["routes"]
    if withheld.router is not None and routes is not None and routes["router"] == withheld.router:
        assert routes["matched"] is None and routes["reason"] == "", where_
    window = document["window"]
    if withheld.window and window is not None and window["rows"]:
        assert window["hidden"], where_
        values = {row[0]: row[1] for row in window["rows"]}
        assert values["rcv_wnd"] == values["snd_wnd"] == "?", where_
        assert not any(re.search(r"(rcv|snd)_wnd\s*\d", t) for _, t in strings(window)), where_
    if withheld.place and withheld.span is not None and document["packet"] is not None:
        assert document["packet"]["lit"] != list(withheld.span), f"{where_}: the place is lit"
        explain = document["packet"]["explain"]
        if explain["field"] == withheld.field:  # where the asked field lies is the answer
            assert explain["where"] == "", where_


def test_a_picked_packet_and_a_playing_step_are_the_screens_too() -> None:
    """Picked on the ladder: that packet in the panes, no field lit; while a step plays:
    only the packets shown so far on the ladder."""
    view = view_of("tcp-handshake")
    index = 3
    step = view.step(index, answered=False)
    first = step.arrows[0].number
    document: Any = step_document(view, index, answered=False, shown=None, picked=first)
    assert document["packet"]["trace"] == first and document["packet"]["lit"] is None
    assert document["ladder"]["selected"] == first
    playing: Any = step_document(view, index, answered=False, shown=0, picked=None)
    own = [a for a in playing["ladder"]["arrows"] if a.get("own")]
    assert own == [] and playing["step"]["shown"] == 0
    beyond: Any = step_document(view, index, answered=False, shown=None, picked=10**6)
    assert beyond["packet"] is None  # a packet the trace does not have: none shown


def test_a_large_step_is_cut_and_says_so() -> None:
    """The 70 000-byte frame: its hex dump is cut around the lit field, the ladder to
    its recent arrows, and the document says how much of each is left out."""
    view = view_of("frames-and-masking")
    sizes: list[tuple[int, int, Any]] = []
    for index in range(len(view.lesson.steps)):
        document = step_document(view, index, answered=True, shown=None, picked=None)
        sizes.append((document_size(document), index, document))
    size, index, document = max(sizes, key=lambda found: found[0])
    assert size < LIMIT
    cut = document["cut"]
    assert cut["bytes"] > 60_000 and cut["arrows"] > 0
    lit = document["packet"]["lit"]
    buffer = document["packet"]["buffers"][lit[0]]
    shown = range(buffer["offset"], buffer["offset"] + len(buffer["hex"]) // 2)
    assert lit[1] in shown, "the lit field's bytes are among those kept"


# --- the follower's screen and the document, at the same moment --------------------------------


def tree_lines(tree: FieldTree) -> list[str]:
    out: list[str] = []

    def walk(node: TreeNode[Field]) -> None:
        for child in node.children:
            label = child.label
            out.append(label if isinstance(label, str) else label.plain)
            walk(child)

    walk(tree.root)
    return out


def plain(text: str) -> str:
    """A question as the screen prints it: code spans without their backticks."""
    return "".join(piece for piece, _ in split_code(text))


def test_the_follower_screen_and_the_document_show_the_same_moment(tmp_path: Path) -> None:
    # (lesson, step, revealed): a checkpoint whose bytes are held back, a prediction, a
    # packet with a field lit (and a routing table), a step with no packet, and the first
    # checkpoint again once revealed.
    moments = [
        ("http", 3, False),
        ("http", 6, False),
        ("ip-routing", 2, False),
        ("tcp-handshake", 3, False),
        ("http", 3, True),
    ]

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            for lesson_id, index, revealed in moments:
                lesson = COURSE.find(lesson_id)
                assert lesson is not None
                shown = (index,) if revealed else ()
                share.move(lesson.id, lesson_digest(lesson.path), lesson.title, index,
                           len(lesson.steps), revealed=shown)  # fmt: skip

                def there(
                    lesson_id: str = lesson_id, index: int = index, revealed: bool = revealed
                ) -> bool:
                    screen = app.screen
                    return (
                        isinstance(screen, LessonScreen)
                        and screen.lesson.id == lesson_id
                        and screen.step == index
                        and screen.shown is not None
                        and screen.shown.answered == (revealed or screen.shown.question is None)
                    )

                await until(pilot, there, f"{lesson_id} step {index + 1}")
                await pilot.pause(0.1)
                screen = app.screen
                assert isinstance(screen, LessonScreen)
                where_ = f"{lesson_id} step {index + 1}"
                document: Any = step_document(
                    view_of(lesson_id), index, answered=revealed, shown=None, picked=None
                )
                bar = str(screen.query_one("#lesson-bar", Static).content)
                assert bar.startswith(f"Step {index + 1}/{document['lesson']['steps']}"), bar
                narration = screen.query_one(Narration)
                assert [b.text for b in narration.blocks] == [
                    b["text"] for b in document["narration"]
                ], where_
                checkpoint = document["checkpoint"]
                question = str(screen.query_one("#question", Static).content)
                if checkpoint is not None:
                    assert question == plain(checkpoint["text"]), where_
                    feedback = str(screen.query_one("#feedback", Static).content)
                    if revealed:
                        assert checkpoint["expected"] in feedback, where_
                    else:
                        assert "expected" not in checkpoint, where_
                tree = screen.query_one(FieldTree)
                if document["packet"] is None:
                    assert tree_lines(tree) == [], where_
                    explained = str(screen.query_one(ExplanationBar).content)
                    assert explained == document["empty"], where_
                    continue
                assert tree_lines(tree) == flat(document["packet"]["fields"]), where_
                hex_view = screen.query_one(HexView)
                buffer = document["packet"]["buffers"][hex_view.buffer]
                hidden = list(hex_view.hidden) if hex_view.hidden is not None else None
                assert buffer["hidden"] == hidden, where_
                lit = document["packet"]["lit"]
                highlight = [hex_view.buffer, *hex_view.highlight] if hex_view.highlight else None
                assert highlight == lit, where_
                ladder = screen.query_one(LadderDiagram)
                labels = [arrow.label for arrow in ladder.arrows]
                kept = [arrow["label"] for arrow in document["ladder"]["arrows"]]
                assert labels[document["ladder"]["before"] :][: len(kept)] == kept, where_
                assert ladder.selected == document["ladder"]["selected"], where_

    asyncio.run(asyncio.wait_for(main(), 90))


def test_a_packet_picked_on_the_ladder_holds_back_what_the_step_holds_back() -> None:
    """Seen: a packet picked on the ladder was looked up on the client's link and, when
    that link had not seen it, shown with nothing held back, so the packet a question
    asks about on another link showed its answer. Every packet of every unanswered
    checkpoint step: the asked one is the asked capture packet (its value hidden), and
    no picked packet shows an answer hidden everywhere."""
    checked = 0
    for view, index in every_step():
        step = view.step(index, answered=False)
        withheld = step.withheld
        if step.question is None or not withheld:
            continue
        _, originals = view.run.capture(withheld.at)
        asked = originals[withheld.packet] if withheld.packet is not None else None
        for arrow in step.arrows:
            dissection, packet = view.trace_packet(index, arrow.number - 1, withheld)
            lines = [field_line(field, withheld, packet=packet, kin=False)
                     for _, field in dissection.walk()]  # fmt: skip
            for secret in withheld.anywhere:
                assert not any(word(secret).search(line) for line in lines), (view, index)
            if arrow.number - 1 == asked:
                assert packet == withheld.packet, f"{view.lesson.id} step {index + 1}"
                if withheld.field is not None and not withheld.place:
                    named = [f for _, f in dissection.walk() if f.name == withheld.field]
                    assert named and all(
                        field_line(f, withheld, packet=packet, kin=False).endswith("?")
                        for f in named[:1]
                    ), f"{view.lesson.id} step {index + 1}"
                checked += 1
    assert checked >= 10  # the asked packet is on the ladder at many checkpoints


def test_a_where_does_it_start_question_lights_no_byte_that_answers_it() -> None:
    """Seen: "at which byte does the TCP header start?" left the TCP layer (and, in the
    masking lesson, a bit field sharing the asked byte) lit, saying "bytes 20–39". While
    such a question is unanswered, no field of the asked packet is lit or placed, and no
    field of any packet picked on the ladder starts where the asked one does."""
    checked = 0
    for view, index in every_step():
        step = view.step(index, answered=False)
        withheld = step.withheld
        if step.question is None or not withheld.place or withheld.span is None:
            continue
        buffer, start, _ = withheld.span
        picks: list[int | None] = [None, *(arrow.number for arrow in step.arrows)]
        for picked in picks:
            document: Any = step_document(view, index, answered=False, shown=None,
                                          picked=picked)  # fmt: skip
            packet = document["packet"]
            if packet is None:
                continue
            where = f"{view.lesson.id} step {index + 1} picked {picked}"
            ranges = [node["at"] for node in walk_nodes(packet["fields"]) if "at" in node]
            if packet["lit"] is not None:
                ranges.append(packet["lit"])
            assert [buffer, start] not in [r[:2] for r in ranges], where
            if view.trace_packet(index, (picked or 0) - 1, withheld)[1] == withheld.packet:
                assert picked is None or not ranges, where
            checked += 1
    assert checked > 10


def walk_nodes(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk_nodes(node.get("children", []))
