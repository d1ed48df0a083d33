"""Fuzz a lesson's run: `parse_lesson`, then `LessonRun(...).check()`, as `wirelab
lessons check` does with a lesson file from someone else.

The parse harness (`fuzz_lesson.py`) covers reading; this one runs what was read: the
`[network]` table builds a simulated network, every action of every step runs on it
(opening connections, sending, dropping, waiting, routing), and every pointer and
checkpoint is resolved against the packets the run made. A lesson may only give
problems, each naming the file and a line in it, or raise `LessonError`; the run is
bounded in events, simulated time and bytes, so one input stays within libFuzzer's
time and memory limits. About a second an input: run it for minutes, not seconds.
"""

from __future__ import annotations

import atheris
from fuzz_lesson import check, lesson_from, refused
from harness import MAX_INPUT, fuzz

with atheris.instrument_imports(include=["simulator"]):
    from simulator.lessons.model import LessonError
    from simulator.lessons.run import LessonRun


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    with lesson_from(data) as (lesson, path, lines):
        if lesson is None:
            return
        try:
            problems = LessonRun(lesson).check()
        except LessonError as error:
            refused(error, path, lines)
            return
        for problem in problems:
            check(problem, path, lines)


if __name__ == "__main__":
    fuzz(test_one_input)
