"""A course app for tests, its lessons run once per test session (each run is the same
bytes every time: a lesson's network is deterministic)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import simulator.tui.course
from simulator.lessons import Progress, load_course
from simulator.lessons.course import Course
from simulator.lessons.model import Lesson
from simulator.lessons.run import LessonRun
from simulator.tui.course import CourseApp
from simulator.views.lesson import LessonView

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from simulator.live.classroom import Share
    from simulator.tui.follow import FollowApp

COURSE = load_course(user=False)
_VIEWS: dict[str, LessonView] = {}


def lesson_of(lesson_id: str) -> Lesson:
    """The built-in lesson `lesson_id`."""
    lesson = COURSE.find(lesson_id)
    assert lesson is not None, lesson_id
    return lesson


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


async def until(
    pilot: Pilot[Any], done: Callable[[], object], what: str, timeout: float = 20.0
) -> None:
    """Pause the app until `done()` holds; fail saying `what` after `timeout` seconds
    (an upper bound for a loaded machine, never an expectation of speed)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


__all__ = ["COURSE", "TestCourseApp", "course_app", "until", "view_of"]


@asynccontextmanager
async def following(
    progress: Path, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[Share, FollowApp, Pilot[None]]]:
    """A teacher's share server on a free port and a student's `FollowApp` connected to
    it, running: (share, app, pilot). The server is shut down afterwards."""
    from simulator.live.classroom import Share as ShareService
    from simulator.live.classroom import share_server
    from simulator.tui.follow import FollowApp as Follow

    share = ShareService()
    server = share_server(share, port=0)
    await server.start()
    app = Follow(COURSE, Progress(progress), f"ws://127.0.0.1:{server.port}/{share.code}")
    try:
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 15
            while share.count != 1:
                assert time.monotonic() < deadline, "timed out waiting for the student"
                await asyncio.sleep(0.05)
            yield share, app, pilot
    finally:
        await server.shutdown()
