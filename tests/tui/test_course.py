"""The course in the TUI, driven as a learner would: every lesson from the first step to
the last, every checkpoint answered wrongly then rightly, what the screen shows checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from simulator.lessons import Lesson, Progress, load_course
from simulator.lessons.run import LessonRun
from simulator.tui.course import CourseApp
from simulator.tui.field_tree import FieldTree
from simulator.tui.hex_view import HexView
from simulator.tui.ladder import LadderDiagram
from simulator.tui.screens.home import HomeScreen
from simulator.tui.screens.lesson import LessonScreen

COURSE = load_course(user=False)
SIZE = (120, 40)


def app_for(tmp_path: Path, **kwargs: object) -> CourseApp:
    return CourseApp(load_course(user=False), Progress(tmp_path / "progress.json"), **kwargs)  # type: ignore[arg-type]


def text_of(widget: Static) -> str:
    return str(widget.content)


def test_home_lists_the_course_with_progress(tmp_path: Path) -> None:
    asyncio.run(home_lists_the_course(tmp_path))
    assert Progress(tmp_path / "progress.json").last == COURSE.lessons[0].id


async def home_lists_the_course(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        options = app.screen.query_one(OptionList)
        assert options.option_count == len(COURSE.lessons) >= 10
        first = str(options.get_option_at_index(0).prompt)
        assert COURSE.lessons[0].title[:30] in first and "0/" in first
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)
        await pilot.press("right")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert "continue" in text_of(app.screen.query_one("#home-resume", Static))


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda lesson: lesson.id)
def test_walk_every_lesson_answering_wrong_then_right(lesson: Lesson, tmp_path: Path) -> None:
    asyncio.run(walk(lesson, tmp_path))
    progress = Progress(tmp_path / "progress.json")
    assert progress.of(lesson.id).done
    wanted = {i for i, step in enumerate(lesson.steps) if step.checkpoint is not None}
    assert progress.of(lesson.id).answered == wanted


async def walk(lesson: Lesson, tmp_path: Path) -> None:
    app = app_for(tmp_path, start=lesson.id)
    run = LessonRun(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.step == 0
        for index, step in enumerate(lesson.steps):
            assert screen.step == index
            bar = text_of(screen.query_one("#lesson-bar", Static))
            assert f"step {index + 1}/{len(lesson.steps)}" in bar
            pointed = run.pointed(index)
            if pointed is not None and pointed[1] is not None:
                field = pointed[1]
                tree = screen.query_one(FieldTree)
                assert tree.field is not None and tree.field.name == field.name
                assert screen.query_one(HexView).highlight == (field.start, field.end)
            if step.pointer is not None and step.pointer.window is not None:
                snapshot = run.steps[index].tcp[step.pointer.window]
                shown = screen.query_one("#window").render()
                assert str(snapshot.rcv_wnd) in str(shown)
            ladder = screen.query_one(LadderDiagram)
            assert len(ladder.arrows) == sum(1 for _ in range(run.steps[index].end))
            if step.checkpoint is not None:
                question = screen.question(index)
                assert question is not None
                answer = screen.query_one("#answer", Input)
                # Moving on is refused until it is answered.
                await pilot.press("right")
                await pilot.pause()
                assert screen.step == index
                answer.value = "definitely wrong 123456789"
                await answer.action_submit()
                await pilot.pause()
                feedback = text_of(screen.query_one("#feedback", Static))
                assert "Not quite" in feedback
                answer.value = question.answer
                await answer.action_submit()
                await pilot.pause()
                assert "Right" in text_of(screen.query_one("#feedback", Static))
            await pilot.press("right")
            await pilot.pause()
        assert screen.step == len(lesson.steps) - 1


def test_backwards_jump_replay_and_play(tmp_path: Path) -> None:
    asyncio.run(backwards_jump_replay_and_play(tmp_path))


async def backwards_jump_replay_and_play(tmp_path: Path) -> None:
    lesson = COURSE.find("tcp-handshake")
    assert lesson is not None
    app = app_for(tmp_path, start=lesson.id, teach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.teach
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert screen.step == 3
        # Teach mode: no answer needed; the teacher reveals it.
        await pilot.press("a")
        await pilot.pause()
        assert "Answer:" in text_of(screen.query_one("#feedback", Static))
        await pilot.press("left")
        await pilot.pause()
        assert screen.step == 2
        arrows_at_2 = list(screen.query_one(LadderDiagram).arrows)
        await pilot.press("r")  # replay: the step's packets appear one by one
        await pilot.pause()
        assert screen.playing and screen.revealed == 0
        await pilot.press("space")  # pause
        await pilot.press("period")  # one packet
        await pilot.pause()
        assert screen.revealed == 1
        await pilot.press("right")  # finishes the step being played
        await pilot.pause()
        assert list(screen.query_one(LadderDiagram).arrows) == arrows_at_2
        await pilot.press("g")
        await pilot.pause()
        jump = app.screen.query_one("#jump", Input)
        jump.value = "7"
        await jump.action_submit()
        await pilot.pause()
        assert screen.step == 6


def test_a_broken_lesson_shows_its_error_not_a_traceback(tmp_path: Path) -> None:
    asyncio.run(broken_lesson(tmp_path))


async def broken_lesson(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "bad.md").write_text('+++\ntitle = "x\nobjectives = []\n+++\n\n## A\n\nText.\n')
    course = load_course([folder], user=False)
    app = CourseApp(course, Progress(tmp_path / "progress.json"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert options.option_count == len(COURSE.lessons) + 1
        options.highlighted = options.option_count - 1
        await pilot.press("enter")
        await pilot.pause()
        message = str(app.screen.query_one("#error-message", Static).content)
        assert "bad.md:2" in message


def test_the_inspector_and_the_sandbox_open_from_a_lesson_and_come_back(tmp_path: Path) -> None:
    asyncio.run(inspector_and_sandbox(tmp_path))


async def inspector_and_sandbox(tmp_path: Path) -> None:
    from simulator.tui.screens.inspector import InspectorScreen
    from simulator.tui.screens.sandbox import SandboxScreen

    app = app_for(tmp_path, start="frames-and-masking", teach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lesson = app.screen
        assert isinstance(lesson, LessonScreen)
        lesson.show_step(1)  # the client's first frame is selected
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, InspectorScreen)
        assert len(app.screen.model) == len(lesson.lesson_run.capture(None)[0])
        await pilot.press("q")  # back to the lesson, not out of wirelab
        await pilot.pause()
        assert app.screen is lesson
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, SandboxScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is lesson
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("i")  # the inspector on a sample session, from home
        await pilot.pause()
        assert isinstance(app.screen, InspectorScreen) and len(app.screen.model) > 10
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
