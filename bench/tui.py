"""TUI benchmark: cold starts, opening a lesson, and lesson steps, as a learner meets them.

Every measurement runs in a fresh `python` process, headless at 120×40:

- Cold start: interpreter, imports, the course read and parsed, the home
  screen laid out and painted; from just before the parent starts the child to
  the child's first frame.
- Into a lesson: the same with `wirelab learn LESSON` (`--first`): the
  lesson's network run to its end, its first step laid out and painted.
- From the home screen: the home screen shows for half a second (a learner
  looking at the list), then the lesson opens, as Enter does; from then to its
  first step painted.
- Steps: one app with a lesson open (`--lesson`), `next` through every step,
  then `previous` back, each timed until the test pilot's `pause()` returns
  and until the last screen update the step caused was written ("painted",
  looked for until 0.15 s after the step, so updates after the pause count).
  Between two steps the bench waits `--think` seconds, untimed, as a learner
  reading does (the screen prepares the next step then). The floor is a
  `pause()` with nothing to paint.

`--against DIR` measures another source tree of wirelab too (for instance a
`git worktree add DIR REVISION`), each measurement interleaved with this
tree's, so that both see the same machine; the report gives both and their
ratio. Progress goes to stderr, the report to stdout (`--json` for a document).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from revision import revision  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent

# The child: one measurement of the source tree it runs in (argv: the mode, when the
# parent started it, the lesson, the think time, the rounds). It prints one JSON line.
CHILD = r"""
import json, pathlib, sys, tempfile, time
mode, started, lesson = sys.argv[1], float(sys.argv[2]), sys.argv[3]
think, rounds = float(sys.argv[4]), int(sys.argv[5])
from simulator.lessons import Progress, load_course
import simulator.tui.course as course_module
from simulator.tui.course import CourseApp

here = pathlib.Path(course_module.__file__).parent
folder = pathlib.Path(tempfile.mkdtemp())


def lesson_screen(app):
    from simulator.tui.screens.lesson import LessonScreen
    screen = app.screen
    return screen if isinstance(screen, LessonScreen) else None


def go(screen, index):  # older trees name it show_step
    (getattr(screen, "go", None) or screen.show_step)(index)


class Timed(CourseApp):
    # Textual finds style files next to the class that names them: name them in full.
    CSS_PATH = [here / name for name in CourseApp.CSS_PATH]

    def on_mount(self):
        super().on_mount()
        if mode == "home":
            self.call_after_refresh(self.painted)
        elif mode == "learn":
            self.set_interval(0.002, self.lesson_shown)
        else:  # "from-home": Enter on a lesson half a second after the home screen showed
            self.set_timer(0.5, self.enter)

    def enter(self):
        global started
        started = time.time()
        self.open_lesson(lesson)
        self.set_interval(0.002, self.lesson_shown)

    def lesson_shown(self):
        if lesson_screen(self) is not None and lesson_screen(self).is_mounted:
            self.call_after_refresh(self.painted)

    def painted(self):
        print(json.dumps({"seconds": time.time() - started}), flush=True)
        self.exit()


LATE = 0.15  # seconds: a step's last screen update comes well within this


async def steps():
    import textual.screen
    painted = [0.0]
    refresh = textual.screen.Screen._compositor_refresh

    def timed_refresh(self):
        refresh(self)
        painted[0] = time.perf_counter()

    textual.screen.Screen._compositor_refresh = timed_refresh
    app = CourseApp(load_course(), Progress(folder / "progress.json"), teach=True)
    out = {"forward": [], "back": [], "forward_painted": [], "back_painted": [], "idle": []}
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_lesson(lesson, teach=True)
        await pilot.pause()
        screen = lesson_screen(app)
        count = len(screen.lesson.steps)
        for _ in range(20):
            begun = time.perf_counter()
            await pilot.pause()
            out["idle"].append(time.perf_counter() - begun)
        for _ in range(rounds):
            go(screen, 0)
            await pilot.pause()
            for direction in [1] * (count - 1) + [-1] * (count - 1):
                await pilot.pause(think)
                begun = painted[0] = time.perf_counter()
                screen.action_next() if direction > 0 else screen.action_previous()
                await pilot.pause()
                key = "forward" if direction > 0 else "back"
                out[key].append(time.perf_counter() - begun)
                await pilot.pause(LATE)  # updates that come after the pause count too
                out[key + "_painted"].append(painted[0] - begun)
    print(json.dumps(out), flush=True)


if mode == "steps":
    import asyncio
    asyncio.run(steps())
else:
    start = lesson if mode == "learn" else None
    Timed(load_course(), Progress(folder / "progress.json"), start=start).run(
        headless=True, size=(120, 40)
    )
"""


def measure(root: Path, mode: str, lesson: str, think: float = 0.0, rounds: int = 1) -> Any:
    """One child's JSON: `mode` is home, learn, from-home or steps."""
    started = time.time()
    environment = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, repr(started), lesson, str(think), str(rounds)],
        capture_output=True, text=True, timeout=300, cwd=root, env=environment, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"the child measuring {root} ({mode}) said nothing: {done.stderr[-2000:]}")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lesson", default="ip-routing", help="the lesson stepped through")
    parser.add_argument("--first", default="layers-and-sockets", help="the lesson opened")
    parser.add_argument("--think", type=float, default=0.3, help="seconds between two steps")
    parser.add_argument("--against", type=Path, help="another wirelab source tree to measure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    found: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for i in range(args.runs):
        for mode in ("home", "learn", "from-home"):
            for name, root in trees.items():
                seconds = measure(root, mode, args.first)["seconds"]
                found[name].setdefault(mode, []).append(seconds)
                print(
                    f"{name} {mode} {i + 1}/{args.runs}: {seconds * 1000:.0f} ms", file=sys.stderr
                )
    rounds = max(1, args.runs // 2)
    for name, root in trees.items():
        taken = measure(root, "steps", args.lesson, args.think, rounds)
        for key, values in taken.items():
            found[name][key] = values
        print(f"{name} steps: done", file=sys.stderr)
    report: dict[str, Any] = {
        "revision": revision(),
        "lesson": args.lesson,
        "first": args.first,
        "think_s": args.think,
        "runs": args.runs,
    }
    for name, measured in found.items():
        report[name] = {key: summary(values) for key, values in measured.items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    rows = [
        ("cold start to the painted home screen", "home"),
        (f"wirelab learn {args.first}: its first step painted", "learn"),
        (f"Enter on {args.first} at the home screen: first step painted", "from-home"),
        (f"{args.lesson}: a step forward, until the pilot's pause", "forward"),
        ("    … until its last update is written (painted)", "forward_painted"),
        (f"{args.lesson}: a step back, until the pilot's pause", "back"),
        ("    … until its last update is written (painted)", "back_painted"),
        ("the pilot's own pause, nothing to paint", "idle"),
    ]
    print(f"wirelab {report['revision']}, headless at 120×40 (medians; slowest in brackets)")
    if "against" in trees:
        print(f"against {trees['against']}: its figures, then the ratio against/this")
    for label, key in rows:
        this = report["this"][key]
        line = f"  {label:<62} {this['median_ms']:7.1f} ms [{this['max_ms']:.0f}]"
        if "against" in report:
            other = report["against"][key]
            ratio = other["median_ms"] / this["median_ms"] if this["median_ms"] else 0.0
            line += f"   {other['median_ms']:7.1f} ms [{other['max_ms']:.0f}]  ×{ratio:.2f}"
        print(line)


if __name__ == "__main__":
    main()
