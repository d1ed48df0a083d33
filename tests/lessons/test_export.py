"""`wirelab lessons export`: every built-in lesson's whole run, every link, in one file.

Each lesson is exported by the command itself; the file is read back with
wirelab's own capture reader and must hold exactly the run's packets, each on
its link's interface; tshark, where it is installed, must find nothing
malformed in any of them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from simulator.lessons import Lesson, load_course
from simulator.lessons.run import LessonRun
from simulator.trace import open_capture
from tests.live.support import BIN
from tests.wireshark.support import require_tshark, tshark

TIMEOUT = 30.0  # one export of one small lesson; an upper bound, not an expectation
LESSONS = load_course(user=False).lessons
IDS = [lesson.id for lesson in LESSONS]


def export(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """`wirelab lessons export ...` with a data folder of its own, so no lesson of the
    user's (`$XDG_DATA_HOME/wirelab/lessons/`) stands in for a built-in one."""
    return subprocess.run(
        [str(BIN / "wirelab"), "lessons", "export", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "XDG_DATA_HOME": str(data)},
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every built-in lesson's export, written by the command; its one line checked."""
    folder = tmp_path_factory.mktemp("exported")
    out = {}
    for lesson in LESSONS:
        path = folder / f"{lesson.id}.pcapng"
        done = export(lesson.id, "-o", str(path), data=folder / "data")
        assert done.returncode == 0 and done.stderr == "", (lesson.id, done.stderr)
        links = len(LessonRun(lesson).scenario.links)
        assert done.stdout.count("\n") == 1, done.stdout
        assert done.stdout.startswith(f"{lesson.id} (") and done.stdout.endswith(
            f"wrote {path}\n"
        ), done.stdout
        assert f" on {links} link" in done.stdout, done.stdout
        out[lesson.id] = path
    return out


def by_id(name: str) -> Lesson:
    return next(lesson for lesson in LESSONS if lesson.id == name)


def test_the_course_is_there() -> None:
    assert len(LESSONS) >= 10
    assert any(len(LessonRun(lesson).scenario.links) > 1 for lesson in LESSONS)


@pytest.mark.parametrize("name", IDS)
def test_the_export_is_the_whole_run_on_every_link(name: str, exported: dict[str, Path]) -> None:
    run = LessonRun(by_id(name))
    assert run.scenario.network.sim.quiet  # every step done, nothing still on its way
    expected = list(run.trace)
    assert expected, f"{name} puts no packet on the wire"
    capture = open_capture(exported[name])
    try:
        capture.index()
        assert capture.done and capture.problems == []
        assert capture.format == "pcapng"
        assert [i.name for i in capture.interfaces] == [link.name for link in run.scenario.links]
        assert len(capture) == len(expected)
        read = list(capture)
    finally:
        capture.close()
    assert [(r.interface, r.data) for r in read] == [(r.interface, r.data) for r in expected]
    assert [r.time for r in read] == pytest.approx([r.time for r in expected], abs=1e-6)
    # The run's last step's packets are there: the file ends where the lesson does.
    assert run.steps[-1].end == len(expected)


@pytest.mark.parametrize("name", IDS)
def test_wireshark_finds_nothing_malformed(name: str, exported: dict[str, Path]) -> None:
    require_tshark()  # skips, with the reason, where tshark is not installed (fails in CI)
    errors = tshark("-r", str(exported[name]), "-q", "-z", "expert,error")
    assert "Errors (" not in errors and "Malformed" not in errors, errors


# --- a classic pcap, and the errors ------------------------------------------------------


def test_a_pcap_holds_a_lesson_on_one_link(tmp_path: Path) -> None:
    lesson = next(each for each in LESSONS if len(LessonRun(each).scenario.links) == 1)
    path = tmp_path / "one.pcap"
    done = export(lesson.id, "-o", str(path), data=tmp_path / "data")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    run = LessonRun(lesson)
    assert f"seen on link {run.scenario.links[0].name};" in done.stdout
    capture = open_capture(path)
    try:
        capture.index()
        assert capture.format == "pcap"
        assert [r.data for r in capture] == [r.data for r in run.trace]
    finally:
        capture.close()


def one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("wirelab: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_a_pcap_cannot_hold_several_links(tmp_path: Path) -> None:
    lesson = next(each for each in LESSONS if len(LessonRun(each).scenario.links) > 1)
    path = tmp_path / "many.pcap"
    line = one_clear_line(export(lesson.id, "-o", str(path), data=tmp_path / "data"))
    assert ".pcapng" in line
    assert not path.exists()


def test_an_unknown_lesson_is_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "nothing.pcapng"
    line = one_clear_line(export("no-such-lesson", "-o", str(path), data=tmp_path / "data"))
    assert "no lesson 'no-such-lesson'" in line and LESSONS[0].id in line
    assert not path.exists()


def test_an_unwritable_path_is_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "out.pcapng"
    line = one_clear_line(export(IDS[0], "-o", str(path), data=tmp_path / "data"))
    assert f"cannot write {path}" in line
