"""Fuzz the lesson file parser: `parse_lesson` on a file of the fuzzed bytes.

A lesson file comes from a teacher or a download (`wirelab lessons check`, `--lessons
DIR`). Reading it may only give a `Lesson` or raise `LessonError` whose problems each
name the file and a line in it (0: the whole file). The lesson is only parsed here,
not run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import atheris
from harness import MAX_INPUT, fuzz, scratch

with atheris.instrument_imports(include=["simulator"]):
    from simulator.lessons.model import Lesson, LessonError, Problem
    from simulator.lessons.parse import parse_lesson

NAME = "03-fuzzed-lesson.md"


def check(problem: Problem, path: Path, lines: int) -> None:
    assert isinstance(problem, Problem), problem
    assert problem.path == path, problem.path
    assert isinstance(problem.line, int) and 0 <= problem.line <= lines + 1, (problem, lines)
    assert problem.message, problem


def refused(error: LessonError, path: Path, lines: int) -> None:
    """A refusal must name at least one problem, each in the file."""
    assert error.problems, "a LessonError with no problem"
    for problem in error.problems:
        check(problem, path, lines)


@contextlib.contextmanager
def lesson_from(data: bytes) -> Iterator[tuple[Lesson | None, Path, int]]:
    """`data` written as a lesson file in a scratch folder and parsed: the lesson (None
    when it is refused, with problems that pass `check`), its path and its line count."""
    lines = len(data.decode("utf-8", errors="replace").splitlines())
    with scratch() as folder:
        path = folder / NAME
        path.write_bytes(data)
        try:
            lesson: Lesson | None = parse_lesson(path)
        except LessonError as error:
            refused(error, path, lines)
            lesson = None
        yield lesson, path, lines


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    with lesson_from(data) as (lesson, path, lines):
        if lesson is None:
            return
        assert lesson.path == path
        for warning in lesson.warnings:
            check(warning, path, lines)


if __name__ == "__main__":
    fuzz(test_one_input)
