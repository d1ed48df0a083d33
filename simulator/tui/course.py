"""The course app: `wirelab` (home), `wirelab learn [LESSON]`, `wirelab teach [LESSON]`.

A lesson is run (its whole simulated network, every step) when it opens; a
lesson that fails to load or run shows its problems — file and line — in a
modal, never a traceback, and the other lessons still work. Progress is saved
after every change, atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App
from textual.screen import Screen
from textual.worker import Worker

from simulator.errors import WirelabError
from simulator.lessons.course import Course
from simulator.lessons.model import Lesson, LessonError
from simulator.lessons.progress import Progress
from simulator.tui.screens.error import ErrorScreen, report_worker_error
from simulator.tui.screens.home import HomeScreen

if TYPE_CHECKING:
    from simulator.lessons.run import LessonRun
    from simulator.live.classroom import Share
    from simulator.tui.model import InspectorModel


class CourseApp(App[None]):
    CSS_PATH = ["inspector.tcss", "lesson.tcss", "course.tcss"]  # noqa: RUF012
    TITLE = "wirelab"

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
        self.course = course
        self.progress = progress
        self.start = start
        self.start_teach = teach
        self.runs: dict[str, LessonRun] = {}
        self._save_told = False
        # `wirelab teach --share`: every step shown goes to the followers.
        self.share = share
        self.share_url = share_url
        self._digests: dict[str, str] = {}
        if share is not None:
            share.on_change = lambda count: self.refresh_bar()

    def get_default_screen(self) -> Screen[None]:
        return HomeScreen()

    def on_mount(self) -> None:
        if self.start is not None:
            self.open_lesson(self.start, teach=self.start_teach)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_error(event)

    def show_error(self, title: str, message: str) -> None:
        self.push_screen(ErrorScreen(title, message))

    # --- lessons ----------------------------------------------------------------------

    def open_lesson(self, name: str, *, teach: bool = False, step: int | None = None) -> None:
        from simulator.lessons.run import LessonRun
        from simulator.tui.screens.lesson import LessonScreen

        lesson = self.course.find(name)
        if lesson is None:
            names = ", ".join(lesson.id for lesson in self.course.lessons)
            self.show_error("No such lesson", f"There is no lesson {name!r}. The course: {names}.")
            return
        try:
            run = self.runs.get(lesson.id) or LessonRun(lesson)
        except LessonError as error:
            self.show_error(f"“{lesson.title}” cannot run", str(error))
            return
        except WirelabError as error:
            self.show_error(f"“{lesson.title}” cannot run", f"{lesson.path}: {error}")
            return
        self.runs[lesson.id] = run
        if step is None:
            step = 0 if teach else self.progress.of(lesson.id).step
        self.push_screen(LessonScreen(lesson, run, teach=teach, step=step))

    def visited(self, lesson: Lesson, step: int) -> None:
        self.progress.visit(lesson.id, step)
        self.save()
        if self.share is not None:
            self.share.move(lesson.id, self.digest(lesson), lesson.title, step, len(lesson.steps))

    def digest(self, lesson: Lesson) -> str:
        """The lesson file's hash, which followers compare with their own copy's."""
        from simulator.live.classroom import lesson_digest

        if lesson.id not in self._digests:
            self._digests[lesson.id] = lesson_digest(lesson.path)
        return self._digests[lesson.id]

    # --- the classroom ------------------------------------------------------------------

    def classroom_note(self) -> str:
        """What the lesson bar says about the classroom ("" when there is none)."""
        if self.share is None:
            return ""
        count = self.share.count
        return f"[b]{count} following[/b] at {self.share_url}"

    def refresh_bar(self) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        for screen in self.screen_stack:
            if isinstance(screen, LessonScreen) and screen.is_mounted:
                screen.update_bar()

    def answered(self, lesson: Lesson, step: int) -> None:
        self.progress.answered(lesson.id, step)
        self.save()

    def finished(self, lesson: Lesson) -> None:
        mine = self.progress.of(lesson.id)
        wanted = {i for i, step in enumerate(lesson.steps) if step.checkpoint is not None}
        if wanted <= mine.answered:
            self.progress.finish(lesson.id)
            self.save()

    def save(self) -> None:
        problem = self.progress.save()
        if problem is not None and not self._save_told:
            self._save_told = True  # once: the learner can go on without saving
            self.notify(problem, title="Progress not saved", severity="warning", timeout=10)

    # --- the other tools ----------------------------------------------------------------

    def open_inspector(self, run: LessonRun, title: str) -> None:
        from simulator.tui.model import SourceModel

        trace, _ = run.capture(None)
        model = SourceModel(trace, run.dissector(None))
        link = run.scenario.capture_link(None).name
        self.push_screen(_inspector(model, f"{title} · link {link}"))

    def open_sample_inspector(self) -> None:
        """The inspector on a fresh simulated session (handshake, echo, ping, close)."""
        from simulator.dissect.stream_view import StreamDissector
        from simulator.network.scenarios import run_built_in
        from simulator.trace.records import Trace
        from simulator.tui.model import SourceModel

        scenario = run_built_in("handshake-and-echo", 0)
        trace = Trace(scenario.capture())
        model = SourceModel(trace, StreamDissector(trace))
        self.push_screen(_inspector(model, "simulated: handshake-and-echo"))

    def open_sandbox(self, frame: bytes, *, from_client: bool) -> None:
        from simulator.tui.screens.sandbox import SandboxScreen

        self.push_screen(SandboxScreen(frame, from_client))


def _inspector(model: InspectorModel, source: str) -> Screen[None]:
    """The inspector over the course: Escape (or q) goes back to where it was opened
    rather than quitting wirelab."""
    from textual.binding import Binding

    from simulator.tui.screens.inspector import InspectorScreen

    class CourseInspector(InspectorScreen):
        BINDINGS = [  # noqa: RUF012 - merged with the inspector's own
            Binding("escape,q", "app.pop_screen", "Back"),
        ]

    return CourseInspector(model, source=source)


__all__ = ["CourseApp"]
