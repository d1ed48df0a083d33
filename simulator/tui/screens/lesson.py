"""The lesson screen: narration, the ladder diagram, and the packet the step points at.

    ┌ narration (Markdown) ─────────┐┌ ladder: every packet so far, this step's bold ┐
    │ step 3/8 · The server answers ││ client        server                          │
    │ …                             ││   │──SYN──────►│                               │
    │ [checkpoint / table / window] ││   │◄─SYN, ACK──│                               │
    └───────────────────────────────┘└ fields │ hex of the selected packet ──────────┘

Everything shown comes from a `LessonRun` made when the lesson opened: moving
between steps only moves a cursor, so backwards is instant and a replay shows
the same bytes. Play reveals the step's packets one at a time, at a speed.

`teach=True` is the presenter layout: large narration, the diagram in front,
no field pane unless asked for, answers revealed by the teacher (`a`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.markdown import Markdown
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from simulator.dissect.fields import Dissection, Field
from simulator.dissect.packet import dissect_record
from simulator.lessons.checkpoints import Question, ask
from simulator.lessons.ladder import LadderArrow, arrows, client_link_labels, lifelines
from simulator.lessons.model import Lesson
from simulator.lessons.run import LessonRun
from simulator.tui.explanation import ExplanationBar
from simulator.tui.field_tree import FieldTree
from simulator.tui.hex_view import HexView
from simulator.tui.ladder import Arrow, LadderDiagram
from simulator.tui.model import SourceModel
from simulator.tui.routes import RoutingTableView
from simulator.tui.screens.help import HelpScreen
from simulator.tui.window import TcpWindowView

if TYPE_CHECKING:
    from simulator.tui.course import CourseApp

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
PACKET_SECONDS = 0.6  # at speed 1, between two packets while playing
STEP_PAUSE = 4  # packets' worth of time between two steps while playing


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

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        try:
            number = int(event.value)
        except ValueError:
            number = 0
        if 1 <= number <= self.steps:
            self.dismiss(number - 1)
        else:
            self.notify(f"a step from 1 to {self.steps}", severity="warning")


class LessonScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,n", "next", "Next"),
        Binding("left,p", "previous", "Back"),
        Binding("space", "play", "Play/pause"),
        Binding("period", "single", "One packet", show=False),
        Binding("plus,equals_sign", "faster", "Faster", show=False),
        Binding("minus", "slower", "Slower", show=False),
        Binding("r", "replay", "Replay"),
        Binding("g", "jump", "Go to"),
        Binding("i", "inspect", "Inspector"),
        Binding("b", "break_it", "Break it"),
        Binding("d", "details", "Details", show=False),
        Binding("a", "reveal", "Answer", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "home", "Home"),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    def __init__(
        self, lesson: Lesson, run: LessonRun, *, teach: bool = False, step: int = 0
    ) -> None:
        super().__init__(classes="-teach" if teach else "-learn")
        self.lesson = lesson
        self.lesson_run = run
        self.teach = teach
        self.step = max(0, min(step, len(lesson.steps) - 1))
        self.revealed: int | None = None  # packets of the step shown so far while playing
        self.playing = False
        self.speed = 2  # index into SPEEDS
        self._clock = 0.0
        self.questions: dict[int, Question] = {}
        self.selected: int | None = None  # trace index of the packet in the detail panes
        self.dissection: Dissection | None = None
        self._arrows: list[LadderArrow] = []
        self._columns: list[str] = []

    @property
    def course_app(self) -> CourseApp:
        from simulator.tui.course import CourseApp

        assert isinstance(self.app, CourseApp)
        return self.app

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-bar")
        with Horizontal(id="lesson-body"):
            with Vertical(id="lesson-left"):
                with VerticalScroll(id="narration-box"):
                    # Rich's Markdown in one Static: Textual's Markdown widget mounts a widget
                    # per block, and laying those out cost most of a step's time.
                    yield Static(id="narration")
                with Vertical(id="checkpoint"):
                    yield Static(id="question")
                    yield Input(id="answer", placeholder="your answer, then Enter")
                    yield Static(id="feedback")
                yield RoutingTableView(id="routes")
                yield TcpWindowView(id="window")
            with Vertical(id="lesson-right"):
                yield LadderDiagram(id="ladder")
                with Container(id="lesson-detail"):
                    yield FieldTree(id="fields")
                    yield HexView(id="hex")
        yield ExplanationBar(id="explain")
        yield Footer()

    def on_mount(self) -> None:
        width, height = self.app.size
        self.set_class(width >= 110, "-wide")
        self.set_class(width < 110, "-narrow")
        self.set_class(height >= 32, "-tall")
        self.set_class(height < 32, "-short")
        trace, _ = self.lesson_run.capture(None)
        info_model = SourceModel(trace, self.lesson_run.dissector(None))
        info = [info_model.row(i).info for i in range(len(trace))]
        self._columns = lifelines(self.lesson_run)
        self._arrows = arrows(self.lesson_run, client_link_labels(self.lesson_run, info))
        self.query_one("#lesson-detail").border_title = "Fields and bytes"
        self.show_step(self.step)
        self.set_interval(0.1, self.tick)

    # --- showing a step -------------------------------------------------------------

    def show_step(self, index: int, *, reveal: int | None = None) -> None:
        lesson = self.lesson
        self.step = index
        self.revealed = reveal
        step = lesson.steps[index]
        self.update_bar()
        text = f"## {step.title}\n\n{step.text}"
        if index == 0 and lesson.introduction:
            objectives = "\n".join(f"- {o}" for o in lesson.objectives)
            text = f"{lesson.introduction}\n\n**You will:**\n\n{objectives}\n\n{text}"
        self.query_one("#narration", Static).update(Markdown(text, hyperlinks=False))
        self.query_one("#narration-box", VerticalScroll).scroll_home(animate=False)
        self.show_checkpoint()
        self.show_pointer()
        self.show_ladder()
        self.course_app.visited(lesson, index)

    def update_bar(self) -> None:
        lesson = self.lesson
        mode = "classroom" if self.teach else "self-paced"
        playing = f" · ▶ ×{SPEEDS[self.speed]:g}" if self.playing else ""
        note = self.course_app.classroom_note()
        self.query_one("#lesson-bar", Static).update(
            f"[b]{self.course_app.course.number(lesson)}. {lesson.title}[/b] · "
            f"step {self.step + 1}/{len(lesson.steps)} · {mode}{playing}"
            + (f" · {note}" if note else "")
        )

    def _visible(self) -> list[LadderArrow]:
        state = self.lesson_run.steps[self.step]
        shown = [a for a in self._arrows if a.number - 1 < state.end]
        if self.revealed is not None:
            before = [a for a in shown if a.number - 1 < state.first]
            mine = [a for a in shown if a.number - 1 >= state.first][: self.revealed]
            shown = before + mine
        return shown

    def show_ladder(self) -> None:
        visible = self._visible()
        arrows_ = [
            Arrow(a.number, a.time, a.src, a.dst, a.label, a.step == self.step, a.lost)
            for a in visible
        ]
        selected = self.selected + 1 if self.selected is not None else None
        if self.revealed is not None and visible:
            selected = visible[-1].number
        self.query_one(LadderDiagram).set_data(self._columns, arrows_, selected)

    def show_pointer(self) -> None:
        step = self.lesson.steps[self.step]
        pointer = step.pointer
        routes = self.query_one(RoutingTableView)
        window = self.query_one(TcpWindowView)
        state = self.lesson_run.steps[self.step]
        if pointer is not None and pointer.table is not None:
            rows = state.routes.get(pointer.table, ())
            decisions = self.lesson_run.decisions(self.step, pointer.table)
            decision = next((d.decision for d in decisions if d.decision is not None), None)
            if decision is None:  # nothing forwarded here this step: where the server is
                server = str(self.lesson_run.scenario.server_host.address)
                decision = self.lesson_run.lookup(self.step, pointer.table, server)
            routes.set_decision(pointer.table, list(rows), decision)
            _show(routes, True)
        else:
            _show(routes, False)
        if pointer is not None and pointer.window is not None:
            window.set_snapshot(pointer.window, state.tcp.get(pointer.window))
            _show(window, True)
        else:
            _show(window, False)
        try:
            pointed = self.lesson_run.pointed(self.step)
        except LookupError:
            pointed = None
        at = pointer.at if pointer is not None else None
        if pointed is not None:
            index, field = pointed
            self.select_capture(index, at, field)
            return
        own = self.lesson_run.packets(self.step, None)
        if own:
            self.select_capture(own[-1], None, None)
        else:
            self.select_capture(None, None, None)

    def select_capture(self, index: int | None, at: str | None, field: Field | None) -> None:
        """Show packet `index` of capture `at` in the field tree and hex pane."""
        fields, hex_view = self.query_one(FieldTree), self.query_one(HexView)
        explain = self.query_one(ExplanationBar)
        if index is None:
            self.selected, self.dissection = None, None
            fields.show(None)
            hex_view.show(b"")
            explain.say("This step puts no packet on the wire.")
            return
        _, originals = self.lesson_run.capture(at)
        same = self.selected == originals[index] and self.dissection is not None
        self.selected = originals[index]
        if not same:
            self.dissection = self.lesson_run.dissect(index, at)
        assert self.dissection is not None
        if field is not None:  # the same field in this dissection (dissected afresh)
            key = (field.name, field.start, field.end, field.buffer)
            field = next(
                (f for _, f in self.dissection.walk() if (f.name, f.start, f.end, f.buffer) == key),
                None,
            )
        self._show_dissection(field)

    def select_trace(self, trace_index: int) -> None:
        """Show a packet of the whole trace (a ladder click): from the client's capture
        when that link saw it, with its reassembled messages; else on its own."""
        _, originals = self.lesson_run.capture(None)
        if trace_index in originals:
            self.select_capture(originals.index(trace_index), None, None)
            return
        self.selected = trace_index
        self.dissection = dissect_record(self.lesson_run.trace[trace_index])
        self._show_dissection(None)

    def _show_dissection(self, field: Field | None) -> None:
        dissection = self.dissection
        assert dissection is not None
        fields, hex_view = self.query_one(FieldTree), self.query_one(HexView)
        if fields.dissection is not dissection:
            fields.show(dissection)
        buffer = field.buffer if field is not None else 0
        data = dissection.buffers[buffer]
        hex_view.show(data.data, buffer=buffer, name=data.name)
        if field is not None:
            fields.select_field(field)
            hex_view.set_highlight((field.start, field.end))
        self.query_one(ExplanationBar).show_field(dissection, field)

    @on(FieldTree.NodeHighlighted)
    def field_highlighted(self, event: FieldTree.NodeHighlighted[Field]) -> None:
        field = event.node.data
        dissection = self.dissection
        if field is None or dissection is None:
            return
        hex_view = self.query_one(HexView)
        if hex_view.buffer != field.buffer:
            data = dissection.buffers[field.buffer]
            hex_view.show(data.data, buffer=field.buffer, name=data.name)
        hex_view.set_highlight((field.start, field.end))
        self.query_one(ExplanationBar).show_field(dissection, field)

    @on(LadderDiagram.Selected)
    def ladder_selected(self, event: LadderDiagram.Selected) -> None:
        self.select_trace(event.number - 1)
        self.show_ladder()

    # --- checkpoints ------------------------------------------------------------------

    def question(self, index: int) -> Question | None:
        checkpoint = self.lesson.steps[index].checkpoint
        if checkpoint is None:
            return None
        if index not in self.questions:
            self.questions[index] = ask(checkpoint, self.lesson_run, index)
        return self.questions[index]

    def answered(self, index: int) -> bool:
        return index in self.course_app.progress.of(self.lesson.id).answered

    def show_checkpoint(self) -> None:
        box = self.query_one("#checkpoint")
        question = self.question(self.step)
        if question is None:
            _show(box, False)
            return
        _show(box, True)
        self.query_one("#question", Static).update(f"[b]Checkpoint.[/b] {question.text}")
        answer = self.query_one("#answer", Input)
        answer.value = ""
        feedback = self.query_one("#feedback", Static)
        if self.answered(self.step):
            feedback.update(f"[green]✓ Answered.[/green] {question.expected}")
        elif self.teach:
            feedback.update("Press [b]a[/b] to reveal the answer to the class.")
        else:
            feedback.update("Answer to go on.")
        if not self.teach:
            answer.focus()

    @on(Input.Submitted, "#answer")
    def submit(self, event: Input.Submitted) -> None:
        question = self.question(self.step)
        if question is None:
            return
        feedback = self.query_one("#feedback", Static)
        checkpoint = self.lesson.steps[self.step].checkpoint
        assert checkpoint is not None
        if question.judge(event.value):
            extra = f" {checkpoint.explanation}" if checkpoint.explanation else ""
            feedback.update(f"[green]✓ Right: {question.expected}.[/green]{extra}")
            self.course_app.answered(self.lesson, self.step)
            self.focus_next_step()
        else:
            hint = checkpoint.hint or "Look at the packet the step points at."
            feedback.update(f"[red]✗ Not quite.[/red] Hint: {hint}")

    def focus_next_step(self) -> None:
        self.query_one(LadderDiagram).focus()

    def action_reveal(self) -> None:
        question = self.question(self.step)
        if question is None:
            return
        self.query_one("#feedback", Static).update(f"[b]Answer:[/b] {question.expected}")

    # --- moving ---------------------------------------------------------------------

    def blocked(self) -> bool:
        """Self-paced: an unanswered checkpoint must be answered before moving on."""
        if self.teach or self.lesson.steps[self.step].checkpoint is None:
            return False
        if self.answered(self.step):
            return False
        self.notify("Answer the checkpoint to go on (a hint comes after a wrong answer).")
        return True

    def action_next(self) -> None:
        if self.revealed is not None:  # finish the step being played first
            self.revealed = None
            self.show_ladder()
            return
        if self.blocked():
            return
        if self.step + 1 < len(self.lesson.steps):
            self.show_step(self.step + 1)
        else:
            self.course_app.finished(self.lesson)
            self.notify("End of the lesson. Escape goes back to the course.")

    def action_previous(self) -> None:
        if self.step > 0:
            self.show_step(self.step - 1)

    def action_replay(self) -> None:
        self.show_step(self.step, reveal=0)
        self.playing = True
        self._clock = 0.0

    def action_single(self) -> None:
        """Show one more of the step's packets (from the first, after the last)."""
        state = self.lesson_run.steps[self.step]
        count = state.end - state.first
        if count == 0:
            self.notify("This step puts no packet on the wire.")
            return
        shown = self.revealed if self.revealed is not None else count
        self.revealed = 1 if shown >= count else shown + 1
        self.show_ladder()

    def action_play(self) -> None:
        self.playing = not self.playing
        if self.playing and self.revealed is None:
            self.show_step(self.step, reveal=0)
        self._clock = 0.0
        self.update_bar()

    def stop_playing(self) -> None:
        self.playing = False
        self.revealed = None
        self.show_ladder()
        self.update_bar()

    def action_faster(self) -> None:
        self.speed = min(self.speed + 1, len(SPEEDS) - 1)
        self.update_bar()

    def action_slower(self) -> None:
        self.speed = max(self.speed - 1, 0)
        self.update_bar()

    def tick(self) -> None:
        if not self.playing:
            return
        self._clock += 0.1 * SPEEDS[self.speed]
        if self._clock < PACKET_SECONDS:
            return
        self._clock = 0.0
        state = self.lesson_run.steps[self.step]
        count = state.end - state.first
        shown = self.revealed if self.revealed is not None else count
        if shown < count:
            self.revealed = shown + 1
            self.show_ladder()
            return
        if shown < count + STEP_PAUSE:  # a pause at the end of a step
            self.revealed = shown + 1
            return
        if self.lesson.steps[self.step].checkpoint is not None and not self.teach:
            self.stop_playing()
            return
        if self.step + 1 >= len(self.lesson.steps):
            self.stop_playing()
            return
        self.show_step(self.step + 1, reveal=0)

    def action_jump(self) -> None:
        def go(index: int | None) -> None:
            if index is not None:
                self.show_step(index)

        self.app.push_screen(JumpScreen(len(self.lesson.steps)), go)

    def action_details(self) -> None:
        self.toggle_class("-details")

    def action_inspect(self) -> None:
        self.course_app.open_inspector(self.lesson_run, self.lesson.title)

    def action_break_it(self) -> None:
        dissection = self.dissection
        frame = None
        if dissection is not None:
            for top in dissection.fields:
                if top.name == "ws":
                    frame = dissection.buffers[top.buffer].data[top.start : top.end]
        if frame is None or self.selected is None:
            self.notify("Select a packet that carries a WebSocket frame, then press b.")
            return
        record = self.lesson_run.trace[self.selected]
        client = self.lesson_run.scenario.client_host.address.packed
        self.course_app.open_sandbox(frame, from_client=record.data[12:16] == client)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen([("Lesson", self.BINDINGS)]))

    def action_home(self) -> None:
        self.app.pop_screen()


__all__ = ["LessonScreen"]
