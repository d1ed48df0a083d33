"""The classroom page (`assets/class.html`), in headless Chromium, following a `Share`.

The teacher's side is a `Share` on its own server whose `viewer` and `judge` come
from the built-in lesson's `LessonView` (as `wirelab teach --share` makes them):
the page joins, shows the step, answers, learns its verdict at the reveal,
follows a move, looks around and comes back. What the page received is read
from DevTools' own record of the WebSocket frames (Network domain), as a student
would read it: the answer is in none of them before the reveal.

Screenshots (phone and projector sizes, light and dark) go to the folder named by
`WIRELAB_SCREENSHOTS`, else to the test's temporary folder; their paths are printed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.lessons.model import Lesson
from simulator.live.classroom import (
    Follower,
    Position,
    Share,
    Verdict,
    lesson_digest,
    share_server,
)
from simulator.views.page import step_document
from tests.browser.cdp import Cdp, Page
from tests.browser.support import run
from tests.tui.course_support import COURSE, view_of

# A checkpoint that asks for a value the step's packet carries (its bytes held back),
# not a prediction, not a choice: its answer is a distinctive string, on no other line.
LESSON = "lab-wrong-accept"
ASKING = 1
SIZES = {"phone": (360, 740), "projector": (1280, 800)}


class LessonJudge:
    """The built-in lessons judging answers (a `simulator.live.poll.Judge`)."""

    def _question(self, lesson: str, step: int) -> Any:
        found = COURSE.find(lesson)
        if found is None or not 0 <= step < len(found.steps):
            return None
        return view_of(lesson).question(step)

    def expected(self, lesson: str, step: int) -> str | None:
        question = self._question(lesson, step)
        return question.expected if question is not None else None

    def judge(self, lesson: str, step: int, answer: str) -> bool:
        question = self._question(lesson, step)
        return question is not None and bool(question.judge(answer))

    def question(self, lesson: str, step: int) -> str:
        question = self._question(lesson, step)
        return str(question.text) if question is not None else ""


def viewer(position: Position) -> dict[str, object] | None:
    """What a browser shows of the teacher's moment (as the course app's viewer)."""
    if COURSE.find(position.lesson) is None:
        return None
    return step_document(
        view_of(position.lesson),
        position.step,
        answered=position.step in position.revealed,
        shown=position.shown,
        picked=position.picked,
    )


def mover(share: Share, lesson: Lesson) -> Callable[..., None]:
    digest = lesson_digest(lesson.path)

    def move(step: int, **moment: Any) -> None:
        share.move(lesson.id, digest, lesson.title, step, len(lesson.steps), **moment)

    return move


def shots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WIRELAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def frames_received(page: Page) -> list[str]:
    """The text of every WebSocket frame the page received, as DevTools recorded it."""
    return [
        event["params"]["response"]["payloadData"]
        for event in page.cdp.events
        if event.get("sessionId") == page.session
        and event["method"] == "Network.webSocketFrameReceived"
    ]


def field_texts(document: dict[str, object]) -> list[str]:
    """Every line of the document's field tree, in order."""
    out: list[str] = []

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            out.append(node["text"])
            walk(node.get("children", []))

    packet = document["packet"]
    assert isinstance(packet, dict)
    walk(packet["fields"])
    return out


async def text_of(page: Page, element_id: str) -> str:
    text: str = await page.evaluate(f"document.getElementById({element_id!r}).innerText")
    return text


async def screenshot(
    page: Page, path: Path, size: tuple[int, int], scheme: str, *, full: bool = False
) -> None:
    """The page at `size` in the `scheme` colour scheme, as PNG at `path` (and, `full`,
    the whole page at `path`-full)."""
    width, height = size
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    await page.call(
        "Emulation.setEmulatedMedia",
        features=[{"name": "prefers-color-scheme", "value": scheme}],
    )
    await asyncio.sleep(0.4)  # the page lays out again (its hex dump after a pause)
    shot = await page.call("Page.captureScreenshot", format="png")
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    if full:  # the whole page, scrolled through (a phone's one column)
        metrics = await page.call("Page.getLayoutMetrics")
        height = min(int(metrics["cssContentSize"]["height"]), 8000)
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = await page.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
        )
        whole = path.with_name(path.stem + "-full.png")
        whole.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {whole}")


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_a_browser_follows_answers_and_looks_around(chromium: str, tmp_path: Path) -> None:
    lesson = COURSE.find(LESSON)
    assert lesson is not None
    view = view_of(LESSON)
    question = view.question(ASKING)
    assert question is not None
    expected = question.expected
    folder = shots_folder(tmp_path)

    async def scenario() -> None:
        share = Share(judge=LessonJudge())
        share.viewer = viewer
        server = share_server(share, port=0)
        await server.start()
        cdp = await Cdp.open(chromium)
        page = await Page.open(cdp)
        try:
            move = mover(share, lesson)
            move(ASKING)
            await page.call("Network.enable")  # the WebSocket frames, as devtools shows them
            await page.goto(f"http://127.0.0.1:{server.port}/{share.code}")
            await page.wait_for("Array.isArray(window.classLog)")
            await page.wait_for("window.classLog.includes('view')")
            bar = await text_of(page, "bar")
            assert bar.startswith(f"Step {ASKING + 1}/{len(lesson.steps)}"), bar
            assert "following the teacher" in bar
            assert share.count == 1

            # The step as the teacher's screen has it: narration, checkpoint, ladder, fields.
            narration = await text_of(page, "narration")
            assert lesson.steps[ASKING].title in narration
            assert question.text.split("?")[0] in await text_of(page, "question")
            document = step_document(view, ASKING, answered=False, shown=None, picked=None)
            ladder = document["ladder"]
            assert isinstance(ladder, dict)
            rows = await page.evaluate("document.querySelectorAll('#ladder .arrow').length")
            assert rows == len(ladder["arrows"]) > 0
            shown_fields = await page.evaluate(
                "[...document.querySelectorAll('#fields .field')].map(e => e.textContent)"
            )
            assert shown_fields == field_texts(document) and len(shown_fields) > 5
            hidden = await page.evaluate("document.querySelectorAll('#hex .byte.hidden').length")
            assert hidden > 0, "the answer's bytes show as ??"
            assert "??" in await text_of(page, "hex")

            # Before the reveal, the answer is nowhere: not on the page, not in a frame.
            assert expected not in await page.evaluate("document.body.innerText")
            frames = await frames_received(page)
            assert frames and all(expected not in frame for frame in frames)
            assert "expected" not in json.loads(frames[-1]).get("checkpoint", {})

            # An answer goes to the teacher's side.
            await page.fill("answer", "  not   the key  ")
            await page.click("send-answer")
            await wait_until(lambda: (LESSON, ASKING) in share.poll.answers, "the answer")
            [answer] = share.poll.answers[(LESSON, ASKING)].values()
            assert answer.text == "not the key"
            await page.wait_for("document.getElementById('feedback').innerText.includes('is in')")
            feedback = await text_of(page, "feedback")
            assert "Your answer “not the key” is in. The teacher will reveal" in feedback
            # Two students in terminals answer too: one class, one tally.
            terminals: list[list[Verdict]] = [[], []]
            followers = [
                Follower(f"ws://127.0.0.1:{server.port}/{share.code}", lambda k, p: None,
                         on_verdict=got.append, delays=(0.05,))
                for got in terminals
            ]  # fmt: skip
            tasks = [asyncio.ensure_future(f.run()) for f in followers]
            await wait_until(lambda: all(f.number for f in followers), "the terminals join")
            followers[0].answer(LESSON, ASKING, expected)
            followers[1].answer(LESSON, ASKING, "wrong")
            await wait_until(lambda: len(share.poll.answers[(LESSON, ASKING)]) == 3, "3 answers")
            assert share.tally_line(LESSON, ASKING) == "Class: 3 of 3 answered"

            for name, size in SIZES.items():
                for scheme in ("light", "dark"):
                    path = folder / f"class-{name}-{scheme}.png"
                    await screenshot(page, path, size, scheme, full=name == "phone")
                    if name == "phone":
                        overflow = await page.evaluate(
                            "document.documentElement.scrollWidth - window.innerWidth"
                        )
                        assert overflow <= 0, f"the page is {overflow} px too wide at 360 px"
            await page.call("Emulation.setEmulatedMedia", features=[])

            # The teacher reveals: the verdict, and now the answer.
            move(ASKING, revealed=(ASKING,))
            await page.wait_for("document.getElementById('feedback').innerText.includes('✗')")
            feedback = await text_of(page, "feedback")
            assert f"You answered “not the key”; the answer is {expected}." in feedback
            assert await page.evaluate("document.getElementById('answer-form').hidden")
            assert "verdict" in await page.evaluate("window.classLog")
            await wait_until(lambda: all(terminals), "the terminals' verdicts")
            assert [got[0].right for got in terminals] == [True, False]
            tally = share.tally_line(LESSON, ASKING)
            assert "Class: 3 of 3 answered · 1 right (33 %)" in tally, tally
            assert "“not the key” ×1" in tally and "“wrong” ×1" in tally
            for follower, task in zip(followers, tasks, strict=True):
                follower.stop()
                await asyncio.wait_for(task, 5)
            await screenshot(page, folder / "class-projector-revealed.png", SIZES["projector"],
                             "light")  # fmt: skip

            # The teacher moves on: so does the page.
            move(ASKING + 1, revealed=(ASKING,))
            await page.wait_for(
                f"document.getElementById('bar').innerText.startsWith('Step {ASKING + 2}/')"
            )
            narration = await text_of(page, "narration")
            assert lesson.steps[ASKING + 1].title in narration

            # Previous: an earlier step the page saw, detached; back to the teacher.
            await page.click("previous")
            await page.wait_for("document.getElementById('bar').innerText.includes('looking')")
            bar = await text_of(page, "bar")
            assert bar.startswith(f"Step {ASKING + 1}/"), bar
            assert f"teacher at step {ASKING + 2}" in bar
            assert not await page.evaluate("document.getElementById('back').hidden")
            move(ASKING + 2, revealed=(ASKING,))  # the teacher's move does not move the page
            await page.wait_for(
                f"document.getElementById('bar').innerText.includes('teacher at step {ASKING + 3}')"
            )
            assert (await text_of(page, "bar")).startswith(f"Step {ASKING + 1}/")
            await page.click("back")
            await page.wait_for(
                f"document.getElementById('bar').innerText.startsWith('Step {ASKING + 3}/')"
            )
            assert "following the teacher" in await text_of(page, "bar")
            assert await page.evaluate("document.getElementById('back').hidden")
            await screenshot(page, folder / "class-phone-moved.png", SIZES["phone"], "light")
            assert page.problems() == []
        finally:
            await page.close()
            await cdp.close()
            await asyncio.wait_for(server.shutdown(), 10.0)

    run(scenario(), timeout=60)


def test_the_page_reconnects_as_the_same_student_and_resends_its_answer(chromium: str) -> None:
    """The teacher's wirelab restarts: the page reconnects by itself (a growing pause),
    joins with the same key and sends again the answer not revealed yet; the page is
    only at the class's join code (any other path: 404)."""
    lesson = COURSE.find(LESSON)
    assert lesson is not None

    async def scenario() -> None:
        share = Share(judge=LessonJudge())
        share.viewer = viewer
        server = share_server(share, port=0)
        await server.start()
        port = server.port
        cdp = await Cdp.open(chromium)
        page = await Page.open(cdp)
        again = None
        try:
            mover(share, lesson)(ASKING)
            await page.goto(f"http://127.0.0.1:{port}/{share.code}")
            await page.wait_for("window.classLog.includes('view')")
            status = await page.evaluate("fetch('/zzzz').then(r => r.status)")
            assert status == 404
            await page.fill("name", "Ada")
            await page.click("save-name")
            await page.fill("answer", "a guess")
            await page.click("send-answer")
            await wait_until(lambda: (LESSON, ASKING) in share.poll.answers, "the answer")
            [member] = share.poll.members.values()
            assert member.name == "Ada"

            await asyncio.wait_for(server.shutdown(), 10.0)
            await page.wait_for(
                "document.getElementById('connection').dataset.state === 'connecting'"
            )
            # The same class (its join code) on the same port, as a restarted wirelab.
            restarted = Share(code=share.code, judge=LessonJudge())
            restarted.viewer = viewer
            mover(restarted, lesson)(ASKING)
            again = share_server(restarted, port=port)
            await again.start()
            await wait_until(
                lambda: (LESSON, ASKING) in restarted.poll.answers, "the answer again", 15
            )
            [answer] = restarted.poll.answers[(LESSON, ASKING)].values()
            assert answer.text == "a guess"
            assert answer.member.key == member.key and answer.member.name == "Ada"
            await page.wait_for("document.getElementById('connection').dataset.state === 'open'")
            assert "is in" in await text_of(page, "feedback")
            # Besides the 404 asked for above, nothing went wrong in the page.
            assert [p for p in page.problems() if "404" not in p] == []
        finally:
            await page.close()
            await cdp.close()
            await asyncio.wait_for(server.shutdown(), 10.0)
            if again is not None:
                await asyncio.wait_for(again.shutdown(), 10.0)

    run(scenario(), timeout=60)


def test_every_step_of_the_course_shows_on_a_phone(chromium: str, tmp_path: Path) -> None:
    """The teacher walks through every built-in lesson: at 360 px the page shows each
    step (its number, its field lines) without a script error or a page wider than the
    screen. A few steps with a routing table or a TCP window are photographed."""
    folder = shots_folder(tmp_path)
    photographed = {("ip-routing", 2), ("tcp-flow-control", 7), ("frames-and-masking", 12)}

    async def scenario() -> None:
        share = Share(judge=LessonJudge())
        share.viewer = viewer
        server = share_server(share, port=0)
        await server.start()
        cdp = await Cdp.open(chromium)
        page = await Page.open(cdp)
        try:
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=360, height=740, deviceScaleFactor=1, mobile=True,
            )  # fmt: skip
            first = COURSE.lessons[0]
            mover(share, first)(0)
            await page.goto(f"http://127.0.0.1:{server.port}/{share.code}")
            await page.wait_for("window.classLog.includes('view')")
            for lesson in COURSE.lessons:
                move = mover(share, lesson)
                for index in range(len(lesson.steps)):
                    move(index)
                    seq = share.position.seq if share.position is not None else 0
                    await page.wait_for(
                        "window.classLog.filter(t => t === 'view').length > 0 &&"
                        f" document.getElementById('bar').innerText.startsWith("
                        f"'Step {index + 1}/{len(lesson.steps)}') &&"
                        f" document.getElementById('lesson-title').textContent === "
                        f"{json.dumps(lesson.title)}"
                    )
                    where = f"{lesson.id} step {index + 1} (moment {seq})"
                    document = viewer(share.position) if share.position else None
                    assert document is not None
                    if document["packet"] is not None:
                        shown = await page.evaluate(
                            "[...document.querySelectorAll('#fields .field')]"
                            ".map(e => e.textContent)"
                        )
                        assert shown == field_texts(document), where
                    overflow = await page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth"
                    )
                    assert overflow <= 0, f"{where}: {overflow} px wider than the screen"
                    if (lesson.id, index) in photographed:
                        for name, size in SIZES.items():
                            path = folder / f"class-{name}-{lesson.id}-{index + 1}.png"
                            await screenshot(page, path, size, "light")
                        await page.call(
                            "Emulation.setDeviceMetricsOverride",
                            width=360, height=740, deviceScaleFactor=1, mobile=True,
                        )  # fmt: skip
            assert page.problems() == []
        finally:
            await page.close()
            await cdp.close()
            await asyncio.wait_for(server.shutdown(), 10.0)

    run(scenario(), timeout=180)
