"""Layout invariants over every step of every lesson, self-paced and classroom, at
80×24 and 120×40 (and at 100×30 and 200×60 on each lesson's first, checkpoint and
last steps). On every step:

- no pane with content is laid out with no room (a frame and at least a line);
- the checkpoint's question and answer box show whole, frame included, before and
  after a wrong answer;
- the step's field and its bytes are inside the visible rows of their panes;
- no preformatted line of the narration is re-wrapped or cut;
- nothing on the screen (outside the narration and the question) gives away the
  answer to the unanswered checkpoint;
- every key in the footer shows whole;
- nothing raises.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from simulator.dissect.hexdump import where
from simulator.lessons import Lesson, load_course
from simulator.tui.course import CourseApp
from simulator.tui.field_tree import FieldTree
from simulator.tui.hex_view import HexView
from simulator.tui.narration import Narration
from simulator.tui.routes import RoutingTableView
from simulator.tui.screens.lesson import AnswerInput, LessonScreen
from simulator.tui.window import TcpWindowView
from simulator.views.lesson import NARROWEST_TEXT, StepView
from tests.tui.course_support import course_app
from tests.tui.screen_text import blank, region_text, screen_lines, shown

COURSE = load_course(user=False)
EVERY_STEP = [(80, 24), (120, 40)]
SOME_STEPS = [(100, 30), (200, 60)]
PANES = ("#narration", "#checkpoint", "#stage-table", "#ladder", "#lesson-detail")


async def settle(pilot: Pilot[None]) -> None:
    """Every message handled and the screen laid out and painted: `Pilot.pause` without
    its wait for the process to look idle (the layout runs here, now, twice: once for the
    change, once for the sizes it changed)."""
    for _ in range(2):
        await pilot._wait_for_screen()
        pilot.app.screen._on_timer_update()


def cases() -> list[object]:
    return [
        pytest.param(lesson, mode, id=f"{lesson.id}-{mode}")
        for lesson in COURSE.lessons
        for mode in ("learn", "teach")
    ]


def steps_at(lesson: Lesson, size: tuple[int, int]) -> list[int]:
    if size in EVERY_STEP:
        return list(range(len(lesson.steps)))
    asking = [i for i, step in enumerate(lesson.steps) if step.checkpoint is not None]
    return sorted({0, *asking[:2], len(lesson.steps) - 1})


@pytest.mark.parametrize(("lesson", "mode"), cases())
def test_every_step_lays_out(lesson: Lesson, mode: str, tmp_path: Path) -> None:
    asyncio.run(walk(lesson, mode, tmp_path))


async def walk(lesson: Lesson, mode: str, tmp_path: Path) -> None:
    app = course_app(tmp_path / "progress.json", start=lesson.id, teach=mode == "teach")
    first, *others = EVERY_STEP + SOME_STEPS
    async with app.run_test(size=first) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        for size in [first, *others]:
            if size != first:
                await pilot.resize_terminal(*size)
                await pilot.pause()
            await walk_at(pilot, app, screen, lesson, mode, size)


async def walk_at(
    pilot: Pilot[None], app: CourseApp, screen: LessonScreen, lesson: Lesson, mode: str,
    size: tuple[int, int],
) -> None:  # fmt: skip
    screen.stage = "ladder"
    fields_later = []  # steps with a field, when the field pane is not shown here
    for index in steps_at(lesson, size):
        screen.go(index)
        await settle(pilot)
        where_ = f"{lesson.id} step {index + 1} ({mode}, {size[0]}×{size[1]})"
        shown_view = screen.shown
        assert shown_view is not None and shown_view.index == index, where_
        check_panes(screen, where_)
        check_checkpoint(app, screen, where_)
        check_preformatted(screen, where_, size)
        check_secrets(app, screen, shown_view, where_)
        check_footer(app, where_)
        if shown_view.field is not None:
            if shown(screen.query_one("#lesson-detail")):
                check_field_in_view(screen, shown_view, where_)
            else:
                fields_later.append(index)
        if shown_view.question is not None and mode == "learn":
            await wrong_answer(pilot, screen)
            check_checkpoint(app, screen, f"{where_}, after a wrong answer")
            # A wrong prediction is answered (the packets are sent): the view now shown.
            after = screen.shown
            assert after is not None
            check_secrets(app, screen, after, f"{where_}, after a wrong answer")
    # Where the field pane shows on demand (d), the same steps again with it in front.
    screen.stage = "detail"
    for index in fields_later:
        screen.go(index)
        await settle(pilot)
        where_ = f"{lesson.id} step {index + 1} ({mode}, {size[0]}×{size[1]}, fields in front)"
        shown_view = screen.shown
        assert shown_view is not None
        assert shown(screen.query_one("#lesson-detail")), where_
        check_panes(screen, where_)
        check_field_in_view(screen, shown_view, where_)
    screen.stage = "ladder"


# --- the checks --------------------------------------------------------------------------


def check_panes(screen: LessonScreen, where_: str) -> None:
    body = screen.query_one("#lesson-body").region
    for selector in PANES:
        pane = screen.query_one(selector)
        if not shown(pane):
            continue
        region = pane.region
        assert region.height >= 3, f"{where_}: {selector} has {region.height} rows"
        assert body.contains_region(region), f"{where_}: {selector} {region} leaves {body}"
    narration = screen.query_one("#narration")
    assert shown(narration), f"{where_}: no narration"
    stage = [s for s in ("#stage-table", "#ladder", "#lesson-detail") if shown(screen.query_one(s))]
    assert stage, f"{where_}: no stage pane"
    covered = sum(screen.query_one(s).region.area for s in ("#narration", "#checkpoint", *stage)
                  if shown(screen.query_one(s)))  # fmt: skip
    assert covered >= 0.9 * body.area, f"{where_}: panes leave much of the screen empty"


def check_checkpoint(app: CourseApp, screen: LessonScreen, where_: str) -> None:
    view = screen.shown
    assert view is not None
    box = screen.query_one("#checkpoint")
    if view.question is None:
        assert not shown(box), f"{where_}: a checkpoint box with no question"
        return
    assert shown(box), f"{where_}: the checkpoint is not shown"
    left = screen.query_one("#lesson-left").region
    assert left.contains_region(box.region), f"{where_}: the checkpoint is cut ({box.region})"
    lines = screen_lines(app)
    top, bottom = box.region.y, box.region.bottom - 1
    assert "╭" in lines[top] and "╰" in lines[bottom], f"{where_}: the checkpoint frame is cut"
    question = screen.query_one("#question")
    assert box.region.contains_region(question.region) and question.region.height >= 1
    text = " ".join(region_text(lines, question.region))
    first_words = " ".join(view.question.text.split()[:4])
    assert first_words in " ".join(text.split()), f"{where_}: the question does not show"
    answer = screen.query_one(AnswerInput)
    if shown(answer):
        assert box.region.contains_region(answer.region) and answer.region.height >= 1


def check_preformatted(screen: LessonScreen, where_: str, size: tuple[int, int]) -> None:
    narration = screen.query_one(Narration)
    view = screen.shown
    assert view is not None
    if size[0] == 80:
        width = narration.scrollable_content_region.width
        assert width >= NARROWEST_TEXT, f"{where_}: narration {width} wide"
    rendered = narration.plain_lines()
    for block in view.blocks:
        if not block.preformatted:
            continue
        for line in block.text.splitlines():
            if line.strip():
                assert line.rstrip() in rendered, f"{where_}: re-wrapped: {line!r}"
        if block.width <= NARROWEST_TEXT:  # the course's own diagrams need no sideways scroll
            assert narration.max_scroll_x == 0, f"{where_}: the narration scrolls sideways"


def check_secrets(app: CourseApp, screen: LessonScreen, view: StepView, where_: str) -> None:
    """Outside the narration and the question, no telltale of the answer shows."""
    question, withheld = view.question, view.withheld
    if question is None or view.answered:
        return
    lines = screen_lines(app)
    window = screen.query_one(TcpWindowView)
    # The narration and the question are the author's; the window widget shows the
    # buffer's size, a fact to reason from (its window sizes are checked below).
    hide = [screen.query_one("#narration").region, screen.query_one("#question").region]
    if shown(window):
        hide.append(window.region)
    text = "\n".join(blank(lines, *hide))
    for telltale in telltales(screen, view):
        assert not re.search(telltale, text), f"{where_}: {telltale!r} shows the answer:\n{text}"
    routes = screen.query_one(RoutingTableView)
    if withheld.router is not None and shown(routes) and routes.router == withheld.router:
        assert routes.matched is None and not routes.reason, f"{where_}: the verdict shows"
    if withheld.window and shown(window):
        assert window.hidden, f"{where_}: the window shows"
        shown_text = "\n".join(region_text(lines, window.region))
        assert not re.search(r"(rcv|snd)_wnd\s+\d", shown_text), f"{where_}: {shown_text}"
    hex_view = screen.query_one(HexView)
    if (
        withheld.place
        and withheld.span is not None
        and screen.query_one(FieldTree).packet == withheld.packet
    ):
        _, start, end = withheld.span
        assert hex_view.highlight != (start, end), f"{where_}: the asked field is lit"


def telltales(screen: LessonScreen, view: StepView) -> list[str]:
    """Patterns that would show the answer of the step's question."""
    withheld = view.withheld
    out: list[str] = []
    if withheld.field is not None and withheld.packet is not None:
        dissection = screen.view.dissect(withheld.packet, None)
        field = dissection.find(withheld.field)
        assert field is not None
        if withheld.place:
            out.append(re.escape(where(field.start, field.end, field.bits)))
        else:
            out.append(re.escape(str(field)))
            out += [rf"(?<![\w.]){re.escape(w)}(?![\w.])" for w in withheld.words if len(w) >= 3]
    return out


def check_field_in_view(screen: LessonScreen, view: StepView, where_: str) -> None:
    field = view.field
    assert field is not None
    tree, hex_view = screen.query_one(FieldTree), screen.query_one(HexView)
    assert tree.field is not None and tree.field.name == field.name, where_
    assert visible_row(tree, tree.cursor_line), f"{where_}: {field.name} is scrolled out of view"
    assert hex_view.highlight == (field.start, field.end), where_
    row = field.start // hex_view.per_row
    assert visible_row(hex_view, row), f"{where_}: the bytes of {field.name} are out of view"


def visible_row(widget: Widget, row: int) -> bool:
    top = round(widget.scroll_y)
    return top <= row < top + widget.scrollable_content_region.height


def check_footer(app: CourseApp, where_: str) -> None:
    width = app.size.width
    for key in app.screen.query(FooterKey):
        assert key.region.right <= width, f"{where_}: footer key {key.key} is cut"


async def wrong_answer(pilot: Pilot[None], screen: LessonScreen) -> None:
    answer = screen.query_one(AnswerInput)
    answer.value = "definitely wrong 123456789"
    await answer.action_submit()
    await settle(pilot)
    screen.focus_lesson()
