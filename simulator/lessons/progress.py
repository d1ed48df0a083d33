"""Where a learner is in the course, kept in the user's data directory.

One JSON file, `$XDG_DATA_HOME/wirelab/progress.json` (default
`~/.local/share/wirelab/progress.json`):

    {"version": 1, "last": "tcp-handshake",
     "lessons": {"tcp-handshake": {"step": 4, "answered": [2, 4], "done": false}}}

It is written atomically (a temporary file in the same folder, flushed, then
renamed over the old one), so a crash never leaves half a file. A file that
cannot be read as progress is not fatal: it is renamed aside
(`progress.json.corrupt-1`, …), `problem` says so, and the course starts afresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


def data_dir() -> Path:
    """wirelab's folder under the XDG data directory."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "wirelab"


@dataclass
class LessonProgress:
    step: int = 0
    answered: set[int] = field(default_factory=set)  # steps whose checkpoint was answered right
    done: bool = False


class Progress:
    """The learner's progress, loaded from and saved to `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "progress.json"
        self.lessons: dict[str, LessonProgress] = {}
        self.last: str | None = None
        self.problem: str | None = None
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as error:
            self.problem = f"cannot read {self.path}: {error.strerror}; progress will not be kept"
            return
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError("not a wirelab progress file")
            lessons = data.get("lessons", {})
            if not isinstance(lessons, dict):
                raise ValueError("lessons is not a table")
            for lesson_id, entry in lessons.items():
                self.lessons[str(lesson_id)] = LessonProgress(
                    step=int(entry.get("step", 0)),
                    answered={int(n) for n in entry.get("answered", [])},
                    done=bool(entry.get("done", False)),
                )
            last = data.get("last")
            self.last = str(last) if last is not None else None
        except (ValueError, TypeError, AttributeError) as error:
            self.lessons, self.last = {}, None
            aside = self._set_aside()
            self.problem = (
                f"{self.path} could not be read ({error}); it was kept as {aside.name} "
                "and the course starts afresh"
            )

    def _set_aside(self) -> Path:
        for n in range(1, 1000):
            aside = self.path.with_name(f"{self.path.name}.corrupt-{n}")
            if not aside.exists():
                with contextlib.suppress(OSError):
                    self.path.replace(aside)
                return aside
        return self.path

    def of(self, lesson_id: str) -> LessonProgress:
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def visit(self, lesson_id: str, step: int) -> None:
        entry = self.of(lesson_id)
        entry.step = step
        self.last = lesson_id

    def answered(self, lesson_id: str, step: int) -> None:
        self.of(lesson_id).answered.add(step)

    def finish(self, lesson_id: str) -> None:
        self.of(lesson_id).done = True

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "last": self.last,
            "lessons": {
                lesson_id: {"step": p.step, "answered": sorted(p.answered), "done": p.done}
                for lesson_id, p in sorted(self.lessons.items())
            },
        }

    def save(self) -> str | None:
        """Write atomically; None, or a one-line reason it could not be written."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.")
        except OSError as error:
            return f"cannot save progress in {folder}: {error.strerror}"
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(self.to_json(), file, indent=1)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return f"cannot save progress to {self.path}: {error.strerror}"
        return None


__all__ = ["LessonProgress", "Progress", "data_dir"]
