"""TUI benchmark: cold start to the first painted home screen, and one lesson step.

- Cold start: a fresh `python` process (what `wirelab` costs: interpreter,
  imports, the course read and parsed, the home screen laid out and painted),
  from just before the parent starts it to the child's first frame, headless;
  median of `--runs`.
- Opening a lesson: the same, with `wirelab learn LESSON` (the lesson's network
  run to its end, its first step laid out and painted).
- A step: in one running app (headless, 120×40), a lesson open; the time for
  `next` (a step forward) and `previous` (a step back) until the test pilot's
  `pause()` returns, and until the last screen update the step caused was
  written ("painted"), over every step of the lesson; medians and the slowest,
  and the floor: a `pause()` with nothing to paint. Between two steps the
  bench waits `--think` seconds, untimed, as a learner reading does (the
  screen prepares the next step then).

Progress goes to stderr, the report to stdout (`--json` for a document).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from revision import revision  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import pathlib, sys, time
started = float(sys.argv[1])
start = sys.argv[2] or None
from simulator.lessons import Progress, load_course
from simulator.tui.course import CourseApp

import simulator.tui.course as course_module
here = pathlib.Path(course_module.__file__).parent

class Timed(CourseApp):
    # Textual finds CSS files next to the class that names them: name them absolutely.
    CSS_PATH = [here / name for name in CourseApp.CSS_PATH]

    def on_mount(self) -> None:
        super().on_mount()
        if start is None:
            self.call_after_refresh(self.painted)
        else:
            self.set_interval(0.002, self.lesson_shown)

    def lesson_shown(self) -> None:
        if getattr(self.screen, "shown", None) is not None:
            self.call_after_refresh(self.painted)

    def painted(self) -> None:
        print(f"PAINTED {time.time() - started:.6f}", flush=True)
        self.exit()

import tempfile, pathlib
folder = pathlib.Path(tempfile.mkdtemp())
app = Timed(load_course(), Progress(folder / "progress.json"), start=start)
app.run(headless=True, size=(120, 40))
"""


def cold_start(lesson: str = "") -> float:
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, repr(started), lesson],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("PAINTED "):
            return float(line.split()[1])
    raise SystemExit(f"the child never painted: {done.stderr[-2000:]}")


class Steps(NamedTuple):
    """Seconds for each step taken: until the pilot's pause returned, and until the last
    screen update the step caused was written (what a learner sees)."""

    forward: list[float]
    backward: list[float]
    forward_painted: list[float]
    backward_painted: list[float]
    idle: list[float]


async def steps(lesson_id: str, repeat: int, think: float) -> Steps:
    import tempfile

    import textual.screen

    from simulator.lessons import Progress, load_course
    from simulator.tui.course import CourseApp
    from simulator.tui.screens.lesson import LessonScreen

    painted = [0.0]
    refresh = textual.screen.Screen._compositor_refresh

    def timed_refresh(self: textual.screen.Screen[object]) -> None:
        refresh(self)
        painted[0] = time.perf_counter()

    textual.screen.Screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
    folder = Path(tempfile.mkdtemp())
    app = CourseApp(load_course(), Progress(folder / "progress.json"), start=None, teach=True)
    out = Steps([], [], [], [], [])
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_lesson(lesson_id, teach=True)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LessonScreen)
            count = len(screen.lesson.steps)
            for _ in range(20):  # the floor: a pause with nothing to do
                started = time.perf_counter()
                await pilot.pause()
                out.idle.append(time.perf_counter() - started)
            for _ in range(repeat):
                screen.go(0)
                await pilot.pause()
                for direction in [1] * (count - 1) + [-1] * (count - 1):
                    await pilot.pause(think)  # the learner reads; the next step is prepared
                    started = painted[0] = time.perf_counter()
                    screen.action_next() if direction > 0 else screen.action_previous()
                    await pilot.pause()
                    took, shown = time.perf_counter() - started, painted[0] - started
                    (out.forward if direction > 0 else out.backward).append(took)
                    (out.forward_painted if direction > 0 else out.backward_painted).append(shown)
    finally:
        textual.screen.Screen._compositor_refresh = refresh  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lesson", default="ip-routing")
    parser.add_argument("--first", default="layers-and-sockets", help="the lesson opened cold")
    parser.add_argument(
        "--think", type=float, default=0.3, help="seconds between two steps (not timed)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    colds = []
    for i in range(args.runs):
        colds.append(cold_start())
        print(f"cold start {i + 1}/{args.runs}: {colds[-1] * 1000:.0f} ms", file=sys.stderr)
    opens = []
    for i in range(args.runs):
        opens.append(cold_start(args.first))
        print(
            f"opening {args.first} {i + 1}/{args.runs}: {opens[-1] * 1000:.0f} ms", file=sys.stderr
        )
    taken = asyncio.run(steps(args.lesson, max(1, args.runs // 2), args.think))
    forward, backward, idle = taken.forward, taken.backward, taken.idle
    report = {
        "revision": revision(),
        "cold_start_ms": [round(c * 1000, 1) for c in colds],
        "cold_start_median_ms": round(statistics.median(colds) * 1000, 1),
        "open_lesson_ms": [round(c * 1000, 1) for c in opens],
        "open_lesson_median_ms": round(statistics.median(opens) * 1000, 1),
        "step_forward_median_ms": round(statistics.median(forward) * 1000, 1),
        "step_forward_max_ms": round(max(forward) * 1000, 1),
        "step_back_median_ms": round(statistics.median(backward) * 1000, 1),
        "step_back_max_ms": round(max(backward) * 1000, 1),
        "step_forward_painted_median_ms": round(statistics.median(taken.forward_painted) * 1000, 1),
        "step_forward_painted_max_ms": round(max(taken.forward_painted) * 1000, 1),
        "step_back_painted_median_ms": round(statistics.median(taken.backward_painted) * 1000, 1),
        "step_back_painted_max_ms": round(max(taken.backward_painted) * 1000, 1),
        "think_s": args.think,
        "idle_pause_median_ms": round(statistics.median(idle) * 1000, 1),
        "lesson": args.lesson,
        "steps_timed": len(forward) + len(backward),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"wirelab {report['revision']}, headless at 120×40")
    cold = report["cold_start_median_ms"]
    print(f"  cold start to the painted home screen  {cold:7.0f} ms (median of {args.runs})")
    opened = report["open_lesson_median_ms"]
    print(f"  cold start to {args.first}'s first step  {opened:7.0f} ms (median of {args.runs})")
    for word, key in (("forward", "step_forward"), ("back   ", "step_back")):
        median, slowest = report[f"{key}_median_ms"], report[f"{key}_max_ms"]
        print(f"  {args.lesson}: a step {word}  {median:7.1f} ms median, {slowest:.1f} ms slowest")
        median, slowest = report[f"{key}_painted_median_ms"], report[f"{key}_painted_max_ms"]
        print(
            f"      painted (last update written) {median:7.1f} ms median, {slowest:.1f} ms slowest"
        )
    floor = report["idle_pause_median_ms"]
    print(f"  (of which the test pilot's own pause, with nothing to paint: {floor:.1f} ms)")


if __name__ == "__main__":
    main()
