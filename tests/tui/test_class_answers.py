"""The class answers in the TUI: followers answer on their own screens, the teacher's
screen counts them, the teacher's `a` reveals to everyone, and the projector never shows
an answer early (nor the teacher's own rehearsal)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from textual.widgets import Static

from simulator.lessons import Progress
from simulator.live.classroom import Follower, Position, Share, Verdict, class_url, share_server
from simulator.tui.course import CourseApp, CourseJudge
from simulator.tui.field_tree import FieldTree
from simulator.tui.screens.join import JoinScreen
from simulator.tui.screens.lesson import LessonScreen
from tests.tui.course_support import COURSE, course_app, following, lesson_of, until, view_of
from tests.tui.screen_text import screen_lines

LESSON = lesson_of("ip-routing")
ASKING = 0  # "Which row of the client's table matches?"


def text_of(widget: Static) -> str:
    return str(widget.content)


def lesson_open(app: CourseApp) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, LessonScreen) and app.screen.is_mounted


def feedback(app: CourseApp) -> str:
    """The checkpoint's line ("" while the lesson screen is not mounted yet)."""
    screen = app.screen
    if not isinstance(screen, LessonScreen) or not screen.is_mounted:
        return ""
    return text_of(screen.query_one("#feedback", Static))


class Student:
    def __init__(self, url: str) -> None:
        self.moments: list[Position] = []
        self.verdicts: list[Verdict] = []
        self.follower = Follower(
            url, lambda kind, p: self.moments.append(p), on_verdict=self.verdicts.append
        )
        self.task = asyncio.ensure_future(self.follower.run())

    async def stop(self) -> None:
        self.follower.stop()
        await asyncio.wait_for(self.task, 5)


def test_the_teacher_sees_the_class_answer_and_reveals_it_to_everyone(tmp_path: Path) -> None:
    question = view_of(LESSON.id).question(ASKING)
    assert question is not None
    hostile = "[@click=app.quit]x[/]\x1b[2J"
    answers = (question.answer, question.answer, "row 1", hostile)

    async def main() -> None:
        # The teacher rehearsed: their own progress has this checkpoint answered.
        progress = Progress(tmp_path / "p.json")
        progress.visit(LESSON.id, ASKING)
        progress.answered(LESSON.id, ASKING)
        assert progress.save() is None
        share = Share()
        server = share_server(share, port=0)
        await server.start()
        url = class_url(server, share)
        app = course_app(tmp_path / "p.json", start=LESSON.id, teach=True, share=share,
                         share_url=url)  # fmt: skip
        students: list[Student] = []
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lesson_open(app), "the lesson")
                # Nothing answered on the projector, whatever the teacher did alone.
                assert "Press a to reveal the answer." in feedback(app)
                assert question.expected not in "\n".join(screen_lines(app))
                students = [Student("ws://" + url) for _ in answers]
                await until(pilot, lambda: all(s.follower.number for s in students), "joins")
                for student, answer in zip(students, answers, strict=True):
                    student.follower.answer(LESSON.id, ASKING, answer)
                await until(pilot, lambda: "Class: 4 of 4 answered" in feedback(app), "the count")
                assert "right" not in feedback(app)  # before the reveal: how many, no more
                assert not any(s.verdicts for s in students)
                await pilot.press("a")
                await until(pilot, lambda: all(s.verdicts for s in students), "every verdict")
                assert [s.verdicts[0].right for s in students] == [True, True, False, False]
                assert all(s.moments[-1].revealed == (ASKING,) for s in students)
                await until(pilot, lambda: "2 right (50 %)" in feedback(app), "the share right")
                told = feedback(app)
                assert f"Answer: {question.expected}" in told
                # The wrong answers are named, as plain text: no markup ran, no escape.
                assert "“row 1” ×1" in told and "“[@click=app.quit]x[/][2J” ×1" in told
                assert "\x1b" not in told and app.is_running
                # o: how to join, with a QR code of the browser's address.
                await pilot.press("o")
                await until(pilot, lambda: isinstance(app.screen, JoinScreen), "the join screen")
                shown = "\n".join(screen_lines(app))
                assert f"wirelab follow {url}" in shown and f"http://{url}" in shown
                await pilot.press("escape")
                await until(pilot, lambda: isinstance(app.screen, LessonScreen), "back")
        finally:
            for student in students:
                await student.stop()
            await server.shutdown()

    asyncio.run(asyncio.wait_for(main(), 90))


def test_a_follower_answers_cannot_reveal_and_learns_the_verdict_at_the_reveal(
    tmp_path: Path,
) -> None:
    view = view_of(LESSON.id)
    question = view.question(ASKING)
    assert question is not None
    digest_of = {}

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            from simulator.live.classroom import lesson_digest

            teacher = SimpleNamespace(course=COURSE, views={LESSON.id: view})
            share.judge = CourseJudge(teacher)  # type: ignore[arg-type]
            digest_of[LESSON.id] = lesson_digest(LESSON.path)

            def move(step: int, revealed: tuple[int, ...] = ()) -> None:
                share.move(LESSON.id, digest_of[LESSON.id], LESSON.title, step,
                           len(LESSON.steps), revealed=revealed)  # fmt: skip

            move(ASKING)
            await until(pilot, lesson_open(app), "the lesson")
            screen = app.screen
            assert isinstance(screen, LessonScreen) and screen.follower
            await until(pilot, lambda: "the teacher will reveal" in feedback(app), "the prompt")
            # A follower cannot reveal: no `a` in the keys, and `a` does nothing.
            assert not screen.check_action("reveal", ())
            assert "Reveal" not in "\n".join(screen_lines(app)[-1:])
            await pilot.press("a")
            await pilot.pause()
            assert screen.answered == frozenset()
            assert question.expected not in "\n".join(screen_lines(app))
            await pilot.press("enter")
            await pilot.press(*"row 1", "enter")
            await until(pilot, lambda: share.poll.answers, "the answer at the teacher's")
            (answer,) = share.poll.answers[(LESSON.id, ASKING)].values()
            assert answer.text == "row 1" and answer.right is None  # judged at the reveal
            assert "Your answer “row 1” is in" in feedback(app)
            assert question.expected not in "\n".join(screen_lines(app))
            move(ASKING, revealed=(ASKING,))
            await until(pilot, lambda: "You answered" in feedback(app), "the verdict")
            assert f"✗ You answered row 1; the answer is {question.expected}." in feedback(app)
            assert screen.answered == frozenset({ASKING})

    asyncio.run(asyncio.wait_for(main(), 60))


def test_play_reaches_followers_packet_by_packet_and_a_detached_one_stays_detached(
    tmp_path: Path,
) -> None:
    lesson = COURSE.find("http")
    assert lesson is not None
    view = view_of(lesson.id)
    # A step with several packets and no prediction waiting, not the first.
    index, count = next(
        (i, view.step(i, answered=False).current[1]) for i, step in enumerate(lesson.steps)
        if i and view.step(i, answered=False).current[1] >= 2
        and (step.checkpoint is None or not step.checkpoint.predict)
    )  # fmt: skip

    async def teacher_side() -> None:
        share = Share()
        server = share_server(share, port=0)
        await server.start()
        url = class_url(server, share)
        app = course_app(tmp_path / "t.json", start=lesson.id, teach=True, share=share,
                         share_url=url)  # fmt: skip
        student = Student("ws://" + url)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lesson_open(app), "the lesson")
                screen = app.screen
                assert isinstance(screen, LessonScreen)
                screen.go(index)
                await until(pilot, lambda: student.moments and student.moments[-1].step == index,
                            "the step")  # fmt: skip
                await pilot.press("r")  # replay: the step's packets one by one
                await until(pilot, lambda: any(m.shown == count for m in student.moments),
                            "the step's last packet")  # fmt: skip
                await pilot.press("space")  # pause
                await until(pilot, lambda: not student.moments[-1].playing, "the pause")
                played = [m.shown for m in student.moments if m.step == index and m.playing]
                assert played[: count + 1] == list(range(count + 1)), played
                # A packet picked on the ladder reaches them too, and a field selected.
                screen.picked = 2
                screen.render_step()
                await until(pilot, lambda: student.moments[-1].picked == 2, "the picked packet")
                before = student.moments[-1].field
                screen.stage = "detail"
                await pilot.pause()
                screen.query_one(FieldTree).focus()
                await pilot.press("down")
                await until(pilot, lambda: student.moments[-1].field not in (None, before),
                            "the field the teacher selected")  # fmt: skip
        finally:
            await student.stop()
            await server.shutdown()

    asyncio.run(asyncio.wait_for(teacher_side(), 60))

    async def student_side() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            from simulator.live.classroom import lesson_digest

            digest = lesson_digest(lesson.path)

            def move(shown: int | None, playing: bool, step: int = index) -> None:
                share.move(lesson.id, digest, lesson.title, step, len(lesson.steps),
                           shown=shown, playing=playing)  # fmt: skip

            move(0, True)
            await until(pilot, lesson_open(app), "the lesson")
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            await until(pilot, lambda: screen.revealed == 0 and screen.playing, "packet 0")
            move(1, True)
            await until(pilot, lambda: screen.revealed == 1, "packet 1")
            await pilot.pause(1.0)  # the follower's screen does not play by itself
            assert screen.revealed == 1
            # The student looks back: the teacher's packets no longer move the screen.
            await pilot.press("left")
            await until(pilot, lambda: screen.step == index - 1, "the student's own step")
            move(2, True)
            await pilot.pause(0.3)
            assert screen.step == index - 1 and "looking around" in str(
                screen.query_one("#lesson-bar", Static).content
            )
            # f: exactly the teacher's moment.
            await pilot.press("f")
            await until(pilot, lambda: screen.step == index and screen.revealed == 2, "back")
            assert screen.playing
            # The field the teacher selects is selected here too.
            share.move(lesson.id, digest, lesson.title, index, len(lesson.steps), shown=None,
                       field=3)  # fmt: skip
            await until(pilot, lambda: screen.dissection is not None and screen._lit is not None
                        and screen._lit_place() == 3, "the teacher's field")  # fmt: skip

    asyncio.run(asyncio.wait_for(student_side(), 60))


def test_a_follower_is_asked_about_the_teachers_fresh_key(tmp_path: Path) -> None:
    """Seen: an accept-key question draws a fresh key on each screen, so a follower was
    shown a key of its own and its right answer was judged wrong against the teacher's."""
    from simulator.live.classroom import lesson_digest
    from simulator.ws.handshake import accept_key

    lesson = next(
        lesson for lesson in COURSE.lessons for step in lesson.steps
        if step.checkpoint is not None and step.checkpoint.kind == "accept-key"
        and "packet" not in step.checkpoint.params
    )  # fmt: skip
    index = next(
        i for i, step in enumerate(lesson.steps)
        if step.checkpoint is not None and step.checkpoint.kind == "accept-key"
        and "packet" not in step.checkpoint.params
    )  # fmt: skip
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            share.move(lesson.id, lesson_digest(lesson.path), lesson.title, index,
                       len(lesson.steps), given=key)  # fmt: skip
            await until(pilot, lambda: isinstance(app.screen, LessonScreen)
                        and app.screen.is_mounted
                        and key in text_of(app.screen.query_one("#question", Static)),
                        "the teacher's key")  # fmt: skip
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            question = screen.view.question(index)
            assert question is not None and question.judge(accept_key(key))

    asyncio.run(asyncio.wait_for(main(), 60))


def test_the_qr_code_reads_back_as_the_browser_address_dark_on_light() -> None:
    """The half blocks, read back cell by cell from their colours, are segno's matrix of
    the address: two modules a cell, black on white whatever the terminal's theme."""
    import segno
    from rich.console import Console

    from simulator.tui.screens.join import DARK, LIGHT, qr_text

    url = "http://192.0.2.2:8766/k7q2"
    expected = [[int(bool(m)) for m in row] for row in
                segno.make(url, error="m").matrix_iter(border=2)]  # fmt: skip
    console = Console(width=200, color_system="truecolor")
    read: list[list[int]] = []
    for line in qr_text(url, border=2).split("\n"):
        top, bottom = [], []
        for offset, char in enumerate(line.plain):
            assert char == "▀"
            style = line.get_style_at_offset(console, offset)
            colours = (style.color, style.bgcolor)
            assert all(c is not None and c.name in (DARK, LIGHT) for c in colours)
            top.append(int(style.color.name == DARK))  # type: ignore[union-attr]
            bottom.append(int(style.bgcolor.name == DARK))  # type: ignore[union-attr]
        read += [top, bottom]
    assert read[: len(expected)] == expected
    assert all(cell == 0 for row in read[len(expected) :] for cell in row)  # padding: light
