"""Classroom follow in the TUI: the student's screen moves with the teacher, detaches when
the student looks around, and `f` snaps back; the teacher's bar counts the followers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static

from simulator.lessons import Lesson, Progress, load_course
from simulator.live.classroom import Share, class_url, lesson_digest, share_server
from simulator.tui.course import CourseApp
from simulator.tui.screens.lesson import LessonScreen
from tests.tui.course_support import following, until

COURSE = load_course(user=False)


def bar(app: CourseApp) -> str:
    """The lesson bar ("" while no lesson screen is mounted)."""
    screen = app.screen
    if not isinstance(screen, LessonScreen) or not screen.is_mounted:
        return ""
    return str(screen.query_one("#lesson-bar", Static).content)


def test_a_student_follows_looks_around_and_snaps_back(tmp_path: Path) -> None:
    lesson = COURSE.lessons[2]
    other = COURSE.lessons[3]

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):

            def move(which: Lesson, step: int) -> None:
                digest = lesson_digest(which.path)
                share.move(which.id, digest, which.title, step, len(which.steps))

            def at() -> tuple[str, int] | None:
                screen = app.screen
                if not isinstance(screen, LessonScreen):
                    return None
                return screen.lesson.id, screen.step

            move(lesson, 2)
            await until(pilot, lambda: at() == (lesson.id, 2), "the teacher's step")
            await until(pilot, lambda: "following the teacher" in bar(app), "the bar")
            move(lesson, 3)
            await until(pilot, lambda: at() == (lesson.id, 3), "the next step")
            # The student looks around: the teacher's moves no longer move the screen.
            await pilot.press("left")
            await until(pilot, lambda: at() == (lesson.id, 2), "the student's own step")
            move(lesson, 4)
            await until(pilot, lambda: "teacher at step 5/" in bar(app), "the move shown")
            assert "looking around" in bar(app)
            assert at() == (lesson.id, 2)
            # f: back to where the teacher is.
            await pilot.press("f")
            await until(pilot, lambda: at() == (lesson.id, 4), "snapped back")
            await until(pilot, lambda: "following the teacher" in bar(app), "the bar")
            # The teacher opens another lesson: the student follows there too.
            move(other, 1)
            await until(pilot, lambda: at() == (other.id, 1), "the other lesson")
            # A lesson whose file differs is refused, not shown.
            share.move(lesson.id, "0" * 16, lesson.title, 0, len(lesson.steps))
            await until(pilot, lambda: "cannot follow" in bar(app), "the refusal")
            assert "differs from the teacher" in bar(app)
            assert at() == (other.id, 1)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_the_teacher_bar_counts_followers_and_each_step_is_shared(tmp_path: Path) -> None:
    from simulator.live.classroom import Follower, Position

    lesson = COURSE.lessons[2]

    async def main() -> None:
        share = Share()
        server = share_server(share, port=0)
        await server.start()
        url = class_url(server, share)
        app = CourseApp(COURSE, Progress(tmp_path / "p.json"), start=lesson.id, teach=True,
                        share=share, share_url=url)  # fmt: skip
        seen: list[Position] = []
        follower = Follower("ws://" + url, lambda kind, p: seen.append(p))
        task = asyncio.ensure_future(follower.run())
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, LessonScreen), "the lesson")
                await until(pilot, lambda: "1 following" in bar(app), "the count")
                await pilot.press("right", "right")
                await until(pilot, lambda: seen and seen[-1].step == 2, "the steps")
                assert [p.step for p in seen][-3:] == [0, 1, 2]
                assert seen[-1].digest == lesson_digest(lesson.path)
                follower.stop()
                await asyncio.wait_for(task, 5)
                await until(pilot, lambda: "0 following" in bar(app), "the count back to 0")
        finally:
            follower.stop()
            await server.shutdown()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_hostile_teacher_cannot_crash_or_script_the_follower(tmp_path: Path) -> None:
    """Seen: a lesson id of `[/]x` and markup in messages crashed the follower
    (MarkupError), `[@click=app.quit]` was live, and a step past the lesson's end (with
    the right digest) stopped following for good with an IndexError. Every field is
    text, every message is checked, the follower keeps following."""
    lesson = COURSE.lessons[2]

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            digest = lesson_digest(lesson.path)
            share.move("[/]x[@click=app.quit]", digest, "[b]title[/]", 0, 3)
            await until(pilot, lambda: app.problem is not None, "the refusal")
            assert "'[/]x[@click=app.quit]' is not in your course" in str(app.problem)
            steps = len(lesson.steps)
            share.move(lesson.id, digest, lesson.title, steps + 5, steps + 10)
            await until(pilot, lambda: "does not fit" in str(app.problem), "a step refused")
            share.move(lesson.id, digest, lesson.title, 1, steps)  # and on it goes
            await until(
                pilot,
                lambda: isinstance(app.screen, LessonScreen) and app.screen.step == 1,
                "the next good step",
            )
            assert app.is_running

    asyncio.run(asyncio.wait_for(main(), 60))
