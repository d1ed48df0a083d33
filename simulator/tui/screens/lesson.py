"""The lesson screen: narration, the checkpoint, and the stage (table, ladder, fields and bytes).

    ┌ narration ────────────────────┐┌ routing table / TCP window (when the step has one) ┐
    │ step 3/8 · The server answers │├ ladder: every packet so far, this step's bold ──────┤
    │ …                             ││ client        server                                │
    ├ checkpoint ───────────────────┤│   │──SYN──────►│                                    │
    │ question, answer box          │├ fields │ hex of the selected packet ─────────────────┤
    └───────────────────────────────┘└─────────────────────────────────────────────────────┘

Everything shown comes from a `LessonView` made when the lesson opened: a step
is one call (`LessonView.step`) returning what it shows and what its checkpoint
holds back, and moving between steps only moves a cursor, so backwards is
instant and a replay shows the same bytes. Play reveals the step's packets one
at a time, at a speed.

Keys always navigate: the answer box takes the keyboard only on Enter (or a
click) and gives it back with Escape. On a narrow terminal one stage pane shows
at a time and `d` brings the next; on a wide one `d` swaps the ladder for the
field and byte panes. `teach=True` is the presenter layout: large narration,
the ladder in front, answers revealed by the teacher (`a`).

The screen reports to the app with messages (`StepShown`, `Answered`,
`LessonFinished`, `OpenInspector`, `OpenSandbox`); it never reaches into it.
"""

from __future__ import annotations

import gc
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from simulator.dissect.fields import Dissection, Field
from simulator.lessons.checkpoints import NOTHING
from simulator.lessons.model import Lesson
from simulator.text import split_code
from simulator.tui.breakpoints import apply_breakpoints
from simulator.tui.explanation import ExplanationBar
from simulator.tui.field_tree import FieldTree
from simulator.tui.footer import KeyBar
from simulator.tui.hex_view import HexView
from simulator.tui.ladder import Arrow, LadderDiagram
from simulator.tui.messages import (
    Answered,
    ClassAnswer,
    LessonFinished,
    MomentChanged,
    OpenInspector,
    OpenLesson,
    OpenSandbox,
    StepShown,
    TookOver,
)
from simulator.tui.narration import Narration
from simulator.tui.panes import Box, Column, OneFrameScreen, Row, Scroll, TextPane
from simulator.tui.routes import RoutingTableView
from simulator.tui.screens.help import LESSON_MOUSE, HelpScreen
from simulator.tui.window import TcpWindowView
from simulator.views.lesson import LessonView, StepView
from simulator.views.withheld import hidden_bytes, hide_anywhere, redact, tells_place

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
PACKET_SECONDS = 0.6  # at speed 1, between two packets while playing
STEP_PAUSE = 4  # packets' worth of time between two steps while playing
TICK = 0.1
PREPARE_AFTER = 0.2  # seconds after a step is shown (and painted): the next is prepared

#: The stage panes, in the order `d` brings them on a narrow terminal.
PANES = ("table", "ladder", "detail")
PANE_NAMES = {"table": "Table", "ladder": "Diagram", "detail": "Fields & bytes"}

#: The ladder keeps at least this many columns when the narration widens for a diagram.
LADDER_MIN = 44
#: Cells the narration box spends around its text (frame, padding, scroll bar), per mode.
NARRATION_CHROME = {"learn": 5, "teach": 7}
#: Narrow layouts: rows the narration keeps (frame included) and the stage pane keeps.
NARRATION_MIN = 5
STAGE_MIN = 6


def _show(widget: Widget, shown: bool) -> None:
    """Show or hide a pane, touching it only on a change (each change lays the screen out)."""
    if widget.display != shown:
        widget.display = shown


class JumpScreen(ModalScreen[int | None]):
    """Ask for a step number."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-box"):
            yield Static(f"Go to step (1–{self.steps}):")
            yield Input(id="jump", type="integer")
        yield KeyBar()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        try:
            number = int(event.value)
        except ValueError:
            number = 0
        if 1 <= number <= self.steps:
            self.dismiss(number - 1)
        else:
            self.notify(f"a step from 1 to {self.steps}", severity="warning", markup=False)


class LessonEndScreen(ModalScreen[bool]):
    """The end of a lesson: what was done, and the next lesson (Enter) or the course (Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,n", "dismiss(True)", "Next lesson"),
        Binding("escape,q", "dismiss(False)", "Back to the course"),
    ]

    def __init__(self, summary: str, following: str | None) -> None:
        super().__init__()
        self.summary = summary
        self.following = following

    def compose(self) -> ComposeResult:
        with Vertical(id="end-box"):
            yield Static(Text("End of the lesson", style="bold"), id="end-title")
            yield Static(Text(self.summary), id="end-summary")
            if self.following is not None:
                yield Static(Text(f"Enter: next, “{self.following}”  ·  Esc: back to the course"))
            else:
                yield Static(Text("That was the last lesson.  Esc: back to the course"))
        yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "dismiss" and parameters == (True,):
            return self.following is not None
        return True


class AnswerInput(Input):
    """The checkpoint's answer box: Enter checks the answer, Escape gives the keys back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Check the answer"),
        Binding("escape", "leave", "Back to the lesson keys"),
    ]

    def action_leave(self) -> None:
        screen = self.screen
        if isinstance(screen, LessonScreen):
            screen.focus_lesson()


class LessonScreen(OneFrameScreen):
    """One lesson, step by step (see the module)."""

    # Most needed first: the footer keeps what fits, in this order (and always Help).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,n", "next", "Next"),
        Binding("left,p", "previous", "Back"),
        Binding("enter,e", "answer", "Answer"),
        Binding("a", "reveal", "Reveal the answer"),
        Binding("d", "pane('table')", PANE_NAMES["table"]),
        Binding("d", "pane('ladder')", PANE_NAMES["ladder"]),
        Binding("d", "pane('detail')", PANE_NAMES["detail"]),
        Binding("question_mark", "help", "Help"),
        Binding("q,escape", "home", "Home"),
        Binding("space", "play", "Play"),
        Binding("r", "replay", "Replay"),
        Binding("g", "jump", "Go to"),
        Binding("i", "inspect", "Inspector"),
        Binding("b", "break_it", "Break it"),
        Binding("full_stop", "single", "One packet", show=False),
        Binding("plus,equals_sign", "faster", "Faster", show=False),
        Binding("minus", "slower", "Slower", show=False),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    # The screen draws nothing of its own: its state changes its panes (the watchers), never
    # a repaint of the whole screen.
    step: var[int] = var(0, init=False)
    revealed: var[int | None] = var(None, init=False)  # step packets shown, playing
    playing: var[bool] = var(False, init=False)
    speed: var[int] = var(2, init=False)  # index into SPEEDS
    answered: var[frozenset[int]] = var(frozenset(), init=False)
    stage: var[str] = var("ladder", init=False)  # the stage pane in front
    note: var[str] = var("", init=False)  # the classroom's line in the bar
    tally: var[str] = var("", init=False)  # the class's answers, on the teacher's screen

    def __init__(
        self,
        lesson: Lesson,
        view: LessonView,
        *,
        number: int = 1,
        teach: bool = False,
        step: int = 0,
        answered: frozenset[int] = frozenset(),
        following: tuple[str, str] | None = None,
        follower: bool = False,
    ) -> None:
        super().__init__(classes="-teach" if teach else "-learn")
        self.lesson = lesson
        self.view = view
        self.number = number
        self.teach = teach or follower
        # A follower's screen: the teacher's moments drive it (`driven`) until the student
        # moves on their own; answers go to the teacher's side, which judges them and
        # reveals them (`verdicts`: what it said of this student's answers).
        self.follower = follower
        self.driven = follower
        self.sent: dict[int, str] = {}  # step → the answer this follower sent
        self.verdicts: dict[int, tuple[bool, str, str]] = {}  # step → (right, answer, expected)
        self.following = following  # the next lesson (id, title), for the end of this one
        self.set_reactive(LessonScreen.step, max(0, min(step, len(lesson.steps) - 1)))
        self.set_reactive(LessonScreen.answered, answered)
        self.shown: StepView | None = None
        self.picked: int | None = None  # a packet (trace number) picked on the ladder
        self.dissection: Dissection | None = None  # what the field and byte panes show
        self.selected: int | None = None  # the trace index of that packet
        self._clock = 0.0
        self._this_step_only = False  # playing a prediction's packets: stop at the step's end
        self._feedback: Text | None = None  # the checkpoint's verdict, until the step changes
        self._keys: tuple[bool, str] | None = None  # what the footer's keys depend on
        self._lit: Field | None = None  # the field whose bytes the hex pane lights

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TextPane(id="lesson-bar", markup=False)
        with Row(id="lesson-body"):
            with Column(id="lesson-left"):
                yield Narration(id="narration")
                with Column(id="checkpoint"):
                    yield TextPane(id="question", markup=False)
                    yield AnswerInput(id="answer", placeholder="Enter, then type your answer")
                    yield TextPane(id="feedback", markup=False)
            with Column(id="lesson-right"):
                with Scroll(id="stage-table"):
                    yield RoutingTableView(id="routes")
                    yield TcpWindowView(id="window")
                yield LadderDiagram(id="ladder")
                with Box(id="lesson-detail"):
                    yield FieldTree(id="fields")
                    yield HexView(id="hex")
        yield ExplanationBar(id="explain")
        yield KeyBar()

    def on_mount(self) -> None:
        apply_breakpoints(self)
        self.query_one("#lesson-detail").border_title = "Fields and bytes"
        self.query_one("#checkpoint").border_title = "Checkpoint"
        self.query_one(AnswerInput).compact = True
        self.render_step(changed=True)
        self.query_one(LadderDiagram).focus()
        self.set_interval(TICK, self.tick)
        self._prepare(self.step + 1)
        # The lesson's run, its dissections and the screen stay as long as the lesson is
        # open: kept out of the collector's way, a step is never held up by a full
        # collection of them (100 ms and more in the middle of a step).
        self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        gc.unfreeze()  # what this screen held may be collected again

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._relayout)

    def _relayout(self) -> None:
        if self.shown is not None:
            self.stage = self._stage_for(self.shown, self.stage)
            self._show_stage(self.shown)
        self._arrange()
        if self.shown is not None:
            self._fit_narration(self.view.widest)

    def focus_lesson(self) -> None:
        """Give the keys back to the lesson (from the answer box)."""
        pane = self.query_one(FieldTree) if self.stage == "detail" else None
        (pane if pane is not None and pane.display else self.query_one(LadderDiagram)).focus()

    # --- the one trip down: a step's view, rendered ------------------------------------

    def step_view(self) -> StepView:
        return self.view.step(
            self.step,
            answered=self.step in self.answered,
            revealed=self.revealed,
            selected=self.picked,
        )

    def render_step(self, *, changed: bool = False) -> None:
        """Show the current step; `changed`: a new step (not a replay or an answer)."""
        shown = self.shown = self.step_view()
        if changed:
            self._feedback = None
            self.stage = self._stage_for(shown, self.stage)
        self.update_bar()
        self._show_narration(shown)
        self._show_checkpoint(shown)
        self._show_stage(shown)
        self._show_ladder(shown)
        self._show_packet(shown)
        self._arrange()
        self.query_one(KeyBar).sync()
        self._moment()

    def _moment(self) -> None:
        """Tell the app what a class following this screen should see now."""
        if self.teach and not self.follower:
            lesson, revealed = self.lesson, tuple(sorted(self.answered))
            question = self.shown.question if self.shown is not None else None
            moment = MomentChanged(
                lesson.id, self.step, len(lesson.steps), self.revealed, self.playing,
                self.picked, revealed, self._lit_place(), question.given if question else "",
            )  # fmt: skip
            self.post_message(moment)

    def _lit_place(self) -> int | None:
        """Where the lit field is in the packet's walk (the same on every screen that
        shows the same packet), or None."""
        lit, dissection = self._lit, self.dissection
        if lit is None or dissection is None:
            return None
        return next((n for n, (_, f) in enumerate(dissection.walk()) if f is lit), None)

    def _arrange(self) -> None:
        """Narrow: size the narration column so the checkpoint fits whole under at least a
        few lines of narration, the stage pane keeping what is left (at least `STAGE_MIN`)."""
        left = self.query_one("#lesson-left")
        if not self.has_class("-narrow"):
            if left.styles.inline.has_rule("height"):
                left.styles.height = None  # back to the stylesheet's
            return
        width, screen_height = self.app.size
        explain = 1 if self.has_class("-short") else 2
        body = screen_height - 1 - explain - 1  # the bar, the explanation bar, the footer
        checkpoint = self._checkpoint_height(width - 4)
        wanted = max(round(body * 0.6), checkpoint + NARRATION_MIN)
        # Never more than leaves the stage its rows: a checkpoint taller than that scrolls
        # (`lessons check` warns about one, as CHECKPOINT_ROWS).
        rows = min(max(checkpoint + NARRATION_MIN - 2, min(wanted, body - STAGE_MIN)),
                   body - STAGE_MIN)  # fmt: skip
        now = left.styles.inline.height
        if now is None or now.cells != rows:
            left.styles.height = rows

    def _checkpoint_height(self, width: int) -> int:
        """Rows the checkpoint box takes at `width` cells of text (0 when it is hidden)."""
        shown = self.shown
        if shown is None or shown.question is None:
            return 0
        console = self.app.console
        rows = 2  # the frame
        for widget_id in ("#question", "#feedback"):
            content = self.query_one(widget_id, Static).content
            if isinstance(content, Text):
                rows += len(content.wrap(console, max(1, width)))
            else:
                rows += 1
        if self.query_one(AnswerInput).display:
            rows += 1
        return rows

    def _stage_for(self, shown: StepView, current: str) -> str:
        """The pane in front on a new step: the step's table when it has one, unless the
        learner chose the fields and bytes."""
        has_table = shown.routes is not None or shown.window is not None
        if current == "detail":
            return "detail"
        return "table" if has_table and self.has_class("-narrow") else "ladder"

    def update_bar(self) -> None:
        lesson = self.lesson
        # What changes first, the lesson's title last: a narrow bar cuts the title.
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append(f"Step {self.step + 1}/{len(lesson.steps)}", style="bold")
        shown = self.shown
        if shown is not None and shown.playing:
            bar.append(f" · {shown.playing}")
        if self.playing:
            bar.append(f" · ▶ ×{SPEEDS[self.speed]:g}")
        if self.note:
            bar.append(" · ")
            bar.append(self.note, style="bold")
        bar.append(" · classroom" if self.teach else " · self-paced")
        bar.append(f" · {self.number}. {lesson.title}")
        self.query_one("#lesson-bar", Static).update(bar, layout=False)  # one row, always

    def _show_narration(self, shown: StepView) -> None:
        narration = self.query_one(Narration)
        if narration.blocks != shown.blocks:
            self._fit_narration(self.view.widest)
            narration.show(shown.blocks)

    def _fit_narration(self, widest: int) -> None:
        """Widen the narration for a preformatted block `widest` cells wide where the
        terminal allows; where it does not, the narration scrolls sideways (a block is
        never re-wrapped)."""
        left = self.query_one("#lesson-left")
        chrome = NARRATION_CHROME["teach" if self.teach else "learn"]
        width = self.app.size.width
        if self.has_class("-wide"):
            share = 0.40 if self.teach else 0.46
            wanted = min(max(round(width * share), widest + chrome), width - LADDER_MIN)
            width_now = left.styles.inline.width
            if width_now is None or width_now.cells != wanted:
                left.styles.width = wanted
        elif left.styles.inline.has_rule("width"):
            left.styles.width = None  # back to the stylesheet's

    def _show_checkpoint(self, shown: StepView) -> None:
        box = self.query_one("#checkpoint")
        question = shown.question
        if question is None:
            _show(box, False)
            return
        _show(box, True)
        predicts = self.lesson.steps[shown.index].checkpoint
        box.border_title = "Predict" if predicts is not None and predicts.predict else "Checkpoint"
        self.query_one("#question", Static).update(prose(question.text))
        answer = self.query_one(AnswerInput)
        _show(answer, (self.follower or not self.teach) and not shown.answered)
        feedback = self.query_one("#feedback", Static)
        if self.follower:
            feedback.update(self._class_feedback(shown))
        elif self._feedback is not None:
            feedback.update(self._feedback)
        elif shown.answered and self.teach and self.tally:
            feedback.update(
                Text.assemble(("Answer: ", "bold"), question.expected, "\n", self.tally)
            )
        elif self.teach and self.tally:
            feedback.update(
                Text.assemble("Press ", ("a", "bold"), " to reveal the answer. ", self.tally)
            )
        elif shown.answered and self.teach:
            feedback.update(Text.assemble(("Answer: ", "bold"), question.expected))
        elif shown.answered:
            feedback.update(Text.assemble(("✓ Answered. ", "green"), question.expected))
        elif self.teach and shown.predicting:
            feedback.update(
                Text.assemble(
                    "Press ", ("a", "bold"), " to send the packets and reveal the answer."
                )
            )
        elif self.teach:
            feedback.update(Text.assemble("Press ", ("a", "bold"), " to reveal the answer."))
        elif shown.predicting:
            feedback.update(
                Text.assemble("Press ", ("Enter", "bold"), " to predict; then the packets go.")
            )
        else:
            feedback.update(
                Text.assemble("Press ", ("Enter", "bold"), " to answer; it unlocks the next step.")
            )
        if shown.answered and answer.has_focus:
            self.focus_lesson()

    def _class_feedback(self, shown: StepView) -> Text:
        """A follower's checkpoint line: their answer, then the teacher's verdict."""
        question = shown.question
        assert question is not None
        verdict = self.verdicts.get(self.step)
        sent = self.sent.get(self.step)
        if verdict is not None and (shown.answered or verdict[2]):
            right, answer, expected = verdict
            if right:
                return Text.assemble(("✓ Right: ", "green"), expected or answer, ".")
            return Text.assemble(
                ("✗ ", "red"), "You answered ", (answer[:60], "bold"),
                "; the answer is ", (expected, "bold"), ".",
            )  # fmt: skip
        if shown.answered:
            told = Text.assemble(("Answer: ", "bold"), question.expected)
            if sent is None:
                told.append(" (you did not answer)")
            return told
        if sent is not None:
            return Text.assemble(
                "Your answer ", (f"“{sent[:60]}”", "bold"),
                " is in (Enter to change it). The teacher will reveal the answer.",
            )  # fmt: skip
        verb = "predict" if shown.predicting else "answer"
        return Text.assemble(
            "Press ", ("Enter", "bold"), f" to {verb}; the teacher will reveal the answer."
        )

    def _show_stage(self, shown: StepView) -> None:
        has_table = shown.routes is not None or shown.window is not None
        narrow = self.has_class("-narrow")
        stage = self.stage
        table, ladder = self.query_one("#stage-table"), self.query_one(LadderDiagram)
        detail = self.query_one("#lesson-detail")
        if narrow:
            front = stage if stage != "table" or has_table else "ladder"
            _show(table, front == "table")
            _show(ladder, front == "ladder")
            _show(detail, front == "detail")
        else:
            _show(table, has_table)
            _show(ladder, stage != "detail")
            _show(detail, stage == "detail" or not self.teach)
        routes, window = self.query_one(RoutingTableView), self.query_one(TcpWindowView)
        if shown.routes is not None:
            routes.set_decision(shown.routes.router, shown.routes.rows, shown.routes.decision)
        _show(routes, shown.routes is not None)
        if shown.window is not None:
            window.set_snapshot(
                shown.window.side, shown.window.snapshot, hidden=shown.window.hidden
            )
        _show(window, shown.window is not None)
        keys = (shown.question is not None and not shown.answered, self.next_pane())
        if keys != self._keys:  # the footer is rebuilt only when its keys change
            self._keys = keys
            self.refresh_bindings()

    def _show_ladder(self, shown: StepView) -> None:
        # Numbered as the capture the step shows counts them (the client's link unless the
        # step names another): "packet 8" in the text is row 8. Other links' rows have none.
        pointer = self.lesson.steps[shown.index].pointer
        at = pointer.at if pointer is not None else None
        captured = self.view.run.scenario.capture_link(at).name
        arrows = [
            Arrow(
                a.number, a.time, a.src, a.dst, a.label, a.step == shown.index, a.lost,
                str(a.shown) if a.link == captured else "",
            )
            for a in shown.arrows
        ]  # fmt: skip
        self.query_one(LadderDiagram).set_data(shown.columns, arrows, shown.selected)

    def _show_packet(self, shown: StepView) -> None:
        """The field and byte panes: the step's packet (or the one picked on the ladder)."""
        if self.picked is not None:
            self._show_trace_packet(self.picked - 1)
            return
        fields, hex_view = self.query_one(FieldTree), self.query_one(HexView)
        explain = self.query_one(ExplanationBar)
        if shown.packet is None or shown.dissection is None:
            self.selected, self.dissection = None, None
            fields.show(None)
            hex_view.show(b"")
            explain.say(shown.empty)
            return
        self.dissection = shown.dissection
        self.selected = shown.selected - 1 if shown.selected is not None else None
        fields.show(shown.dissection, withheld=shown.withheld, packet=shown.packet)
        self._show_field(shown.field)

    def _show_trace_packet(self, trace_index: int) -> None:
        """A packet of the whole trace picked on the ladder (see `LessonView.trace_packet`)."""
        shown = self.shown
        withheld = shown.withheld if shown is not None else NOTHING
        self.selected = trace_index
        self.dissection, packet = self.view.trace_packet(self.step, trace_index, withheld)
        self.query_one(FieldTree).show(self.dissection, withheld=withheld, packet=packet)
        self._show_field(None)

    def _show_field(self, field: Field | None) -> None:
        dissection = self.dissection
        assert dissection is not None
        fields, hex_view = self.query_one(FieldTree), self.query_one(HexView)
        buffer = field.buffer if field is not None else 0
        data = dissection.buffers[buffer]
        hex_view.show(data.data, buffer=buffer, name=data.name, hidden=self._hidden(buffer))
        self._lit = field  # the tree will say its cursor moved there: nothing more to do then
        if field is not None:
            fields.select_field(field)
            hex_view.set_highlight((field.start, field.end))
        else:
            fields.select_field(None)
            hex_view.set_highlight(None)
        self._explain(field)

    def _hidden(self, buffer: int) -> tuple[int, int] | None:
        """The bytes of buffer `buffer` of the packet shown that are a checkpoint's answer."""
        shown = self.shown
        withheld = shown.withheld if shown is not None else NOTHING
        if self.dissection is None or fields_packet(self) != withheld.packet:
            return None
        return hidden_bytes(self.dissection, withheld).get(buffer)

    def _explain(self, field: Field | None) -> None:
        explain = self.query_one(ExplanationBar)
        shown = self.shown
        withheld = shown.withheld if shown is not None else NOTHING
        packet = fields_packet(self)

        def hide(text: str) -> str:
            return hide_anywhere(text, withheld)

        if field is not None and withheld.packet == packet:
            line = self.query_one(FieldTree).line_for(field)
            place = tells_place(withheld, field, packet)
            explain.show_field(self.dissection, field, value=line, where=not place, hide=hide)
        elif field is None and self.dissection is not None and withheld.packet == packet:
            summary = redact(self.dissection.summary, withheld)
            explain.show_field(self.dissection, None, value=summary, hide=hide)
        else:
            where = field is None or not tells_place(withheld, field, packet)
            explain.show_field(self.dissection, field, where=where, hide=hide)

    @on(FieldTree.NodeHighlighted)
    def field_highlighted(self, event: FieldTree.NodeHighlighted[Field]) -> None:
        field = event.node.data
        dissection = self.dissection
        fields = self.query_one(FieldTree)
        if field is None or dissection is None or not fields.holds(event.node):
            return
        if field is self._lit:
            return
        self._lit = field
        shown = self.shown
        withheld = shown.withheld if shown is not None else NOTHING
        hex_view = self.query_one(HexView)
        if hex_view.buffer != field.buffer:
            data = dissection.buffers[field.buffer]
            hidden = self._hidden(field.buffer)
            hex_view.show(data.data, buffer=field.buffer, name=data.name, hidden=hidden)
        place = tells_place(withheld, field, fields_packet(self))
        hex_view.set_highlight(None if place else (field.start, field.end))
        self._explain(field)
        self._moment()

    @on(LadderDiagram.Selected)
    def ladder_selected(self, event: LadderDiagram.Selected) -> None:
        self._take_over()
        self.picked = event.number
        self._show_trace_packet(event.number - 1)
        self._moment()

    # --- watchers: state changes, one render each ----------------------------------------

    def watch_step(self, old: int, new: int) -> None:
        self.picked = None
        self.render_step(changed=True)
        self.post_message(StepShown(self.lesson.id, new, len(self.lesson.steps)))
        self._prepare(new + 1 if new >= old else new - 1)

    def _prepare(self, index: int) -> None:
        """Once this step is painted, work out the step the learner will go to next (its
        packets dissected, its arrows made), so that going there only paints."""
        if 0 <= index < len(self.lesson.steps):
            self.set_timer(PREPARE_AFTER, lambda: self._prepare_now(index))

    def _prepare_now(self, index: int) -> None:
        self.view.prepare(index)
        self.query_one(Narration).prepare(self.view.blocks(index))

    def watch_revealed(self) -> None:
        shown = self.shown = self.step_view()
        self._show_ladder(shown)
        self.update_bar()
        self._moment()

    def watch_playing(self) -> None:
        if not self.playing:
            self._this_step_only = False
        self.update_bar()
        self._moment()

    def watch_speed(self) -> None:
        self.update_bar()

    def watch_answered(self) -> None:
        self.render_step()

    def watch_stage(self) -> None:
        if self.shown is not None:
            self._show_stage(self.shown)
            if self.stage == "detail" and not self.query_one(AnswerInput).has_focus:
                self.query_one(FieldTree).focus()
            elif not self.query_one(AnswerInput).has_focus:
                self.query_one(LadderDiagram).focus()

    def watch_note(self) -> None:
        self.update_bar()

    def watch_tally(self) -> None:
        if self.shown is not None and self.shown.question is not None:
            self._show_checkpoint(self.shown)
            self._arrange()

    # --- following a teacher --------------------------------------------------------------

    def follow_moment(
        self, step: int, shown: int | None, playing: bool, picked: int | None,
        revealed: frozenset[int], field: int | None = None, given: str = "",
    ) -> None:  # fmt: skip
        """Show exactly the teacher's moment (a follower's screen, while `driven`)."""
        self.driven = True
        question = self.view.question(step)
        if given and question is not None and question.given != given:
            self.view.give(step, given)  # the teacher's fresh key, not one of our own
            if step == self.step and self.is_mounted:
                self.render_step()
        if not self.is_mounted:  # just opened: it shows all this when it mounts
            self.set_reactive(LessonScreen.answered, revealed)
            self.set_reactive(LessonScreen.step, max(0, min(step, len(self.lesson.steps) - 1)))
            self.set_reactive(LessonScreen.revealed, shown)
            self.set_reactive(LessonScreen.playing, playing)
            self.picked = picked
            return
        if revealed != self.answered:
            self.set_reactive(LessonScreen.answered, revealed)
            if step == self.step:
                self.render_step()
        self.go(step, revealed=shown, playing=playing)
        self.set_reactive(LessonScreen.playing, playing)  # shown, never ticked here
        if picked != self.picked:
            self.picked = picked
            self.render_step()
        if field is not None and self.dissection is not None:
            lit = next((f for n, (_, f) in enumerate(self.dissection.walk()) if n == field), None)
            if lit is not None and lit is not self._lit:
                self.query_one(FieldTree).select_field(lit)
        self.update_bar()

    def verdict(self, step: int, right: bool, answer: str, expected: str) -> None:
        """The teacher's side judged this follower's answer to step `step`."""
        self.verdicts[step] = (right, answer, expected)
        if step == self.step and self.shown is not None:
            self._show_checkpoint(self.shown)
            self._arrange()

    def _take_over(self) -> None:
        """The student moves on their own: the teacher's moments stop moving the screen."""
        if self.driven:
            self.driven = False
            self.post_message(TookOver())

    def go(self, index: int, *, revealed: int | None = None, playing: bool = False) -> None:
        """Show step `index` (its packets one by one from `revealed`); moving stops playing
        unless the move is the player's own (`playing`)."""
        if not playing and self.playing:
            self.playing = False
        index = max(0, min(index, len(self.lesson.steps) - 1))
        if index == self.step:
            self.revealed = revealed
            return
        self.set_reactive(LessonScreen.revealed, revealed)
        self.step = index

    # --- checkpoints --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        shown = self.shown
        asking = shown is not None and shown.question is not None and not shown.answered
        if action == "answer":
            return (self.follower or not self.teach) and asking
        if action == "reveal":  # a follower's answers are the teacher's to reveal
            return self.teach and not self.follower and asking
        if action == "pane":
            return parameters[0] == self.next_pane()
        # A prediction's packets wait for the prediction.
        return not (action in ("play", "replay", "single") and shown and shown.predicting)

    def next_pane(self) -> str:
        """The pane `d` brings to the front."""
        shown = self.shown
        has_table = shown is not None and (shown.routes is not None or shown.window is not None)
        if self.has_class("-wide"):
            return "ladder" if self.stage == "detail" else "detail"
        panes = [p for p in PANES if p != "table" or has_table]
        current = self.stage if self.stage in panes else "ladder"
        return panes[(panes.index(current) + 1) % len(panes)]

    def action_answer(self) -> None:
        answer = self.query_one(AnswerInput)
        if answer.display:
            answer.focus()

    @on(Input.Submitted, "#answer")
    def submit(self, event: Input.Submitted) -> None:
        shown = self.shown
        if shown is None or shown.question is None or shown.answered:
            return
        question = shown.question
        checkpoint = self.lesson.steps[self.step].checkpoint
        assert checkpoint is not None
        answer = self.query_one(AnswerInput)
        if self.follower:
            typed = " ".join(event.value.split())
            if typed:
                self.sent[self.step] = typed
                self.post_message(ClassAnswer(self.lesson.id, self.step, typed))
            answer.value = ""
            self.focus_lesson()
            self._show_checkpoint(shown)
            self._arrange()
            return
        if checkpoint.predict:
            self._predicted(event.value, question.judge(event.value))
            answer.value = ""
            return
        said = question.describe(event.value) if question.describe is not None else ""
        if question.judge(event.value):
            verdict = Text.assemble((f"✓ Right: {question.expected}.", "green"))
            if said:
                verdict.append(" ")
                verdict.append_text(prose(said))
            if checkpoint.explanation:
                verdict.append(" ")
                verdict.append_text(prose(checkpoint.explanation))
            self._feedback = verdict
            answer.value = ""
            self.post_message(Answered(self.lesson.id, self.step))
            self.answered = self.answered | {self.step}
            self.focus_lesson()
        else:
            hint = checkpoint.hint or "Look at the packet the step points at."
            self._feedback = Text.assemble(("✗ Not quite.", "red"), " ")
            if said:
                self._feedback.append_text(prose(said))
                self._feedback.append(" ")
            self._feedback.append_text(Text.assemble("Hint: ", prose(hint)))
            self.query_one("#feedback", Static).update(self._feedback)
            self._arrange()  # the hint may need more rows

    def _predicted(self, typed: str, right: bool) -> None:
        """A prediction committed to: say who was right and why, then send the step's
        packets, so the learner sees them arrive with the answer in mind."""
        shown = self.shown
        checkpoint = self.lesson.steps[self.step].checkpoint
        assert shown is not None and shown.question is not None and checkpoint is not None
        expected = shown.question.expected
        if right:
            verdict = Text.assemble(("✓ Right: ", "green"), expected, ".")
        else:
            verdict = Text.assemble(
                ("✗ ", "red"), "You predicted ", (typed.strip()[:60], "bold"),
                "; the packets say ", (expected, "bold"), ".",
            )  # fmt: skip
        if checkpoint.explanation:
            verdict.append(" ")
            verdict.append_text(prose(checkpoint.explanation))
        self._feedback = verdict
        self.post_message(Answered(self.lesson.id, self.step))
        self._send_predicted()

    def _send_predicted(self) -> None:
        self.set_reactive(LessonScreen.revealed, 0)
        if self.has_class("-narrow") and self.stage == "table":
            self.stage = "ladder"  # where the packets arrive (`d` brings the table back)
        self.answered = self.answered | {self.step}
        self.focus_lesson()
        self.playing = True
        self._this_step_only = True  # the step's packets, then stop: not on to the next
        self._clock = 0.0

    def action_reveal(self) -> None:
        shown = self.shown
        if shown is not None and shown.question is not None:
            if shown.predicting:
                self._send_predicted()
                return
            self.answered = self.answered | {self.step}

    def blocked(self) -> bool:
        """Self-paced: an unanswered checkpoint must be answered before moving on."""
        shown = self.shown
        if self.teach or shown is None or shown.question is None or shown.answered:
            return False
        self.notify("Answer the checkpoint to go on: press Enter, type, Enter again.", markup=False)
        return True

    # --- moving ---------------------------------------------------------------------

    def action_next(self) -> None:
        self._take_over()
        if self.revealed is not None:  # finish the step being played first
            self.playing = False
            self.revealed = None
            return
        if self.blocked():
            return
        if self.step + 1 < len(self.lesson.steps):
            self.go(self.step + 1)
        else:
            self.end_of_lesson()

    def end_of_lesson(self) -> None:
        wanted = {i for i, step in enumerate(self.lesson.steps) if step.checkpoint is not None}
        missing = len(wanted - set(self.answered))
        if missing and not self.teach:
            summary = f"{missing} checkpoint(s) still unanswered: go back to answer them."
        else:
            self.post_message(LessonFinished(self.lesson.id))
            summary = f"“{self.lesson.title}”: {len(self.lesson.steps)} steps"
            if wanted:
                summary += f", {len(wanted)} checkpoint{'s' * (len(wanted) != 1)}"
            summary += " done."

        following = self.following

        def chosen(go_on: bool | None) -> None:
            if go_on and following is not None:
                self.post_message(OpenLesson(following[0], teach=self.teach))
            elif go_on is False:
                self.app.pop_screen()

        title = following[1] if following is not None else None
        self.app.push_screen(LessonEndScreen(summary, title), chosen)

    def action_previous(self) -> None:
        self._take_over()
        if self.step > 0:
            self.go(self.step - 1)

    def action_replay(self) -> None:
        self._take_over()
        self.go(self.step, revealed=0)
        self.playing = True
        self._clock = 0.0

    def action_single(self) -> None:
        """One more of the step's packets; on a step shown whole, start again from none."""
        shown = self.shown
        if shown is None:
            return
        _, count = shown.current
        if count == 0:
            self.notify("This step puts no packet on the wire.", markup=False)
            return
        self._take_over()
        self.playing = False
        now = self.revealed if self.revealed is not None else count
        self.revealed = 0 if now >= count else now + 1

    def action_play(self) -> None:
        self._take_over()
        playing = not self.playing
        if playing and self.revealed is None:
            self.go(self.step, revealed=0)
        self.playing = playing
        self._clock = 0.0

    def action_faster(self) -> None:
        self.speed = min(self.speed + 1, len(SPEEDS) - 1)

    def action_slower(self) -> None:
        self.speed = max(self.speed - 1, 0)

    def tick(self) -> None:
        if not self.playing or self.driven:  # a follower's packets come with the teacher's
            return
        self._clock += TICK * SPEEDS[self.speed]
        if self._clock < PACKET_SECONDS:
            return
        self._clock = 0.0
        shown = self.shown
        if shown is None:
            return
        _, count = shown.current
        now = self.revealed if self.revealed is not None else count
        if now < count + STEP_PAUSE:  # the step's packets, then a pause at its end
            self.set_reactive(LessonScreen.revealed, now + 1)
            if now < count:
                self.watch_revealed()
            return
        if shown.question is not None and not shown.answered and not self.teach:
            self.playing = False
            self.revealed = None
            return
        if self._this_step_only or self.step + 1 >= len(self.lesson.steps):
            self.playing = False
            self.revealed = None
            return
        self.go(self.step + 1, revealed=0, playing=True)

    def action_jump(self) -> None:
        def go(index: int | None) -> None:
            if index is not None:
                self._take_over()
                self.go(index)

        self.app.push_screen(JumpScreen(len(self.lesson.steps)), go)

    def action_pane(self, pane: str) -> None:
        self.stage = pane

    def action_inspect(self) -> None:
        self.post_message(OpenInspector(self.lesson.id))

    def action_break_it(self) -> None:
        dissection = self.dissection
        frame = None
        if dissection is not None:
            for top in dissection.fields:
                if top.name == "ws":
                    frame = dissection.buffers[top.buffer].data[top.start : top.end]
        if frame is None or self.selected is None:
            self.notify(
                "Pick a packet that carries a WebSocket frame (↑↓ on the ladder), then b.",
                markup=False,
            )
            return
        source = dissection.find("ip.src") if dissection is not None else None
        clients = {str(host.address) for host in self.view.run.scenario.client_hosts}
        from_client = source is not None and source.value in clients
        self.post_message(OpenSandbox(frame, from_client=from_client))

    def action_help(self) -> None:
        self.app.push_screen(
            HelpScreen([("Lesson", self.BINDINGS)], mouse=LESSON_MOUSE, filters=False)
        )

    def action_home(self) -> None:
        self.app.pop_screen()


def prose(text: str) -> Text:
    """A lesson's sentence (a question, a hint) as text: `code` spans styled, backticks
    dropped; never read as markup."""
    out = Text()
    for piece, is_code in split_code(text):
        out.append(piece, "bold" if is_code else "")
    return out


def fields_packet(screen: LessonScreen) -> int | None:
    """The capture index the field and byte panes show (None: not a client-link packet)."""
    fields = screen.query_one(FieldTree)
    return fields.packet


__all__ = ["AnswerInput", "JumpScreen", "LessonEndScreen", "LessonScreen", "prose"]
