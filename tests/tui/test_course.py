"""The course in the TUI, driven as a learner would: every lesson from the first step to
the last, every checkpoint answered wrongly then rightly with the keys, what the screen
shows checked; and the defects a first hour with wirelab turned up, each pinned."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from simulator.lessons import Lesson, Progress, load_course
from simulator.tui.course import CourseApp
from simulator.tui.field_tree import FieldTree
from simulator.tui.footer import KeyBar, ShownKey
from simulator.tui.hex_view import HexView
from simulator.tui.ladder import LadderDiagram
from simulator.tui.screens.home import HomeScreen
from simulator.tui.screens.lesson import AnswerInput, LessonEndScreen, LessonScreen
from tests.tui.course_support import course_app, view_of

COURSE = load_course(user=False)
SIZE = (120, 40)


def app_for(tmp_path: Path, **kwargs: Any) -> CourseApp:
    return course_app(tmp_path / "progress.json", **kwargs)


def text_of(widget: Static) -> str:
    return str(widget.content)


def screen_of(app: CourseApp) -> Screen[Any]:
    """The screen on top now, read through a call: mypy would otherwise hold what an
    isinstance or `is` check said `app.screen` was across the key presses that change it."""
    return app.screen


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
        assert COURSE.lessons[0].title in first and "0/" in first
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(screen_of(app), LessonScreen)
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
    run = view_of(lesson.id).run
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.step == 0
        for index, step in enumerate(lesson.steps):
            assert screen.step == index
            bar = text_of(screen.query_one("#lesson-bar", Static))
            assert f"Step {index + 1}/{len(lesson.steps)}" in bar
            pointed = run.pointed(index)
            view = screen.shown
            assert view is not None
            if pointed is not None and view.field is not None:
                field = pointed[1]
                assert field is not None
                tree = screen.query_one(FieldTree)
                assert tree.field is not None and tree.field.name == field.name
                assert screen.query_one(HexView).highlight == (field.start, field.end)
            ladder = screen.query_one(LadderDiagram)
            predicts = step.checkpoint is not None and step.checkpoint.predict
            # A prediction is asked before the step's own packets are on the ladder.
            state = run.steps[index]
            assert len(ladder.arrows) == (state.first if predicts else state.end)
            if predicts:
                await predict_wrong(pilot, screen)
                assert len(ladder.arrows) == state.end  # its packets, once predicted
            elif step.checkpoint is not None:
                await answer_wrong_then_right(pilot, screen)
            await pilot.press("n")
            await pilot.pause()
        assert isinstance(app.screen, LessonEndScreen)  # past the last step: the end
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def answer_wrong_then_right(pilot: object, screen: LessonScreen) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    view = screen.shown
    assert view is not None and view.question is not None
    question = view.question
    step = screen.step
    # Moving on is refused until it is answered; the keys still navigate.
    await pilot.press("n")
    await pilot.pause()
    assert screen.step == step
    answer = screen.query_one(AnswerInput)
    # Locals, not answer.has_focus: mypy would hold the value asserted across key presses.
    focused: bool = answer.has_focus
    assert not focused
    await pilot.press("enter")  # the answer box takes the keys
    await pilot.pause()
    assert answer.has_focus
    await pilot.press(*"wrong", "enter")  # typed into the box, key by key
    await pilot.pause()
    assert answer.value == "wrong"
    assert "Not quite" in text_of(screen.query_one("#feedback", Static))
    assert answer.has_focus  # a second try
    answer.value = question.answer
    await pilot.press("enter")
    await pilot.pause()
    assert "Right" in text_of(screen.query_one("#feedback", Static))
    focused_after: bool = answer.has_focus
    assert not focused_after  # the keys are the lesson's again


async def predict_wrong(pilot: object, screen: LessonScreen) -> None:
    """A prediction is committed to once: a wrong one is answered too, the verdict says
    what the packets carried, and they are sent (`n` shows them all, on the same step)."""
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    view = screen.shown
    assert view is not None and view.question is not None and view.predicting
    step = screen.step
    await pilot.press("n")
    await pilot.pause()
    assert screen.step == step  # not before predicting
    await pilot.press("enter", *"wrong", "enter")
    await pilot.pause()
    feedback = text_of(screen.query_one("#feedback", Static))
    assert "You predicted wrong" in feedback and view.question.expected in feedback
    assert not screen.query_one(AnswerInput).has_focus
    await pilot.press("n")  # the packets being sent: all of them, same step
    await pilot.pause()
    assert screen.step == step and screen.revealed is None


def test_navigation_keys_never_type_into_the_answer(tmp_path: Path) -> None:
    """Arriving at a checkpoint (by n, or by playing into it) leaves the keys to the
    lesson; Enter takes the box, Escape gives the keys back; the footer says both."""
    asyncio.run(focus_trap(tmp_path))


async def focus_trap(tmp_path: Path) -> None:
    lesson = COURSE.find("layers-and-sockets")
    assert lesson is not None
    asking = next(i for i, step in enumerate(lesson.steps) if step.checkpoint is not None)
    app = app_for(tmp_path, start=lesson.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        for _ in range(asking):
            await pilot.press("n")
        await pilot.pause()
        assert screen.step == asking
        answer = screen.query_one(AnswerInput)
        for key in ("n", "space", "plus", "full_stop", "p"):
            await pilot.press(key)
            await pilot.pause()
            assert answer.value == "" and not answer.has_focus, key
        assert screen.step == asking - 1  # p went back
        await pilot.press("n", "enter")
        await pilot.pause()
        assert answer.has_focus
        keys = {key.description for key in keybar(app)}
        assert {"Check the answer", "Back to the lesson keys"} <= keys
        await pilot.press("escape")
        await pilot.pause()
        focused: bool = answer.has_focus  # read afresh: mypy still holds the True above
        assert not focused and isinstance(app.screen, LessonScreen)
        assert "Answer" in {key.description for key in keybar(app)}


def keybar(app: CourseApp) -> list[ShownKey]:
    return list(app.screen.query_one(KeyBar).shown)


def test_q_leaves_a_lesson_and_c_goes_on_to_the_next_lesson(tmp_path: Path) -> None:
    asyncio.run(q_and_continue(tmp_path))


async def q_and_continue(tmp_path: Path) -> None:
    first, second = COURSE.lessons[0], COURSE.lessons[1]
    progress = Progress(tmp_path / "progress.json")
    progress.visit(first.id, len(first.steps) - 1)
    for i, step in enumerate(first.steps):
        if step.checkpoint is not None:
            progress.answered(first.id, i)
    progress.finish(first.id)
    assert progress.save() is None
    app = course_app(tmp_path / "progress.json")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert second.title in text_of(home.query_one("#home-resume", Static))
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.lesson.id == second.id
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert not app._notifications  # no toast left over from the lesson


def test_the_end_of_a_lesson_offers_the_next_one(tmp_path: Path) -> None:
    asyncio.run(end_of_lesson(tmp_path))


async def end_of_lesson(tmp_path: Path) -> None:
    first, second = COURSE.lessons[0], COURSE.lessons[1]
    app = app_for(tmp_path, start=first.id, teach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(len(first.steps) - 1)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, LessonEndScreen)
        await pilot.press("enter")
        await pilot.pause()
        next_screen = screen_of(app)
        assert isinstance(next_screen, LessonScreen) and next_screen.lesson.id == second.id
        assert next_screen.teach
        assert len(app.screen_stack) == 2  # home, then the new lesson: nothing piles up


def test_one_packet_shows_on_every_step_with_packets(tmp_path: Path) -> None:
    """`.` on a step shown whole starts again from none: it always changes the ladder."""
    asyncio.run(one_packet(tmp_path))


async def one_packet(tmp_path: Path) -> None:
    lesson = COURSE.find("tcp-handshake")
    assert lesson is not None
    app = app_for(tmp_path, start=lesson.id, teach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        run = screen.view.run
        for index in range(len(lesson.steps)):
            screen.go(index)
            await pilot.pause()
            count = run.steps[index].end - run.steps[index].first
            if not count:
                continue
            if screen.shown is not None and screen.shown.predicting:
                assert not screen.check_action("single", ())  # the packets wait for it
                await pilot.press("a")  # the teacher sends them
                await pilot.press("n")  # all of them, this step
                await pilot.pause()
                assert screen.step == index
            ladder = screen.query_one(LadderDiagram)
            before = len(ladder.arrows)
            await pilot.press("full_stop")
            await pilot.pause()
            assert len(ladder.arrows) == before - count, f"step {index + 1}"
            assert "packet 0 of" in text_of(screen.query_one("#lesson-bar", Static))
            await pilot.press("full_stop")
            await pilot.pause()
            assert len(ladder.arrows) == before - count + 1


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
        await pilot.press("right", "right", "right", "right")
        await pilot.pause()
        assert screen.step == 4
        # Teach mode: no answer needed; the teacher reveals it.
        await pilot.press("a")
        await pilot.pause()
        assert "Answer:" in text_of(screen.query_one("#feedback", Static))
        await pilot.press("left", "left")
        await pilot.pause()
        assert screen.step == 2
        # A prediction: the teacher's `a` sends the packets and shows the answer.
        assert screen.shown is not None and screen.shown.predicting
        await pilot.press("a")
        await pilot.pause()
        assert screen.playing and "Answer:" in text_of(screen.query_one("#feedback", Static))
        await pilot.press("right")  # the packets, all at once
        await pilot.pause()
        playing: bool = screen.playing  # read afresh: mypy still holds the True above
        assert screen.step == 2 and not playing
        arrows_at_2 = list(screen.query_one(LadderDiagram).arrows)
        await pilot.press("r")  # replay: the step's packets appear one by one
        await pilot.pause()
        assert screen.playing and screen.revealed == 0
        await pilot.press("space")  # pause
        await pilot.press("full_stop")  # one packet
        await pilot.pause()
        state = screen.view.run.steps[2]
        shown = len(screen.query_one(LadderDiagram).arrows)
        assert shown == len(arrows_at_2) - (state.end - state.first) + 1
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


def test_a_classroom_starts_with_every_checkpoint_unanswered(tmp_path: Path) -> None:
    """The teacher's own self-paced answers never show on the projector."""
    asyncio.run(classroom_unanswered(tmp_path))


async def classroom_unanswered(tmp_path: Path) -> None:
    lesson = COURSE.find("tcp-handshake")
    assert lesson is not None
    asking = next(i for i, step in enumerate(lesson.steps) if step.checkpoint is not None)
    progress = Progress(tmp_path / "progress.json")
    progress.answered(lesson.id, asking)
    assert progress.save() is None
    app = app_for(tmp_path, start=lesson.id, teach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(asking)
        await pilot.pause()
        feedback = text_of(screen.query_one("#feedback", Static))
        assert "Answered" not in feedback and "reveal" in feedback


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


def test_text_from_a_lesson_file_is_never_read_as_markup(tmp_path: Path) -> None:
    asyncio.run(markup_in_a_lesson(tmp_path))


MARKUP = "[bold red]x[/bold red] [link=http://a]y[/link] [@click=app.quit]z[/]"


async def markup_in_a_lesson(tmp_path: Path) -> None:
    from tests.tui.screen_text import screen_lines

    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "m.md").write_text(
        f'+++\nid = "marked"\ntitle = "T {MARKUP}"\norder = 99\nlevel = "beginner"\n'
        f'objectives = ["O {MARKUP}"]\n[network]\nseed = 1\n+++\n\nIntro.\n\n'
        '## Step one\n\nText.\n\n```check\nkind = "number"\nanswer = 4\n'
        f'question = "Q {MARKUP}"\nhint = "H {MARKUP}"\n```\n'
    )
    course = load_course([folder], user=False)
    app = CourseApp(course, Progress(tmp_path / "progress.json"), start="marked")
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        await pilot.press("enter", *"1", "enter")
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        for prefix in ("Q ", "H "):
            assert f"{prefix}{MARKUP}"[:40] in shown.replace("\n", " ") or MARKUP[:20] in shown
        assert shown.count("[bold red]x[/bold red]") >= 3  # bar, question, hint
        await pilot.press("escape", "q")
        await pilot.pause()
        assert app.is_running  # [@click=app.quit] did nothing


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
        lesson.go(1)  # the client's first frame is selected
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, InspectorScreen)
        assert len(app.screen.model) == len(lesson.view.run.capture(None)[0])
        await pilot.press("q")  # back to the lesson, not out of wirelab
        await pilot.pause()
        assert screen_of(app) is lesson
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(screen_of(app), SandboxScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert screen_of(app) is lesson
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(screen_of(app), HomeScreen)
        await pilot.press("i")  # the inspector on a sample session, from home
        await pilot.pause()
        sample = screen_of(app)
        assert isinstance(sample, InspectorScreen) and len(sample.model) > 10
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(screen_of(app), HomeScreen)


def test_the_home_screen_starts_without_the_network_stack() -> None:
    """What makes the home screen fast: scapy, NumPy and the simulation load with a lesson."""
    code = (
        "import sys, simulator.tui.course, simulator.tui.screens.home\n"
        "heavy = [m for m in ('scapy', 'numpy', 'simulator.network', 'simulator.lessons.run',"
        " 'simulator.tui.screens.inspector') if m in sys.modules]\n"
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_lesson_sentences_show_inline_code_without_backticks() -> None:
    """Questions, hints and explanations mark code with backticks, shown as code."""
    from simulator.tui.screens.lesson import prose

    seen = 0
    for lesson in COURSE.lessons:
        for step in lesson.steps:
            checkpoint = step.checkpoint
            if checkpoint is None:
                continue
            for sentence in (checkpoint.question, checkpoint.hint, checkpoint.explanation):
                if sentence.count("`") % 2 == 0:
                    seen += "`" in sentence
                    assert "`" not in prose(sentence).plain, sentence
    assert seen, "no sentence of the course has inline code: the test checks nothing"
    assert prose("[b]x[/b] `y`").plain == "[b]x[/b] y"


def test_home_shows_completion_not_position(tmp_path: Path) -> None:
    """A learner who went back to step 3 has still seen 8 steps and answered what they
    answered; the selected lesson's level, minutes and objectives show beside the list."""
    lesson = COURSE.lessons[0]
    asking = sorted(i for i, step in enumerate(lesson.steps) if step.checkpoint is not None)
    progress = Progress(tmp_path / "progress.json")
    progress.visit(lesson.id, 7)
    progress.answered(lesson.id, asking[0])
    progress.visit(lesson.id, 2)
    assert progress.save() is None

    async def main() -> None:
        app = app_for(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            home = app.screen
            assert isinstance(home, HomeScreen)
            row = str(home.query_one(OptionList).get_option_at_index(0).prompt)
            assert f"8/{len(lesson.steps)} steps" in row
            assert lesson.title in row  # whole at 120 columns
            about = text_of(home.query_one("#home-lesson", Static))
            assert f"1/{len(asking)} answered" in about
            assert lesson.objectives[0] in about and f"{lesson.minutes} min" in about
            assert "step 3" in text_of(home.query_one("#home-resume", Static))

    asyncio.run(main())
