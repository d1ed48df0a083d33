"""Predictions: a checkpoint asked before the packets that answer it.

- `lessons check` refuses a prediction whose answer is on screen when it is
  asked (a packet from an earlier step, the step's own text) or that no packet
  of its step answers;
- every prediction of the course is asked with none of its step's packets on
  screen, and its packets appear once it is answered;
- in the TUI a prediction is committed to once, right or wrong: the verdict
  says what the packets carried, and the step's packets are then sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from simulator.lessons import LessonError, load_course, parse_lesson
from simulator.lessons.run import LessonRun
from simulator.tui.screens.lesson import LessonScreen
from simulator.views.lesson import LessonView
from tests.tui.course_support import course_app, view_of

HEAD = """+++
id = "mine"
title = "Mine"
order = 1
level = "beginner"
minutes = 5
objectives = ["Predict"]

[network]
seed = 3
+++

## The SYN

The client sends its SYN.

```do
connect advance=0
```

## The answer

{text}

```do
{action}
```

```check
kind = "field-value"
field = "tcp.ack"
packet = {packet}
predict = true
question = "What will the SYN-ACK acknowledge?"
```
"""


def problems_of(tmp_path: Path, *, text: str = "The server answers.", action: str = "advance 1",
                packet: str = "1") -> list[str]:  # fmt: skip
    path = tmp_path / "mine.md"
    path.write_text(HEAD.format(text=text, action=action, packet=packet), encoding="utf-8")
    try:
        lesson = parse_lesson(path)
        return [problem.message for problem in LessonRun(lesson).check()]
    except LessonError as error:
        return [problem.message for problem in error.problems]


def test_a_sound_prediction_checks_clean(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == []


def test_a_prediction_answered_by_an_earlier_packet_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, packet='"#1"')
    assert "on screen before the question" in problem and "#2" in problem


def test_a_prediction_its_text_answers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probe.md"
    path.write_text(HEAD.format(text="x", action="advance 1", packet="1"), encoding="utf-8")
    run = LessonRun(parse_lesson(path))
    ack = run.dissect(1).find("tcp.ack")
    assert ack is not None and isinstance(ack.value, int)
    (problem,) = problems_of(tmp_path, text=f"It will acknowledge {ack.value}.")
    assert "gives the answer away" in problem and str(ack.value) in problem


def test_a_prediction_its_step_sends_nothing_for_is_refused(tmp_path: Path) -> None:
    found = problems_of(tmp_path, action="advance 0", packet='"#1"')
    assert any("puts none on the wire" in problem for problem in found), found


def test_every_prediction_of_the_course_is_asked_before_its_packets() -> None:
    seen = 0
    for lesson in load_course(user=False).lessons:
        view: LessonView = view_of(lesson.id)
        for index, step in enumerate(lesson.steps):
            if step.checkpoint is None or not step.checkpoint.predict:
                continue
            seen += 1
            where = f"{lesson.id} step {index + 1}"
            first = view.run.steps[index].first  # the step's first packet in the trace
            asked = view.step(index, answered=False)
            assert asked.predicting and asked.current[0] == 0, where
            assert all(arrow.number - 1 < first for arrow in asked.arrows), where
            at = step.pointer.at if step.pointer is not None else None
            own = view.run.packets(index, at)
            assert asked.packet is None or asked.packet < own.start, where
            if asked.routes is not None:
                assert asked.routes.decision is None, where
            shown = view.step(index, answered=True)
            assert not shown.predicting and shown.current[0] == shown.current[1] > 0, where
            assert any(arrow.number - 1 >= first for arrow in shown.arrows), where
    assert seen, "the course has no prediction: the test checks nothing"


def test_a_prediction_is_committed_then_the_packets_go(tmp_path: Path) -> None:
    lesson = view_of("tcp-handshake").lesson
    index = next(i for i, s in enumerate(lesson.steps) if s.checkpoint and s.checkpoint.predict)

    async def main() -> None:
        app = course_app(tmp_path / "progress.json", start=lesson.id)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            screen.go(index)
            await pilot.pause()
            shown = screen.shown
            assert shown is not None and shown.predicting and shown.question is not None
            assert screen.check_action("play", ()) is False
            assert screen.query_one("#checkpoint").border_title == "Predict"
            expected = shown.question.expected
            await pilot.press("enter", *"42", "enter")
            await pilot.pause()
            feedback = str(screen.query_one("#feedback").render())
            assert "You predicted 42" in feedback and expected in feedback
            assert index in screen.answered and screen.playing
            assert screen.shown is not None and not screen.shown.predicting
            await pilot.press("right")  # the step's packets, all at once: still this step
            await pilot.pause()
            playing: bool = screen.playing  # read afresh: mypy still holds the True above
            assert screen.step == index and screen.revealed is None and not playing
            assert screen.shown is not None and screen.shown.current[0] == screen.shown.current[1]

    asyncio.run(main())


def test_a_small_screen_shows_the_predicted_packets_arrive(tmp_path: Path) -> None:
    """At 80×24 one stage pane shows at a time: once a prediction is committed, the
    ladder comes to the front (where its packets arrive), not the table."""
    lesson = view_of("tcp-flow-control").lesson
    index = next(
        i for i, s in enumerate(lesson.steps)
        if s.checkpoint and s.checkpoint.predict and s.pointer and s.pointer.window
    )  # fmt: skip

    async def main() -> None:
        app = course_app(tmp_path / "progress.json", start=lesson.id)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            screen.go(index)
            await pilot.pause()
            assert screen.stage == "table"  # the window, as it stands before the step
            await pilot.press("enter", *"1", "enter")
            await pilot.pause()
            assert screen.stage == "ladder" and screen.playing

    asyncio.run(main())


AT_LESSON = """+++
id = "far"
title = "Far"
objectives = ["Predict far away"]

[network]
seed = 2
routers = 3
+++

## The ping arrives

The client pings the server.

```do
ping_host
```

```show
packet = 1
at = "r3-server"
field = "ip.ttl"
```

```check
kind = "field-value"
field = "ip.ttl"
packet = 1
predict = true
{extra}question = "What TTL will it have on the last link?"
```
"""


def test_a_checkpoint_reads_the_link_its_step_shows(tmp_path: Path) -> None:
    """Seen: the question was judged on the client's link (TTL 64) while the pane beside
    it showed the server's link (TTL 61)."""
    from simulator.lessons.checkpoints import ask

    path = tmp_path / "far.md"
    path.write_text(AT_LESSON.format(extra=""), encoding="utf-8")
    lesson = parse_lesson(path)
    run = LessonRun(lesson)
    assert run.check() == []
    checkpoint = lesson.steps[0].checkpoint
    assert checkpoint is not None
    question = ask(checkpoint, run, 0)
    assert question.expected == "61" and question.withheld.at == "r3-server"
    assert question.judge("61") and not question.judge("64")
    path.write_text(AT_LESSON.format(extra='at = "client-r1"\n'), encoding="utf-8")
    (problem,) = LessonRun(parse_lesson(path)).check()
    assert "at = 'client-r1': the step shows r3-server" in problem.message


def test_a_prediction_leaves_what_it_reasons_from_readable() -> None:
    """While a prediction is open its answer's packets are not on screen, so nothing else
    is held back: an earlier packet carrying the same value is what the learner reasons
    from (the retransmitted SYN's sequence number is the first SYN's)."""
    checked = 0
    for lesson in load_course(user=False).lessons:
        view = LessonView(LessonRun(lesson))
        for index, step in enumerate(lesson.steps):
            if step.checkpoint is None or not step.checkpoint.predict:
                continue
            asking = view.step(index, answered=False)
            plain = {a.number: a.label for a in view.step(index, answered=True).arrows}
            for arrow in asking.arrows:
                assert arrow.label == plain[arrow.number], (lesson.id, index, arrow)
            checked += 1
    assert checked >= 20
