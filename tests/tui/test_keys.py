"""Every key in every footer, on every screen of the course, does what the footer says.

For each screen state (home; a lesson on a plain step, on a checkpoint before and
after answering, with the answer box taking the keys; the classroom; a follower;
the inspector and the sandbox opened from a lesson; help; the end of a lesson),
each key the footer shows is pressed in that state, and:

- its effect is the one its action names (a table below: an action shown in a
  footer with no entry there fails the test, so no key is added untested);
- no text box got text it was not meant to get;
- nothing raised.

Also: every key a binding names is one a terminal can send (`.` is "full_stop").
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.binding import Binding
from textual.keys import Keys, _character_to_key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey

from simulator.lessons import load_course
from simulator.tui.course import CourseApp
from simulator.tui.footer import KeyBar
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.inspector import InspectorScreen
from simulator.tui.screens.lesson import AnswerInput, JumpScreen, LessonScreen
from simulator.tui.screens.sandbox import SandboxScreen
from tests.tui.course_support import course_app, following, lesson_of

COURSE = load_course(user=False)
LESSON = "tcp-handshake"
ASKING = next(i for i, step in enumerate(lesson_of(LESSON).steps) if step.checkpoint is not None)
FRAMES = "frames-and-masking"


@dataclass
class Seen:
    """What a key may change: enough to tell what it did."""

    screens: list[str]
    top: type | None = None
    step: int | None = None
    stage: str | None = None
    playing: bool | None = None
    revealed: int | None = None
    answered: frozenset[int] = frozenset()
    focused: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    feedback: str = ""
    notes: int = 0
    attached: bool | None = None
    text: str = ""
    running: bool = True


def seen(app: App[Any]) -> Seen:
    screen = app.screen
    state = Seen([type(s).__name__ for s in app.screen_stack], type(screen))
    state.running = app.is_running
    state.notes = len(app._notifications)
    state.focused = type(app.focused).__name__ if app.focused is not None else ""
    state.inputs = {f"{i.id}@{id(i)}": i.value for s in app.screen_stack for i in s.query(Input)}
    if isinstance(screen, LessonScreen):
        state.step, state.stage = screen.step, screen.stage
        state.playing, state.revealed = screen.playing, screen.revealed
        state.answered = screen.answered
        state.feedback = str(screen.query_one("#feedback", Static).content)
    state.attached = getattr(app, "attached", None)
    if isinstance(screen, SandboxScreen):
        state.text = repr((screen.data, screen.verdict, screen.note, len(screen.edits)))
    if isinstance(screen, InspectorScreen):
        hex_view = screen.query_one("#hex")
        state.text = repr((getattr(hex_view, "buffer", None), app.focused))
    return state


Check = Callable[[Seen, Seen, tuple[Any, ...]], bool]


def pushed(kind: type[Screen[Any]]) -> Check:
    def check(before: Seen, after: Seen, _: tuple[Any, ...]) -> bool:
        top = after.top
        return (
            top is not None and issubclass(top, kind) and len(after.screens) > len(before.screens)
        )

    return check


def popped(before: Seen, after: Seen, _: tuple[Any, ...]) -> bool:
    return len(after.screens) < len(before.screens) or not after.running


def moved(by: int) -> Check:
    def check(before: Seen, after: Seen, _: tuple[Any, ...]) -> bool:
        if before.step is None:
            return False
        if after.step == before.step + by:
            return True
        # n on the last step ends the lesson; n on an unanswered checkpoint says why not
        ended = by > 0 and after.screens[-1] == "LessonEndScreen"
        refused = by > 0 and after.step == before.step and after.notes > before.notes
        return ended or refused

    return check


#: What each action shown in a footer must do.
EFFECTS: dict[str, Check] = {
    # the lesson
    "next": moved(1),
    "previous": moved(-1),
    "answer": lambda b, a, _: a.focused == "AnswerInput",
    "reveal": lambda b, a, _: len(a.answered) == len(b.answered) + 1 and "Answer" in a.feedback,
    "pane": lambda b, a, args: a.stage == args[0] != b.stage,
    "help": pushed(HelpScreen),
    "home": popped,
    "play": lambda b, a, _: a.playing != b.playing,
    "replay": lambda b, a, _: a.playing is True and a.revealed == 0,
    "jump": pushed(JumpScreen),
    "inspect": pushed(InspectorScreen),
    "break_it": lambda b, a, _: pushed(SandboxScreen)(b, a, ()) or a.notes > b.notes,
    # the answer box
    "submit": lambda b, a, _: a.feedback != b.feedback,
    "leave": lambda b, a, _: b.focused == "AnswerInput" and a.focused != "AnswerInput",
    # home
    "open": pushed(LessonScreen),
    "teach": pushed(LessonScreen),
    "resume": lambda b, a, _: pushed(LessonScreen)(b, a, ()) or a.notes > b.notes,
    "inspector": pushed(InspectorScreen),
    "app.quit": lambda b, a, _: not a.running,
    # modals
    "dismiss": popped,
    "app.pop_screen": popped,
    "cancel": popped,
    # the classroom
    "follow_teacher": lambda b, a, _: a.attached is True,
    # the inspector
    "focus_filter": lambda b, a, _: a.focused == "FilterBar",
    "follow": lambda b, a, _: a.screens[-1] == "FollowScreen",
    "save": lambda b, a, _: a.screens[-1] == "SaveScreen",
    "next_buffer": lambda b, a, _: a.text != b.text or a.notes > b.notes,
    # the sandbox
    "send": lambda b, a, _: a.text != b.text,
    "activate": lambda b, a, _: a.text != b.text or len(a.screens) > len(b.screens),
    "edit_byte": lambda b, a, _: len(a.screens) > len(b.screens),
    "edit_payload": lambda b, a, _: len(a.screens) > len(b.screens),
    "reset": lambda b, a, _: True,  # the frame as it came: checked below on an edited frame
    "back": popped,
}


def shown_keys(app: App[Any]) -> list[tuple[str, str, str]]:
    """(key, description, action) of every key the screen's footer shows now."""
    screen = app.screen
    bars = list(screen.query(KeyBar))
    if bars:
        return [(k.key, k.description, k.action) for k in bars[0].shown]
    if list(screen.query(Footer)):
        return [(k.key, k.description, k.action) for k in screen.query(FooterKey)]
    raise AssertionError(f"{type(screen).__name__} shows no keys")


def parse_action(action: str) -> tuple[str, tuple[Any, ...]]:
    name, _, rest = action.partition("(")
    args = tuple(eval(f"({rest.rstrip(')')},)")) if rest.rstrip(")") else ()
    return name, args


Setup = Callable[[App[Any], Pilot[Any]], Awaitable[None]]


async def to_home(app: App[Any], pilot: Pilot[Any]) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
        await pilot.pause()


async def lesson_at(
    app: App[Any], pilot: Pilot[Any], step: int, *, teach: bool = False, answered: bool = False,
    lesson: str = LESSON,
) -> LessonScreen:  # fmt: skip
    """The lesson at `step`, nothing answered (or that step's checkpoint answered): the
    lesson screen already open is put back in that state, else the lesson is opened."""
    screen = next(
        (s for s in app.screen_stack
         if isinstance(s, LessonScreen) and s.lesson.id == lesson and s.teach == teach),
        None,
    )  # fmt: skip
    if screen is None:
        await to_home(app, pilot)
        assert isinstance(app, CourseApp)
        app.open_lesson(lesson, teach=teach, step=step)
        await pilot.pause()
        opened = app.screen
        assert isinstance(opened, LessonScreen)
        screen = opened
    else:
        while app.screen is not screen:
            app.pop_screen()
            await pilot.pause()
        screen.playing = False
        screen.stage = "ladder"
        screen.answered = frozenset()
        screen.go(step + 1 if step + 1 < len(screen.lesson.steps) else step - 1)
        await pilot.pause()
        screen.go(step)  # arriving at the step as a learner does (focus and all)
        screen.revealed = None
    if answered:
        screen.answered = frozenset({screen.step})
    await pilot.pause()
    return screen


def scenario(setup: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Setup:
    async def run(app: App[Any], pilot: Pilot[Any]) -> None:
        await setup(app, pilot, *args, **kwargs)
        await pilot.pause()

    return run


async def answering(app: App[Any], pilot: Pilot[Any]) -> None:
    await lesson_at(app, pilot, ASKING)
    await pilot.press("enter")
    await pilot.pause()
    assert app.focused is app.screen.query_one(AnswerInput)


async def help_over_lesson(app: App[Any], pilot: Pilot[Any]) -> None:
    await lesson_at(app, pilot, 2)
    await pilot.press("question_mark")


async def end_of_lesson(app: App[Any], pilot: Pilot[Any]) -> None:
    screen = await lesson_at(app, pilot, len(COURSE.find(LESSON).steps) - 1, teach=True)  # type: ignore[union-attr]
    screen.action_next()


async def jump(app: App[Any], pilot: Pilot[Any]) -> None:
    await lesson_at(app, pilot, 1)
    await pilot.press("g")


async def inspector(app: App[Any], pilot: Pilot[Any]) -> None:
    await lesson_at(app, pilot, 3)
    await pilot.press("i")


async def sandbox(app: App[Any], pilot: Pilot[Any]) -> None:
    await lesson_at(app, pilot, 1, teach=True, lesson=FRAMES)  # the client's first frame
    await pilot.press("b")
    await pilot.pause()
    assert isinstance(app.screen, SandboxScreen)


SCENARIOS: dict[str, Setup] = {
    "home": scenario(to_home),
    "lesson, a plain step": scenario(lesson_at, 2),
    "lesson, a checkpoint": scenario(lesson_at, ASKING),
    "lesson, a checkpoint answered": scenario(lesson_at, ASKING, answered=True),
    "lesson, the answer box": answering,
    "classroom, a checkpoint": scenario(lesson_at, ASKING, teach=True),
    "the end of a lesson": end_of_lesson,
    "go to": jump,
    "help": help_over_lesson,
    "inspector from a lesson": inspector,
    "sandbox": sandbox,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_footer_key_does_what_it_says(name: str, tmp_path: Path) -> None:
    asyncio.run(press_every_key(name, SCENARIOS[name], tmp_path))


async def press_every_key(name: str, setup: Setup, tmp_path: Path) -> None:
    """Each key of the widest footer, pressed in the scenario's state (set up again before
    each key); a narrow footer shows some of the same keys (the ones most needed, help
    among them), so they are pressed too."""
    narrow = await keys_in(setup, (80, 24), tmp_path)
    app = course_app(tmp_path / "p.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await setup(app, pilot)
        await pilot.pause()
        wide = shown_keys(app)
        assert wide, f"{name}: no keys"
        assert {(k, a) for k, _, a in narrow} <= {(k, a) for k, _, a in wide}, name
        # Quitting ends the app: that key goes last.
        for key, description, action in sorted(wide, key=lambda k: k[2] == "app.quit"):
            await setup(app, pilot)
            await pilot.pause()
            await press_one(app, pilot, name, key, description, action)


async def keys_in(
    setup: Setup, size: tuple[int, int], tmp_path: Path
) -> list[tuple[str, str, str]]:
    app = course_app(tmp_path / f"keys-{size[0]}.json")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await setup(app, pilot)
        await pilot.pause()
        return shown_keys(app)


async def press_one(
    app: App[Any], pilot: Pilot[Any], name: str, key: str, description: str, action: str
) -> None:
    what = f"{name}: {key} ({description}, {action})"
    action_name, args = parse_action(action)
    assert action_name in EFFECTS, f"{what}: no effect declared for {action_name!r}"
    before = seen(app)
    await pilot.press(key)
    await pilot.pause()
    after = seen(app) if app.is_running else Seen([], running=False)
    assert EFFECTS[action_name](before, after, args), f"{what}: {before} → {after}"
    if action_name not in ("submit",):
        for box, value in before.inputs.items():  # boxes that were there before the key
            assert after.inputs.get(box, value) == value, f"{what} typed into {box}"


def test_reset_undoes_an_edit_in_the_sandbox(tmp_path: Path) -> None:
    async def main() -> None:
        app = course_app(tmp_path / "p.json")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await sandbox(app, pilot)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SandboxScreen)
            await pilot.press("1")  # a preset edits the frame
            await pilot.pause()
            assert screen.data != screen.original
            await pilot.press("r")
            await pilot.pause()
            assert screen.data == screen.original

    asyncio.run(main())


def known_keys() -> set[str]:
    keys = {key.value for key in Keys}
    keys |= {_character_to_key(char) for char in string.printable if char.isprintable()}
    keys |= {f"f{n}" for n in range(1, 25)} | {"space", "enter", "escape", "tab"}
    return keys


def bindings_of(cls: type) -> list[Binding]:
    found = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("simulator."):
            continue  # Textual's own bindings are Textual's to get right
        for binding in vars(klass).get("BINDINGS", []):
            if isinstance(binding, Binding):
                found.append(binding)
    return found


def screen_classes() -> list[type]:
    from textual.dom import DOMNode

    import simulator.tui.app
    import simulator.tui.conversation
    import simulator.tui.field_tree
    import simulator.tui.filter_bar
    import simulator.tui.follow
    import simulator.tui.hex_view
    import simulator.tui.ladder
    import simulator.tui.packet_list
    import simulator.tui.screens.error
    import simulator.tui.screens.follow
    import simulator.tui.screens.save
    import simulator.tui.screens.serve  # noqa: F401 - every class with BINDINGS, below

    classes: list[type] = []
    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        subclasses: list[type] = cls.__subclasses__()  # mypy alone would say type[Never]
        for sub in subclasses:
            pending.append(sub)
            if sub.__module__.startswith("simulator.") and "BINDINGS" in vars(sub):
                classes.append(sub)
    return classes


def test_every_bound_key_is_one_a_terminal_can_send() -> None:
    known = known_keys()
    classes = screen_classes()
    assert {c.__name__ for c in classes} >= {"LessonScreen", "HomeScreen", "InspectorScreen"}
    for cls in classes:
        for binding in bindings_of(cls):
            for key in binding.key.split(","):
                assert key.strip() in known, f"{cls.__name__}: {key!r} is no key a terminal sends"


def test_every_footer_key_of_a_follower_does_what_it_says(tmp_path: Path) -> None:
    """A student following a teacher: the lesson's keys, and f back to the teacher."""
    import time

    from simulator.live.classroom import lesson_digest

    lesson = COURSE.find(LESSON)
    assert lesson is not None

    async def until(pilot: Pilot[Any], done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 15
        while not done():
            assert time.monotonic() < deadline, "timed out"
            await pilot.pause(0.05)

    async def main() -> None:
        async with following(tmp_path / "p.json") as (share, app, pilot):
            digest = lesson_digest(lesson.path)
            share.move(lesson.id, digest, lesson.title, 2, len(lesson.steps))
            await until(
                pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.is_mounted
            )
            keys = shown_keys(app)
            assert "follow_teacher" in {action for _, _, action in keys}
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            stage = screen.stage
            for key, description, action in keys:
                while not isinstance(app.screen, LessonScreen):
                    app.pop_screen()
                    await pilot.pause()
                if action == "home":
                    continue  # leaves the classroom's lesson: checked elsewhere
                app.action_follow_teacher()
                screen.stage = stage
                screen.focus_lesson()
                await pilot.pause()
                if action == "follow_teacher":  # look around first, so f has work to do
                    await pilot.press("left")
                    await pilot.pause()
                before = seen(app)
                await pilot.press(key)
                await pilot.pause()
                after = seen(app)
                name, args = parse_action(action)
                assert name in EFFECTS, f"follower: no effect declared for {name!r}"
                assert EFFECTS[name](before, after, args), f"follower: {key} ({description})"

    asyncio.run(asyncio.wait_for(main(), 90))
