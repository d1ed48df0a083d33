"""One lesson step as the screen shows it, built in one call below the UI.

`LessonView(run).step(index, …)` returns a `StepView`: the narration (prose and
preformatted blocks), the ladder's arrows visible so far, the packet and field
the step points at with its dissection, the routing table and its verdict, the
TCP window, the checkpoint's question, and what that question holds back until
it is answered (`Withheld`). The screen renders it and keeps nothing else; a
step shown twice costs one dictionary lookup for everything but the arrows.

Nothing here imports Textual; tests read a step's view without an app.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from functools import cached_property

from markdown_it import MarkdownIt

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.packet import dissect_record
from simulator.ip import Decision, Route
from simulator.lessons.checkpoints import NOTHING, Question, Withheld, ask
from simulator.lessons.ladder import LadderArrow, arrows, client_link_labels, lifelines
from simulator.lessons.model import NARROWEST_TEXT, Lesson
from simulator.lessons.run import LessonRun, TcpSnapshot
from simulator.text import plural
from simulator.views.withheld import hide_anywhere, redact

_PRE_TOKENS = ("fence", "code_block")


@dataclass(frozen=True, slots=True)
class Block:
    """A run of narration: Markdown prose, a preformatted block never re-wrapped, or the
    step's title."""

    text: str
    preformatted: bool = False
    title: bool = False

    @property
    def width(self) -> int:
        """The widest line of a preformatted block (0 for prose, which wraps)."""
        if not self.preformatted:
            return 0
        return max((len(line.rstrip()) for line in self.text.splitlines()), default=0)


def narration_blocks(markdown: str) -> tuple[Block, ...]:
    """Split Markdown into prose and preformatted blocks (fenced or indented code at the
    top level), in order. A preformatted block keeps its lines exactly, without fences."""
    lines = markdown.splitlines()
    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks: list[Block] = []
    done = 0
    for token in tokens:
        if token.type not in _PRE_TOKENS or token.level != 0 or token.map is None:
            continue
        start, end = token.map
        prose = "\n".join(lines[done:start]).strip("\n")
        if prose.strip():
            blocks.append(Block(prose))
        blocks.append(Block(token.content.rstrip("\n"), preformatted=True))
        done = end
    rest = "\n".join(lines[done:]).strip("\n")
    if rest.strip():
        blocks.append(Block(rest))
    return tuple(blocks)


# --- one step ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutesShown:
    """A routing table, and the lookup to mark in it (None: the table alone)."""

    router: str
    rows: tuple[Route, ...]
    decision: Decision | None


@dataclass(frozen=True, slots=True)
class WindowShown:
    """One side's TCP receive buffer; `hidden`: its window sizes are held back."""

    side: str
    snapshot: TcpSnapshot | None
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class StepView:
    """Everything one step shows (see the module)."""

    index: int
    count: int  # steps in the lesson
    title: str
    blocks: tuple[Block, ...]
    columns: tuple[str, ...]  # the ladder's lifelines
    arrows: tuple[LadderArrow, ...]  # visible so far, labels as they may be shown
    current: tuple[int, int]  # (shown, of): this step's packets on the ladder
    selected: int | None  # the packet number (from 1, whole trace) to mark on the ladder
    packet: int | None  # the capture index in the field and byte panes
    dissection: Dissection | None
    field: Field | None  # the field pointed at, a field of `dissection`
    routes: RoutesShown | None
    window: WindowShown | None
    question: Question | None
    answered: bool  # the question was answered (or revealed): nothing is held back
    withheld: Withheld  # NOTHING once answered
    # An unanswered prediction: the trace only up to the step's own packets, which
    # appear once it is answered (and the panes as they were before the step).
    predicting: bool = False

    @property
    def widest(self) -> int:
        """The widest preformatted line of the narration."""
        return max((block.width for block in self.blocks), default=0)

    @property
    def empty(self) -> str:
        """What the packet panes say when the step points at no packet."""
        return "This step puts no packet on the wire."

    @property
    def playing(self) -> str:
        """While the step's packets are shown one by one, "packet 2 of 3"; before a
        prediction, what waits for it; else ""."""
        shown, of = self.current
        if self.predicting:
            return f"{plural(of, 'packet')} waiting for your prediction"
        return f"packet {shown} of {of}" if shown < of else ""


class LessonView:
    """A lesson run, step by step, as the screen shows it (see the module).

    Questions are made once per step (an accept-key question draws its key
    once); dissections and narration are cached, so moving back and forth
    only builds the arrows visible at the step.
    """

    def __init__(self, run: LessonRun) -> None:
        self.run = run
        self.lesson: Lesson = run.lesson
        self._questions: dict[int, Question | None] = {}
        self._dissections: dict[tuple[str | None, int], Dissection] = {}
        self._blocks: dict[int, tuple[Block, ...]] = {}
        self._step_arrows: dict[int, tuple[LadderArrow, ...]] = {}
        self._arrows_upto: dict[int, tuple[LadderArrow, ...]] = {}

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(lifelines(self.run))

    def arrows(self, index: int) -> tuple[LadderArrow, ...]:
        """Every packet up to the end of step `index` as an arrow (made as steps are shown:
        a lesson opens without dissecting packets it does not show yet)."""
        found = self._arrows_upto.get(index)
        if found is None:
            before = self.arrows(index - 1) if index > 0 else ()
            found = self._arrows_upto[index] = before + self._own_arrows(index)
        return found

    def _own_arrows(self, index: int) -> tuple[LadderArrow, ...]:
        """Step `index`'s packets as arrows, labelled as the client's link saw them (a
        packet keeps its source and IPv4 id across routers, within its step)."""
        state = self.run.steps[index]
        own = self.run.packets(index, None)
        summaries = {i: self.dissect(i, None).summary for i in own}
        labels = client_link_labels(self.run, [summaries.get(i, "") for i in range(own.stop)])
        made = arrows(self.run, labels, records=range(state.first, state.end))
        return tuple(made)

    def prepare(self, index: int) -> None:
        """Do the work of showing step `index` ahead of time (dissections, arrows), so
        that showing it later is only lookups."""
        self.step(index, answered=False)

    def dissect(self, index: int, at: str | None) -> Dissection:
        """Capture packet `index` at link `at`, dissected once."""
        key = (at, index)
        found = self._dissections.get(key)
        if found is None:
            found = self._dissections[key] = self.run.dissect(index, at)
        return found

    def dissect_record(self, trace_index: int) -> Dissection:
        """A packet of the whole trace on its own (one the client's link did not see)."""
        return dissect_record(self.run.trace[trace_index])

    def question(self, index: int) -> Question | None:
        if index not in self._questions:
            checkpoint = self.lesson.steps[index].checkpoint
            self._questions[index] = (
                ask(checkpoint, self.run, index) if checkpoint is not None else None
            )
        return self._questions[index]

    def trace_packet(
        self, index: int, trace_index: int, withheld: Withheld
    ) -> tuple[Dissection, int | None]:
        """A packet of the whole trace picked on the ladder at step `index`, as the panes
        show it, and its capture index (None: on its own): from the capture of the link
        the step's question counts on (else the step's link) when that link saw it, with
        its reassembled messages; else on its own. Show it with `withheld` either way:
        a packet on another link may still carry an answer hidden everywhere."""
        pointer = self.lesson.steps[index].pointer
        link = withheld.at if withheld else pointer.at if pointer is not None else None
        _, originals = self.run.capture(link)
        if trace_index in originals:
            packet = originals.index(trace_index)
            return self.dissect(packet, link), packet
        return self.dissect_record(trace_index), None

    def give(self, index: int, given: str) -> None:
        """Ask step `index`'s question with `given` as what it hands out (the teacher's
        fresh Sec-WebSocket-Key, so a class answers the question the teacher judges)."""
        checkpoint = self.lesson.steps[index].checkpoint
        try:
            key = base64.b64decode(given, validate=True)
        except ValueError:
            return
        if checkpoint is not None and len(key) == 16:
            self._questions[index] = ask(checkpoint, self.run, index, rng=lambda _: key)

    def _ahead(self, index: int) -> tuple[str, ...]:
        """The answers later checkpoints hide everywhere (a computed accept value)."""
        return tuple(
            word
            for later in range(index + 1, len(self.lesson.steps))
            if self.lesson.steps[later].checkpoint is not None
            and (question := self.question(later)) is not None
            for word in question.withheld.anywhere
        )

    def blocks(self, index: int) -> tuple[Block, ...]:
        if index not in self._blocks:
            lesson, step = self.lesson, self.lesson.steps[index]
            parts = [Block(step.title, title=True), *narration_blocks(step.text)]
            if index == 0 and lesson.introduction:
                objectives = "\n".join(f"- {objective}" for objective in lesson.objectives)
                intro = narration_blocks(lesson.introduction)
                parts = [*intro, Block(f"**You will:**\n\n{objectives}"), *parts]
            self._blocks[index] = tuple(parts)
        return self._blocks[index]

    @cached_property
    def widest(self) -> int:
        """The widest preformatted line of any step's narration: the narration keeps one
        width through the lesson instead of changing it (and moving every pane) per step."""
        steps = range(len(self.lesson.steps))
        return max((block.width for i in steps for block in self.blocks(i)), default=0)

    def step(
        self,
        index: int,
        *,
        answered: bool,
        revealed: int | None = None,
        selected: int | None = None,
    ) -> StepView:
        """Step `index`; `answered`: its checkpoint is answered (or revealed);
        `revealed`: only that many of the step's own packets are shown yet (playing);
        `selected`: a packet (trace number) the learner picked on the ladder."""
        lesson, run = self.lesson, self.run
        step = lesson.steps[index]
        state = run.steps[index]
        question = self.question(index)
        withheld = question.withheld if question is not None and not answered else NOTHING
        ahead = self._ahead(index)
        if ahead:  # a later question's computed answer is off the screen before it, too
            withheld = replace(withheld, anywhere=(*withheld.anywhere, *ahead))
        checkpoint = step.checkpoint
        predicting = checkpoint is not None and checkpoint.predict and not answered
        if predicting and withheld.words:
            # Its answer is in packets not yet on screen; earlier packets are what the
            # learner reasons from ("the retransmitted SYN's seq: the first one's"), so a
            # value they carry that equals the answer stays readable.
            withheld = replace(withheld, words=())
        if predicting:
            revealed = 0  # nothing of the step's own until the learner has committed

        count = state.end - state.first
        visible = list(self.arrows(index))
        if revealed is not None:
            visible = [a for a in visible if a.number - 1 < state.first + revealed]
        shown = count if revealed is None else min(revealed, count)
        shown_arrows = tuple(self._arrow(a, withheld) for a in visible)

        pointer = step.pointer
        at = pointer.at if pointer is not None else None
        packet, field = self._pointed(index)
        if predicting and packet is not None and packet >= run.packets(index, at).start:
            # The step's own packet answers the prediction: show the one before it instead.
            before = run.packets(index, at).start - 1
            packet, field = (before if before >= 0 else None), None
        dissection = self.dissect(packet, at) if packet is not None else None
        if field is not None and dissection is not None:
            field = _same_field(dissection, field)
        if withheld.place and field is not None and field.name == withheld.field:
            field = None  # highlighting the field would answer "where is it?"
        if selected is None and packet is not None:
            _, originals = run.capture(at)
            selected = originals[packet] + 1
        if revealed is not None and visible and shown < count:
            selected = visible[-1].number
        if predicting and not visible:
            selected = None

        routes = None
        if pointer is not None and pointer.table is not None:
            rows = state.routes.get(pointer.table, ())
            decision: Decision | None = None
            asks = (
                checkpoint.params
                if checkpoint is not None and checkpoint.kind == "route-row"
                else {}
            )
            if withheld.router != pointer.table and not predicting:
                decisions = run.decisions(index, pointer.table)
                decision = next((d.decision for d in decisions if d.decision is not None), None)
                if asks.get("router") == pointer.table:  # the row the question asked about
                    decision = run.lookup(index, pointer.table, str(asks["destination"]))
                if decision is None:  # nothing forwarded here this step: where the server is
                    server = str(run.scenario.server_host.address)
                    decision = run.lookup(index, pointer.table, server)
            routes = RoutesShown(pointer.table, tuple(rows), decision)
        window = None
        if pointer is not None and pointer.window is not None:
            # A prediction shows the window as it was before the step's packets.
            tcp = run.steps[index - 1].tcp if predicting and index > 0 else state.tcp
            window = WindowShown(pointer.window, tcp.get(pointer.window), withheld.window)

        return StepView(
            index=index,
            count=len(lesson.steps),
            title=step.title,
            blocks=self.blocks(index),
            columns=self.columns,
            arrows=shown_arrows,
            current=(shown, count),
            selected=selected,
            packet=packet,
            dissection=dissection,
            field=field,
            routes=routes,
            window=window,
            question=question,
            answered=answered or question is None,
            withheld=withheld,
            predicting=predicting,
        )

    def _pointed(self, index: int) -> tuple[int | None, Field | None]:
        """The packet (and field) the step points at; else its own last packet; else the
        packet its question asks about (its answer held back); else none."""
        try:
            pointed = self.run.pointed(index)
        except LookupError:
            pointed = None
        if pointed is not None:
            return pointed
        pointer = self.lesson.steps[index].pointer
        link = pointer.at if pointer is not None else None
        own = self.run.packets(index, link)
        if own:
            return own[-1], None
        question = self.question(index)
        if (
            question is not None
            and question.withheld.packet is not None
            and link == question.withheld.at
        ):
            return question.withheld.packet, None
        return None, None

    def _arrow(self, arrow: LadderArrow, withheld: Withheld) -> LadderArrow:
        if not withheld.words and not withheld.anywhere:
            return arrow
        asked = self._asked_number(withheld)
        label = redact(hide_anywhere(arrow.label, withheld), withheld, asked=arrow.number == asked)
        return arrow if label == arrow.label else arrow._replace(label=label)

    def _asked_number(self, withheld: Withheld) -> int | None:
        """The trace number of the packet a question asks about."""
        if withheld.packet is None:
            return None
        _, originals = self.run.capture(withheld.at)
        return originals[withheld.packet] + 1 if withheld.packet < len(originals) else None


def _same_field(dissection: Dissection, field: Field) -> Field | None:
    """`field` as found in `dissection` (the same name and place)."""
    key = (field.name, field.start, field.end, field.buffer)
    for _, candidate in dissection.walk():
        if (candidate.name, candidate.start, candidate.end, candidate.buffer) == key:
            return candidate
    return None


__all__ = [
    "NARROWEST_TEXT",
    "Block",
    "LessonView",
    "RoutesShown",
    "StepView",
    "WindowShown",
    "narration_blocks",
]
