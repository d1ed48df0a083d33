"""The course: lesson files → lessons, checked with file and line; runs; progress.

- `parse`: a lesson file (Markdown + TOML front matter) → `Lesson`;
- `actions`: what a step may do (scenario calls);
- `checkpoints`: questions whose answers the real code computes;
- `run`: a lesson's network, every step done once, states kept per step;
- `course`: the lessons of the built-in, the user's and given folders;
- `progress`: the learner's place, saved atomically.
"""

from simulator.lessons.course import Course, check_folder, load_course
from simulator.lessons.model import Action, Checkpoint, Lesson, LessonError, Pointer, Problem, Step
from simulator.lessons.parse import parse_lesson
from simulator.lessons.progress import Progress

__all__ = [
    "Action",
    "Checkpoint",
    "Course",
    "Lesson",
    "LessonError",
    "Pointer",
    "Problem",
    "Progress",
    "Step",
    "check_folder",
    "load_course",
    "parse_lesson",
]
