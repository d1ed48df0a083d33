"""Lesson files from other people: every bad value is a problem with its file and line,
never a traceback, a hang or gigabytes.

Each case is the smallest input that showed the fault: tracebacks (ZeroDivisionError,
TypeError, ValueError, RecursionError), values taken without a word (negative, NaN,
infinite), and runs that never ended or exhausted memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator.lessons import LessonError, check_folder, parse_lesson
from simulator.lessons.actions import parse_action
from simulator.lessons.parse import MAX_LESSON_BYTES, MAX_PROBLEMS
from simulator.lessons.run import LessonRun

HEAD = """+++
id = "hostile"
title = "Hostile"
objectives = ["Survive"]

[network]
{network}
+++

## One

Words.

```do
{action}
```
"""


def lesson_file(tmp_path: Path, *, network: str = "", action: str = "open") -> Path:
    path = tmp_path / "hostile.md"
    path.write_text(HEAD.format(network=network, action=action), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    """Every problem `lessons check` would report for `path` (parse, then run)."""
    try:
        run = LessonRun(parse_lesson(path))
    except LessonError as error:
        return [str(p) for p in error.problems]
    return [str(p) for p in run.check() if not p.warning]


@pytest.mark.parametrize(
    ("network", "words"),
    [
        ("bandwidth = 0", "bandwidth = 0"),  # was ZeroDivisionError
        ("delay = -1.0", "delay = -1.0"),
        ("delay = nan", "delay = nan"),
        ("delay = inf", "delay = inf"),
        ("loss = nan", "loss = nan"),
        ("routers = -1", "routers = -1"),
        ("routers = 1000000", "routers = 1000000"),  # 917 MB
        ("max_size = -5", "max_size = -5"),
        ("mss = 1", "mss = 1"),  # 60 s, 725 MB
        ("seed = 1.5", "seed = 1.5"),
        ('mode = "relay"', "mode = 'relay'"),
        ('path = "chat"', "path = 'chat'"),
        ("receive_buffer = true", "receive_buffer = True"),
        ('subprotocols = ["a", 1]', "subprotocols"),
    ],
)
def test_a_bad_network_value_is_a_problem_with_its_line(
    tmp_path: Path, network: str, words: str
) -> None:
    (problem,) = problems(lesson_file(tmp_path, network=network))
    assert ":2: [network]: " in problem and words in problem, problem


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("read_rate server 0", "rate = 0"),  # was ZeroDivisionError
        ("wait 1e12", "seconds = 1000000000000.0"),
        ("wait -1", "seconds = -1"),
        ("wait inf", "seconds = inf"),
        ("send_text hi side=proxy", "side = 'proxy'"),
        ("send_binary 1000000000", "size = 1000000000"),  # 2.9 GB, killed
        ("drop_next client count=0", "count = 0"),
    ],
)
def test_a_bad_action_argument_is_a_problem_with_its_line(
    tmp_path: Path, action: str, words: str
) -> None:
    (problem,) = problems(lesson_file(tmp_path, action=action))
    line = HEAD.splitlines().index("{action}") + 1 + 0  # the action's own line
    assert f":{line}: " in problem and words in problem, problem[:300]


@pytest.mark.parametrize("name", ["send_text", "send_raw"])
def test_an_action_line_is_bounded_before_it_is_read(name: str) -> None:
    """A learner's typed fix goes through the same check as a file's lines; a huge line
    is refused before shlex reads it a character at a time (4 MiB took minutes)."""
    with pytest.raises(ValueError, match="at most 65,536"):
        parse_action(f"{name} {'81' * (2 << 20)}")


def test_a_run_that_would_go_on_stops_with_a_problem(tmp_path: Path) -> None:
    """The smallest segments and the largest message: millions of events, stopped."""
    path = lesson_file(tmp_path, network="mss = 8", action="open\nsend_binary 2000000")
    (problem,) = problems(path)
    assert "send_binary 2000000" in problem and "without settling" in problem


@pytest.mark.parametrize(
    "block",
    [
        "```show\ntable = [1, 2]\n```",  # was TypeError: unhashable type
        "```show\nfield = 5\n```",
        '```check\nkind = "number"\nquestion = "?"\nanswer = ' + "9" * 5000 + "\n```",
        '```check\nkind = "number"\nquestion = "?"\nanswer = '
        + "[" * 5000
        + "]" * 5000
        + "\n```",  # was RecursionError
    ],
)
def test_a_bad_block_is_a_problem_not_a_traceback(tmp_path: Path, block: str) -> None:
    path = lesson_file(tmp_path)
    path.write_text(path.read_text() + "\n" + block + "\n", encoding="utf-8")
    found = problems(path)
    assert found and all("hostile.md:" in p for p in found), found


def test_deeply_nested_front_matter_is_a_problem(tmp_path: Path) -> None:
    path = lesson_file(tmp_path, network="x = " + "[" * 5000 + "]" * 5000)
    (problem,) = problems(path)
    assert "front matter" in problem


def test_unclosed_fences_give_a_bounded_list_of_problems(tmp_path: Path) -> None:
    path = tmp_path / "fences.md"
    path.write_text(HEAD.format(network="", action="open") + "```do\n" * 100_000)
    found = problems(path)
    assert len(found) == MAX_PROBLEMS + 1 and "more problems after these" in found[-1]


def test_only_regular_files_of_bounded_size_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)  # reading it would block for ever
    with pytest.raises(LessonError, match="not a regular file"):
        parse_lesson(fifo)
    device = tmp_path / "zero.md"
    device.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(LessonError, match="not a regular file"):
        parse_lesson(device)
    big = tmp_path / "big.md"
    big.write_bytes(b"+" * (MAX_LESSON_BYTES + 1))
    with pytest.raises(LessonError, match="a lesson file is at most"):
        parse_lesson(big)
    # A folder holding them is checked, each reported, nothing hangs.
    _, found = check_folder(tmp_path)
    assert {Path(p.path).name for p in found} >= {"fifo.md", "zero.md", "big.md"}
