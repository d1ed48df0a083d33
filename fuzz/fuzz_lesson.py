"""Fuzz the lesson file parser: `parse_lesson` on a file of the fuzzed bytes.

A lesson file comes from a teacher or a download (`wirelab lessons check`, `--lessons
DIR`). Reading it may only give a `Lesson` or raise `LessonError` whose problems each
name the file and a line in it (0: the whole file). The lesson is only parsed here,
not run.
"""

from __future__ import annotations

from pathlib import Path

import atheris
from harness import MAX_INPUT, fuzz, scratch

with atheris.instrument_imports(include=["simulator"]):
    from simulator.lessons.model import LessonError, Problem
    from simulator.lessons.parse import parse_lesson

NAME = "03-fuzzed-lesson.md"


def check(problem: Problem, path: Path, lines: int) -> None:
    assert isinstance(problem, Problem), problem
    assert problem.path == path, problem.path
    assert isinstance(problem.line, int) and 0 <= problem.line <= lines + 1, (problem, lines)
    assert problem.message, problem


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    lines = len(data.decode("utf-8", errors="replace").splitlines())
    with scratch() as folder:
        path = folder / NAME
        path.write_bytes(data)
        try:
            lesson = parse_lesson(path)
        except LessonError as error:
            assert error.problems, "a LessonError with no problem"
            for problem in error.problems:
                check(problem, path, lines)
            return
        assert lesson.path == path
        for warning in lesson.warnings:
            check(warning, path, lines)


if __name__ == "__main__":
    fuzz(test_one_input)
