"""The course: every lesson file of the built-in folder, the user's and any given.

Lessons come from, in this order (a later folder's lesson replaces an earlier
one with the same id): wirelab's own `lessons/`, the user's
`$XDG_DATA_HOME/wirelab/lessons/`, and folders given with `--lessons DIR`.
The course order is each lesson's `order`, then its id: nothing in the code.

A lesson that cannot be read does not stop the others: it is listed as
broken, with its problems, file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from simulator.lessons.model import Lesson, LessonError, Problem
from simulator.lessons.parse import parse_lesson
from simulator.lessons.progress import data_dir
from simulator.resources import lessons_dir


@dataclass
class Course:
    lessons: list[Lesson] = field(default_factory=list)
    broken: list[tuple[Path, list[Problem]]] = field(default_factory=list)

    def find(self, name: str) -> Lesson | None:
        """A lesson by id, by number in the course (from 1), or by file name."""
        if name.isdigit() and 1 <= int(name) <= len(self.lessons):
            return self.lessons[int(name) - 1]
        for lesson in self.lessons:
            if name in (lesson.id, lesson.path.name, lesson.path.stem):
                return lesson
        return None

    def number(self, lesson: Lesson) -> int:
        return self.lessons.index(lesson) + 1

    def after(self, lesson: Lesson) -> Lesson | None:
        """The lesson that follows `lesson` in the course (None after the last)."""
        at = self.lessons.index(lesson) if lesson in self.lessons else len(self.lessons)
        return self.lessons[at + 1] if at + 1 < len(self.lessons) else None


def lesson_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.name.lower() != "readme.md")


def load_course(extra: Iterable[Path] = (), *, builtin: bool = True, user: bool = True) -> Course:
    folders = []
    if builtin:
        folders.append(lessons_dir())
    if user:
        mine = data_dir() / "lessons"
        if mine.is_dir():
            folders.append(mine)
    folders.extend(extra)
    course = Course()
    by_id: dict[str, Lesson] = {}
    for folder in folders:
        for path in lesson_files(folder):
            try:
                lesson = parse_lesson(path)
            except LessonError as error:
                course.broken.append((path, error.problems))
                continue
            by_id[lesson.id] = lesson
    course.lessons = sorted(by_id.values(), key=lambda lesson: (lesson.order, lesson.id))
    return course


def check_folder(folder: Path, *, run: bool = True) -> tuple[int, list[Problem]]:
    """Every problem of every lesson in `folder`: parse each, run it, resolve its
    pointers and checkpoints. Returns (lessons checked, problems); warnings among them
    (`Problem.warning`) point something out without making the lesson unusable."""
    from simulator.lessons.run import LessonRun

    problems: list[Problem] = []
    files = lesson_files(folder)
    ids: dict[str, Path] = {}
    lessons = []
    for path in files:
        try:
            lesson = parse_lesson(path)
        except LessonError as error:
            problems.extend(error.problems)
            continue
        problems.extend(lesson.warnings)
        if lesson.id in ids:
            problems.append(Problem(path, 2, f"id {lesson.id!r} is also {ids[lesson.id].name}'s"))
        ids[lesson.id] = path
        lessons.append(lesson)
    known = set(ids) | {lesson.id for lesson in load_course(user=False).lessons}
    for lesson in lessons:
        for prerequisite in lesson.prerequisites:
            if prerequisite not in known:
                problems.append(
                    Problem(lesson.path, 2, f"prerequisite {prerequisite!r} is no lesson's id")
                )
        if run:
            try:
                problems.extend(LessonRun(lesson).check())
            except LessonError as error:
                problems.extend(error.problems)
    return len(files), problems


__all__ = ["Course", "check_folder", "lesson_files", "load_course"]
