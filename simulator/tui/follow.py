"""`wirelab follow HOST:PORT/CODE`: the course app, steered by a teacher's `--share`.

While the student follows, the screen shows the teacher's moment: the same
lesson and step (in the classroom layout), the packets as they play, the packet
picked on the ladder, the answers the teacher revealed. Moving on one's own (→,
←, space, g, a click on the ladder…) detaches: the student looks around while
the bar says where the teacher is; `f` snaps back to exactly the teacher's
moment. A lesson file that differs from the teacher's is refused with a clear
message, never shown as if it were the same.

On a checkpoint the student answers on their own screen; the answer goes to the
teacher's side, which judges it and says whether it was right when the teacher
reveals the answer. The student cannot reveal it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from simulator.lessons.course import Course
from simulator.lessons.model import Lesson
from simulator.lessons.progress import Progress
from simulator.live.classroom import Follower, Position, Verdict
from simulator.tui.course import CourseApp
from simulator.tui.messages import ClassAnswer, TookOver


class FollowApp(CourseApp):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow_teacher", "Follow the teacher"),
    ]

    following_a_teacher = True

    def __init__(self, course: Course, progress: Progress, url: str, *, name: str = "") -> None:
        super().__init__(course, progress)
        self.url = url
        self.teacher: Position | None = None
        self.attached = True
        self.status = f"connecting to {url}…"
        self.problem: str | None = None  # why the teacher's lesson cannot be shown
        self._applying = False  # a move made for the teacher, not by the student
        self.follower = Follower(
            url,
            self.teacher_moved,
            self.connection_status,
            name=name,
            on_verdict=self.judged,
            on_note=self.told,
        )
        # What the teacher's side said of this student's answers, by lesson and step.
        self.verdicts: dict[tuple[str, int], Verdict] = {}

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = f"following {self.url}"
        self.run_worker(self.follower.run(), name="follow", exit_on_error=False)
        self.notify(f"Waiting for the teacher at {self.url}…", timeout=5, markup=False)

    async def action_quit(self) -> None:
        self.follower.stop()
        await super().action_quit()

    # --- from the follower ----------------------------------------------------------------

    def teacher_moved(self, kind: str, position: Position) -> None:
        self.teacher = position
        if kind == "hello":
            self.attached = True  # a (re)connection puts the student back in step
        if self.attached:
            self.go_to_teacher()
        else:
            self.refresh_bar()

    def judged(self, verdict: Verdict) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        self.verdicts[(verdict.lesson, verdict.step)] = verdict
        for screen in self.screen_stack:
            if isinstance(screen, LessonScreen) and screen.lesson.id == verdict.lesson:
                screen.verdict(verdict.step, verdict.right, verdict.answer, verdict.expected)

    def told(self, text: str) -> None:
        self.notify(text, title="Classroom", timeout=6, markup=False)

    @on(ClassAnswer)
    def answer_given(self, message: ClassAnswer) -> None:
        self.follower.answer(message.lesson, message.step, message.answer)

    @on(TookOver)
    def took_over(self) -> None:
        self.attached = False
        self.refresh_bar()

    def connection_status(self, text: str) -> None:
        why = text.split("; reconnecting")[0]
        if text != "connected" and why != self.status.split("; reconnecting")[0]:
            self.notify(
                text, title="Classroom", severity="warning", timeout=5, markup=False
            )  # once a cause
        self.status = text
        self.refresh_bar()

    # --- following ------------------------------------------------------------------------

    def go_to_teacher(self) -> None:
        from simulator.tui.screens.lesson import LessonScreen

        position = self.teacher
        if position is None:
            self.notify("The teacher has not opened a lesson yet.", markup=False)
            return
        lesson = self.course.find(position.lesson)
        if lesson is None:
            self._refuse(f"the teacher's lesson {position.lesson!r} is not in your course")
            return
        if self.digest(lesson) != position.digest:
            self._refuse(
                f"your copy of “{lesson.title}” differs from the teacher's "
                "(use the same wirelab version and lesson folder)"
            )
            return
        if not 0 <= position.step < len(lesson.steps) or position.steps != len(lesson.steps):
            # The same file cannot have another number of steps: a message not to trust.
            self._refuse(
                f"the teacher's step {position.step + 1} of {position.steps} does not fit "
                f"“{lesson.title}” ({len(lesson.steps)} steps)"
            )
            return
        self.problem = None
        self._applying = True
        try:
            screen = self.screen
            if not (isinstance(screen, LessonScreen) and screen.lesson.id == lesson.id):
                while isinstance(self.screen, LessonScreen) or len(self.screen_stack) > 1:
                    self.pop_screen()
                self.open_lesson(lesson.id, teach=True, step=position.step)
                screen = self.screen
            if isinstance(screen, LessonScreen):
                for (which, step), verdict in self.verdicts.items():
                    if which == lesson.id and step not in screen.verdicts:
                        screen.verdicts[step] = (verdict.right, verdict.answer, verdict.expected)
                screen.follow_moment(
                    position.step, position.shown, position.playing, position.picked,
                    frozenset(position.revealed), position.field, position.given,
                )  # fmt: skip
            self.refresh_bar()
        finally:
            self._applying = False

    def _refuse(self, problem: str) -> None:
        if problem != self.problem:
            self.problem = problem
            self.notify(problem, title="Cannot follow", severity="error", timeout=10, markup=False)
        self.refresh_bar()

    def visited(self, lesson: Lesson, step: int) -> None:
        super().visited(lesson, step)
        teacher = self.teacher
        if not self._applying and (teacher is None or teacher.lesson != lesson.id):
            self.attached = False  # another lesson, opened from home: looking around
        self.refresh_bar()

    def action_follow_teacher(self) -> None:
        self.attached = True
        self.go_to_teacher()
        self.refresh_bar()

    def classroom_note(self) -> str:
        teacher = self.teacher
        if self.status != "connected":
            return self.status
        if teacher is None:
            return "waiting for the teacher"
        if self.problem is not None:
            return f"cannot follow: {self.problem}"
        if self.attached:
            return "following the teacher"
        screen_lesson = getattr(self.screen, "lesson", None)
        where = f"step {teacher.step + 1}/{teacher.steps}"
        if getattr(screen_lesson, "id", None) != teacher.lesson:
            where = f"“{teacher.title}”, {where}"
        return f"looking around · teacher at {where} · f: back"


__all__ = ["FollowApp"]
