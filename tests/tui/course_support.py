"""A course app for tests, its lessons run once per test session (each run is the same
bytes every time: a lesson's network is deterministic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import simulator.tui.course
from simulator.lessons import Progress, load_course
from simulator.lessons.course import Course
from simulator.lessons.run import LessonRun
from simulator.tui.course import CourseApp
from simulator.views.lesson import LessonView

COURSE = load_course(user=False)
_VIEWS: dict[str, LessonView] = {}


def view_of(lesson_id: str) -> LessonView:
    """The built-in lesson `lesson_id`, run once."""
    if lesson_id not in _VIEWS:
        lesson = COURSE.find(lesson_id)
        assert lesson is not None, lesson_id
        _VIEWS[lesson_id] = LessonView(LessonRun(lesson))
    return _VIEWS[lesson_id]


class TestCourseApp(CourseApp):
    """`CourseApp` taking each built-in lesson's run from the shared ones."""

    __test__ = False  # not a test class, whatever its name
    # Textual finds style files next to the class that names them: name them in full.
    CSS_PATH = [Path(simulator.tui.course.__file__).parent / name for name in CourseApp.CSS_PATH]  # noqa: RUF012

    def lesson_view(self, lesson: Any) -> LessonView | None:
        if lesson.id not in self.views and COURSE.find(lesson.id) is not None:
            self.views[lesson.id] = view_of(lesson.id)
        return super().lesson_view(lesson)


def course_app(progress: Path, *, course: Course | None = None, **kwargs: Any) -> CourseApp:
    """A course app over the built-in course (or `course`), progress kept at `progress`."""
    return TestCourseApp(course or load_course(user=False), Progress(progress), **kwargs)


__all__ = ["COURSE", "TestCourseApp", "course_app", "view_of"]
