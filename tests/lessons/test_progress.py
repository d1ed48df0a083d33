"""Progress: saved atomically, merged between windows, and never broken by a hostile file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.lessons import Progress
from simulator.lessons.progress import MAX_BYTES

MODULE = "simulator.lessons.progress"  # the implementation the worker processes import
ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 200

# One window of the two-window test. It loads the file, says it is ready, waits for the
# word, then works through ROUNDS changes, saving after each, and prints what it did.
WORKER = """
import json, sys, time
from pathlib import Path
from MODULE import Progress

path, role, folder = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
progress = Progress(path)
(folder / f"ready-{role}").touch()
deadline = time.monotonic() + 30
while not (folder / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.001)
lessons = ["a", "b", "c"] if role == 0 else ["c", "d", "e"]
finish = {0: {50: "a", 120: "c"}, 1: {80: "e"}}[role]
did = {"answered": {}, "furthest": {}, "step": {}, "done": []}

def save():
    problem = progress.save()
    if problem is not None:
        sys.exit(problem)

for i in range(ROUNDS):
    lesson = lessons[i % 3]
    step = (i * 7 + role * 3) % 60
    progress.visit(lesson, step)
    did["step"][lesson] = step
    did["furthest"][lesson] = max(did["furthest"].get(lesson, 0), step)
    save()
    progress.answered(lesson, 1000 * role + i)
    did["answered"].setdefault(lesson, []).append(1000 * role + i)
    save()
    if i in finish:
        progress.finish(finish[i])
        did["done"].append(finish[i])
        save()
print(json.dumps(did))
"""


def wait_for(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_two_windows_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "wirelab" / "progress.json"
    path.parent.mkdir()
    earlier = Progress(path)
    earlier.visit("z", 9)
    earlier.answered("z", 4)
    earlier.finish("z")
    assert earlier.save() is None
    source = WORKER.replace("MODULE", MODULE).replace("ROUNDS", str(ROUNDS))
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", source, str(path), str(role), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for role in (0, 1)
    ]
    try:
        wait_for(lambda: all((tmp_path / f"ready-{r}").exists() for r in (0, 1)))
        (tmp_path / "go").touch()
        outputs = [worker.communicate(timeout=60) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    did = [json.loads(out) for out, _ in outputs]

    saved = json.loads(path.read_text(encoding="utf-8"))
    lessons = saved["lessons"]
    for lesson in "abcde":
        wanted = {n for d in did for n in d["answered"].get(lesson, [])}
        got = set(lessons.get(lesson, {}).get("answered", []))
        assert got == wanted, f"{len(wanted - got)} answers lost in lesson {lesson}"
    assert {lesson for lesson in "abcde" if lessons[lesson]["done"]} == {"a", "c", "e"}
    for lesson in "abcde":
        furthest = max(d["furthest"].get(lesson, 0) for d in did)
        assert lessons[lesson]["furthest"] == furthest
    for lesson, role in [("a", 0), ("b", 0), ("d", 1), ("e", 1)]:  # one window each
        assert lessons[lesson]["step"] == did[role]["step"][lesson]
    assert lessons["z"] == {"step": 9, "furthest": 9, "answered": [4], "done": True}
    assert saved["last"] in {"a", "b", "c", "d", "e"}
    assert Progress(path).problem is None


def test_a_stale_window_keeps_what_the_other_saved(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    window_a, window_b = Progress(path), Progress(path)
    worked = ["tcp-handshake", "ip-basics", "dns", "http", "websocket"]
    for lesson in worked:
        window_a.visit(lesson, 3)
        window_a.answered(lesson, 2)
        assert window_a.save() is None
    window_a.visit("tcp-handshake", 6)
    window_a.answered("tcp-handshake", 5)
    window_a.finish("tcp-handshake")
    assert window_a.save() is None

    window_b.visit("udp", 1)  # B knows nothing of that
    assert window_b.save() is None

    for progress in (window_b, Progress(path)):  # B's memory holds the merge too
        assert progress.of("tcp-handshake").done
        assert progress.of("tcp-handshake").answered == {2, 5}
        assert progress.of("tcp-handshake").step == 6 == progress.of("tcp-handshake").furthest
        for lesson in worked[1:]:
            mine = progress.of(lesson)
            assert (mine.step, mine.furthest, mine.answered, mine.done) == (3, 3, {2}, False)
        assert progress.of("udp").step == 1
        assert progress.last == "udp"


def test_a_step_back_in_another_window_keeps_furthest_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    window_a, window_b = Progress(path), Progress(path)
    window_a.visit("dns", 8)
    window_a.answered("dns", 7)
    assert window_a.save() is None
    window_b.visit("dns", 2)
    assert window_b.save() is None
    dns = Progress(path).of("dns")
    assert (dns.step, dns.furthest, dns.answered) == (2, 8, {7})
    # A answers without moving: the step is the file's, not A's stale 8.
    window_a.answered("dns", 1)
    assert window_a.save() is None
    assert window_a.of("dns").step == 2 and window_a.of("dns").answered == {1, 7}
    assert Progress(path).of("dns").step == 2


def test_last_is_the_files_unless_this_window_visited(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    window_a, window_b = Progress(path), Progress(path)
    window_a.visit("dns", 1)
    assert window_a.save() is None
    window_b.visit("http", 1)
    assert window_b.save() is None
    window_a.finish("dns")  # no visit since its save
    assert window_a.save() is None
    assert window_a.last == "http" == Progress(path).last


def test_reload_merges_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    window_a, window_b = Progress(path), Progress(path)
    window_a.visit("dns", 4)
    window_a.answered("dns", 3)
    window_a.finish("dns")
    assert window_a.save() is None
    before = path.read_bytes()
    window_b.visit("http", 2)  # not saved yet
    assert window_b.reload() is None
    assert path.read_bytes() == before
    assert window_b.of("dns").done and window_b.of("dns").answered == {3}
    assert window_b.of("http").step == 2 and window_b.last == "http"
    assert window_b.save() is None
    fresh = Progress(path)
    assert fresh.of("dns").done and fresh.of("http").step == 2 and fresh.last == "http"

    idle = Progress(path)
    window_a.visit("tls", 5)
    assert window_a.save() is None
    assert idle.reload() is None
    assert idle.last == "tls" and idle.of("tls").step == 5


def test_old_files_read_furthest_as_step(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text(
        '{"version": 1, "last": "dns", "lessons": {'
        '"dns": {"step": 4, "answered": [2, 4], "done": false},'
        '"http": {"step": 5, "furthest": 3}}}'
    )
    progress = Progress(path)
    assert progress.problem is None
    assert (progress.of("dns").step, progress.of("dns").furthest) == (4, 4)
    assert progress.of("http").furthest == 5
    progress.visit("dns", 1)
    assert progress.of("dns").furthest == 4
    assert progress.save() is None
    assert json.loads(path.read_text())["lessons"]["dns"] == {
        "step": 1,
        "furthest": 4,
        "answered": [2, 4],
        "done": False,
    }


def test_steps_out_of_range_are_refused(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    for bad in (-1, 10_000):
        with pytest.raises(ValueError):
            progress.visit("dns", bad)
        with pytest.raises(ValueError):
            progress.answered("dns", bad)


def test_progress_is_saved_atomically_and_a_corrupt_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "wirelab" / "progress.json"
    progress = Progress(path)
    progress.visit("tcp-handshake", 3)
    progress.answered("tcp-handshake", 3)
    assert progress.save() is None
    again = Progress(path)
    assert again.last == "tcp-handshake" and again.of("tcp-handshake").step == 3
    assert again.of("tcp-handshake").answered == {3}
    assert json.loads(path.read_text())["version"] == 1
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["progress.json", "progress.json.lock"]  # no temporary left
    path.write_text("{ not json")
    broken = Progress(path)
    assert broken.problem is not None and "progress.json.corrupt-1" in broken.problem
    assert broken.lessons == {} and (path.parent / "progress.json.corrupt-1").exists()
    assert broken.save() is None and Progress(path).problem is None


def test_progress_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    progress = Progress(blocker / "progress.json")  # a folder that cannot exist
    problem = progress.save()
    assert problem is not None and "cannot save progress" in problem


def test_xdg_data_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Progress().path == tmp_path / "wirelab" / "progress.json"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert Progress().path.parts[-4:] == (".local", "share", "wirelab", "progress.json")


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_lock_held_too_long_is_reported_not_waited_on(tmp_path: Path) -> None:
    import fcntl

    path = tmp_path / "progress.json"
    progress = Progress(path, lock_timeout=0.2)
    progress.visit("dns", 1)
    with open(progress.lock_path, "w") as holder:  # another window, stuck while saving
        fcntl.flock(holder, fcntl.LOCK_EX)
        started = time.monotonic()
        problem = progress.save()
        assert time.monotonic() - started < 5
    assert problem is not None and "cannot save progress" in problem and ".lock" in problem
    assert not path.exists()
    assert progress.save() is None and Progress(path).of("dns").step == 1


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_a_file_that_cannot_be_read_is_not_written_over(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text('{"version": 1, "lessons": {"dns": {"done": true}}}')
    path.chmod(0)
    try:
        progress = Progress(path)
        assert progress.problem is not None and "cannot read" in progress.problem
        progress.visit("http", 1)
        problem = progress.save()
        assert problem is not None and "cannot read" in problem
    finally:
        path.chmod(0o600)
    assert json.loads(path.read_text())["lessons"] == {"dns": {"done": True}}


# --- hostile files ----------------------------------------------------------------------------


def lesson(**entry: Any) -> bytes:
    """A version-1 file with one lesson whose entry is given as JSON source."""
    inner = ", ".join(f'"{key}": {value}' for key, value in entry.items())
    return ('{"version": 1, "lessons": {"dns": {' + inner + "}}}").encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE: dict[str, bytes] = {
    "step 1e999": lesson(step="1e999"),
    "answered 1e999": lesson(answered="[1e999]"),
    "step NaN": lesson(step="NaN"),
    "step -Infinity": lesson(step="-Infinity"),
    "deep nesting": DEEP,
    "deep nesting inside": lesson(answered=DEEP.decode()),
    "negative step": lesson(step=-1),
    "step too large": lesson(step=10_000),
    "step as text": lesson(step='"3"'),
    "fractional step": lesson(step=3.5),
    "step true": lesson(step="true"),
    "step of 5000 digits": lesson(step="9" * 5000),
    "negative furthest": lesson(step=1, furthest=-2),
    "negative answered": lesson(answered="[-1]"),
    "huge answered": lesson(answered=f"[{10**30}]"),
    "answered not a list": lesson(answered=5),
    "done not a flag": lesson(done='"yes"'),
    "entry not a table": b'{"version": 1, "lessons": {"dns": 3}}',
    "lessons not a table": b'{"version": 1, "lessons": []}',
    "last not a name": b'{"version": 1, "last": 5}',
    "version 2": b'{"version": 2}',
    "version true": b'{"version": true}',
    "a list": b"[1]",
    "empty": b"",
    "not UTF-8": b'{"version": 1, "last": "\xff"}',
    "too large": b'{"version": 1}' + b" " * MAX_BYTES,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_set_aside_at_start_up(tmp_path: Path, name: str) -> None:
    content = HOSTILE[name]
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    started = time.monotonic()
    progress = Progress(path)
    assert time.monotonic() - started < 5
    assert progress.problem is not None and "progress.json.corrupt-1" in progress.problem
    assert "\n" not in progress.problem
    assert progress.lessons == {} and progress.last is None
    assert (tmp_path / "progress.json.corrupt-1").read_bytes() == content
    assert not path.exists()
    progress.visit("dns", 1)
    assert progress.save() is None
    assert Progress(path).problem is None


@pytest.mark.parametrize("name", ["step 1e999", "deep nesting", "too large", "negative answered"])
def test_a_hostile_file_found_when_saving_is_set_aside(tmp_path: Path, name: str) -> None:
    content = HOSTILE[name]
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.visit("dns", 2)
    path.write_bytes(content)
    assert progress.save() is None
    assert progress.problem is not None and "progress.json.corrupt-1" in progress.problem
    assert (tmp_path / "progress.json.corrupt-1").read_bytes() == content
    assert Progress(path).of("dns").step == 2


def test_a_folder_in_place_of_the_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.mkdir()
    progress = Progress(path)
    assert progress.problem is not None and "not a regular file" in progress.problem
    assert (tmp_path / "progress.json.corrupt-1").is_dir()
    assert progress.save() is None and Progress(path).problem is None


FIFO_CHECK = """
import json, os, sys
from pathlib import Path
from simulator.lessons.progress import Progress

path = Path(sys.argv[1])
os.mkfifo(path)
at_start = Progress(path)
later = Progress(path)  # nothing there now: a FIFO appears before it saves
later.visit("dns", 3)
os.mkfifo(path)
print(json.dumps([at_start.problem, later.save(), later.problem]))
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_does_not_block_start_up_or_saving(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    done = subprocess.run(
        [sys.executable, "-c", FIFO_CHECK, str(path)],
        capture_output=True,
        text=True,
        timeout=20,  # a blocked open would hang here, and be killed
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    at_start, saved, later = json.loads(done.stdout)
    assert "not a regular file" in at_start and "progress.json.corrupt-1" in at_start
    assert saved is None and "progress.json.corrupt-2" in later
    for n in (1, 2):
        assert stat.S_ISFIFO(os.lstat(tmp_path / f"progress.json.corrupt-{n}").st_mode)
    assert Progress(path).of("dns").step == 3
