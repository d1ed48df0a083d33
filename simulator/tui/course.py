"""The course app: `wirelab` (home), `wirelab learn [LESSON]`, `wirelab teach [LESSON]`.

A lesson is run (its whole simulated network, every step) when it opens; a
lesson that fails to load or run shows its problems — file and line — in a
modal, never a traceback, and the other lessons still work. The screens tell
the app what happened with messages (a step shown, a checkpoint answered, a
lesson finished); the app keeps the progress, saved after every change —
merged with what another wirelab window saved, atomically — and, with
`teach --share`, tells the followers what the projector shows (`MomentChanged`)
and shows the teacher how the class answers.

A classroom session starts with every checkpoint unanswered: the teacher's
own self-paced answers never show on the projector.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker

from simulator.errors import WirelabError
from simulator.lessons.course import Course
from simulator.lessons.model import Lesson, LessonError
from simulator.lessons.progress import Progress
from simulator.tui.messages import (
    Answered,
    LessonFinished,
    MomentChanged,
    OpenInspector,
    OpenLesson,
    OpenSandbox,
    StepShown,
)
from simulator.tui.panes import quiet_scroll_bars
from simulator.tui.screens.error import ErrorScreen, report_worker_error
from simulator.tui.screens.home import HomeScreen

WARM_UP_AFTER = 0.2  # seconds after the home screen shows: load what a lesson needs
WARM_UP_WAIT = 30.0  # seconds a lesson waits for the warm-up's imports, at most
CLASS_REFRESH = 0.2  # seconds: the class's answers redraw the teacher's screen at most this often

if TYPE_CHECKING:
    from simulator.lessons.checkpoints import Question
    from simulator.live.classroom import Position, Share
    from simulator.views.lesson import LessonView


class CourseApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "join", "Join (QR)"),
    ]
    CSS_PATH = ["inspector.tcss", "lesson.tcss", "course.tcss", "sandbox.tcss"]  # noqa: RUF012
    TITLE = "wirelab"
    ENABLE_COMMAND_PALETTE = False  # every key is in the footer and in help (?)

    def __init__(
        self,
        course: Course,
        progress: Progress,
        *,
        start: str | None = None,
        teach: bool = False,
        share: Share | None = None,
        share_url: str = "",
    ) -> None:
        super().__init__()
        quiet_scroll_bars()
        self.course = course
        self.progress = progress
        self.start = start
        self.start_teach = teach
        self.views: dict[str, LessonView] = {}
        self._save_told = False
        self._warmed: threading.Event | None = None  # set once the warm-up has loaded
        # `wirelab teach --share`: every step shown goes to the followers.
        self.share = share
        self.share_url = share_url  # the address students join at
        self.share_urls = [share_url]  # and every other one they may reach this machine at
        self._digests: dict[str, str] = {}
        self._class_refresh_due = False
        if share is not None:
            share.on_change = self._class_changed
            share.judge = CourseJudge(self)
            share.viewer = self._step_document

    def get_default_screen(self) -> Screen[None]:
        return HomeScreen(self.course, self.progress)

    def on_mount(self) -> None:
        if self.start is not None:
            self.open_lesson(self.start, teach=self.start_teach)
        else:  # once the home screen is painted, not competing with its first frame
            self.set_timer(WARM_UP_AFTER, self.warm_up)

    def warm_up(self) -> None:
        """While the home screen shows, load what a lesson needs (the simulated network,
        scapy, the lesson screen) in a thread: opening a lesson then only runs it."""
        if self._warmed is not None:
            return
        warmed = self._warmed = threading.Event()

        def load() -> None:
            try:
                import simulator.lessons.run
                import simulator.tui.screens.lesson
                import simulator.views.lesson  # noqa: F401
            finally:
                warmed.set()

        threading.Thread(target=load, name="wirelab-warm-up").start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_error(event)

    def show_error(self, title: str, message: str) -> None:
        self.push_screen(ErrorScreen(title, message))

    # --- lessons ----------------------------------------------------------------------

    def lesson_view(self, lesson: Lesson) -> LessonView | None:
        """The lesson run (made once), or None after saying why it cannot run."""
        if self._warmed is not None:  # never import in two threads at once
            self._warmed.wait(WARM_UP_WAIT)
        from simulator.lessons.run import LessonRun
        from simulator.views.lesson import LessonView

        view = self.views.get(lesson.id)
        if view is not None:
            return view
        try:
            view = LessonView(LessonRun(lesson))
        except LessonError as error:
            self.show_error(f"“{lesson.title}” cannot run", str(error))
            return None
        except WirelabError as error:
            self.show_error(f"“{lesson.title}” cannot run", f"{lesson.path}: {error}")
            return None
        self.views[lesson.id] = view
        return view

    def open_lesson(self, name: str, *, teach: bool = False, step: int | None = None) -> None:
        if self._warmed is not None:  # never import in two threads at once
            self._warmed.wait(WARM_UP_WAIT)
        from simulator.tui.screens.lesson import LessonScreen

        lesson = self.course.find(name)
        if lesson is None:
            names = ", ".join(lesson.id for lesson in self.course.lessons)
            self.show_error("No such lesson", f"There is no lesson {name!r}. The course: {names}.")
            return
        view = self.lesson_view(lesson)
        if view is None:
            return
        self.progress.reload()
        mine = self.progress.of(lesson.id)
        if step is None:
            step = 0 if teach else mine.step
        answered = frozenset() if teach else frozenset(mine.answered)
        following = self.course.after(lesson)
        screen = LessonScreen(
            lesson,
            view,
            number=self.course.number(lesson),
            teach=teach,
            step=step,
            answered=answered,
            following=(following.id, following.title) if following is not None else None,
            follower=self.following_a_teacher,
        )
        screen.set_reactive(LessonScreen.note, self.classroom_note())
        if self.share is not None:
            screen.set_reactive(LessonScreen.tally, self._tally(lesson.id, screen.step))
        self.push_screen(screen)
        self.visited(lesson, screen.step)

    @on(OpenLesson)
    def lesson_asked(self, message: OpenLesson) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        while isinstance(self.screen, LessonScreen):
            self.pop_screen()
        self.open_lesson(message.lesson, teach=message.teach, step=message.step)

    @on(StepShown)
    def step_shown(self, message: StepShown) -> None:
        lesson = self.course.find(message.lesson)
        if lesson is not None:
            self.visited(lesson, message.step)

    def visited(self, lesson: Lesson, step: int) -> None:
        self.progress.visit(lesson.id, step)
        self.save()

    @on(MomentChanged)
    def moment_changed(self, message: MomentChanged) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        share, lesson = self.share, self.course.find(message.lesson)
        if share is None or lesson is None:
            return
        share.move(
            lesson.id, self.digest(lesson), lesson.title, message.step, message.steps,
            shown=message.shown, playing=message.playing, picked=message.picked,
            revealed=message.revealed, field=message.field, given=message.given,
        )  # fmt: skip
        screen = self.screen
        if isinstance(screen, LessonScreen) and screen.lesson.id == lesson.id:
            screen.tally = self._tally(lesson.id, screen.step)

    def digest(self, lesson: Lesson) -> str:
        """The lesson file's hash, which followers compare with their own copy's."""
        from simulator.live.classroom import lesson_digest

        if lesson.id not in self._digests:
            self._digests[lesson.id] = lesson_digest(lesson.path)
        return self._digests[lesson.id]

    @on(Answered)
    def checkpoint_answered(self, message: Answered) -> None:
        self.progress.answered(message.lesson, message.step)
        self.save()

    @on(LessonFinished)
    def lesson_finished(self, message: LessonFinished) -> None:
        self.progress.finish(message.lesson)
        self.save()

    def save(self) -> None:
        problem = self.progress.save()
        if problem is not None and not self._save_told:
            self._save_told = True  # once: the learner can go on without saving
            self.notify(
                problem, title="Progress not saved", severity="warning", timeout=10, markup=False
            )

    # --- the classroom ------------------------------------------------------------------

    following_a_teacher = False  # `wirelab follow`: lesson screens are a follower's

    def classroom_note(self) -> str:
        """What the lesson bar says about the classroom, as plain text ("" when none)."""
        if self.share is None:
            return ""
        return f"{self.share.count} following · join {self.share_url}"

    def _step_document(self, position: Position) -> dict[str, object] | None:
        """What a browser following the class shows at the teacher's moment."""
        from simulator.views.page import step_document

        view = self.views.get(position.lesson)
        if view is None or position.steps != len(view.lesson.steps):
            return None
        return step_document(
            view, position.step, answered=position.step in position.revealed,
            shown=position.shown, picked=position.picked,
        )  # fmt: skip

    def _tally(self, lesson: str, step: int) -> str:
        """The class's answers to a checkpoint, for the teacher's screen ("" when none)."""
        lesson_ = self.course.find(lesson)
        if self.share is None or lesson_ is None or lesson_.steps[step].checkpoint is None:
            return ""
        if not self.share.count and not self.share.poll.answers.get((lesson, step)):
            return ""  # nobody to count yet
        return self.share.tally_line(lesson, step)

    def _class_changed(self) -> None:
        """A follower came, went or answered: redraw, at most every CLASS_REFRESH s (a
        class answering at once is one redraw, not hundreds)."""
        if not self._class_refresh_due:  # the server calls from outside the app's loop
            self._class_refresh_due = True
            self.call_later(self.set_timer, CLASS_REFRESH, self._refresh_class)

    def _refresh_class(self) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        self._class_refresh_due = False
        self.refresh_bar()
        for screen in self.screen_stack:
            if isinstance(screen, LessonScreen) and screen.is_mounted:
                screen.tally = self._tally(screen.lesson.id, screen.step)

    def refresh_bar(self) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        note = self.classroom_note()
        for screen in self.screen_stack:
            if not isinstance(screen, LessonScreen):
                continue
            if screen.is_mounted:
                screen.note = note
                screen.update_bar()  # called from the network too, where no watcher runs
            else:  # a lesson just opened: it shows the note when it mounts
                screen.set_reactive(LessonScreen.note, note)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "join":
            return self.share is not None
        return True

    def action_join(self) -> None:
        from simulator.tui.screens.join import JoinScreen

        if self.share is not None and not isinstance(self.screen, JoinScreen):
            self.push_screen(JoinScreen(self.share_urls, self.share.count))

    # --- the other tools ----------------------------------------------------------------

    @on(OpenInspector)
    def inspector_asked(self, message: OpenInspector) -> None:
        from simulator.tui.screens.inspector import CourseInspector
        from simulator.views.inspector import SourceModel

        if message.lesson is None:
            self.open_sample_inspector()
            return
        lesson = self.course.find(message.lesson)
        view = self.views.get(message.lesson)
        if lesson is None or view is None:
            return
        run = view.run
        trace, _ = run.capture(None)
        model = SourceModel(trace, run.dissector(None))
        link = run.scenario.capture_link(None).name
        self.push_screen(CourseInspector(model, source=f"{lesson.title} · link {link}"))

    def open_sample_inspector(self) -> None:
        """The inspector on a fresh simulated session (handshake, echo, ping, close)."""
        from simulator.dissect.stream_view import StreamDissector
        from simulator.network.scenarios import run_built_in
        from simulator.trace.records import Trace
        from simulator.tui.screens.inspector import CourseInspector
        from simulator.views.inspector import SourceModel

        scenario = run_built_in("handshake-and-echo", 0)
        trace = Trace(scenario.capture())
        model = SourceModel(trace, StreamDissector(trace))
        self.push_screen(CourseInspector(model, source="simulated: handshake-and-echo"))

    @on(OpenSandbox)
    def sandbox_asked(self, message: OpenSandbox) -> None:
        from simulator.tui.screens.sandbox import SandboxScreen

        self.push_screen(SandboxScreen(message.frame, message.from_client))


class CourseJudge:
    """The teacher's lessons judging the class's answers: the same checkpoint code as
    self-paced mode (a `simulator.live.poll.Judge`)."""

    def __init__(self, app: CourseApp) -> None:
        self.app = app

    def _question(self, lesson_id: str, step: int) -> Question | None:
        lesson = self.app.course.find(lesson_id)
        if lesson is None or not 0 <= step < len(lesson.steps):
            return None
        if lesson.steps[step].checkpoint is None:
            return None
        view = self.app.views.get(lesson_id)
        return view.question(step) if view is not None else None

    def expected(self, lesson: str, step: int) -> str | None:
        question = self._question(lesson, step)
        return question.expected if question is not None else None

    def judge(self, lesson: str, step: int, answer: str) -> bool:
        question = self._question(lesson, step)
        return question is not None and question.judge(answer)

    def question(self, lesson: str, step: int) -> str:
        question = self._question(lesson, step)
        return " ".join(question.text.split()) if question is not None else ""


__all__ = ["CourseApp", "CourseJudge"]
