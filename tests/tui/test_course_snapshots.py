"""Snapshots of the course: home, a lesson step, a checkpoint, the classroom layout,
at 80×24 and 120×40. Update with `--snapshot-update`, after looking at the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from simulator.lessons import Progress, load_course
from simulator.tui.course import CourseApp

SnapCompare = Callable[..., bool]
SIZES = [(80, 24), (120, 40)]


class Unsaved(Progress):
    """Progress shown at a fixed place and never written: the snapshots stay the same."""

    def __init__(self) -> None:
        super().__init__(Path("~/.local/share/wirelab/progress.json"))

    def save(self) -> str | None:
        return None


def app(start: str | None = None, *, teach: bool = False) -> CourseApp:
    return CourseApp(load_course(user=False), Unsaved(), start=start, teach=teach)


async def settle(pilot: Pilot[None]) -> None:
    """No blinking cursor, and every pending refresh done: the same picture every time."""
    for answer in pilot.app.screen.query(Input):
        answer.cursor_blink = False
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def at(index: int) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Straight to step `index` (past a checkpoint that would hold `right` back)."""

    async def there(pilot: Pilot[None]) -> None:
        pilot.app.screen.go(index)  # type: ignore[attr-defined]
        await settle(pilot)

    return there


def steps(count: int) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def forward(pilot: Pilot[None]) -> None:
        for _ in range(count):
            await pilot.press("right")
        await settle(pilot)

    return forward


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_home(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_lesson_step(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The handshake lesson at the client's ACK: its field selected, its bytes lit."""
    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=at(3))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_checkpoint(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The which-flags checkpoint after a wrong answer: the hint shows."""

    async def wrong(pilot: Pilot[None]) -> None:
        await at(4)(pilot)
        await pilot.press("enter", "4", "enter")
        await settle(pilot)

    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=wrong)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_prediction(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The SYN-ACK's acknowledgement to predict: the SYN on screen, the SYN-ACK not yet."""
    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=steps(2))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_prediction_wrong(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """A wrong prediction: what the packets carried, and the SYN-ACK now on screen."""

    async def wrong(pilot: Pilot[None]) -> None:
        await steps(2)(pilot)
        await pilot.press("enter", *"42", "enter")
        await pilot.press("right")  # the step's packets, all at once
        await settle(pilot)

    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=wrong)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_classroom(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The presenter layout at the routing lesson's table step."""
    assert snap_compare(app("ip-routing", teach=True), terminal_size=size, run_before=steps(2))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_checkpoint_answered(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The same checkpoint answered: the verdict and the explanation."""

    async def right(pilot: Pilot[None]) -> None:
        await at(4)(pilot)
        screen = pilot.app.screen
        answer = screen.shown.question.answer  # type: ignore[attr-defined]
        await pilot.press("enter", *answer, "enter")
        await settle(pilot)

    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=right)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_diagram(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Lesson 8's frame layout: the narration widens for it, never re-wraps it."""
    assert snap_compare(app("frames-and-masking"), terminal_size=size, run_before=steps(1))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def help_(pilot: Pilot[None]) -> None:
        await steps(1)(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=help_)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_inspector_from_a_lesson(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def inspect(pilot: Pilot[None]) -> None:
        await steps(2)(pilot)
        await pilot.press("i")
        await settle(pilot)

    assert snap_compare(app("tcp-handshake"), terminal_size=size, run_before=inspect)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_sandbox(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def sandbox(pilot: Pilot[None]) -> None:
        await steps(1)(pilot)
        await pilot.press("b")
        await settle(pilot)

    assert snap_compare(
        app("frames-and-masking", teach=True), terminal_size=size, run_before=sandbox
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_end_of_a_lesson(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def end(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        screen.go(len(screen.lesson.steps) - 1)  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(app("tcp-handshake", teach=True), terminal_size=size, run_before=end)
