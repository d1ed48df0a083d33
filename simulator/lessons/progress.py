"""Where a learner is in the course, kept in the user's data directory.

One JSON file, `$XDG_DATA_HOME/wirelab/progress.json` (default
`~/.local/share/wirelab/progress.json`):

    {"version": 1, "last": "tcp-handshake",
     "lessons": {"tcp-handshake": {"step": 4, "furthest": 6, "answered": [2, 4],
                                   "done": false}}}

`step` is where the learner is in a lesson, `furthest` the furthest step ever
reached (files without it read it as `step`); steps and answered checkpoints
are whole numbers from 0 to 9999.

Several wirelab windows may share the file, so `save` never writes one window's
memory over another's work: holding an exclusive lock on `progress.json.lock`
(POSIX `flock`; elsewhere unlocked), it re-reads the file, merges it with what
this window knows (answered checkpoints and finished lessons are kept from both,
`furthest` is the larger), and writes the result atomically (a temporary file in
the same folder, flushed, then renamed over the old one), so a crash never
leaves half a file. A file that cannot be read as progress (not JSON, values out
of range, too large, too deeply nested, not a regular file) is not fatal: it is
renamed aside (`progress.json.corrupt-1`, …), `problem` says so, and the course
starts afresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: saves still merge, without a lock
    HAVE_FLOCK = False
else:
    HAVE_FLOCK = True

VERSION = 1
MAX_STEP = 9999  # steps and answered checkpoints are 0..MAX_STEP
MAX_BYTES = 1 << 20  # a larger file is not read: real progress is a few kilobytes
LOCK_TIMEOUT = 5.0  # seconds `save` waits for another window to finish saving


def data_dir() -> Path:
    """wirelab's folder under the XDG data directory."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "wirelab"


@dataclass
class LessonProgress:
    step: int = 0  # where the learner is
    answered: set[int] = field(default_factory=set)  # steps whose checkpoint was answered right
    done: bool = False
    furthest: int = 0  # the furthest step ever reached


class CorruptProgress(ValueError):
    """The file is there but is not wirelab progress; the message says why."""


@dataclass
class _Saved:
    """What a progress file holds."""

    lessons: dict[str, LessonProgress]
    last: str | None


class Progress:
    """The learner's progress, loaded from and merged into the file at `path`.

    `save` merges with the file (see the module's docstring); `reload` merges the
    file into memory without writing. For a lesson this window visited since it
    loaded or last saved, its own `step` wins over the file's, and so does `last`
    if it visited any lesson; otherwise the file's are taken.
    """

    def __init__(self, path: Path | None = None, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path or data_dir() / "progress.json"
        self.lock_timeout = lock_timeout
        self.lessons: dict[str, LessonProgress] = {}
        self.last: str | None = None
        self.problem: str | None = None
        self._visited: set[str] = set()  # lessons visited since loading or the last save
        self._load()

    @property
    def lock_path(self) -> Path:
        """The sibling file whose lock saving windows take turns on."""
        return self.path.with_name(f"{self.path.name}.lock")

    # --- reading --------------------------------------------------------------------------

    def _load(self) -> None:
        saved, problem = self._read_or_set_aside("the course starts afresh")
        self.problem = problem
        if saved is not None:
            self.lessons, self.last = saved.lessons, saved.last

    def reload(self) -> str | None:
        """Merge the file into memory without writing it (for a screen that shows progress).

        What another window saved appears here; this window's unsaved steps are kept.
        Returns None, or a one-line reason the file could not be read (also put in
        `problem`); a file that is not progress is set aside as on loading.
        """
        saved, problem = self._read_or_set_aside("this window's progress is kept")
        if problem is not None:
            self.problem = problem
        if saved is not None:
            self._merge(saved)
        return problem

    def _read_or_set_aside(self, consequence: str) -> tuple[_Saved | None, str | None]:
        """The file's progress (None if there is none or it cannot be read) and a problem."""
        try:
            return _read(self.path), None
        except OSError as error:
            return None, f"cannot read {self.path}: {_why(error)}; progress will not be kept"
        except CorruptProgress:
            pass
        # Set aside only while holding the lock, and only if it is still not progress: a
        # window that was saving meanwhile may have replaced it with a good file.
        try:
            with self._locked():
                return self._set_aside_if_corrupt(consequence)
        except OSError:  # no lock to be had: set aside all the same
            return self._set_aside_if_corrupt(consequence)

    def _set_aside_if_corrupt(self, consequence: str) -> tuple[_Saved | None, str | None]:
        try:
            return _read(self.path), None
        except OSError as error:
            return None, f"cannot read {self.path}: {_why(error)}; progress will not be kept"
        except CorruptProgress as error:
            return None, self._set_aside(str(error), consequence)

    def _set_aside(self, why: str, consequence: str) -> str:
        """Rename the file to the first free `<name>.corrupt-N`; what happened, in one line."""
        for n in range(1, 1000):
            aside = self.path.with_name(f"{self.path.name}.corrupt-{n}")
            if os.path.lexists(aside):
                continue
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return f"{self.path} could not be read ({why}) and then vanished; {consequence}"
            except OSError as error:
                return (
                    f"{self.path} could not be read ({why}) nor set aside ({_why(error)}); "
                    f"{consequence}"
                )
            return (
                f"{self.path} could not be read ({why}); it was kept as {aside.name} "
                f"and {consequence}"
            )
        return f"{self.path} could not be read ({why}) and there is no free name to keep it as"

    # --- changing -------------------------------------------------------------------------

    def of(self, lesson_id: str) -> LessonProgress:
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def visit(self, lesson_id: str, step: int) -> None:
        """The learner is at `step` (0..9999) of the lesson; `furthest` follows."""
        _check_step(step)
        entry = self.of(lesson_id)
        entry.step = step
        entry.furthest = max(entry.furthest, step)
        self.last = lesson_id
        self._visited.add(lesson_id)

    def answered(self, lesson_id: str, step: int) -> None:
        """The checkpoint of `step` (0..9999) was answered right."""
        _check_step(step)
        self.of(lesson_id).answered.add(step)

    def finish(self, lesson_id: str) -> None:
        self.of(lesson_id).done = True

    def _merge(self, saved: _Saved) -> None:
        """Take in what the file holds, by the rules in the class docstring."""
        for lesson_id, theirs in saved.lessons.items():
            mine = self.lessons.get(lesson_id)
            if mine is None:
                self.lessons[lesson_id] = theirs
                continue
            mine.answered |= theirs.answered
            mine.done = mine.done or theirs.done
            mine.furthest = max(mine.furthest, theirs.furthest)
            if lesson_id not in self._visited:
                mine.step = theirs.step
        if not self._visited and saved.last is not None:
            self.last = saved.last

    # --- writing --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "last": self.last,
            "lessons": {
                lesson_id: {
                    "step": p.step,
                    "furthest": max(p.furthest, p.step),
                    "answered": sorted(p.answered),
                    "done": p.done,
                }
                for lesson_id, p in sorted(self.lessons.items())
            },
        }

    def save(self) -> str | None:
        """Merge with the file and write the result atomically; memory then holds it too.

        Returns None, or a one-line reason it could not be written. A file that is not
        progress is set aside (`problem` says so) and replaced by this window's.
        """
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"cannot save progress in {folder}: {_why(error)}"
        try:
            with self._locked():
                return self._merge_and_write()
        except OSError as error:
            return f"cannot save progress to {self.path}: {_why(error)}"

    def _merge_and_write(self) -> str | None:
        """The part of `save` done under the lock."""
        try:
            saved = _read(self.path)
        except CorruptProgress as error:
            self.problem = self._set_aside(str(error), "this window's progress was saved instead")
            saved = None
        except OSError as error:  # written over, it would be lost: leave it
            return f"cannot save progress: cannot read {self.path}: {_why(error)}"
        if saved is not None:
            self._merge(saved)
        folder = self.path.parent
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(self.to_json(), file, indent=1)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_folder(folder)
        self._visited.clear()
        return None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the exclusive lock on `lock_path` (no lock without fcntl).

        Waits at most `lock_timeout` seconds, then raises TimeoutError (an OSError).
        """
        if not HAVE_FLOCK:
            yield
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
        try:
            deadline = time.monotonic() + self.lock_timeout
            pause = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(
                            f"{self.lock_path.name} is held by another wirelab "
                            f"for more than {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.02)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# --- the file -------------------------------------------------------------------------------


def _read(path: Path) -> _Saved | None:
    """The progress in the file at `path`; None if there is no file.

    Raises CorruptProgress if it is not progress, OSError if it cannot be read. Never
    blocks on a FIFO or device and never reads more than MAX_BYTES.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise CorruptProgress("it is not a regular file")
    if info.st_size > MAX_BYTES:
        raise CorruptProgress(f"it is larger than {MAX_BYTES} bytes")
    # O_NONBLOCK: should a FIFO be put there after the check, opening it does not wait.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptProgress("it is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise CorruptProgress(f"it is larger than {MAX_BYTES} bytes")
    return _parse(b"".join(chunks))


def _parse(raw: bytes) -> _Saved:
    """A progress file's bytes → its progress; CorruptProgress if they are not that."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise CorruptProgress("it is nested too deeply") from None
    except (ValueError, OverflowError) as error:  # UnicodeDecodeError is a ValueError
        raise CorruptProgress(_first_line(error)) from None
    if not isinstance(data, dict) or not _is_int(data.get("version")):
        raise CorruptProgress("not a wirelab progress file")
    if data["version"] != VERSION:
        raise CorruptProgress(f"version {data['version']} is not {VERSION}")
    entries = data.get("lessons", {})
    if not isinstance(entries, dict):
        raise CorruptProgress("lessons is not a table")
    lessons: dict[str, LessonProgress] = {}
    for lesson_id, entry in entries.items():
        name = repr(lesson_id[:40])
        if not isinstance(entry, dict):
            raise CorruptProgress(f"lesson {name} is not a table")
        step = entry.get("step", 0)
        furthest = entry.get("furthest", step)
        answered = entry.get("answered", [])
        done = entry.get("done", False)
        if not _is_step(step):
            raise CorruptProgress(f"lesson {name}: step is not a whole number 0..{MAX_STEP}")
        if not _is_step(furthest):
            raise CorruptProgress(f"lesson {name}: furthest is not a whole number 0..{MAX_STEP}")
        if not isinstance(answered, list) or not all(_is_step(n) for n in answered):
            raise CorruptProgress(
                f"lesson {name}: answered is not a list of whole numbers 0..{MAX_STEP}"
            )
        if not isinstance(done, bool):
            raise CorruptProgress(f"lesson {name}: done is neither true nor false")
        lessons[lesson_id] = LessonProgress(
            step=step, answered=set(answered), done=done, furthest=max(furthest, step)
        )
    last = data.get("last")
    if last is not None and not isinstance(last, str):
        raise CorruptProgress("last is not a lesson name")
    return _Saved(lessons, last)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number progress can hold")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_step(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STEP


def _check_step(step: int) -> None:
    if not _is_step(step):
        raise ValueError(f"a step is a whole number 0..{MAX_STEP}, not {step!r}")


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where folders can be fsynced (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _why(error: OSError) -> str:
    return error.strerror or _first_line(error)


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0][:200] if lines else type(error).__name__


__all__ = ["CorruptProgress", "LessonProgress", "Progress", "data_dir"]
