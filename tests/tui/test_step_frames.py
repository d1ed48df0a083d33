"""A step costs few screen updates: every step of every lesson, forward and back, at
120×40 and 80×24, counted in screen updates (Textual's compositor passes), not in time.

Each update waits for a frame and paints again what changed. A step lays the
screen out once and paints it; a second (and third) update comes only where the
layout changes what scrolls (a scroll bar that comes or goes, the narration
given another width, and the text wrapped for it). What must never come back:
the whole screen repainted for the screen's own state, and panes repainting
themselves after the layout that resized them (and had painted them already) —
each a frame of every step, three updates where one does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.lessons import Lesson
from simulator.tui.screens.lesson import LessonScreen
from tests.tui.course_support import COURSE, course_app

AFTER = 0.06  # seconds after a step's first update: frames enough to see those that follow
MOST = 3  # screen updates for one step: the layout, and twice what it changed scrolling


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda lesson: lesson.id)
def test_a_step_costs_few_screen_updates(
    lesson: Lesson, size: tuple[int, int], tmp_path: Path
) -> None:
    asyncio.run(walk(lesson, size, tmp_path))


async def walk(lesson: Lesson, size: tuple[int, int], tmp_path: Path) -> None:
    app = course_app(tmp_path / "progress.json", start=lesson.id, teach=True)
    updates: list[int] = [0]
    whole: list[int] = [0]  # updates that repaint the whole screen
    async with app.run_test(size=size) as pilot:
        await pilot.pause(AFTER)
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        painted = screen._compositor_refresh

        def counted() -> None:
            updates[0] += 1
            whole[0] += screen in screen._dirty_widgets
            painted()

        screen._compositor_refresh = counted  # type: ignore[method-assign]
        count = len(lesson.steps)
        seen: list[int] = []
        for index in [*range(1, count), *range(count - 2, -1, -1)]:
            updates[0] = whole[0] = 0
            screen.go(index)
            for _ in range(400):  # a busy machine may be slow to the first update
                await pilot.pause(0.02)
                if updates[0]:
                    break
            await pilot.pause(AFTER)  # and then the updates that follow it
            where = f"{lesson.id} step {index + 1} at {size[0]}×{size[1]}"
            assert screen.shown is not None and screen.shown.index == index, where
            assert whole[0] == 0, f"{where}: the whole screen repainted"
            assert 1 <= updates[0] <= MOST, f"{where}: {updates[0]} screen updates"
            seen.append(updates[0])
        assert seen, "no step was taken: the test checks nothing"
        if size == (120, 40):  # where every pane has its own place: one update is the rule
            assert seen.count(1) * 2 >= len(seen), f"{lesson.id}: {seen}"
